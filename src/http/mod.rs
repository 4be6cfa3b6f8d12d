//! HTTP: routing ([`router`]: the game's files, `/healthz`, `/metrics`, the WebSocket upgrade),
//! the embedded files ([`assets`]), who may connect ([`auth`]), web origins as values
//! ([`origin`]), the long-polling endpoints ([`polling`]), the operator's page ([`admin`]) and
//! what the router is handed ([`context`]).

pub mod admin;
pub mod assets;
pub mod auth;
pub mod context;
pub mod lobby;
pub mod origin;
pub mod polling;
pub mod router;
