//! The swarm's event loop: one thread drives many bots over non-blocking sockets (mio, epoll on
//! Linux) with one timer heap. Each connection is a small state machine (waiting for its start,
//! connecting, upgrading to WebSocket, joining, playing, closing); frames are parsed where they
//! lie in the connection's read buffer and handed to the bot's [`Player`], and its messages
//! are framed into the connection's write buffer.
//!
//! Why not a task per bot on tokio: at 2000 bots and 30 Hz the swarm handles 120,000 events a
//! second, and a task wake-up, a timer future and a framed read per event cost more than the
//! bot's own work (a plain tokio client that decodes nothing used 70% of a core; see
//! docs/PERFORMANCE.md). Here an event costs a system call and the bot's work.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use super::bot::{BotPlan, CLOSE_PATIENCE, Heard, JOIN_PATIENCE, JoinAnswer, Player};
use super::stats::SwarmStats;
use super::wire::{self, FrameAt, WireError, opcode};
use crate::client::close_code;
use crate::protocol::{ClientMessage, encode_client_message_into};

/// Spare room kept in a connection's read buffer for the next read.
const READ_CHUNK: usize = 16 * 1024;
/// Bytes a bot lets wait to be sent before it gives up on a server that does not read.
const MAX_UNSENT: usize = 1 << 20;
/// Largest message a bot reassembles from fragments.
const MAX_MESSAGE: usize = wire::MAX_FRAME;

/// Where the bots connect: the server's address, and the Host and path of the upgrade request.
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
    stream: Option<TcpStream>,
    /// Received bytes that did not yet make a whole unit (the upgrade answer or a frame).
    leftover: Vec<u8>,
    /// Bytes waiting to be sent.
    unsent: Vec<u8>,
    /// A fragmented message being reassembled: its opcode and bytes so far.
    fragments: Option<(u8, Vec<u8>)>,
    started: Instant,
    /// The one moment this connection wants to be woken at (entries of the timer heap that
    /// no longer match it are stale and skipped).
    wake_at: Instant,
    /// Whether the connection is over and no longer counted as live.
    ended: bool,
}

/// How many ready connections ahead the loop starts fetching their data (see
/// [`Engine::prefetch_ahead`]): the connection, its player, the player's replica's states,
/// their entities.
const PREFETCH_DEPTH: usize = 4;

/// One connection's readiness reported by a poll.
struct Ready {
    index: usize,
    writable: bool,
    readable: bool,
}

