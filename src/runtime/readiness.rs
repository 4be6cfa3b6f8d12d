//! Sockets a tick thread reads between its rooms' steps. Each tick thread waits on its own
//! `mio` poll until its next room is due, so the upper layers may give it sources to watch: a
//! file descriptor and the [`Watcher`] that reads it when it is readable. An input is then read
//! on a thread that is awake anyway, in a batch with whatever else is ready, and no task is
//! woken for it. Commands for the thread arrive through its inbox and wake the poll.
//!
//! Must never: block (a watcher is only told its source is readable and reads what is there),
//! keep a source registered past its watcher, or let one watcher's panic reach another or a
//! room.

use std::collections::HashMap;
use std::io;
use std::os::fd::RawFd;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};

/// The token of the thread's waker (commands arrived); watchers use the others.
const WAKE: Token = Token(usize::MAX);
/// Readiness events taken from the kernel per wait.
const EVENTS_PER_WAIT: usize = 256;

/// Reads one watched source on a tick thread.
pub trait Watcher: Send + 'static {
    /// The source it reads; it keeps the source open for as long as it is watched.
    fn fd(&self) -> RawFd;
    /// The source is readable: read what it has, never waiting. `now` is when the thread woke.
    fn on_readable(&mut self, now: Instant) -> Watching;
    /// The thread lets go of this watcher before it said it was done: it was unwatched, its
    /// thread is stopping, or it panicked.
    fn on_abandoned(&mut self, why: Abandoned);
}

/// Whether a watcher wants to hear of its source again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watching {
    Keep,
    /// Nothing more to read (the peer closed, or the watcher gave up): it is dropped.
    Done,
}

/// Why a thread let go of a watcher that was not done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abandoned {
    Unwatched,
    Stopping,
    Panicked,
}

/// A watch's name, unique in the process: what [`ThreadPoll::unwatch`] is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WatchKey(pub u64);

/// One tick thread's poll and the watchers on it.
pub struct ThreadPoll {
    poll: Poll,
    events: Events,
    waker: Arc<Waker>,
    /// Watchers by token; a free slot is reused.
    watchers: Vec<Option<(WatchKey, Box<dyn Watcher>)>>,
    free: Vec<usize>,
    tokens: HashMap<WatchKey, usize>,
    /// The slots the last wait found readable (kept: no allocation per wait).
    ready: Vec<usize>,
}

impl ThreadPoll {
    pub fn new() -> io::Result<ThreadPoll> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKE)?);
        Ok(ThreadPoll {
            poll,
            events: Events::with_capacity(EVENTS_PER_WAIT),
            waker,
            watchers: Vec::new(),
            free: Vec::new(),
            tokens: HashMap::new(),
            ready: Vec::with_capacity(EVENTS_PER_WAIT),
        })
    }

    /// What wakes this thread's wait from another thread.
    pub fn waker(&self) -> Arc<Waker> {
        Arc::clone(&self.waker)
    }

    /// How many sources this thread watches.
    pub fn watched(&self) -> usize {
        self.tokens.len()
    }

    /// Waits up to `timeout` for readiness or a wake, and has every watcher whose source is
    /// readable read it. The kernel's wait counts whole milliseconds: less than one is spent
    /// asleep after a look that does not wait.
    /// Returns how many sources were readable.
    pub fn wait(&mut self, timeout: Duration) -> usize {
        let whole = Duration::from_millis(timeout.as_millis() as u64);
        if whole.is_zero() {
            let ready = self.poll_once(Duration::ZERO);
            if !timeout.is_zero() {
                std::thread::sleep(timeout);
            }
            ready
        } else {
            self.poll_once(whole)
        }
    }

    fn poll_once(&mut self, timeout: Duration) -> usize {
        if let Err(error) = self.poll.poll(&mut self.events, Some(timeout))
            && error.kind() != io::ErrorKind::Interrupted
        {
            tracing::error!(%error, "a tick thread's poll failed");
            return 0;
        }
        let now = Instant::now();
        // The slots first: reading a source needs the thread's watchers, not its events.
        self.ready.clear();
        self.ready.extend(
            self.events
                .iter()
                .map(|event| event.token())
                .filter(|&token| token != WAKE)
                .map(|token| token.0),
        );
        for index in 0..self.ready.len() {
            self.read_ready(self.ready[index], now);
        }
        self.ready.len()
    }

    /// Has the watcher at `slot` read its source; drops it if it is done or panicked.
    fn read_ready(&mut self, slot: usize, now: Instant) {
        let Some(Some((_, watcher))) = self.watchers.get_mut(slot) else {
            return;
        };
        match catch_unwind(AssertUnwindSafe(|| watcher.on_readable(now))) {
            Ok(Watching::Keep) => {}
            Ok(Watching::Done) => self.remove(slot, None),
            Err(_) => {
                tracing::error!("a socket's watcher panicked; dropping it alone");
                self.remove(slot, Some(Abandoned::Panicked));
            }
        }
    }

    /// Starts watching `watcher`'s source for readability, under `key`.
    pub fn watch(&mut self, key: WatchKey, mut watcher: Box<dyn Watcher>) {
        let slot = self.free.pop().unwrap_or(self.watchers.len());
        let fd = watcher.fd();
        if let Err(error) =
            self.poll
                .registry()
                .register(&mut SourceFd(&fd), Token(slot), Interest::READABLE)
        {
            tracing::warn!(%error, "a socket could not be watched");
            self.free.push(slot);
            let _ = catch_unwind(AssertUnwindSafe(|| {
                watcher.on_abandoned(Abandoned::Unwatched);
            }));
            return;
        }
        if slot == self.watchers.len() {
            self.watchers.push(None);
        }
        self.watchers[slot] = Some((key, watcher));
        self.tokens.insert(key, slot);
    }

    /// Stops watching what `key` names (nothing if it is gone already).
    pub fn unwatch(&mut self, key: WatchKey) {
        if let Some(&slot) = self.tokens.get(&key) {
            self.remove(slot, Some(Abandoned::Unwatched));
        }
    }

    /// Lets every watcher go: the thread is stopping.
    pub fn abandon_all(&mut self) {
        for slot in 0..self.watchers.len() {
            if self.watchers[slot].is_some() {
                self.remove(slot, Some(Abandoned::Stopping));
            }
        }
    }

    /// Deregisters the source at `slot` (while its watcher still holds it open), tells the
    /// watcher why if it was not done, and drops it.
    fn remove(&mut self, slot: usize, why: Option<Abandoned>) {
        let Some((key, mut watcher)) = self.watchers[slot].take() else {
            return;
        };
        self.tokens.remove(&key);
        self.free.push(slot);
        let fd = watcher.fd();
        let _ = self.poll.registry().deregister(&mut SourceFd(&fd));
        if let Some(why) = why {
            let _ = catch_unwind(AssertUnwindSafe(|| watcher.on_abandoned(why)));
        }
        let _ = catch_unwind(AssertUnwindSafe(move || drop(watcher)));
    }
}

