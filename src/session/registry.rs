//! The session registry: for each player in the game, the handle its connection task listens
//! on. A room reaches players only through here (it implements [`Outbox`]), so it never
//! touches a socket: each player's snapshot goes into its latest-wins [`SnapshotSlot`], which
//! also tells the loop the player's delta baseline, reliable messages into each player's
//! bounded queue, and a player whose queue is full is kicked.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock, RwLockReadGuard};

use bytes::Bytes;
use tokio::sync::{Notify, mpsc};

use crate::game::world::PlayerMap;
use crate::metrics::DeliveryStats;
use crate::protocol::{CloseReason, PlayerId, ResumeToken, Tick};
use crate::room::Outbox;
use dashmap::DashMap;
use rand::RngExt;

/// One player's encoded snapshot (a slice of the tick's shared buffer).
#[derive(Debug, Clone, Default)]
pub struct SnapshotFrame {
    pub tick: Tick,
    pub bytes: Bytes,
}

/// A player's newest snapshot not yet sent (latest wins: a slow reader skips the older ones),
/// and the newest one its connection has fully sent: the baseline its next delta is encoded
/// against. A skipped snapshot never becomes a baseline.
#[derive(Debug, Default)]
pub struct SnapshotSlot {
    pending: Mutex<Option<SnapshotFrame>>,
    ready: Notify,
    /// `1 << 32 | tick` of the baseline, 0 for none.
    baseline: AtomicU64,
}

impl SnapshotSlot {
    /// Stores the newest frame; returns true if it replaced one never sent.
    pub fn put(&self, frame: SnapshotFrame) -> bool {
        let replaced = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .replace(frame)
            .is_some();
        self.ready.notify_one();
        replaced
    }

    /// Takes the frame to send, if any.
    pub fn take(&self) -> Option<SnapshotFrame> {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Resolves when a frame may be waiting.
    pub async fn ready(&self) {
        self.ready.notified().await;
    }

    /// The frame of `tick` was fully handed to the connection: the client will hold it.
    pub fn sent(&self, tick: Tick) {
        self.set_baseline(Some(tick));
    }

    pub fn baseline(&self) -> Option<Tick> {
        let raw = self.baseline.load(Ordering::Acquire);
        (raw >> 32 != 0).then_some(Tick(raw as u32))
    }

    /// Sets the baseline (a resumed client's newest snapshot), or clears it (the client could
    /// not apply a delta): the next frame is then a full one.
    pub fn set_baseline(&self, tick: Option<Tick>) {
        let raw = tick.map_or(0, |tick| 1 << 32 | u64::from(tick.0));
        self.baseline.store(raw, Ordering::Release);
    }
}

/// A request, from anywhere, that a connection close with a reason. The first reason wins.
#[derive(Debug, Default)]
pub struct Kick {
    reason: OnceLock<CloseReason>,
    notify: Notify,
}

impl Kick {
    pub fn kick(&self, reason: CloseReason) {
        if self.reason.set(reason).is_ok() {
            self.notify.notify_one();
        }
    }

    pub fn reason(&self) -> Option<CloseReason> {
        self.reason.get().copied()
    }

    /// Resolves once kicked, with the reason.
    pub async fn kicked(&self) -> CloseReason {
        loop {
            if let Some(&reason) = self.reason.get() {
                return reason;
            }
            self.notify.notified().await;
        }
    }
}

/// What the registry keeps per player.
#[derive(Debug, Clone)]
pub struct SessionHandle {
    /// Reliable, ordered messages for this player (welcome, joins, leaves, tags, pongs).
    pub outbound: mpsc::Sender<Bytes>,
    pub kick: Arc<Kick>,
    /// Set once the welcome is queued: broadcasts and snapshots wait for it.
    pub welcomed: Arc<AtomicBool>,
    pub snapshots: Arc<SnapshotSlot>,
}

pub struct Sessions {
    /// Written on join and leave, read by the tick loop for every message it sends. A plain
    /// lock rather than a sharded map: broadcasts walk the whole map, and iterating a `DashMap`
    /// allocates a guard per shard, per broadcast.
    players: RwLock<PlayerMap<SessionHandle>>,
    /// Resume tokens of players in the world (connected or away), and the reverse. Looked up
    /// concurrently by connections; never walked on a hot path.
    tokens: DashMap<ResumeToken, PlayerId>,
    token_of: DashMap<PlayerId, ResumeToken>,
    /// Slots taken by connections that joined or are joining; bounded by `max_players`.
    reserved: AtomicUsize,
    max_players: usize,
    next_id: AtomicU64,
    pub delivery: Arc<DeliveryStats>,
}

impl Sessions {
    pub fn new(max_players: usize) -> Sessions {
        Sessions {
            players: RwLock::default(),
            tokens: DashMap::new(),
            token_of: DashMap::new(),
            reserved: AtomicUsize::new(0),
            max_players,
            next_id: AtomicU64::new(1),
            delivery: Arc::default(),
        }
    }

    /// Takes a player slot, or returns `None` if the server is full. The slot is released when
    /// the returned guard drops.
    pub fn reserve_slot(self: &Arc<Self>) -> Option<SlotGuard> {
        let taken = self.reserved.fetch_add(1, Ordering::AcqRel);
        if taken >= self.max_players {
            self.reserved.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(SlotGuard {
            sessions: Arc::clone(self),
        })
    }

    pub fn allocate_id(&self) -> PlayerId {
        PlayerId(self.next_id.fetch_add(1, Ordering::Relaxed) as u32)
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
        }
    }

    /// Asks a connected player's connection to close with `reason`. Returns false if the
    /// player is not connected.
    pub fn kick(&self, id: PlayerId, reason: CloseReason) -> bool {
        match self.players().get(&id) {
            Some(handle) => {
                handle.kick.kick(reason);
                true
            }
            None => false,
        }
    }

    /// Sends to every welcomed player (chat, notices from outside the loop).
    pub fn broadcast(&self, bytes: Bytes) {
        self.broadcast_except(None, bytes);
    }

    fn broadcast_except(&self, except: Option<PlayerId>, bytes: Bytes) {
        for (&id, handle) in self.players().iter() {
            if Some(id) != except && handle.welcomed.load(Ordering::Acquire) {
                self.deliver(handle, bytes.clone());
            }
        }
    }

    /// Sends to one welcomed player; false if it is not connected.
    pub fn send_to_player(&self, id: PlayerId, bytes: Bytes) -> bool {
        match self.players().get(&id) {
            Some(handle) if handle.welcomed.load(Ordering::Acquire) => {
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

    pub fn player_count(&self) -> usize {
        self.players().len()
    }

    fn players_mut(&self) -> std::sync::RwLockWriteGuard<'_, PlayerMap<SessionHandle>> {
        self.players.write().unwrap_or_else(PoisonError::into_inner)
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
        for (&id, handle) in self.players().iter() {
            if !handle.welcomed.load(Ordering::Acquire) {
                continue;
            }
            let Some(bytes) = encode(id, handle.snapshots.baseline()) else {
                continue;
            };
            if handle.snapshots.put(SnapshotFrame { tick, bytes }) {
                self.delivery
                    .snapshots_skipped
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn welcome(&self, id: PlayerId, bytes: Bytes) {
        if let Some(handle) = self.players().get(&id) {
            handle.welcomed.store(true, Ordering::Release);
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

/// A reserved player slot; dropping it frees the slot.
pub struct SlotGuard {
    sessions: Arc<Sessions>,
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.sessions.reserved.fetch_sub(1, Ordering::AcqRel);
    }
}
