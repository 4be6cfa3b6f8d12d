//! The control frames a connection's reader asks its writer to send: the answer to the client's
//! ping, the echo of its close frame, or our own close. At most one of each waits: a newer ping's
//! answer replaces an unsent one (RFC 6455 section 5.5.3 lets an endpoint answer only the most
//! recent ping), and the first close wins. So a ping flood holds one pong, never a queue, and an
//! idle connection holds a few dozen bytes here (tokio's mpsc channel kept about 1.5 KiB).
//!
//! Must never: hold more than one pong and one close, block the reader, or send anything after
//! a close.

use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

use crate::session::ended::Ended;

/// A frame for the writer to send.
#[derive(Debug)]
pub enum Control {
    /// Answer to a WebSocket ping.
    Pong(Vec<u8>),
    /// Echo of the client's close frame; the last frame we send.
    EchoClose(Vec<u8>),
    /// Close the connection for this reason, telling the client why first if it is ours.
    Close(Box<Ended>),
}

/// What waits for the writer (shared by a connection's reader and writer).
#[derive(Debug, Default)]
pub struct ControlFrames {
    pending: Mutex<Pending>,
    /// Told when something is put in.
    ready: Notify,
}

#[derive(Debug, Default)]
struct Pending {
    pong: Option<Vec<u8>>,
    /// An `EchoClose` or a `Close`: the first one asked for, until the writer takes it.
    close: Option<Control>,
    /// A close was asked for: nothing more is put in, even once the writer took it.
    closing: bool,
}

impl Pending {
    fn set_close(&mut self, close: Control) {
        self.close = Some(close);
        self.closing = true;
    }
}

impl ControlFrames {
    fn pending(&self) -> MutexGuard<'_, Pending> {
        // Nothing panics while holding the lock; what it guards stays consistent.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Answers a ping (replacing an answer not yet sent). Ignored once a close is asked for.
    pub fn pong(&self, payload: Vec<u8>) {
        self.put(|pending| pending.pong = Some(payload));
    }

    /// Echoes the client's close frame (unless a close was already asked for).
    pub fn echo_close(&self, payload: Vec<u8>) {
        self.put(|pending| pending.set_close(Control::EchoClose(payload)));
    }

    /// Closes for `ended`'s reason (unless a close was already asked for).
    pub fn close(&self, ended: Ended) {
        self.put(|pending| pending.set_close(Control::Close(Box::new(ended))));
    }

    /// Puts a frame in and tells the writer, unless a close was asked for: nothing follows it.
    fn put(&self, put: impl FnOnce(&mut Pending)) {
        let mut pending = self.pending();
        if pending.closing {
            return;
        }
        put(&mut pending);
        drop(pending);
        self.ready.notify_one();
    }

    /// The next frame to send, waiting for one: a pending pong before the close. Cancel-safe.
    pub async fn next(&self) -> Control {
        loop {
            if let Some(control) = self.take() {
                return control;
            }
            // Something put in after `take` left a permit: this returns at once.
            self.ready.notified().await;
        }
    }

    fn take(&self) -> Option<Control> {
        let mut pending = self.pending();
        match pending.pong.take() {
            Some(payload) => Some(Control::Pong(payload)),
            None => pending.close.take(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::CloseReason;
    use std::time::Duration;

    #[tokio::test]
    async fn a_newer_ping_replaces_the_unsent_answer() {
        let control = ControlFrames::default();
        control.pong(b"one".to_vec());
        control.pong(b"two".to_vec());
        assert!(matches!(control.next().await, Control::Pong(p) if p == b"two"));
        assert!(control.take().is_none());
    }

    #[tokio::test]
    async fn the_pong_goes_before_the_close_and_the_first_close_wins() {
        let control = ControlFrames::default();
        control.pong(b"p".to_vec());
        control.echo_close(vec![3, 232]);
        control.close(Ended::new(CloseReason::ProtocolError, "late"));
        control.pong(b"after".to_vec());
        assert!(matches!(control.next().await, Control::Pong(p) if p == b"p"));
        assert!(matches!(control.next().await, Control::EchoClose(p) if p == [3, 232]));
        assert!(control.take().is_none());
        // Taken by the writer: still nothing more goes in after the close.
        control.pong(b"later".to_vec());
        control.close(Ended::new(CloseReason::TooLarge, ""));
        assert!(control.take().is_none());
    }

    #[tokio::test]
    async fn next_waits_for_a_frame_from_another_task() {
        let control = std::sync::Arc::new(ControlFrames::default());
        let reader = std::sync::Arc::clone(&control);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            reader.close(Ended::new(CloseReason::TooLarge, ""));
        });
        let next = tokio::time::timeout(Duration::from_secs(5), control.next()).await;
        assert!(
            matches!(next.unwrap(), Control::Close(ended) if ended.reason == CloseReason::TooLarge)
        );
    }
}
