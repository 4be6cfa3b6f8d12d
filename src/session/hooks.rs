//! Lifecycle hooks for library users: what Socket.IO's `connection`, `disconnecting` and
//! `disconnect` events give a server developer. Called on the connection's task, so a hook must
//! return quickly (hand work to a channel if it is slow).

use std::net::SocketAddr;

use crate::protocol::{CloseReason, PlayerId};

/// Who just connected.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub id: PlayerId,
    pub name: String,
    pub peer: SocketAddr,
    /// True when a resume token gave back an existing player.
    pub resumed: bool,
}

/// Implement the methods you need; the others do nothing.
pub trait SessionHooks: Send + Sync + 'static {
    /// A player passed the handshake and is entering the game (Socket.IO: `connection`).
    fn on_connection(&self, _session: &SessionInfo) {}
    /// The connection is ending; the player is still registered (Socket.IO: `disconnecting`).
    fn on_disconnecting(&self, _id: PlayerId, _reason: CloseReason) {}
    /// The connection has ended (Socket.IO: `disconnect`). `reason.socket_io_reason()` gives
    /// Socket.IO's name for it. If `reason.allows_resume()`, the player waits, away, for the
    /// resume grace before it leaves the game.
    fn on_disconnect(&self, _id: PlayerId, _reason: CloseReason) {}
}

/// Hooks that do nothing.
#[derive(Debug, Default)]
pub struct NoHooks;

impl SessionHooks for NoHooks {}
