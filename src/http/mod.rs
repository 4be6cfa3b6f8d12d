//! HTTP: routing ([`router`]: the game's files, `/healthz`, `/metrics`, the WebSocket upgrade),
//! the embedded files ([`assets`]) and who may connect ([`auth`]).

pub mod assets;
pub mod auth;
pub mod router;
