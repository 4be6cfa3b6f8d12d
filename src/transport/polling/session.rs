//! One long-polling session as its HTTP requests and its task share it: the reliable messages
//! sent and not yet acknowledged (numbered, re-sent until a GET acknowledges them), the client
//! messages applied so far (by number, so a repeated POST applies nothing twice), the one GET
//! that may wait (a newer one supersedes it), the one POST in flight, and the close once the
//! session has ended. Must never: hold its lock across an await, keep more than its budget of
//! unacknowledged bytes, or let a GET wait past its hold.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use super::wire::{Down, Up, encode_down};
use crate::protocol::Tick;
use crate::session::SessionHandle;

/// What a session may keep unacknowledged before its client counts as too slow.
#[derive(Debug, Clone, Copy)]
pub struct Backlog {
    pub messages: usize,
    pub bytes: usize,
}

/// A POST of a session in flight: while it lives, another POST is refused.
pub struct PostInFlight<'a> {
    session: &'a PollSession,
}

impl PostInFlight<'_> {
    /// Applies the POST's messages (see [`PollSession::post`]).
    pub fn apply(self, up: Up) -> Posted {
        self.session.apply(up)
    }
}

impl Drop for PostInFlight<'_> {
    fn drop(&mut self) {
        self.session.posting.store(false, Ordering::Release);
    }
}

/// The client left more unacknowledged than its backlog may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the backlog of unacknowledged messages is full")]
pub struct BacklogFull;

/// The outcome of a POST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Posted {
    /// Every new message was handed to the session (`applied` of them; repeats skipped).
    Applied { applied: usize },
    /// Another POST of this session is in flight.
    Overlapping,
    /// The session's queue is full (a flood): what did not fit was not applied; send it again.
    Busy,
    /// The session has ended.
    Ended,
}

#[derive(Debug, Default)]
struct State {
    /// The number the next reliable message gets (from 1).
    next_seq: u32,
    unacked: VecDeque<(u32, Bytes)>,
    unacked_bytes: usize,
    /// The number of the last client message handed to the session.
    applied: u32,
    /// The welcome has been queued: snapshots may follow.
    welcomed: bool,
    /// Why the session ended (close code and reason), for the last GET.
    closed: Option<(u16, String)>,
}

/// One long-polling session.
pub struct PollSession {
    pub sid: String,
    /// The address that opened it: requests from any other are refused.
    pub peer: IpAddr,
    pub handle: SessionHandle,
    inbound: mpsc::Sender<Bytes>,
    state: Mutex<State>,
    /// A reliable message was queued, or the session ended: the waiting GET answers.
    changed: Notify,
    /// Each GET's number; a GET that is no longer the newest answers at once.
    generation: AtomicU64,
    superseded: Notify,
    posting: AtomicBool,
    /// When the last GET arrived, in milliseconds since `opened`.
    last_get_ms: AtomicU64,
    opened: Instant,
    backlog: Backlog,
    /// A WebSocket took the session over (`ClientMessage::Upgrade`): no more GETs or POSTs.
    attached: AtomicBool,
}

/// What a WebSocket that took a session over sends next: every reliable message queued (they
/// count as received once written: a socket loses nothing), and the close once it ended.
#[derive(Debug, Default)]
pub struct ForSocket {
    pub reliable: Vec<Bytes>,
    pub welcomed: bool,
    pub closed: Option<(u16, String)>,
}

impl PollSession {
    pub fn new(
        sid: String,
        peer: IpAddr,
        handle: SessionHandle,
        inbound: mpsc::Sender<Bytes>,
        backlog: Backlog,
    ) -> PollSession {
        PollSession {
            sid,
            peer,
            handle,
            inbound,
            state: Mutex::new(State {
                next_seq: 1,
                ..State::default()
            }),
            changed: Notify::new(),
            generation: AtomicU64::new(0),
            superseded: Notify::new(),
            posting: AtomicBool::new(false),
            last_get_ms: AtomicU64::new(0),
            opened: Instant::now(),
            backlog,
            attached: AtomicBool::new(false),
        }
    }

    /// A WebSocket takes the session over, its client having received the reliable messages
    /// up to `ack`. False if one already did or the session ended.
    pub fn attach(&self, ack: u32) -> bool {
        if self.is_ended() || self.attached.swap(true, Ordering::AcqRel) {
            return false;
        }
        self.acknowledge(ack);
        // A GET still waiting answers at once, with nothing: the socket sends it all now.
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.superseded.notify_waiters();
        true
    }

    pub fn is_attached(&self) -> bool {
        self.attached.load(Ordering::Acquire)
    }

    /// Where the attached socket hands the client's messages (it waits for room: a socket has
    /// backpressure, unlike a POST).
    pub fn inbound(&self) -> mpsc::Sender<Bytes> {
        self.inbound.clone()
    }

    /// Takes what the attached socket sends next, and counts as a GET (the session is alive).
    pub fn take_for_socket(&self) -> ForSocket {
        self.touch();
        let mut state = self.state();
        let reliable: Vec<Bytes> = state
            .unacked
            .drain(..)
            .map(|(_, message)| message)
            .collect();
        state.unacked_bytes = 0;
        ForSocket {
            reliable,
            welcomed: state.welcomed,
            closed: state.closed.clone(),
        }
    }