/// What reading from a socket found.
enum Readiness {
    Open,
    /// The peer closed its end (or the connection failed), with the reason.
    Ended(String),
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
            scratch: vec![0; READ_CHUNK],
        })
    }

    fn add(&mut self, plan: BotPlan) {
        let index = self.connections.len();
        let wake_at = plan.start_at;
        self.connections.push(Connection {
            plan,
            phase: Phase::Waiting,
            stream: None,
            leftover: Vec::new(),
            unsent: Vec::new(),
            fragments: None,
            started: wake_at,
            wake_at,
            ended: false,
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
                index: event.token().0,
                writable: event.is_writable(),
                readable: event.is_readable() || event.is_read_closed() || event.is_error(),
            }));
            for (k, event) in ready.iter().enumerate() {
                self.prefetch_ahead(&ready[k + 1..], PREFETCH_DEPTH, |ready| ready.index);
                if event.writable {
                    self.on_writable(event.index, now);
                }
                if event.readable {
                    self.on_readable(event.index, now);
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
            Phase::Connecting | Phase::Upgrading { .. } | Phase::Joining => {
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

    /// Opens the bot's connection.
    fn start(&mut self, index: usize, now: Instant) {
        self.stats.attempted.fetch_add(1, Ordering::Relaxed);
        let connection = &mut self.connections[index];
        connection.started = now;
        let mut stream = match TcpStream::connect(self.target.addr) {
            Ok(stream) => stream,
            Err(error) => return self.fail(index, format!("connect: {}", error.kind())),
        };
        let interest = Interest::READABLE | Interest::WRITABLE;
        if let Err(error) = self
            .poll
            .registry()
            .register(&mut stream, Token(index), interest)
        {
            return self.fail(index, format!("connect: {}", error.kind()));
        }
        connection.stream = Some(stream);
        connection.phase = Phase::Connecting;
        self.wake(index, now + JOIN_PATIENCE);
    }

    fn on_writable(&mut self, index: usize, now: Instant) {
        if let Phase::Connecting = self.connections[index].phase {
            return self.on_connected(index, now);
        }
        if let Err(reason) = self.flush(index) {
            self.lose(index, reason, now);
        }
    }

    /// The connection is writable for the first time: connected, or failed to.
    fn on_connected(&mut self, index: usize, now: Instant) {
        let connection = &mut self.connections[index];
        let Some(stream) = connection.stream.as_ref() else {
            return;
        };
        if let Ok(Some(error)) | Err(error) = stream.take_error() {
            return self.fail(index, format!("connect: {}", error.kind()));
        }
        match stream.peer_addr() {
            Ok(_) => {}
            Err(error) if error.kind() == ErrorKind::NotConnected => return,
            Err(error) => return self.fail(index, format!("connect: {}", error.kind())),
        }
        let _ = stream.set_nodelay(true);
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.next_random().to_le_bytes());
        bytes[8..].copy_from_slice(&self.next_random().to_le_bytes());
        let key = wire::handshake_key(bytes);
        let request = wire::handshake_request(&self.target.authority, &self.target.path, &key);
        let connection = &mut self.connections[index];
        connection.unsent.extend_from_slice(&request);
        connection.phase = Phase::Upgrading { key };
        if let Err(reason) = self.flush(index) {
            self.lose(index, reason, now);
        }
    }

    fn on_readable(&mut self, index: usize, now: Instant) {
        if let Phase::Waiting | Phase::Done = self.connections[index].phase {
            return;
        }
        if let Phase::Connecting = self.connections[index].phase {
            // A refused connection reports readable and writable at once.
            return self.on_connected(index, now);
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        let readiness = self.read_and_handle(index, &mut scratch, now);
        self.scratch = scratch;
        if let Readiness::Ended(reason) = readiness {
            self.lose(index, reason, now);
        }
    }

    /// Reads what the socket holds into `scratch` after the connection's leftover bytes, and
    /// handles every whole unit, until the socket is drained (its readiness is edge-triggered:
    /// a read that does not fill the buffer has emptied it, and new bytes will signal again).
    fn read_and_handle(&mut self, index: usize, scratch: &mut Vec<u8>, now: Instant) -> Readiness {
        loop {
            let connection = &mut self.connections[index];
            let Some(stream) = connection.stream.as_mut() else {
                return Readiness::Open;
            };
            let carried = connection.leftover.len();
            if scratch.len() < carried + READ_CHUNK {
                scratch.resize(carried + READ_CHUNK, 0);
            }
            scratch[..carried].copy_from_slice(&connection.leftover);
            connection.leftover.clear();
            let room = scratch.len() - carried;
            let (read, ended) = match stream.read(&mut scratch[carried..]) {
                Ok(0) => (0, Some("transport: connection closed".to_owned())),
                Ok(n) => (n, None),
                Err(error) if error.kind() == ErrorKind::WouldBlock => (0, None),
                Err(error) if error.kind() == ErrorKind::Interrupted => continue,
                Err(error) => (0, Some(format!("transport: {}", error.kind()))),
            };
            let filled = carried + read;
            let taken = self.handle_received(index, &scratch[..filled], now);
            let connection = &mut self.connections[index];
            if connection.ended {
                return Readiness::Open;
            }
            connection
                .leftover
                .extend_from_slice(&scratch[taken..filled]);
            if let Some(reason) = ended {
                return Readiness::Ended(reason);
            }
            if read < room {
                return Readiness::Open;
            }
        }
    }

    /// Handles every whole unit (the upgrade answer, then frames) at the start of `bytes`, and
    /// returns how many bytes they took.
    fn handle_received(&mut self, index: usize, bytes: &[u8], now: Instant) -> usize {
        let mut taken = 0;
        while taken < bytes.len() {
            let pending = &bytes[taken..];
            if let Phase::Upgrading { key } = &self.connections[index].phase {
                match wire::read_handshake_answer(pending, key) {
                    Ok(None) => break,
                    Ok(Some(answer)) => {
                        taken += answer;
                        self.on_upgraded(index, now);
                        continue;
                    }
                    Err(error) => {
                        self.fail(index, error.to_string());
                        break;
                    }
                }
            }
            let frame = match wire::read_frame(pending) {
                Ok(None) => break,
                Ok(Some(frame)) => frame,
                Err(error) => {
                    self.lose(index, wire_failure(&error), now);
                    break;
                }
            };
            taken += frame.end();
            self.on_frame(index, pending, frame, now);
            if self.connections[index].ended {
                break;
            }
        }
        taken
    }

    fn on_upgraded(&mut self, index: usize, now: Instant) {
        let join = self.connections[index].plan.join();
        self.connections[index].phase = Phase::Joining;
        self.send(index, opcode::BINARY, &join, now);
    }

    /// One frame, found at the start of `bytes`.
    fn on_frame(&mut self, index: usize, bytes: &[u8], frame: FrameAt, now: Instant) {
        let payload = &bytes[frame.payload.clone()];
        match frame.opcode {
            opcode::PING => return self.send_raw(index, opcode::PONG, payload, now),
            opcode::PONG => return,
            _ => {}
        }
        let connection = &mut self.connections[index];
        let whole = match (&mut connection.fragments, frame.opcode, frame.fin) {
            (None, opcode::CONTINUATION, _) => {
                return self.lose(index, "protocol error: stray continuation".into(), now);
            }
            (None, _, true) => None,
            (None, first, false) => {
                connection.fragments = Some((first, payload.to_vec()));
                return;
            }
            (Some((_, so_far)), opcode::CONTINUATION, fin) => {
                if so_far.len() + payload.len() > MAX_MESSAGE {
                    return self.lose(index, "protocol error: message too large".into(), now);
                }
                so_far.extend_from_slice(payload);
                if !fin {
                    return;
                }
                connection.fragments.take()
            }
            (Some(_), opcode::CLOSE, _) => None,
            (Some(_), _, _) => {
                return self.lose(index, "protocol error: interleaved message".into(), now);
            }
        };
        match whole {
            Some((first, message)) => self.on_message(index, first, &message, now),
            None => self.on_message(index, frame.opcode, payload, now),
        }
    }

    /// One whole message.
    fn on_message(&mut self, index: usize, kind: u8, payload: &[u8], now: Instant) {
        let connection = &mut self.connections[index];
        match &mut connection.phase {
            Phase::Joining => self.on_join_answer(index, kind, payload, now),
            Phase::Playing { player, .. } => match player.receive(kind, payload, now) {
                Heard::Nothing => {}
                Heard::Answer(message) => self.send(index, opcode::BINARY, &message, now),
                Heard::Closed => {
                    self.send_raw(index, opcode::CLOSE, &payload[..payload.len().min(2)], now);
                    self.finish(index);
                }
            },
            Phase::Closing { player, .. } => {
                // Answers are no longer due: the bot has said goodbye.
                if let Heard::Closed = player.receive(kind, payload, now) {
                    self.finish(index);
                }
            }
            _ => {}
        }
    }

    fn on_join_answer(&mut self, index: usize, kind: u8, payload: &[u8], now: Instant) {
        match kind {
            opcode::BINARY => {}
            opcode::CLOSE => {
                let reason = format!("closed while joining ({})", close_code(payload));
                return self.fail(index, reason);
            }
            _ => return,
        }
        let (me, tick_hz) = match super::bot::read_join_answer(payload) {
            Ok(JoinAnswer::Welcome { me, tick_hz }) => (me, tick_hz),
            Ok(JoinAnswer::NotYet) => return,
            Err(reason) => return self.fail(index, reason),
        };
        let connection = &mut self.connections[index];
        self.stats.record_connect(now - connection.started);
        self.stats.established.fetch_add(1, Ordering::Relaxed);
        self.stats.connected.fetch_add(1, Ordering::Relaxed);
        let player = Box::new(Player::new(&connection.plan, me, Arc::clone(&self.stats)));
        let period = Duration::from_secs_f64(1.0 / f64::from(tick_hz.max(1)));
        let next_input = now + connection.plan.first_input_after(period);
        let wake_at = if player.sends_inputs() {
            next_input
        } else {
            connection.plan.deadline
        };
        connection.phase = Phase::Playing {
            player,
            joined_at: now,
            next_input,
            period,
        };
        self.wake(index, wake_at);
    }

    /// The run is over for this bot: say goodbye and wait a little for the server's close.
    fn begin_closing(&mut self, index: usize, now: Instant) {
        let connection = &mut self.connections[index];
        let Phase::Playing {
            player, joined_at, ..
        } = std::mem::replace(&mut connection.phase, Phase::Done)
        else {
            return;
        };
        connection.phase = Phase::Closing { player, joined_at };
        let mut close = 1000u16.to_be_bytes().to_vec();
        close.extend_from_slice(b"run over");
        self.send_raw(index, opcode::CLOSE, &close, now);
        if let Phase::Closing { .. } = self.connections[index].phase {
            self.wake(index, now + CLOSE_PATIENCE);
        }
    }

    /// Frames and sends one protocol message.
    fn send(&mut self, index: usize, kind: u8, message: &ClientMessage, now: Instant) {
        let mut encoded = std::mem::take(&mut self.encoded);
        match encode_client_message_into(message, &mut encoded) {
            Ok(()) => self.send_raw(index, kind, &encoded, now),
            Err(_) => self.lose(index, "cannot encode a message".into(), now),
        }
        self.encoded = encoded;
    }

    /// Frames a message in the shared buffer and writes it at once when nothing is waiting
    /// before it: the connection's own buffer (one more cache miss per input) keeps only what
    /// the socket did not take.
    fn send_raw(&mut self, index: usize, kind: u8, payload: &[u8], now: Instant) {
        let mask = (self.next_random() as u32).to_ne_bytes();
        let mut framed = std::mem::take(&mut self.framed);
        framed.clear();
        wire::write_frame(&mut framed, kind, payload, mask);
        let connection = &mut self.connections[index];
        let sent = if connection.unsent.is_empty() {
            write_available(connection.stream.as_mut(), &framed).and_then(|written| {
                connection.unsent.extend_from_slice(&framed[written..]);
                check_unsent(connection)
            })
        } else {
            connection.unsent.extend_from_slice(&framed);
            self.flush(index)
        };
        self.framed = framed;
        if let Err(reason) = sent {
            self.lose(index, reason, now);
        }
    }

    /// Writes as much of the unsent bytes as the socket takes.
    fn flush(&mut self, index: usize) -> Result<(), String> {
        let connection = &mut self.connections[index];
        let written = write_available(connection.stream.as_mut(), &connection.unsent)?;
        connection.unsent.drain(..written);
        check_unsent(connection)
    }

    /// The connection failed before the bot joined.
    fn fail(&mut self, index: usize, reason: String) {
        self.stats.record_failure(reason);
        self.end(index);
    }

    /// The connection failed: before joining a failure, while playing a drop (before the end of
    /// the run), while closing nothing more.
    fn lose(&mut self, index: usize, reason: String, now: Instant) {
        match &self.connections[index].phase {
            Phase::Playing { player, .. } => {
                player.lost(reason, now);
                self.finish(index);
            }
            Phase::Closing { .. } => self.finish(index),
            Phase::Done => {}
            _ => self.fail(index, reason),
        }
    }

    /// The bot's play is over: hand its measurements over and close.
    fn finish(&mut self, index: usize) {
        let phase = std::mem::replace(&mut self.connections[index].phase, Phase::Done);
        if let Phase::Playing {
            mut player,
            joined_at,
            ..
        }
        | Phase::Closing {
            mut player,
            joined_at,
        } = phase
        {
            player.finish();
            self.stats.connected.fetch_sub(1, Ordering::Relaxed);
            self.stats
                .connected_micros
                .fetch_add(joined_at.elapsed().as_micros() as u64, Ordering::Relaxed);
        }
        self.end(index);
    }

    fn end(&mut self, index: usize) {
        let connection = &mut self.connections[index];
        connection.phase = Phase::Done;
        if connection.ended {
            return;
        }
        connection.ended = true;
        if let Some(mut stream) = connection.stream.take() {
            let _ = self.poll.registry().deregister(&mut stream);
        }
        connection.leftover = Vec::new();
        connection.unsent = Vec::new();
        connection.fragments = None;
        self.live -= 1;
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

/// Writes as much of `bytes` as the socket takes; returns how much it took.
fn write_available(stream: Option<&mut TcpStream>, bytes: &[u8]) -> Result<usize, String> {
    let Some(stream) = stream else {
        return Ok(0);
    };
    let mut written = 0;
    while written < bytes.len() {
        match stream.write(&bytes[written..]) {
            Ok(0) => return Err("transport: connection closed".into()),
            Ok(n) => written += n,
            Err(error) if error.kind() == ErrorKind::WouldBlock => break,
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) => return Err(format!("transport: {}", error.kind())),
        }
    }
    Ok(written)
}

/// Fails a connection whose unsent bytes grew past the bound.
fn check_unsent(connection: &Connection) -> Result<(), String> {
    if connection.unsent.len() > MAX_UNSENT {
        return Err("transport: the server stopped reading".into());
    }
    Ok(())
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

fn wire_failure(error: &WireError) -> String {
    format!("transport: {error}")
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
