//! The heartbeat state shared by the writer (which pings) and the reader (which sees the
//! pongs): the outstanding nonce, whether it was answered, the last round-trip time.

use std::sync::atomic::{AtomicU32, Ordering};

use tokio::time::Instant;

/// The heartbeat shared by the writer (which pings) and the reader (which sees the pongs).
#[derive(Debug, Default)]
pub struct Heartbeat {
    sent_nonce: AtomicU32,
    answered_nonce: AtomicU32,
    sent_at: std::sync::Mutex<Option<Instant>>,
    /// Round-trip time of the last answered ping, in microseconds.
    pub rtt_us: AtomicU32,
}

impl Heartbeat {
    pub fn sent(&self, nonce: u32) {
        *self.sent_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        self.sent_nonce.store(nonce, Ordering::Release);
    }

    pub fn answered(&self, nonce: u32) {
        if nonce != self.sent_nonce.load(Ordering::Acquire) {
            return;
        }
        if let Some(sent_at) = *self.sent_at.lock().unwrap_or_else(|e| e.into_inner()) {
            let rtt = sent_at.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
            self.rtt_us.store(rtt, Ordering::Relaxed);
        }
        self.answered_nonce.store(nonce, Ordering::Release);
    }

    pub fn is_answered(&self) -> bool {
        self.answered_nonce.load(Ordering::Acquire) == self.sent_nonce.load(Ordering::Acquire)
    }
}
