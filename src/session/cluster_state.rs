//! What the process's rooms keep for a cluster node's heartbeat: each room's count of joiners
//! let in and gone for good (the owner's count in the cluster's directory), the rooms closed
//! since the last heartbeat, and the resume tokens gained and lost since then. Without a
//! cluster nothing is recorded. Must never: block or allocate without bound (the token queue is
//! bounded; what overflows is counted, and the next full resync repairs it).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_queue::ArrayQueue;

use crate::cluster::TokenChange;
use crate::protocol::ResumeToken;
use crate::protocol::rooms::RoomId;

/// Why a join's resume token gave no player back: this node holds no player for it.
pub const RESUME_UNKNOWN: &str =
    "no player to resume: its grace period ended, it left, or the token is unknown";
/// Why a join's resume token gave no player back: the node that held the player left the
/// cluster (killed, or cut off from it).
pub const RESUME_NODE_GONE: &str =
    "no player to resume: the node that held your player has left the cluster";

/// A room's joiners as the cluster counts them: both only grow.
#[derive(Debug, Default)]
pub struct ClusterCounts {
    joins: AtomicU64,
    leaves: AtomicU64,
}

impl ClusterCounts {
    /// A joiner claimed its seat and entered.
    pub fn joined(&self) {
        self.joins.fetch_add(1, Ordering::Relaxed);
    }

    /// A joiner left for good.
    pub fn left(&self) {
        self.leaves.fetch_add(1, Ordering::Relaxed);
    }

    /// A joiner the directory counted in did not get in after all: in and out at once.
    pub fn refused(&self) {
        self.joined();
        self.left();
    }

    /// (joins, leaves), leaves read first so that they never exceed the joins read.
    pub fn read(&self) -> (u64, u64) {
        let leaves = self.leaves.load(Ordering::Relaxed);
        (self.joins.load(Ordering::Relaxed), leaves)
    }
}

/// Tokens gained and lost since the last heartbeat, queued only once a cluster is joined.
#[derive(Debug, Default)]
pub struct TokenChanges {
    queue: OnceLock<ArrayQueue<TokenChange>>,
    /// Changes that found the queue full.
    pub dropped: AtomicU64,
}

impl TokenChanges {
    /// Starts recording, with room for `capacity` changes between two drains.
    pub fn enable(&self, capacity: usize) {
        let _ = self.queue.set(ArrayQueue::new(capacity.max(1)));
    }

    pub fn added(&self, token: ResumeToken) {
        self.push(TokenChange::Added(token));
    }

    pub fn removed(&self, token: ResumeToken) {
        self.push(TokenChange::Removed(token));
    }

    /// Moves every queued change into `out`.
    pub fn drain_into(&self, out: &mut Vec<TokenChange>) {
        if let Some(queue) = self.queue.get() {
            out.extend(std::iter::from_fn(|| queue.pop()));
        }
    }

    fn push(&self, change: TokenChange) {
        if let Some(queue) = self.queue.get()
            && queue.push(change).is_err()
        {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Rooms closed since the last heartbeat.
#[derive(Debug, Default)]
pub struct ClosedRooms(std::sync::Mutex<Vec<RoomId>>);

impl ClosedRooms {
    pub fn push(&self, id: RoomId) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(id);
    }

    pub fn take(&self) -> Vec<RoomId> {
        std::mem::take(
            &mut *self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_changes_are_kept_only_once_enabled_and_bounded() {
        let changes = TokenChanges::default();
        changes.added(ResumeToken([1; 16]));
        let mut out = Vec::new();
        changes.drain_into(&mut out);
        assert!(out.is_empty());
        changes.enable(2);
        changes.added(ResumeToken([1; 16]));
        changes.removed(ResumeToken([1; 16]));
        changes.added(ResumeToken([2; 16]));
        changes.drain_into(&mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(changes.dropped.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_refused_joiner_counts_in_and_out() {
        let counts = ClusterCounts::default();
        counts.joined();
        counts.refused();
        assert_eq!(counts.read(), (2, 1));
    }
}
