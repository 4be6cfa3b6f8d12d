//! Sessions with no transport behind them, registered straight into a registry: for benches,
//! tests and tools that drive a room without sockets. The caller plays the transport's writer
//! (it takes frames from the slots and messages from the queues, or lets them pile up). Must
//! never: be used by the server itself.

use super::handle::SessionHandle;
use super::registry::Sessions;
use super::reliable_queue::ReliableReceiver;
use crate::protocol::PlayerId;

/// A registered session and the receiving end of its reliable queue.
pub struct DetachedSession {
    pub id: PlayerId,
    pub handle: SessionHandle,
    /// Kept open so that a full queue kicks the player rather than closing it.
    pub outbound: ReliableReceiver,
}

/// Registers a session for each of `ids`, each with room for `queue` reliable messages; with
/// `welcomed`, each is marked welcomed at once (as if its room had sent the welcome).
pub fn register_detached(
    sessions: &Sessions,
    ids: impl IntoIterator<Item = PlayerId>,
    queue: usize,
    welcomed: bool,
) -> Vec<DetachedSession> {
    ids.into_iter()
        .map(|id| {
            let (handle, outbound) = SessionHandle::new(queue);
            if welcomed {
                handle.stage.welcome();
            }
            sessions.register(id, handle.clone());
            DetachedSession {
                id,
                handle,
                outbound,
            }
        })
        .collect()
}
