//! The swarm's event loop: one thread drives many bots over non-blocking sockets (mio, epoll on
//! Linux) with one timer heap. Each connection is a small state machine (waiting for its start,
//! connecting, upgrading to WebSocket or opening a long-polling session, joining, playing,
//! closing); frames or HTTP responses are parsed where they lie in the connection's read buffer
//! and handed to the bot's [`Player`], and its messages are framed into the connection's write
//! buffer (a WebSocket frame, or a POST of numbered messages).
//!
//! Why not a task per bot on tokio: at 2000 bots and 30 Hz the swarm handles 120,000 events a
//! second, and a task wake-up, a timer future and a framed read per event cost more than the
//! bot's own work (a plain tokio client that decodes nothing used 70% of a core; see
//! docs/PERFORMANCE.md). Here an event costs a system call and the bot's work.
//!
//! This file owns the loop, the timers and the connections' states; beside it in `engine/`:
//! `socket.rs` moves the bytes, `frames.rs` turns WebSocket frames into messages, `polling.rs`
//! speaks long polling over two keep-alive HTTP connections (the long GET's and the POSTs'),
//! `lifecycle.rs` says what a message or a failure does to a bot and reports it. Nothing here decides what a bot plays
//! (that is [`super::bot`]).

mod frames;
mod lifecycle;
mod polling;
mod socket;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Poll};

use super::bot::{BotPlan, Player};
use super::stats::SwarmStats;
use super::wire::opcode;
use socket::{Lane, LaneId};

/// Where the bots connect: the server's address, and the Host and path of the upgrade request
/// (long polling uses the Host, and its own paths under `/poll`).
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub authority: String,
    pub path: String,
}

/// Runs `plans` against `target` until every bot has finished, recording into `stats`.
pub fn run(target: &Target, plans: Vec<BotPlan>, stats: &Arc<SwarmStats>) -> std::io::Result<()> {
    let mut engine = Engine::new(target.clone(), Arc::clone(stats))?;
    for plan in plans {
        engine.add(plan);
    }
    engine.run()
}

/// Where a connection is in its life.
enum Phase {
    /// Not started yet.
    Waiting,
    Connecting,
    /// The upgrade request is sent; waiting for its answer.
    Upgrading {
        key: String,
    },
    /// Long polling: the session-opening POST is sent; waiting for its session id.
    Opening,
    /// The join is sent; waiting for the welcome.
    Joining,
    Playing {
        player: Box<Player>,
        joined_at: Instant,
        /// When the next input is due (meaningless for bots that send none).
        next_input: Instant,
        period: Duration,
    },
    /// The bot's close frame is sent; reading until the server's.
    Closing {
        player: Box<Player>,
        joined_at: Instant,
    },
    Done,
}

struct Connection {
    plan: BotPlan,
    phase: Phase,
    /// The WebSocket, or the long-polling session's GET connection.
    socket: Lane,
    /// A long-polling bot's session: its POST connection and what it has sent and received
    /// (`None` for a WebSocket bot).
    polling: Option<Box<polling::Polling>>,
    /// A fragmented message being reassembled: its opcode and bytes so far.
    fragments: Option<(u8, Vec<u8>)>,
    started: Instant,
    /// The one moment this connection wants to be woken at (entries of the timer heap that
    /// no longer match it are stale and skipped).
    wake_at: Instant,
    /// Whether the connection is over and no longer counted as live.
    ended: bool,
    /// Where a cluster node sent the bot (instead of the swarm's target), and how many times
    /// in a row it was sent on.
    redirected_to: Option<Target>,
    redirects: usize,
}

/// Redirects a bot follows in a row before it counts as failed (a loop between nodes).
const MAX_REDIRECTS: usize = 3;

/// How many ready connections ahead the loop starts fetching their data (see
/// [`Engine::prefetch_ahead`]): the connection, its player, the player's replica's states,
/// their entities.
const PREFETCH_DEPTH: usize = 4;

/// One connection's readiness reported by a poll.
struct Ready {
    index: usize,
    lane: LaneId,
    writable: bool,
    readable: bool,
}

struct Engine {
    target: Target,
    stats: Arc<SwarmStats>,
    poll: Poll,
    connections: Vec<Connection>,
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    /// The events of one poll, and the timers due at one turn of the loop (kept for their
    /// capacity).
    ready: Vec<Ready>,
    due: Vec<(Instant, usize)>,
    live: usize,
    /// xorshift64 state for masks and handshake keys.
    random: u64,
    /// A message being sent, encoded, then framed (shared by every connection).
    encoded: Vec<u8>,
    framed: Vec<u8>,
    /// Where every connection's bytes are read to and parsed from: one buffer that stays in
    /// cache, rather than one per connection (what is left of a partial frame is kept aside).
    scratch: Vec<u8>,
}

impl Engine {
    fn new(target: Target, stats: Arc<SwarmStats>) -> std::io::Result<Engine> {
        Ok(Engine {
            target,
            stats,
            poll: Poll::new()?,
            connections: Vec::new(),
            timers: BinaryHeap::new(),
            ready: Vec::new(),
            due: Vec::new(),
            live: 0,
            random: 0x2545_F491_4F6C_DD1D,
            encoded: Vec::with_capacity(256),
            framed: Vec::with_capacity(256),
            scratch: vec![0; socket::READ_CHUNK],
        })
    }

