//! What one player's session shares with the room and with its transport: the latest-wins
//! snapshot slot (which also holds the delta baseline), the kick, the stage, the heartbeat and
//! the sending end of the bounded reliable queue ([`SessionHandle`]), and who the player is
//! ([`SessionProfile`], for the operator). Every hand-over here is
//! non-blocking, so the room never waits on a session. Must never: hold a frame longer than
//! until the next one replaces it, or block a caller.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::Notify;

use super::heartbeat::Heartbeat;
use super::reliable_queue::{ReliableReceiver, ReliableSender, reliable_queue};
use super::stage::SessionStage;
use crate::protocol::{CloseReason, Tick};

/// One player's encoded snapshot (a slice of the tick's shared buffer).
#[derive(Debug, Clone, Default)]
pub struct SnapshotFrame {
    pub tick: Tick,
    pub bytes: Bytes,
}

/// A transport's way to take a snapshot straight from the thread that encoded it: a
/// non-blocking write to the client's socket, so that the common case wakes no task.
pub trait DirectSend: Send + Sync + std::fmt::Debug {
    /// Writes `bytes` (the snapshot of `tick`) now if the socket takes them without waiting
    /// and nothing else is being written to it; never blocks.
    fn try_send(&self, tick: Tick, bytes: &[u8]) -> DirectOutcome;
}

/// What a [`DirectSend`] did with a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectOutcome {
    /// The kernel took all of it: it is the player's new baseline.
    Sent,
    /// The kernel took part of it; the transport's writer finishes it and then marks it sent.
    Started,
    /// Not now (the socket is full, or its writer is busy): it goes the usual way.
    NotNow,
}

/// How a snapshot went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    /// Written straight to the socket.
    Direct,
    /// Left in the slot for the writer; `replaced` says an older frame was never sent.
    Queued { replaced: bool },
}

/// A player's newest snapshot not yet sent (latest wins: a slow reader skips the older ones),
/// and the newest one its connection has fully sent: the baseline its next delta is encoded
/// against. A skipped snapshot never becomes a baseline.
#[derive(Debug, Default)]
pub struct SnapshotSlot {
    /// The transport's direct way to the socket, where it has one (plain TCP).
    direct: OnceLock<Arc<dyn DirectSend>>,
    pending: Mutex<Option<SnapshotFrame>>,
    ready: Notify,
    /// `1 << 32 | tick` of the baseline, 0 for none.
    baseline: AtomicU64,
    /// Snapshots this player never saw because it read too slowly (replaced unsent, or not
    /// encoded while its writer was behind): how slow a reader it is, for the operator.
    lagged: AtomicU64,
}

impl SnapshotSlot {
    /// From now on snapshots are first offered to `direct` (once per slot; later calls are
    /// ignored).
    pub fn attach_direct(&self, direct: Arc<dyn DirectSend>) {
        let _ = self.direct.set(direct);
    }

    /// Hands the newest frame over: straight to the socket when it takes it now and no older
    /// frame waits in the slot (frames never overtake each other), else into the slot.
    pub fn deliver(&self, frame: SnapshotFrame) -> Delivered {
        if let Some(direct) = self.direct.get() {
            // Only the encoding thread fills the slot: empty now, it stays empty until then.
            let empty = self
                .pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_none();
            if empty {
                match direct.try_send(frame.tick, &frame.bytes) {
                    DirectOutcome::Sent => {
                        self.sent(frame.tick);
                        return Delivered::Direct;
                    }
                    DirectOutcome::Started => return Delivered::Direct,
                    DirectOutcome::NotNow => {}
                }
            }
        }
        Delivered::Queued {
            replaced: self.put(frame),
        }
    }

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

    /// Counts a snapshot this player missed for reading too slowly.
    pub fn count_lag(&self) {
        self.lagged.fetch_add(1, Ordering::Relaxed);
    }

    /// Snapshots this player missed for reading too slowly, since it connected.
    pub fn lagged(&self) -> u64 {
        self.lagged.load(Ordering::Relaxed)
    }

