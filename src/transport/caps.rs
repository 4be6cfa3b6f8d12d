//! Connection caps: how many TCP connections may be open at once, in total and from one
//! address. Owns the counts and the permit each accepted connection holds until its last byte
//! (plain HTTP, or the WebSocket it upgraded to). Checked at accept, before a byte is read, so
//! a crowd of idle or half-open sockets cannot exhaust file descriptors or memory.
//!
//! Must never: count a connection twice, forget one (the permit's `Drop` releases it, even
//! after a panic), or keep an address's entry once its count is back to zero.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Why a connection was refused at accept (answered with HTTP 503 and this text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `--max-connections` are open.
    TooManyConnections,
    /// `--max-connections-per-ip` are open from the same address (IPv6: the same /64).
    TooManyFromAddress,
}

impl Refusal {
    /// Every refusal, in a fixed order (the index of each is [`Refusal::index`]).
    pub const ALL: [Refusal; 2] = [Refusal::TooManyConnections, Refusal::TooManyFromAddress];

    /// Position in [`Refusal::ALL`], for per-reason counters.
    pub fn index(self) -> usize {
        self as usize
    }

    /// A stable snake_case name, for metrics labels.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::TooManyConnections => "max_connections",
            Refusal::TooManyFromAddress => "max_connections_per_ip",
        }
    }

    /// What the refused client reads in the 503's body.
    pub fn text(self) -> &'static str {
        match self {
            Refusal::TooManyConnections => "server at its connection limit; try again later",
            Refusal::TooManyFromAddress => {
                "too many connections from your address; close some and try again"
            }
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// The open-connection counts and their limits.
#[derive(Debug)]
pub struct ConnectionCaps {
    max_total: usize,
    max_per_address: usize,
    /// Open connections by address; the total is the sum, kept beside it to check cheaply.
    open: Mutex<Counts>,
    /// Refusals since start, by [`Refusal::index`].
    pub refused: [AtomicU64; Refusal::ALL.len()],
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

impl ConnectionCaps {
    pub fn new(max_total: usize, max_per_address: usize) -> Arc<ConnectionCaps> {
        Arc::new(ConnectionCaps {
            max_total,
            max_per_address,
            open: Mutex::default(),
            refused: Default::default(),
        })
    }

    /// A permit for one more connection from `address`, or why there is none (counted).
    pub fn admit(self: &Arc<Self>, address: IpAddr) -> Result<ConnectionPermit, Refusal> {
        let key = address_key(address);
        let mut counts = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let from_address = counts.by_address.get(&key).copied().unwrap_or(0);
        let refusal = if counts.total >= self.max_total {
            Some(Refusal::TooManyConnections)
        } else if from_address >= self.max_per_address {
            Some(Refusal::TooManyFromAddress)
        } else {
            None
        };
        if let Some(refusal) = refusal {
            self.refused[refusal.index()].fetch_add(1, Ordering::Relaxed);
            return Err(refusal);
        }
        counts.total += 1;
        counts.by_address.insert(key, from_address + 1);
        Ok(ConnectionPermit {
            caps: Arc::clone(self),
            key,
            socket: None,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).total
    }

    /// Distinct addresses (IPv6: /64 networks) with a connection open now.
    pub fn addresses(&self) -> usize {
        self.open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .by_address
            .len()
    }

    fn release(&self, key: IpAddr) {
        let mut counts = self.open.lock().unwrap_or_else(|e| e.into_inner());
        counts.total = counts.total.saturating_sub(1);
        if let Some(count) = counts.by_address.get_mut(&key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.by_address.remove(&key);
            }
        }
    }
}

/// One open connection's place under the caps, given back when dropped. Shared (in an `Arc`)
/// by the HTTP connection and the WebSocket session it may become.
#[derive(Debug)]
pub struct ConnectionPermit {
    caps: Arc<ConnectionCaps>,
    key: IpAddr,
    /// The connection's TCP socket, for progress checks (see `net::progress`).
    socket: Option<std::os::fd::RawFd>,
}

impl ConnectionPermit {
    /// Notes the TCP socket this permit's connection runs on.
    pub fn on_socket(mut self, fd: std::os::fd::RawFd) -> ConnectionPermit {
        self.socket = Some(fd);
        self
    }

    /// The connection's TCP socket, if noted.
    pub fn socket(&self) -> Option<std::os::fd::RawFd> {
        self.socket
    }
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        self.caps.release(self.key);
    }
}

/// The unit a per-address cap counts: an IPv4 address, or an IPv6 /64 (one host commonly owns
/// a whole /64, so counting single IPv6 addresses would cap nothing).
fn address_key(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_per_address_cap_refuses_only_that_address() {
        let caps = ConnectionCaps::new(10, 2);
        let a1 = caps.admit(ip("10.0.0.1")).unwrap();
        let _a2 = caps.admit(ip("10.0.0.1")).unwrap();
        assert_eq!(
            caps.admit(ip("10.0.0.1")).unwrap_err(),
            Refusal::TooManyFromAddress
        );
        let _b = caps.admit(ip("10.0.0.2")).unwrap();
        drop(a1);
        let _a3 = caps.admit(ip("10.0.0.1")).unwrap();
        assert_eq!(caps.open(), 3);
        assert_eq!(
            caps.refused[Refusal::TooManyFromAddress.index()].load(Ordering::Relaxed),
            1
        );
    }

    #[test]
    fn the_total_cap_refuses_everyone_until_a_connection_ends() {
        let caps = ConnectionCaps::new(2, 2);
        let first = caps.admit(ip("10.0.0.1")).unwrap();
        let _second = caps.admit(ip("10.0.0.2")).unwrap();
        assert_eq!(
            caps.admit(ip("10.0.0.3")).unwrap_err(),
            Refusal::TooManyConnections
        );
        drop(first);
        assert!(caps.admit(ip("10.0.0.3")).is_ok());
    }

    #[test]
    fn released_addresses_leave_no_entry_behind() {
        let caps = ConnectionCaps::new(100, 100);
        let permits: Vec<_> = (0..50)
            .map(|i| caps.admit(ip(&format!("10.0.1.{i}"))).unwrap())
            .collect();
        assert_eq!(caps.addresses(), 50);
        drop(permits);
        assert_eq!((caps.open(), caps.addresses()), (0, 0));
    }

    #[test]
    fn ipv6_is_counted_per_slash_64_and_mapped_ipv4_as_ipv4() {
        let caps = ConnectionCaps::new(10, 1);
        let _a = caps.admit(ip("2001:db8::1")).unwrap();
        assert!(caps.admit(ip("2001:db8::2")).is_err());
        assert!(caps.admit(ip("2001:db8:0:1::1")).is_ok());
        let _v4 = caps.admit(ip("192.0.2.7")).unwrap();
        assert!(caps.admit(ip("::ffff:192.0.2.7")).is_err());
    }
}
