//! A connection's sockets: connecting, reading what a socket holds into the engine's shared
//! buffer until it is drained (readiness is edge-triggered), and writing bytes, keeping aside only
//! what the socket did not take. A WebSocket bot has one socket; a long-polling bot two lanes (its
//! long GET's and its POSTs'), told apart by their tokens. Must never block, nor let unsent bytes
//! grow past [`MAX_UNSENT`]: a server that stops reading loses the bot.

use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Instant;

use mio::net::TcpStream;
use mio::{Interest, Token};

use super::{Engine, Phase, Target};
use crate::bots::Transport;
use crate::bots::bot::JOIN_PATIENCE;
use crate::bots::wire;
use crate::protocol::{ClientMessage, encode_client_message_into};

/// Spare room kept in a connection's read buffer for the next read.
pub(super) const READ_CHUNK: usize = 16 * 1024;
/// Bytes a bot lets wait to be sent before it gives up on a server that does not read.
const MAX_UNSENT: usize = 1 << 20;

/// One TCP connection of a bot and its bytes in both directions.
#[derive(Default)]
pub(super) struct Lane {
    pub(super) stream: Option<TcpStream>,
    /// Received bytes that did not yet make a whole unit (an answer or a frame).
    pub(super) leftover: Vec<u8>,
    /// Bytes waiting to be sent.
    pub(super) unsent: Vec<u8>,
    /// Not connected yet: bytes wait in `unsent` until the socket is first writable.
    pub(super) connecting: bool,
}

/// Which of a bot's connections an event or a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LaneId {
    /// The WebSocket, or the long-polling GET's connection.
    Socket = 0,
    /// The long-polling POSTs' connection.
    Posts = 1,
}

impl LaneId {
    pub(super) fn token(self, index: usize) -> Token {
        Token(index * 2 + self as usize)
    }

    pub(super) fn index_of(token: Token) -> usize {
        token.0 / 2
    }

    pub(super) fn of(token: Token) -> LaneId {
        if token.0.is_multiple_of(2) {
            LaneId::Socket
        } else {
            LaneId::Posts
        }
    }
}

/// What reading from a socket found.
enum Readiness {
    Open,
    /// The peer closed its end (or the connection failed), with the reason.
    Ended(String),
}

impl Engine {
    /// Opens the bot's connection.
    pub(super) fn start(&mut self, index: usize, now: Instant) {
        let connection = &mut self.connections[index];
        // A redirected bot's join is timed from its first connection.
        if connection.redirected_to.is_none() {
            self.stats.attempted.fetch_add(1, Ordering::Relaxed);
            connection.started = now;
        }
        if connection.plan.transport == Transport::Polling {
            connection.polling = Some(Box::default());
        }
        let addr = self.target_of(index).addr;
        if let Err(reason) = self.connect_lane(index, LaneId::Socket, addr) {
            return self.fail(index, reason);
        }
        self.connections[index].phase = Phase::Connecting;
        self.wake(index, now + JOIN_PATIENCE);
    }

    /// Where this bot connects: where a cluster node sent it, or the swarm's target.
    pub(super) fn target_of(&self, index: usize) -> &Target {
        self.connections[index]
            .redirected_to
            .as_ref()
            .unwrap_or(&self.target)
    }

    pub(super) fn lane_mut(&mut self, index: usize, lane: LaneId) -> Option<&mut Lane> {
        let connection = &mut self.connections[index];
        match lane {
            LaneId::Socket => Some(&mut connection.socket),
            LaneId::Posts => connection
                .polling
                .as_mut()
                .map(|polling| &mut polling.posts),
        }
    }

    /// Starts connecting `lane` to `addr`.
    pub(super) fn connect_lane(
        &mut self,
        index: usize,
        lane: LaneId,
        addr: SocketAddr,
    ) -> Result<(), String> {
        let failed = |error: std::io::Error| format!("connect: {}", error.kind());
        let mut stream = TcpStream::connect(addr).map_err(failed)?;
        let interest = Interest::READABLE | Interest::WRITABLE;
        self.poll
            .registry()
            .register(&mut stream, lane.token(index), interest)
            .map_err(failed)?;
        let Some(lane) = self.lane_mut(index, lane) else {
            return Ok(());
        };
        lane.stream = Some(stream);
        lane.connecting = true;
        Ok(())
    }

    /// Closes `lane`'s socket and forgets its bytes.
    pub(super) fn close_lane(&mut self, index: usize, lane: LaneId) {
        let Some(lane) = self.lane_mut(index, lane) else {
            return;
        };
        let stream = lane.stream.take();
        *lane = Lane::default();
        if let Some(mut stream) = stream {
            let _ = self.poll.registry().deregister(&mut stream);
        }
    }

    pub(super) fn on_writable(&mut self, index: usize, lane: LaneId, now: Instant) {
        if lane == LaneId::Socket && matches!(self.connections[index].phase, Phase::Connecting) {
            return self.on_connected(index, now);
        }
        let Some(connecting) = self.lane_mut(index, lane).map(|lane| lane.connecting) else {
            return;
        };
        if connecting {
            match self.check_connected(index, lane) {
                Ok(true) => {}
                Ok(false) => return,
                Err(reason) => return self.lose(index, reason, now),
            }
        }
        if let Err(reason) = self.flush(index, lane) {
            self.lose(index, reason, now);
        }
    }

