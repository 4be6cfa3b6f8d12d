//! HTTP: routing ([`router`]: the game's files, `/healthz`, `/metrics`, the WebSocket upgrade),
//! the embedded files ([`assets`]), who may connect ([`auth`]) and web origins as values
//! ([`origin`]).

pub mod assets;
pub mod auth;
pub mod origin;
pub mod router;
