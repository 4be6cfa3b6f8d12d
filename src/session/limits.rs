//! A session's rate limits, with the time passed in: the token bucket, and the flood guard that
//! drops messages over the per-connection rate and closes a client that stays over it. Pure.

use std::time::Duration;

use tokio::time::Instant;

/// Chat lines a player may send in a burst, and refilled per second after it.
pub const CHAT_BURST: f64 = 5.0;
pub const CHAT_PER_SECOND: f64 = 1.0;
/// How long a client may stay over its message rate limit (`SessionLimits::
/// messages_per_second`, bursts of twice that; pings, pongs and fragments count too) before it
/// is closed (1008, "rate limited"); until then messages over the limit are dropped and
/// counted.
pub const FLOOD_GRACE: Duration = Duration::from_secs(1);

/// What to do with a message, as far as the rate limit is concerned.
pub enum Admit {
    Yes,
    Drop,
    Disconnect,
}

/// The per-connection message rate limit: a token bucket, and how long the client has been
/// over it.
pub struct FloodGuard {
    allowance: TokenBucket,
    over_since: Option<Instant>,
}

impl FloodGuard {
    pub fn new(per_second: f64) -> FloodGuard {
        FloodGuard {
            allowance: TokenBucket::new(2.0 * per_second, per_second),
            over_since: None,
        }
    }

    pub fn admit(&mut self, now: Instant) -> Admit {
        if self.allowance.take(now) {
            // A flooder gets the odd token as the bucket refills; only a client that has let
            // the bucket fill halfway again has really slowed down.
            if self.allowance.tokens >= self.allowance.capacity / 2.0 {
                self.over_since = None;
            }
            return Admit::Yes;
        }
        let since = *self.over_since.get_or_insert(now);
        if now.duration_since(since) >= FLOOD_GRACE {
            Admit::Disconnect
        } else {
            Admit::Drop
        }
    }
}

/// A token bucket: `capacity` actions at once, refilled at `per_second`.
pub struct TokenBucket {
    pub capacity: f64,
    per_second: f64,
    pub tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    pub fn new(capacity: f64, per_second: f64) -> TokenBucket {
        TokenBucket {
            capacity,
            per_second,
            tokens: capacity,
            updated: Instant::now(),
        }
    }

    /// Takes one token if there is one.
    pub fn take(&mut self, now: Instant) -> bool {
        let refill = now.saturating_duration_since(self.updated).as_secs_f64() * self.per_second;
        self.tokens = (self.tokens + refill).min(self.capacity);
        self.updated = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(guard: &mut FloodGuard, start: Instant, per_second: u32, seconds: u32) -> (u32, bool) {
        let mut dropped = 0;
        for i in 0..per_second * seconds {
            let at = start + Duration::from_secs_f64(f64::from(i) / f64::from(per_second));
            match guard.admit(at) {
                Admit::Yes => {}
                Admit::Drop => dropped += 1,
                Admit::Disconnect => return (dropped, true),
            }
        }
        (dropped, false)
    }

    #[test]
    fn players_at_sixty_hertz_are_never_limited() {
        let mut guard = FloodGuard::new(90.0);
        assert_eq!(feed(&mut guard, Instant::now(), 62, 30), (0, false));
    }

    #[test]
    fn a_short_burst_is_dropped_but_forgiven() {
        let mut guard = FloodGuard::new(90.0);
        let start = Instant::now();
        let (dropped, disconnected) = feed(&mut guard, start, 400, 1);
        assert!(dropped > 0 && !disconnected);
        // Back to a normal rate: the bucket refills and nothing more is dropped.
        let later = start + Duration::from_secs(3);
        assert_eq!(feed(&mut guard, later, 30, 10), (0, false));
    }

    #[test]
    fn a_sustained_flood_is_disconnected() {
        let mut guard = FloodGuard::new(90.0);
        let (_, disconnected) = feed(&mut guard, Instant::now(), 300, 5);
        assert!(disconnected);
    }
}
