//! What carries sessions to clients: TCP connection caps checked at accept ([`caps`]), the stop
//! signal and task tracker every connection task shares ([`shutdown`]), a connection's panic
//! caught where it runs ([`catch_panic`]), and two transports,
//! WebSocket ([`websocket`]) and HTTP long polling ([`polling`]). A transport gives its session a
//! [`crate::session::MessageSource`] and drains the session's handle.

pub mod caps;
pub mod catch_panic;
pub mod polling;
pub mod shutdown;
pub mod websocket;