    /// Whether a frame of `tick` or later is still waiting for the writer.
    pub fn holds_unsent_since(&self, tick: Tick) -> bool {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_some_and(|frame| frame.tick.since(tick) >= 0)
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

/// A request, from anywhere, that a connection close with a reason (and a detail for the
/// player, such as the operator's words). The first reason wins.
#[derive(Debug, Default)]
pub struct Kick {
    reason: OnceLock<(CloseReason, Arc<str>)>,
    notify: Notify,
}

impl Kick {
    pub fn kick(&self, reason: CloseReason) {
        self.kick_with(reason, "");
    }

    /// Kicks with `detail` told to the player (in the error before the close).
    pub fn kick_with(&self, reason: CloseReason, detail: &str) {
        // Already kicked: the first reason stands, and nothing is allocated for another (a
        // slow reader is kicked by every message it cannot take).
        if self.reason.get().is_some() {
            return;
        }
        if self.reason.set((reason, Arc::from(detail))).is_ok() {
            self.notify.notify_one();
        }
    }

    pub fn reason(&self) -> Option<CloseReason> {
        self.reason.get().map(|(reason, _)| *reason)
    }

    /// Resolves once kicked, with the reason and its detail.
    pub async fn kicked(&self) -> (CloseReason, Arc<str>) {
        loop {
            if let Some((reason, detail)) = self.reason.get() {
                return (*reason, Arc::clone(detail));
            }
            self.notify.notified().await;
        }
    }
}

/// Who a session is, for the operator: set by its transport (how and from where it connected)
/// and by the session once the player joined. Written once each, read by the admin page.
#[derive(Debug, Default)]
pub struct SessionProfile {
    /// The transport carrying the session now (a polling session may upgrade), and its peer.
    carried_by: Mutex<Option<(&'static str, SocketAddr)>>,
    joined: OnceLock<(String, Instant)>,
}

impl SessionProfile {
    /// How the player is connected (`websocket`, `polling`) and from where.
    pub fn connected(&self, transport: &'static str, peer: SocketAddr) {
        *self
            .carried_by
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some((transport, peer));
    }

    /// The player joined as `name` at `at`.
    pub fn joined(&self, name: &str, at: Instant) {
        let _ = self.joined.set((name.to_owned(), at));
    }

    /// The transport carrying the session now, and its peer.
    pub fn carried_by(&self) -> Option<(&'static str, SocketAddr)> {
        *self
            .carried_by
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The player's name and when it joined, once it has.
    pub fn name_and_join(&self) -> Option<(&str, Instant)> {
        self.joined.get().map(|(name, at)| (name.as_str(), *at))
    }
}

/// One player's session as the room, the session and its transport share it: what the registry
/// keeps per player, and what the transport's writer drains.
#[derive(Debug, Clone)]
pub struct SessionHandle {
    /// Reliable, ordered messages for this player (welcome, joins, leaves, tags, pongs).
    pub outbound: ReliableSender,
    pub kick: Arc<Kick>,
    /// Where the session is in its life; broadcasts and snapshots wait for the welcome.
    pub stage: Arc<SessionStage>,
    pub snapshots: Arc<SnapshotSlot>,
    /// Pings sent by the transport's writer, answered through the session.
    pub heartbeat: Arc<Heartbeat>,
    /// Who the player is and how it connected, for the operator.
    pub profile: Arc<SessionProfile>,
}

impl SessionHandle {
    /// A fresh session's handle with room for `queue` reliable messages, and the receiving end
    /// of that queue (for the transport's writer).
    pub fn new(queue: usize) -> (SessionHandle, ReliableReceiver) {
        let (outbound, receiver) = reliable_queue(queue);
        let handle = SessionHandle {
            outbound,
            kick: Arc::default(),
            stage: Arc::default(),
            snapshots: Arc::default(),
            heartbeat: Arc::default(),
            profile: Arc::default(),
        };
        (handle, receiver)
    }
}
