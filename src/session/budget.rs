//! The message rate limit as a session applies it: every whole message, and every frame a
//! transport reads that is not one (pings, pongs, fragments), is charged here; over the limit it
//! is dropped and counted, and a client that stays over it ends with [`CloseReason::RateLimited`].
//! Must never: read the clock itself (the caller passes `now`).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::time::Instant;

use super::ended::Ended;
use super::limits::{Admit, FloodGuard};
use crate::metrics::NetStats;
use crate::protocol::CloseReason;

/// One session's message budget.
pub struct MessageBudget {
    guard: FloodGuard,
    /// The average rate allowed, for the reason told to a flooder.
    per_second: f64,
    net: Arc<NetStats>,
}

impl MessageBudget {
    pub fn new(per_second: f64, net: Arc<NetStats>) -> MessageBudget {
        MessageBudget {
            guard: FloodGuard::new(per_second),
            per_second,
            net,
        }
    }

    /// Whether the rate limit lets this message or frame through (`false`: drop it, counted),
    /// or why the client must be closed for flooding.
    pub fn charge(&mut self, now: Instant) -> Result<bool, Ended> {
        match self.guard.admit(now) {
            Admit::Yes => Ok(true),
            Admit::Drop => {
                self.net
                    .messages_rate_limited
                    .fetch_add(1, Ordering::Relaxed);
                Ok(false)
            }
            Admit::Disconnect => {
                let detail = format!("more than {} messages a second", self.per_second);
                Err(Ended::new(CloseReason::RateLimited, detail))
            }
        }
    }
}