    /// Whether `lane`, writable, is connected (then it is marked so), still connecting, or
    /// failed to connect.
    fn check_connected(&mut self, index: usize, lane: LaneId) -> Result<bool, String> {
        let Some(lane) = self.lane_mut(index, lane) else {
            return Ok(false);
        };
        let Some(stream) = lane.stream.as_ref() else {
            return Ok(false);
        };
        if let Ok(Some(error)) | Err(error) = stream.take_error() {
            return Err(format!("connect: {}", error.kind()));
        }
        match stream.peer_addr() {
            Ok(_) => {}
            Err(error) if error.kind() == ErrorKind::NotConnected => return Ok(false),
            Err(error) => return Err(format!("connect: {}", error.kind())),
        }
        let _ = stream.set_nodelay(true);
        lane.connecting = false;
        Ok(true)
    }

    /// The bot's first connection is writable for the first time: connected, or failed to.
    fn on_connected(&mut self, index: usize, now: Instant) {
        match self.check_connected(index, LaneId::Socket) {
            Ok(true) => {}
            Ok(false) => return,
            Err(reason) => return self.fail(index, reason),
        }
        if self.connections[index].polling.is_some() {
            return self.open_session(index, now);
        }
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.next_random().to_le_bytes());
        bytes[8..].copy_from_slice(&self.next_random().to_le_bytes());
        let key = wire::handshake_key(bytes);
        let target = self.target_of(index);
        let request = wire::handshake_request(&target.authority, &target.path, &key);
        self.connections[index].phase = Phase::Upgrading { key };
        if let Err(reason) = self.write_lane(index, LaneId::Socket, &request) {
            self.lose(index, reason, now);
        }
    }

    pub(super) fn on_readable(&mut self, index: usize, lane: LaneId, now: Instant) {
        if let Phase::Waiting | Phase::Done = self.connections[index].phase {
            return;
        }
        if lane == LaneId::Socket && matches!(self.connections[index].phase, Phase::Connecting) {
            // A refused connection reports readable and writable at once.
            return self.on_connected(index, now);
        }
        if self
            .lane_mut(index, lane)
            .is_none_or(|lane| lane.connecting)
        {
            return self.on_writable(index, lane, now);
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        let readiness = self.read_and_handle(index, lane, &mut scratch, now);
        self.scratch = scratch;
        if let Readiness::Ended(reason) = readiness {
            self.on_lane_ended(index, lane, reason, now);
        }
    }

    /// Reads what `lane`'s socket holds into `scratch` after its leftover bytes, and handles
    /// every whole unit, until the socket is drained (its readiness is edge-triggered: a read
    /// that does not fill the buffer has emptied it, and new bytes will signal again).
    fn read_and_handle(
        &mut self,
        index: usize,
        lane: LaneId,
        scratch: &mut Vec<u8>,
        now: Instant,
    ) -> Readiness {
        loop {
            let Some(connection) = self.lane_mut(index, lane) else {
                return Readiness::Open;
            };
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
            let taken = self.handle_received(index, lane, &scratch[..filled], now);
            if self.connections[index].ended {
                return Readiness::Open;
            }
            let Some(connection) = self.lane_mut(index, lane) else {
                return Readiness::Open;
            };
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

    /// Encodes one protocol message and sends it: framed on the WebSocket, or queued for the
    /// next POST.
    pub(super) fn send(&mut self, index: usize, kind: u8, message: &ClientMessage, now: Instant) {
        let mut encoded = std::mem::take(&mut self.encoded);
        match encode_client_message_into(message, &mut encoded) {
            Ok(()) if self.connections[index].polling.is_some() => {
                let is_input = matches!(message, ClientMessage::Input(_));
                self.queue_for_post(index, &encoded, is_input, now);
            }
            Ok(()) => self.send_raw(index, kind, &encoded, now),
            Err(_) => self.lose(index, "cannot encode a message".into(), now),
        }
        self.encoded = encoded;
    }

    /// Frames a message in the shared buffer and writes it on the WebSocket.
    pub(super) fn send_raw(&mut self, index: usize, kind: u8, payload: &[u8], now: Instant) {
        let mask = (self.next_random() as u32).to_ne_bytes();
        let mut framed = std::mem::take(&mut self.framed);
        framed.clear();
        wire::write_frame(&mut framed, kind, payload, mask);
        let sent = self.write_lane(index, LaneId::Socket, &framed);
        self.framed = framed;
        if let Err(reason) = sent {
            self.lose(index, reason, now);
        }
    }

    /// Writes `bytes` at once when nothing is waiting before them: the lane's own buffer (one
    /// more cache miss per input) keeps only what the socket did not take.
    pub(super) fn write_lane(
        &mut self,
        index: usize,
        lane: LaneId,
        bytes: &[u8],
    ) -> Result<(), String> {
        let Some(lane) = self.lane_mut(index, lane) else {
            return Ok(());
        };
        if lane.unsent.is_empty() && !lane.connecting {
            let written = write_available(lane.stream.as_mut(), bytes)?;
            lane.unsent.extend_from_slice(&bytes[written..]);
        } else {
            lane.unsent.extend_from_slice(bytes);
            if !lane.connecting {
                let written = write_available(lane.stream.as_mut(), &lane.unsent)?;
                lane.unsent.drain(..written);
            }
        }
        check_unsent(lane)
    }

    /// Writes as much of `lane`'s unsent bytes as the socket takes.
    fn flush(&mut self, index: usize, lane: LaneId) -> Result<(), String> {
        let Some(lane) = self.lane_mut(index, lane) else {
            return Ok(());
        };
        if lane.connecting {
            return Ok(());
        }
        let written = write_available(lane.stream.as_mut(), &lane.unsent)?;
        lane.unsent.drain(..written);
        check_unsent(lane)
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

/// Fails a lane whose unsent bytes grew past the bound.
fn check_unsent(lane: &Lane) -> Result<(), String> {
    if lane.unsent.len() > MAX_UNSENT {
        return Err("transport: the server stopped reading".into());
    }
    Ok(())
}
