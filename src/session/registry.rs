//! The session registry: for each player in the game, the handle its connection task listens
//! on. A room reaches players only through here (it implements [`Outbox`]), so it never
//! touches a socket: each player's snapshot goes into its latest-wins [`SnapshotSlot`](super::SnapshotSlot), which
//! also tells the loop the player's delta baseline, reliable messages into each player's
//! bounded queue, and a player whose queue is full is kicked. One registry per room; the
//! [`RoomDirectory`](super::directory::RoomDirectory) finds a player's room, allocates ids and
//! counts seats.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard};

use bytes::Bytes;
use dashmap::DashMap;
use rand::RngExt;

use super::handle::{Delivered, SessionHandle, SnapshotFrame};
use super::recipients::Recipients;
use crate::game::world::PlayerMap;
use crate::metrics::DeliveryStats;
use crate::protocol::{CloseReason, PlayerId, ResumeToken, Tick};
use crate::room::Outbox;

pub struct Sessions {
    /// Written on join and leave, read by the tick loop for every message it sends. A plain
    /// lock rather than a sharded map: broadcasts walk the whole map, and iterating a `DashMap`
    /// allocates a guard per shard, per broadcast.
    players: RwLock<PlayerMap<SessionHandle>>,
    /// Bumped by every write to `players`, under its lock.
    version: AtomicU64,
    /// What the room publishes snapshots from: `players` copied when `version` moved, so that
    /// encoding every player's frame holds no lock that joins and leaves wait for. Locked only
    /// by the room's own thread.
    recipients: Mutex<Recipients>,
    /// Resume tokens of players in the world (connected or away), and the reverse. Looked up
    /// concurrently by connections; never walked on a hot path.
    tokens: DashMap<ResumeToken, PlayerId>,
    token_of: DashMap<PlayerId, ResumeToken>,
    /// Told each resume token the registry forgets: its player left the room for good.
    on_forget: Option<OnForget>,
    pub delivery: Arc<DeliveryStats>,
}

/// What a registry calls when a player has left its room for good.
pub type OnForget = Box<dyn Fn(ResumeToken) + Send + Sync>;

impl Default for Sessions {
    fn default() -> Sessions {
        Sessions::new(Arc::default(), None)
    }
}

impl Sessions {
    /// A room's registry, counting deliveries into `delivery` and telling `on_forget` each
    /// player that leaves for good.
    pub fn new(delivery: Arc<DeliveryStats>, on_forget: Option<OnForget>) -> Sessions {
        Sessions {
            players: RwLock::default(),
            version: AtomicU64::new(0),
            recipients: Mutex::default(),
            tokens: DashMap::new(),
            token_of: DashMap::new(),
            on_forget,
            delivery,
        }
    }

    /// Registers a new player's connection and creates its resume token.
    pub fn register(&self, id: PlayerId, handle: SessionHandle) -> ResumeToken {
        let mut token = ResumeToken::default();
        // ThreadRng is a CSPRNG seeded from the OS: tokens cannot be guessed from others.
        rand::rng().fill(&mut token.0);
        self.tokens.insert(token, id);
        self.token_of.insert(id, token);
        self.players_mut().insert(id, handle);
        token
    }

    /// Takes back the player that `token` belongs to for a new connection, if that player is
    /// in the world and not connected elsewhere. `None` means: join as a new player.
    pub fn resume(&self, token: &ResumeToken, handle: SessionHandle) -> Option<PlayerId> {
        let id = *self.tokens.get(token)?;
        let mut players = self.players_mut();
        if players.contains_key(&id) {
            return None;
        }
        players.insert(id, handle);
        Some(id)
    }

    /// Forgets a player's resume token: it left the world for good. A player that a new
    /// connection has just resumed keeps it (the loop will re-admit it under the same token).
    pub fn forget(&self, id: PlayerId) {
        if self.players().contains_key(&id) {
            return;
        }
        if let Some((_, token)) = self.token_of.remove(&id) {
            self.tokens.remove(&token);
            if let Some(on_forget) = &self.on_forget {
                on_forget(token);
            }
        }
    }

    /// Asks a connected player's connection to close with `reason`. Returns false if the
    /// player is not connected.
    pub fn kick(&self, id: PlayerId, reason: CloseReason) -> bool {
        self.kick_with(id, reason, "")
    }

    /// Sends to every welcomed player (chat, notices from outside the loop).
    pub fn broadcast(&self, bytes: Bytes) {
        self.broadcast_except(None, bytes);
    }

