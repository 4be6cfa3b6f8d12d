//! What carries sessions to clients: TCP connection caps checked at accept ([`caps`]), and
//! today one transport, WebSocket ([`websocket`]). A transport gives its session a
//! [`crate::session::MessageSource`] and drains the session's handle.

pub mod caps;
pub mod websocket;
