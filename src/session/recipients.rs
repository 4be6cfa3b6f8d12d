//! The players a room's snapshots go to, as a copy of the registry taken when the registry last
//! changed: so that encoding every player's frame (milliseconds at a thousand players) holds no
//! lock that a join, a resume or a leave would wait for. Must never: allocate unless the game
//! grew, or hold the registry's lock while a frame is encoded.

use std::sync::Arc;

use super::handle::{SessionHandle, SnapshotSlot};
use super::stage::SessionStage;
use crate::game::world::PlayerMap;
use crate::protocol::PlayerId;

/// One player to publish to.
pub struct Recipient {
    pub id: PlayerId,
    pub stage: Arc<SessionStage>,
    pub snapshots: Arc<SnapshotSlot>,
}

/// The players snapshots are published to, as of one version of the registry. A player who
/// left since may get one more frame into a slot nobody reads; one who joined gets frames from
/// the next tick on.
#[derive(Default)]
pub struct Recipients {
    version: Option<u64>,
    players: Vec<Recipient>,
}

impl Recipients {
    /// Whether this copy is of registry version `version`.
    pub fn is_current(&self, version: u64) -> bool {
        self.version == Some(version)
    }

    /// Copies the registry at `version` (the vector keeps its capacity: no allocation unless
    /// the game grew).
    pub fn copy_from(&mut self, players: &PlayerMap<SessionHandle>, version: u64) {
        self.players.clear();
        self.players
            .extend(players.iter().map(|(&id, handle)| Recipient {
                id,
                stage: Arc::clone(&handle.stage),
                snapshots: Arc::clone(&handle.snapshots),
            }));
        self.version = Some(version);
    }

    pub fn iter(&self) -> impl Iterator<Item = &Recipient> {
        self.players.iter()
    }
}
