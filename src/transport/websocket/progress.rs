//! Whether a client is still reading, told by its TCP socket rather than by our writes. Delta
//! snapshots are small (tens to hundreds of bytes), so a client that stops reading can take
//! minutes to fill its receive window and our send buffer, and only then would a write block.
//! The kernel knows sooner: while data waits for the client, the bytes it acknowledges
//! (`TCP_INFO`'s `tcpi_bytes_acked`) stop growing. A connection with data waiting and nothing
//! acknowledged for the write timeout is making no progress and is dropped as too slow.
//!
//! Linux only (`TCP_INFO`); elsewhere the check reports progress always and the write timeout
//! alone applies.

use std::os::fd::RawFd;
use std::time::{Duration, Instant};

/// What the kernel says about a connection's send side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SendState {
    /// Bytes the peer has acknowledged since the connection opened.
    acked: u64,
    /// Data is waiting: sent but not acknowledged, or not sent yet.
    waiting: bool,
}

/// Tracks one connection's acknowledgements over time.
#[derive(Debug)]
pub struct ReadProgress {
    fd: RawFd,
    last_acked: u64,
    /// Since when data has waited with nothing acknowledged.
    stalled_since: Option<Instant>,
}

impl ReadProgress {
    /// Watches the TCP socket `fd`, which must stay open as long as this is used (the
    /// connection's writer owns the socket and this alike).
    pub fn new(fd: RawFd) -> ReadProgress {
        ReadProgress {
            fd,
            last_acked: 0,
            stalled_since: None,
        }
    }

    /// Whether the client has made no progress for `limit`, as of `now`.
    pub fn stalled_for(&mut self, limit: Duration, now: Instant) -> bool {
        let Some(state) = send_state(self.fd) else {
            return false;
        };
        if state.acked != self.last_acked || !state.waiting {
            self.last_acked = state.acked;
            self.stalled_since = None;
            return false;
        }
        let since = *self.stalled_since.get_or_insert(now);
        now.duration_since(since) >= limit
    }
}

#[cfg(target_os = "linux")]
fn send_state(fd: RawFd) -> Option<SendState> {
    // SAFETY: `tcp_info` is plain old data, and `getsockopt` writes at most `len` bytes into
    // it; `fd` is a socket the caller keeps open.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    let result = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    if result != 0 {
        return None;
    }
    Some(SendState {
        acked: info.tcpi_bytes_acked,
        waiting: info.tcpi_unacked > 0 || info.tcpi_notsent_bytes > 0,
    })
}

#[cfg(not(target_os = "linux"))]
fn send_state(_fd: RawFd) -> Option<SendState> {
    None
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;

    use super::*;

    #[test]
    fn a_peer_that_stops_reading_stalls_once_its_window_is_full() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let receiver_socket = socket2::Socket::new(
            socket2::Domain::IPV4,
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )
        .unwrap();
        // A small window from the start, as a stalled client's would end up.
        receiver_socket.set_recv_buffer_size(4096).unwrap();
        receiver_socket.connect(&address.into()).unwrap();
        let (mut sender, _) = listener.accept().unwrap();
        sender.set_nonblocking(true).unwrap();
        let mut progress = ReadProgress::new(sender.as_raw_fd());
        let start = Instant::now();
        assert!(
            !progress.stalled_for(Duration::ZERO, start),
            "nothing sent yet"
        );
        // The receiver never reads: write until data stays queued on our side.
        let chunk = [7u8; 1024];
        let queued = (0..200).any(|_| {
            while sender.write(&chunk).is_ok() {}
            std::thread::sleep(Duration::from_millis(10));
            send_state(sender.as_raw_fd()).is_some_and(|state| state.waiting)
        });
        assert!(queued, "the receiver's window never filled");
        let later = Instant::now();
        let limit = Duration::from_millis(50);
        assert!(
            !progress.stalled_for(limit, later),
            "acknowledged since the last look"
        );
        assert!(
            !progress.stalled_for(limit, later + Duration::from_millis(10)),
            "stall begins"
        );
        assert!(progress.stalled_for(limit, later + Duration::from_millis(70)));
        drop(receiver_socket);
    }

    #[test]
    fn a_peer_that_reads_everything_never_stalls() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut sender = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut receiver, _) = listener.accept().unwrap();
        let mut progress = ReadProgress::new(sender.as_raw_fd());
        let mut buffer = [0u8; 4096];
        for round in 0..20u64 {
            sender.write_all(&[1u8; 2048]).unwrap();
            let mut read = 0;
            while read < 2048 {
                read += std::io::Read::read(&mut receiver, &mut buffer).unwrap();
            }
            let at = Instant::now() + Duration::from_millis(100 * round);
            assert!(!progress.stalled_for(Duration::from_millis(50), at));
        }
    }
}
