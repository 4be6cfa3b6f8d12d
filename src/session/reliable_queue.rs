//! A player's reliable queue: the ordered messages (welcome, joins, leaves, tags, answers) its
//! room and session hand to its transport's writer. Bounded, many senders and one receiver, like
//! tokio's mpsc, but an empty queue holds no buffer: tokio's channel allocates a 32-slot block
//! and its bookkeeping up front (about 1.5 KiB per player, and a block more for every 32
//! messages a burst left waiting), which an idle player keeps for nothing.
//!
//! Must never: hold more than its capacity, block a sender, keep a burst's buffer once drained,
//! or take a message after its receiver is gone.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use tokio::sync::Notify;

/// An emptied queue whose buffer grew past this many slots lets it go (a join storm, a burst of
/// tags); below it, the buffer is kept so that steady traffic never allocates.
const KEEP_SLOTS: usize = 16;

/// Why a message was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the queue is full")]
    Full,
    #[error("the receiver is gone")]
    Closed,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// Told when a message arrives (a permit is kept if the receiver is not waiting).
    arrived: Notify,
    capacity: usize,
}

#[derive(Debug, Default)]
struct State {
    messages: VecDeque<Bytes>,
    receiver_gone: bool,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; a poisoned queue is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A queue with room for `capacity` messages: the senders (cloned for the room's registry and
/// the session) and the receiver (the transport's writer).
pub fn reliable_queue(capacity: usize) -> (ReliableSender, ReliableReceiver) {
    let shared = Arc::new(Shared {
        state: Mutex::default(),
        arrived: Notify::new(),
        capacity,
    });
    (
        ReliableSender(Arc::clone(&shared)),
        ReliableReceiver(shared),
    )
}

/// Where messages for one player are put.
#[derive(Debug, Clone)]
pub struct ReliableSender(Arc<Shared>);

impl ReliableSender {
    /// Queues `message` now, or says why not; never waits.
    pub fn try_send(&self, message: Bytes) -> Result<(), Refused> {
        let mut state = self.0.state();
        if state.receiver_gone {
            return Err(Refused::Closed);
        }
        if state.messages.len() >= self.0.capacity {
            return Err(Refused::Full);
        }
        state.messages.push_back(message);
        drop(state);
        self.0.arrived.notify_one();
        Ok(())
    }
}

/// Where one player's transport takes its messages from, in order.
#[derive(Debug)]
pub struct ReliableReceiver(Arc<Shared>);

impl ReliableReceiver {
    /// The next message, waiting for one. Cancel-safe: a message is only taken when returned.
    pub async fn recv(&mut self) -> Bytes {
        loop {
            if let Some(message) = self.try_recv() {
                return message;
            }
            // A message queued after `try_recv` left a permit: this returns at once.
            self.0.arrived.notified().await;
        }
    }

    /// The next message if one waits.
    pub fn try_recv(&mut self) -> Option<Bytes> {
        let mut state = self.0.state();
        let message = state.messages.pop_front();
        if state.messages.is_empty() && state.messages.capacity() > KEEP_SLOTS {
            state.messages = VecDeque::new();
        }
        message
    }
}

impl Drop for ReliableReceiver {
    /// Senders are refused from now on, and what waited is let go.
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.receiver_gone = true;
        state.messages = VecDeque::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn message(n: u8) -> Bytes {
        Bytes::from(vec![n])
    }

    #[test]
    fn messages_come_out_in_order_up_to_the_capacity() {
        let (sender, mut receiver) = reliable_queue(3);
        for n in 0..3 {
            sender.try_send(message(n)).unwrap();
        }
        assert_eq!(sender.try_send(message(9)), Err(Refused::Full));
        assert_eq!(sender.0.state().messages.len(), 3);
        for n in 0..3 {
            assert_eq!(receiver.try_recv(), Some(message(n)));
        }
        assert_eq!(receiver.try_recv(), None);
        sender.try_send(message(4)).unwrap();
        assert_eq!(receiver.try_recv(), Some(message(4)));
    }

    #[test]
    fn an_empty_queue_holds_no_buffer_and_a_drained_burst_lets_its_go() {
        let (sender, mut receiver) = reliable_queue(256);
        assert_eq!(sender.0.state().messages.capacity(), 0);
        for n in 0..200 {
            sender.try_send(message(n as u8)).unwrap();
        }
        assert!(sender.0.state().messages.capacity() >= 200);
        while receiver.try_recv().is_some() {}
        assert_eq!(sender.0.state().messages.capacity(), 0);
        // A trickle keeps its small buffer (no allocation per message).
        sender.try_send(message(1)).unwrap();
        let kept = sender.0.state().messages.capacity();
        receiver.try_recv().unwrap();
        assert_eq!(sender.0.state().messages.capacity(), kept);
    }

    #[test]
    fn senders_are_refused_once_the_receiver_is_gone() {
        let (sender, receiver) = reliable_queue(4);
        sender.try_send(message(1)).unwrap();
        drop(receiver);
        assert_eq!(sender.try_send(message(2)), Err(Refused::Closed));
        assert_eq!(sender.0.state().messages.capacity(), 0);
    }

    #[tokio::test]
    async fn recv_waits_for_a_message_from_another_thread() {
        let (sender, mut receiver) = reliable_queue(4);
        let other = sender.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            other.try_send(message(7)).unwrap();
        });
        let got = tokio::time::timeout(Duration::from_secs(5), receiver.recv()).await;
        assert_eq!(got.unwrap(), message(7));
    }

    #[tokio::test]
    async fn a_cancelled_recv_loses_nothing() {
        let (sender, mut receiver) = reliable_queue(4);
        // Cancelled while waiting, then a message arrives: the next recv has it.
        let waited = tokio::time::timeout(Duration::from_millis(10), receiver.recv()).await;
        assert!(waited.is_err());
        sender.try_send(message(3)).unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), receiver.recv()).await;
        assert_eq!(got.unwrap(), message(3));
    }
}
