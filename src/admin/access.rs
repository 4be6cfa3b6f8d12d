//! Who may use the operator's page: the token (compared in constant time, never logged), the
//! failed attempts each address may make (a window per address, bounded in memory), and how
//! many admin sockets may be open (per address and in all). Pure but for the locks: time is
//! passed in. Must never: tell a caller how close a guess was, or grow without bound.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Failed authentications an address may make per window...
pub const FAILURES_PER_WINDOW: u32 = 5;
/// ...of this long.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Addresses whose failures are remembered at most; past that, new addresses are refused until
/// old windows lapse (failing closed: a flood from many addresses cannot reset the limit).
const REMEMBERED_ADDRESSES: usize = 4096;
/// Admin sockets open at once from one address, and in all.
pub const SOCKETS_PER_ADDRESS: usize = 4;
pub const SOCKETS_IN_ALL: usize = 8;
/// The shortest token accepted: a guessable token would make the page a door.
pub const MIN_TOKEN_LEN: usize = 12;

/// Why `--admin-token` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("--admin-token must be at least {MIN_TOKEN_LEN} characters")]
    TooShort,
    #[error("--admin-token must be printable ASCII without spaces")]
    NotPrintable,
}

/// The operator's secret.
#[derive(Clone)]
pub struct AdminToken(Arc<str>);

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(..)")
    }
}

impl AdminToken {
    pub fn new(token: &str) -> Result<AdminToken, TokenError> {
        if token.len() < MIN_TOKEN_LEN {
            return Err(TokenError::TooShort);
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(TokenError::NotPrintable);
        }
        Ok(AdminToken(Arc::from(token)))
    }

    /// Whether `offered` is the token, in time that depends only on the lengths.
    pub fn matches(&self, offered: &str) -> bool {
        let (mine, theirs) = (self.0.as_bytes(), offered.as_bytes());
        let mut differ = u8::from(mine.len() != theirs.len());
        for (i, byte) in mine.iter().enumerate() {
            differ |= byte ^ theirs.get(i).copied().unwrap_or(!byte);
        }
        differ == 0
    }
}

/// One address's failed attempts in its current window.
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    since: Instant,
}

/// The failed attempts of every address, and the admin sockets open.
#[derive(Debug, Default)]
pub struct Gate {
    failures: Mutex<HashMap<IpAddr, Failures>>,
    sockets: Mutex<HashMap<IpAddr, usize>>,
}

/// An admin socket's place under the limits, given back when dropped.
#[derive(Debug)]
pub struct SocketSlot {
    gate: Arc<Gate>,
    from: IpAddr,
}

impl Gate {
    /// Whether `from` may try a token now (it has not failed too often lately).
    pub fn may_try(&self, from: IpAddr, now: Instant) -> bool {
        let mut failures = self.failures();
        forget_lapsed(&mut failures, now);
        match failures.get(&from) {
            Some(record) => record.count < FAILURES_PER_WINDOW,
            None => failures.len() < REMEMBERED_ADDRESSES,
        }
    }

    /// `from` offered a wrong token.
    pub fn failed(&self, from: IpAddr, now: Instant) {
        let mut failures = self.failures();
        if failures.len() >= REMEMBERED_ADDRESSES && !failures.contains_key(&from) {
            return;
        }
        failures
            .entry(from)
            .or_insert(Failures {
                count: 0,
                since: now,
            })
            .count += 1;
    }

    /// `from` offered the right token: its failures are forgotten.
    pub fn succeeded(&self, from: IpAddr) {
        self.failures().remove(&from);
    }

    /// A place for one more admin socket from `from`, if the limits allow.
    pub fn open_socket(self: &Arc<Self>, from: IpAddr) -> Option<SocketSlot> {
        let mut sockets = self.sockets.lock().unwrap_or_else(PoisonError::into_inner);
        let in_all: usize = sockets.values().sum();
        let mine = sockets.entry(from).or_insert(0);
        if *mine >= SOCKETS_PER_ADDRESS || in_all >= SOCKETS_IN_ALL {
            return None;
        }
        *mine += 1;
        Some(SocketSlot {
            gate: Arc::clone(self),
            from,
        })
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Failures>> {
        self.failures.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut sockets = self
            .gate
            .sockets
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = sockets.get_mut(&self.from) {
            *count -= 1;
            if *count == 0 {
                sockets.remove(&self.from);
            }
        }
    }
}

fn forget_lapsed(failures: &mut HashMap<IpAddr, Failures>, now: Instant) {
    failures.retain(|_, record| now.saturating_duration_since(record.since) < FAILURE_WINDOW);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_matches_only_itself() {
        let token = AdminToken::new("correct-horse-battery").unwrap();
        assert!(token.matches("correct-horse-battery"));
        for wrong in [
            "",
            "correct-horse-batter",
            "correct-horse-battery!",
            "Correct-horse-battery",
        ] {
            assert!(!token.matches(wrong), "{wrong}");
        }
        assert_eq!(AdminToken::new("short").unwrap_err(), TokenError::TooShort);
        assert_eq!(
            AdminToken::new("has a space in it").unwrap_err(),
            TokenError::NotPrintable
        );
        assert_eq!(format!("{token:?}"), "AdminToken(..)", "never printed");
    }

    #[test]
    fn an_address_that_fails_too_often_waits_for_its_window_to_lapse() {
        let gate = Gate::default();
        let (bad, good): (IpAddr, IpAddr) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
        let start = Instant::now();
        for _ in 0..FAILURES_PER_WINDOW {
            assert!(gate.may_try(bad, start));
            gate.failed(bad, start);
        }
        assert!(!gate.may_try(bad, start + Duration::from_secs(59)));
        assert!(gate.may_try(good, start), "another address is not affected");
        assert!(gate.may_try(bad, start + FAILURE_WINDOW));
    }

    #[test]
    fn success_forgets_failures() {
        let gate = Gate::default();
        let from: IpAddr = [10, 0, 0, 1].into();
        let now = Instant::now();
        for _ in 0..FAILURES_PER_WINDOW - 1 {
            gate.failed(from, now);
        }
        gate.succeeded(from);
        for _ in 0..FAILURES_PER_WINDOW - 1 {
            gate.failed(from, now);
        }
        assert!(gate.may_try(from, now));
    }

    #[test]
    fn sockets_are_limited_per_address_and_in_all_and_given_back() {
        let gate = Arc::new(Gate::default());
        let one: IpAddr = [10, 0, 0, 1].into();
        let mut held: Vec<SocketSlot> = (0..SOCKETS_PER_ADDRESS)
            .map(|_| gate.open_socket(one).unwrap())
            .collect();
        assert!(gate.open_socket(one).is_none());
        held.pop();
        assert!(
            gate.open_socket(one).is_some(),
            "a closed socket's place is free"
        );
        let mut others = Vec::new();
        for i in 0..SOCKETS_IN_ALL {
            if let Some(slot) = gate.open_socket([10, 0, 1, i as u8].into()) {
                others.push(slot);
            }
        }
        assert_eq!(held.len() + others.len(), SOCKETS_IN_ALL);
    }
}