    fn broadcast_except(&self, except: Option<PlayerId>, bytes: Bytes) {
        for (&id, handle) in self.players().iter() {
            if Some(id) != except && handle.stage.is_welcomed() {
                self.deliver(handle, bytes.clone());
            }
        }
    }

    /// Sends to one welcomed player; false if it is not connected.
    pub fn send_to_player(&self, id: PlayerId, bytes: Bytes) -> bool {
        match self.players().get(&id) {
            Some(handle) if handle.stage.is_welcomed() => {
                self.deliver(handle, bytes);
                true
            }
            _ => false,
        }
    }

    pub fn unregister(&self, id: PlayerId) {
        self.players_mut().remove(&id);
    }

    /// A copy of every registered handle (for broadcasts from outside the loop, e.g. shutdown).
    pub fn handles(&self) -> Vec<SessionHandle> {
        self.players().values().cloned().collect()
    }

    /// Every connected player with its handle (for the operator's page).
    pub fn connected(&self) -> Vec<(PlayerId, SessionHandle)> {
        self.players()
            .iter()
            .map(|(&id, handle)| (id, handle.clone()))
            .collect()
    }

    /// Asks a connected player's connection to close with `reason`, telling it `detail`.
    pub fn kick_with(&self, id: PlayerId, reason: CloseReason, detail: &str) -> bool {
        match self.players().get(&id) {
            Some(handle) => {
                handle.kick.kick_with(reason, detail);
                true
            }
            None => false,
        }
    }

    pub fn player_count(&self) -> usize {
        self.players().len()
    }

    fn players_mut(&self) -> std::sync::RwLockWriteGuard<'_, PlayerMap<SessionHandle>> {
        let players = self.players.write().unwrap_or_else(PoisonError::into_inner);
        // Bumped under the lock: a reader that sees the new version and then takes the read
        // lock sees the change.
        self.version.fetch_add(1, Ordering::AcqRel);
        players
    }

    /// The registry, for reading. Held only while handing messages over, which never blocks.
    fn players(&self) -> RwLockReadGuard<'_, PlayerMap<SessionHandle>> {
        // A panic elsewhere while holding the lock leaves the map itself consistent.
        self.players.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn deliver(&self, handle: &SessionHandle, bytes: Bytes) {
        if handle.outbound.try_send(bytes).is_err() {
            // Full (or the connection is already closing): a reliable message cannot be dropped,
            // so the player goes instead of the memory.
            self.delivery.kicked_slow.fetch_add(1, Ordering::Relaxed);
            handle.kick.kick(CloseReason::SlowConsumer);
        }
    }
}

impl Outbox for Arc<Sessions> {
    fn publish_snapshots(
        &self,
        tick: Tick,
        encode: &mut dyn FnMut(PlayerId, Option<Tick>) -> Option<Bytes>,
    ) {
        let mut recipients = self
            .recipients
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let version = self.version.load(Ordering::Acquire);
        if !recipients.is_current(version) {
            recipients.copy_from(&self.players(), version);
        }
        // The registry's lock is not held from here on: joins and leaves go ahead meanwhile.
        let previous = Tick(tick.0.wrapping_sub(1));
        for recipient in recipients.iter() {
            if !recipient.stage.is_welcomed() {
                continue;
            }
            // Its writer has not taken last tick's frame yet: it is behind, and a frame
            // encoded now would most likely be replaced unsent. It gets last tick's; the next
            // tick's is encoded (a writer behind by more gets the newest, one tick in two).
            if recipient.snapshots.holds_unsent_since(previous) {
                self.delivery
                    .snapshots_not_encoded
                    .fetch_add(1, Ordering::Relaxed);
                recipient.snapshots.count_lag();
                continue;
            }
            let Some(bytes) = encode(recipient.id, recipient.snapshots.baseline()) else {
                continue;
            };
            match recipient.snapshots.deliver(SnapshotFrame { tick, bytes }) {
                Delivered::Direct => {
                    self.delivery.snapshots_sent.fetch_add(1, Ordering::Relaxed);
                }
                Delivered::Queued { replaced: true } => {
                    self.delivery
                        .snapshots_skipped
                        .fetch_add(1, Ordering::Relaxed);
                    recipient.snapshots.count_lag();
                }
                Delivered::Queued { replaced: false } => {}
            }
        }
    }

    fn welcome(&self, id: PlayerId, bytes: Bytes) {
        if let Some(handle) = self.players().get(&id)
            && handle.stage.welcome()
        {
            self.deliver(handle, bytes);
        }
    }

    fn send_to(&self, id: PlayerId, bytes: Bytes) {
        if let Some(handle) = self.players().get(&id) {
            self.deliver(handle, bytes);
        }
    }

