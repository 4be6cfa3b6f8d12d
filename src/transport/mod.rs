//! What carries sessions to clients. Today one transport: WebSocket ([`websocket`]).

pub mod websocket;