    /// Resolves when something was queued or the session ended (for the attached socket; call
    /// `enable` on it before looking, so that nothing queued meanwhile is missed).
    pub fn changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.changed.notified()
    }

    fn touch(&self) {
        self.last_get_ms
            .store(self.opened.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// Queues a reliable message for the client. Fails when the backlog is over its budget: the
    /// client is not fetching (too slow).
    pub fn queue(&self, message: Bytes) -> Result<(), BacklogFull> {
        let mut state = self.state();
        if state.unacked.len() >= self.backlog.messages
            || state.unacked_bytes + message.len() > self.backlog.bytes
        {
            return Err(BacklogFull);
        }
        if !state.welcomed && self.handle.stage.is_welcomed() {
            // Snapshots go out only after the welcome, which this message is or follows.
            state.welcomed = true;
        }
        let seq = state.next_seq;
        state.next_seq = seq.wrapping_add(1);
        state.unacked_bytes += message.len();
        state.unacked.push_back((seq, message));
        drop(state);
        self.changed.notify_waiters();
        Ok(())
    }

    /// The session ended with `code` and `reason`, after `farewell` (its `Error` or `Redirect`
    /// message, queued whatever the backlog).
    pub fn end(&self, farewell: Option<Bytes>, code: u16, reason: &str) {
        let mut state = self.state();
        if let Some(message) = farewell {
            let seq = state.next_seq;
            state.next_seq = seq.wrapping_add(1);
            state.unacked_bytes += message.len();
            state.unacked.push_back((seq, message));
        }
        state.closed = Some((code, reason.to_owned()));
        drop(state);
        self.changed.notify_waiters();
    }

    pub fn is_ended(&self) -> bool {
        self.state().closed.is_some()
    }

    /// Resolves once the session has ended.
    pub async fn closed(&self) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.is_ended() {
                return;
            }
            changed.await;
        }
    }

    /// A POST begins (before its body is read): `None` while another is in flight.
    pub fn begin_post(&self) -> Option<PostInFlight<'_>> {
        (!self.posting.swap(true, Ordering::AcqRel)).then_some(PostInFlight { session: self })
    }

    /// Applies a POST: the messages numbered after the last one applied go to the session.
    pub fn post(&self, up: Up) -> Posted {
        match self.begin_post() {
            Some(post) => post.apply(up),
            None => Posted::Overlapping,
        }
    }

    fn apply(&self, up: Up) -> Posted {
        let mut state = self.state();
        if state.closed.is_some() || self.is_attached() {
            return Posted::Ended;
        }
        let mut applied = 0;
        for (i, message) in up.messages.into_iter().enumerate() {
            let seq = up.first.wrapping_add(i as u32);
            if seq.wrapping_sub(state.applied) as i32 <= 0 {
                continue;
            }
            match self.inbound.try_send(message) {
                Ok(()) => {
                    state.applied = seq;
                    applied += 1;
                }
                Err(mpsc::error::TrySendError::Full(_)) => return Posted::Busy,
                Err(mpsc::error::TrySendError::Closed(_)) => return Posted::Ended,
            }
        }
        Posted::Applied { applied }
    }

    /// Answers a GET: what is queued after `ack`, the newest snapshot, and the close if the
    /// session ended; waits up to `hold` for something to send, and answers at once (empty)
    /// should a newer GET arrive. `tick` is the newest snapshot the client applied: the next
    /// delta's baseline.
    pub async fn get(&self, ack: u32, tick: Option<u32>, hold: Duration) -> (Bytes, bool) {
        self.touch();
        self.acknowledge(ack);
        if let Some(tick) = tick {
            self.handle.snapshots.sent(Tick(tick));
        }
        let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        self.superseded.notify_waiters();
        let deadline = Instant::now() + hold;
        loop {
            let changed = self.changed.notified();
            let superseded = self.superseded.notified();
            tokio::pin!(changed, superseded);
            changed.as_mut().enable();
            superseded.as_mut().enable();
            if self.is_attached() {
                return (self.nothing(), false);
            }
            if let Some(answer) = self.answer(false) {
                return answer;
            }
            tokio::select! {
                () = changed => {}
                () = self.handle.snapshots.ready() => {}
                () = superseded => {
                    // A newer GET, or a socket that took the session over, sends it all: this
                    // one answers with nothing (no message or snapshot goes to both).
                    if self.is_attached() || self.generation.load(Ordering::Acquire) != generation {
                        return (self.nothing(), false);
                    }
                }
                () = tokio::time::sleep_until(deadline) => {
                    return self.answer(true).unwrap_or_default();
                }
            }
        }
    }

    /// How long since the last GET arrived (since the session opened, before any).
    pub fn since_last_get(&self) -> Duration {
        let last = Duration::from_millis(self.last_get_ms.load(Ordering::Relaxed));
        self.opened.elapsed().saturating_sub(last)
    }

    /// Drops the reliable messages the client has received.
    fn acknowledge(&self, ack: u32) {
        let mut state = self.state();
        while let Some(&(seq, _)) = state.unacked.front() {
            if seq.wrapping_sub(ack) as i32 > 0 {
                break;
            }
            if let Some((_, message)) = state.unacked.pop_front() {
                state.unacked_bytes -= message.len();
            }
        }
    }

    /// An answer with nothing in it.
    fn nothing(&self) -> Bytes {
        encode_down(&Down {
            first: self.state().next_seq,
            ..Down::default()
        })
    }

    /// The body to answer with, if there is anything to send (or `always`).
    fn answer(&self, always: bool) -> Option<(Bytes, bool)> {
        let state = self.state();
        let snapshot = if state.welcomed && state.closed.is_none() {
            self.handle.snapshots.take()
        } else {
            None
        };
        let something = !state.unacked.is_empty() || snapshot.is_some() || state.closed.is_some();
        if !something && !always {
            return None;
        }
        let down = Down {
            first: state
                .unacked
                .front()
                .map_or(state.next_seq, |(seq, _)| *seq),
            reliable: state.unacked.iter().map(|(_, m)| &m[..]).collect(),
            snapshot: snapshot.as_ref().map(|frame| &frame.bytes[..]),
            close: state
                .closed
                .as_ref()
                .map(|(code, reason)| (*code, reason.as_str())),
        };
        Some((encode_down(&down), snapshot.is_some()))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> (PollSession, mpsc::Receiver<Bytes>) {
        let (handle, _outbound) = SessionHandle::new(8);
        let (inbound, received) = mpsc::channel(4);
        let backlog = Backlog {
            messages: 3,
            bytes: 100,
        };
        let poll = PollSession::new("s".into(), [127, 0, 0, 1].into(), handle, inbound, backlog);
        (poll, received)
    }

    fn up(first: u32, messages: &[&'static [u8]]) -> Up {
        Up {
            first,
            messages: messages.iter().map(|m| Bytes::from_static(m)).collect(),
        }
    }

    #[tokio::test]
    async fn a_repeated_post_applies_each_message_once() {
        let (poll, mut received) = session();
        assert_eq!(
            poll.post(up(1, &[b"a", b"b"])),
            Posted::Applied { applied: 2 }
        );
        assert_eq!(
            poll.post(up(2, &[b"b", b"c"])),
            Posted::Applied { applied: 1 }
        );
        assert_eq!(poll.post(up(1, &[b"a"])), Posted::Applied { applied: 0 });
        let mut got = Vec::new();
        while let Ok(message) = received.try_recv() {
            got.push(message);
        }
        assert_eq!(got, [&b"a"[..], b"b", b"c"]);
        // A flood beyond the session's queue is refused, not applied, and can be sent again.
        assert_eq!(
            poll.post(up(4, &[b"d", b"e", b"f", b"g", b"h"])),
            Posted::Busy
        );
        assert_eq!(received.try_recv().unwrap(), &b"d"[..]);
    }

    #[tokio::test]
    async fn unacknowledged_messages_are_sent_again_until_acknowledged() {
        let (poll, _received) = session();
        poll.queue(Bytes::from_static(b"one")).unwrap();
        poll.queue(Bytes::from_static(b"two")).unwrap();
        let hold = Duration::from_millis(10);
        let (first, _) = poll.get(0, None, hold).await;
        let (again, _) = poll.get(0, None, hold).await;
        assert_eq!(first, again, "a lost answer is sent again");
        let (rest, _) = poll.get(1, None, hold).await;
        assert_eq!(&rest[..4], &2u32.to_be_bytes(), "message 1 acknowledged");
        let (empty, _) = poll.get(2, None, hold).await;
        assert_eq!(empty.len(), 14, "nothing left: {empty:?}");
        // The backlog is bounded.
        for _ in 0..3 {
            poll.queue(Bytes::from_static(b"x")).unwrap();
        }
        assert!(poll.queue(Bytes::from_static(b"x")).is_err());
    }

    #[tokio::test]
    async fn a_newer_get_answers_the_older_at_once() {
        let (poll, _received) = session();
        let poll = std::sync::Arc::new(poll);
        let waiting = {
            let poll = std::sync::Arc::clone(&poll);
            tokio::spawn(async move { poll.get(0, None, Duration::from_secs(30)).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let newer = {
            let poll = std::sync::Arc::clone(&poll);
            tokio::spawn(async move { poll.get(0, None, Duration::from_secs(30)).await })
        };
        let (old, _) = tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .expect("the older GET answered")
            .unwrap();
        assert_eq!(old.len(), 14);
        poll.queue(Bytes::from_static(b"hi")).unwrap();
        let (new, _) = tokio::time::timeout(Duration::from_secs(1), newer)
            .await
            .expect("the newer GET answered when a message came")
            .unwrap();
        assert_eq!(&new[4..6], &1u16.to_be_bytes());
        poll.end(None, 4004, "ping timeout");
        assert!(poll.is_ended());
        assert_eq!(poll.post(up(9, &[b"z"])), Posted::Ended);
    }
}
