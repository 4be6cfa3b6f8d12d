//! What one player's session shares with the room and with its transport: the latest-wins
//! snapshot slot (which also holds the delta baseline), the kick, the stage, the heartbeat and
//! the sending end of the bounded reliable queue ([`SessionHandle`]). Every hand-over here is
//! non-blocking, so the room never waits on a session. Must never: hold a frame longer than
//! until the next one replaces it, or block a caller.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use bytes::Bytes;
use tokio::sync::{Notify, mpsc};

use super::heartbeat::Heartbeat;
use super::stage::SessionStage;
use crate::protocol::{CloseReason, Tick};

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

/// One player's session as the room, the session and its transport share it: what the registry
/// keeps per player, and what the transport's writer drains.
#[derive(Debug, Clone)]
pub struct SessionHandle {
    /// Reliable, ordered messages for this player (welcome, joins, leaves, tags, pongs).
    pub outbound: mpsc::Sender<Bytes>,
    pub kick: Arc<Kick>,
    /// Where the session is in its life; broadcasts and snapshots wait for the welcome.
    pub stage: Arc<SessionStage>,
    pub snapshots: Arc<SnapshotSlot>,
    /// Pings sent by the transport's writer, answered through the session.
    pub heartbeat: Arc<Heartbeat>,
}

impl SessionHandle {
    /// A fresh session's handle with room for `queue` reliable messages, and the receiving end
    /// of that queue (for the transport's writer).
    pub fn new(queue: usize) -> (SessionHandle, mpsc::Receiver<Bytes>) {
        let (outbound, receiver) = mpsc::channel(queue);
        let handle = SessionHandle {
            outbound,
            kick: Arc::default(),
            stage: Arc::default(),
            snapshots: Arc::default(),
            heartbeat: Arc::default(),
        };
        (handle, receiver)
    }
}