/// A watcher for tests: it records what it reads and why it was let go, and panics on reading
/// "boom".
#[cfg(test)]
pub(crate) mod recorder {
    use std::io::Read;
    use std::os::fd::{AsRawFd, RawFd};
    use std::os::unix::net::UnixStream;
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    use super::{Abandoned, Watcher, Watching};

    pub struct Recorder {
        pub socket: UnixStream,
        pub log: Arc<Mutex<Vec<String>>>,
    }

    impl Recorder {
        /// A recorder of one end of a new socket pair, the other end, and its log.
        pub fn pair() -> (Recorder, UnixStream, Arc<Mutex<Vec<String>>>) {
            let (ours, theirs) = UnixStream::pair().unwrap();
            theirs.set_nonblocking(true).unwrap();
            let log = Arc::new(Mutex::new(Vec::new()));
            let recorder = Recorder {
                socket: theirs,
                log: Arc::clone(&log),
            };
            (recorder, ours, log)
        }
    }

    impl Watcher for Recorder {
        fn fd(&self) -> RawFd {
            self.socket.as_raw_fd()
        }

        fn on_readable(&mut self, _now: Instant) -> Watching {
            let mut buf = [0u8; 64];
            loop {
                match self.socket.read(&mut buf) {
                    Ok(0) => return Watching::Done,
                    Ok(n) => {
                        let text = String::from_utf8_lossy(&buf[..n]).to_string();
                        assert_ne!(text, "boom", "a watcher's bug");
                        self.log.lock().unwrap().push(text);
                    }
                    Err(_) => return Watching::Keep,
                }
            }
        }

        fn on_abandoned(&mut self, why: Abandoned) {
            self.log.lock().unwrap().push(format!("{why:?}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::os::unix::net::UnixStream;
    use std::sync::Mutex;

    use super::recorder::Recorder;
    use super::*;

    fn watched(poll: &mut ThreadPoll, key: u64) -> (UnixStream, Arc<Mutex<Vec<String>>>) {
        let (recorder, ours, log) = Recorder::pair();
        poll.watch(WatchKey(key), Box::new(recorder));
        (ours, log)
    }

    fn log_of(log: &Mutex<Vec<String>>) -> Vec<String> {
        log.lock().unwrap().clone()
    }

    #[test]
    fn a_watcher_reads_what_arrives_and_is_let_go_when_unwatched_or_done() {
        let mut poll = ThreadPoll::new().unwrap();
        let (mut first, first_log) = watched(&mut poll, 1);
        let (second, second_log) = watched(&mut poll, 2);
        first.write_all(b"hello").unwrap();
        poll.wait(Duration::from_millis(50));
        assert_eq!(log_of(&first_log), ["hello"]);
        assert!(log_of(&second_log).is_empty());

        // Let go and dropped: its socket is closed.
        poll.unwatch(WatchKey(1));
        assert_eq!(log_of(&first_log), ["hello", "Unwatched"]);
        assert!(first.write_all(b"unheard").is_err());

        // The peer closing: the watcher says it is done and is dropped, not told it was
        // abandoned; its slot is free for the next one.
        drop(second);
        poll.wait(Duration::from_millis(50));
        assert!(log_of(&second_log).is_empty());
        assert_eq!(poll.watched(), 0);
        let (mut third, third_log) = watched(&mut poll, 3);
        third.write_all(b"again").unwrap();
        poll.wait(Duration::from_millis(50));
        assert_eq!(log_of(&third_log), ["again"]);
    }

    #[test]
    fn a_panicking_watcher_is_dropped_alone_and_told() {
        let mut poll = ThreadPoll::new().unwrap();
        let (mut bad, bad_log) = watched(&mut poll, 1);
        let (mut good, good_log) = watched(&mut poll, 2);
        bad.write_all(b"boom").unwrap();
        good.write_all(b"fine").unwrap();
        poll.wait(Duration::from_millis(50));
        assert_eq!(log_of(&bad_log), ["Panicked"]);
        assert_eq!(log_of(&good_log), ["fine"]);
        assert_eq!(poll.watched(), 1);

        poll.abandon_all();
        assert_eq!(log_of(&good_log), ["fine", "Stopping"]);
        assert_eq!(poll.watched(), 0);
    }

    #[test]
    fn a_wake_from_another_thread_ends_the_wait() {
        let mut poll = ThreadPoll::new().unwrap();
        let waker = poll.waker();
        let started = Instant::now();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            waker.wake().unwrap();
        });
        poll.wait(Duration::from_secs(10));
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