    fn forget(&self, id: PlayerId) {
        Sessions::forget(self, id);
    }

    fn send_to_all_except(&self, except: Option<PlayerId>, bytes: Bytes) {
        self.broadcast_except(except, bytes);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc as std_mpsc;
    use std::time::Duration;

    use super::*;

    /// A welcomed player's handle, its reliable queue kept open.
    fn welcomed_player() -> SessionHandle {
        let (handle, queue) = SessionHandle::new(4);
        std::mem::forget(queue);
        handle.stage.welcome();
        handle
    }

    #[test]
    fn joins_and_leaves_do_not_wait_for_snapshots_being_encoded() {
        let sessions = Arc::new(Sessions::default());
        let first = welcomed_player();
        let first_slot = Arc::clone(&first.snapshots);
        sessions.register(PlayerId(1), first);
        let second = welcomed_player();
        let second_slot = Arc::clone(&second.snapshots);
        let mut second = Some(second);
        let mut encode = |id: PlayerId, _: Option<Tick>| {
            if let Some(second) = second.take() {
                // Another thread registers a player and removes one while this frame is being
                // encoded: with the registry locked meanwhile, it could not finish.
                let (done, finished) = std_mpsc::channel();
                let sessions = Arc::clone(&sessions);
                std::thread::spawn(move || {
                    sessions.register(PlayerId(2), second);
                    sessions.unregister(PlayerId(1));
                    done.send(()).unwrap();
                });
                let waited = finished.recv_timeout(Duration::from_secs(10));
                assert!(waited.is_ok(), "the registry was locked while encoding");
            }
            Some(Bytes::from(vec![id.0 as u8]))
        };
        sessions.publish_snapshots(Tick(1), &mut encode);
        assert_eq!(first_slot.take().map(|frame| frame.bytes[0]), Some(1));
        assert!(
            second_slot.take().is_none(),
            "joined during the tick: from the next one on"
        );
        sessions.publish_snapshots(Tick(2), &mut encode);
        assert!(first_slot.take().is_none(), "left: no more frames");
        assert_eq!(second_slot.take().map(|frame| frame.bytes[0]), Some(2));
    }

    #[test]
    fn only_welcomed_players_get_snapshots() {
        let sessions = Arc::new(Sessions::default());
        let (joining, queue) = SessionHandle::new(4);
        std::mem::forget(queue);
        let slot = Arc::clone(&joining.snapshots);
        sessions.register(PlayerId(1), joining.clone());
        let mut encode = |_: PlayerId, _: Option<Tick>| Some(Bytes::from_static(b"frame"));
        sessions.publish_snapshots(Tick(1), &mut encode);
        assert!(slot.take().is_none(), "not welcomed yet");
        // The welcome changes no registry entry, only the stage the copy shares.
        joining.stage.welcome();
        sessions.publish_snapshots(Tick(2), &mut encode);
        assert_eq!(slot.take().map(|frame| frame.tick), Some(Tick(2)));
    }

    #[test]
    fn a_writer_behind_by_a_tick_is_not_encoded_for_until_it_catches_up() {
        let sessions = Arc::new(Sessions::default());
        let player = welcomed_player();
        let slot = Arc::clone(&player.snapshots);
        sessions.register(PlayerId(1), player);
        let mut encoded = Vec::new();
        let publish = |tick: u32, encoded: &mut Vec<u32>| {
            sessions.publish_snapshots(Tick(tick), &mut |_, _| {
                encoded.push(tick);
                Some(Bytes::from_static(b"frame"))
            });
        };
        publish(1, &mut encoded);
        // The writer has not taken tick 1's frame: tick 2 is not encoded, and it keeps 1's.
        publish(2, &mut encoded);
        assert_eq!(encoded, vec![1]);
        // Still behind at tick 3 (its frame is two ticks old): it gets the newest.
        publish(3, &mut encoded);
        assert_eq!(encoded, vec![1, 3]);
        assert_eq!(slot.take().map(|frame| frame.tick), Some(Tick(3)));
        // Caught up: every tick is encoded again.
        publish(4, &mut encoded);
        assert_eq!(slot.take().map(|frame| frame.tick), Some(Tick(4)));
        publish(5, &mut encoded);
        assert_eq!(encoded, vec![1, 3, 4, 5]);
        let counted = |c: &AtomicU64| c.load(Ordering::Relaxed);
        assert_eq!(counted(&sessions.delivery.snapshots_not_encoded), 1);
        assert_eq!(
            counted(&sessions.delivery.snapshots_skipped),
            1,
            "tick 1's, replaced by 3's"
        );
    }
}
