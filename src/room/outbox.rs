//! Where a room's output goes: the seam between a room and whatever carries its bytes (the
//! session registry in the server, recorders in tests and benches). Must never block.

use bytes::Bytes;

use crate::protocol::{PlayerId, Tick};

/// Where a room's output goes. Implementations must not block: they hand bytes over and
/// return (the network layer drops or disconnects slow readers itself).
pub trait Outbox: Send + 'static {
    /// Gives every welcomed player its snapshot of `tick`, replacing any not yet sent. `encode`
    /// gets the player and its baseline (the newest snapshot tick its connection has fully
    /// sent, none if unknown) and returns its frame (none: send nothing).
    fn publish_snapshots(
        &self,
        tick: Tick,
        encode: &mut dyn FnMut(PlayerId, Option<Tick>) -> Option<Bytes>,
    );
    /// The player's welcome: the first message the room sends it. Broadcasts reach a player
    /// only after its welcome, so nothing it is told predates the roster the welcome carries.
    fn welcome(&self, id: PlayerId, bytes: Bytes) {
        self.send_to(id, bytes);
    }
    /// A message that must reach one player, in order with its other messages.
    fn send_to(&self, id: PlayerId, bytes: Bytes);
    /// A message for every player except `except`.
    fn send_to_all_except(&self, except: Option<PlayerId>, bytes: Bytes);
    /// The player has left the world for good: whatever lets it resume is no longer valid.
    fn forget(&self, _id: PlayerId) {}
}