    fn add(&mut self, plan: BotPlan) {
        let index = self.connections.len();
        let wake_at = plan.start_at;
        self.connections.push(Connection {
            plan,
            phase: Phase::Waiting,
            socket: Lane::default(),
            polling: None,
            fragments: None,
            started: wake_at,
            wake_at,
            ended: false,
            redirected_to: None,
            redirects: 0,
        });
        self.timers.push(Reverse((wake_at, index)));
        self.live += 1;
    }

    fn run(&mut self) -> std::io::Result<()> {
        let mut events = Events::with_capacity(1024);
        while self.live > 0 {
            let now = Instant::now();
            self.fire_timers(now);
            if self.live == 0 {
                break;
            }
            let timeout = self
                .timers
                .peek()
                .map(|Reverse((due, _))| due.saturating_duration_since(now));
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(error) if error.kind() == ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            }
            let now = Instant::now();
            let mut ready = std::mem::take(&mut self.ready);
            ready.clear();
            ready.extend(events.iter().map(|event| Ready {
                index: LaneId::index_of(event.token()),
                lane: LaneId::of(event.token()),
                writable: event.is_writable(),
                readable: event.is_readable() || event.is_read_closed() || event.is_error(),
            }));
            for (k, event) in ready.iter().enumerate() {
                self.prefetch_ahead(&ready[k + 1..], PREFETCH_DEPTH, |ready| ready.index);
                if event.writable {
                    self.on_writable(event.index, event.lane, now);
                }
                if event.readable {
                    self.on_readable(event.index, event.lane, now);
                }
            }
            self.ready = ready;
        }
        Ok(())
    }

    /// Starts fetching the data of the connections handled next, a level deeper for the nearer
    /// ones: the connection `depth` ahead, the player of the one before it, and so on up to
    /// `depth` levels (each level reads only what the one before fetched, an event earlier).
    fn prefetch_ahead<T>(&self, next: &[T], depth: usize, index: impl Fn(&T) -> usize) {
        for (ahead, item) in next.iter().take(depth).enumerate() {
            let connection = &self.connections[index(item)];
            match depth - 1 - ahead {
                0 => crate::prefetch::value(connection),
                level => {
                    if let Phase::Playing { player, .. } = &connection.phase {
                        player.prefetch(level - 1);
                    }
                }
            }
        }
    }

    fn fire_timers(&mut self, now: Instant) {
        let mut due = std::mem::take(&mut self.due);
        due.clear();
        while let Some(&Reverse((at, index))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            due.push((at, index));
        }
        for (k, &(at, index)) in due.iter().enumerate() {
            // An input touches the connection and the player, not the replica.
            self.prefetch_ahead(&due[k + 1..], 2, |&(_, index)| index);
            if self.connections[index].wake_at == at {
                self.on_timer(index, now);
            }
        }
        self.due = due;
    }

    fn wake(&mut self, index: usize, at: Instant) {
        self.connections[index].wake_at = at;
        self.timers.push(Reverse((at, index)));
    }

    fn on_timer(&mut self, index: usize, now: Instant) {
        let connection = &mut self.connections[index];
        match &mut connection.phase {
            Phase::Waiting => self.start(index, now),
            Phase::Connecting | Phase::Upgrading { .. } | Phase::Opening | Phase::Joining => {
                self.fail(index, "timed out joining".to_owned());
            }
            Phase::Playing {
                player,
                next_input,
                period,
                ..
            } => {
                if !player.sends_inputs() || *next_input >= connection.plan.deadline {
                    return self.begin_closing(index, now);
                }
                let (input, chat) = player.next_messages(now);
                *next_input = next_due(*next_input, *period, now);
                let at = *next_input;
                self.send(index, opcode::BINARY, &input, now);
                if let Some(chat) = chat {
                    self.send(index, opcode::BINARY, &chat, now);
                }
                if self.is_playing(index) {
                    self.wake(index, at);
                }
            }
            Phase::Closing { .. } => self.finish(index),
            Phase::Done => {}
        }
    }

    fn is_playing(&self, index: usize) -> bool {
        matches!(self.connections[index].phase, Phase::Playing { .. })
    }

    fn next_random(&mut self) -> u64 {
        let mut x = self.random;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.random = x;
        x
    }
}

/// The next input's time after one due at `due`: a period later, or, when the loop fell behind,
/// the first period boundary after `now` (missed inputs are skipped, not sent in a burst).
fn next_due(due: Instant, period: Duration, now: Instant) -> Instant {
    let next = due + period;
    if next > now {
        return next;
    }
    let behind = (now - next).as_nanos() / period.as_nanos().max(1) + 1;
    next + period * behind as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_fall_due_a_period_apart_and_skip_what_was_missed() {
        let period = Duration::from_millis(33);
        let start = Instant::now();
        assert_eq!(next_due(start, period, start), start + period);
        let late = start + Duration::from_millis(100);
        let next = next_due(start, period, late);
        assert!(next > late && next <= late + period, "{:?}", next - late);
        assert_eq!((next - start).as_millis() % 33, 0);
    }
}
