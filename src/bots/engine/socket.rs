//! A connection's socket: connecting, reading what the socket holds into the engine's shared
//! buffer until it is drained (readiness is edge-triggered), and framing and writing messages,
//! keeping aside only what the socket did not take. Must never block, nor let unsent bytes grow
//! past [`MAX_UNSENT`]: a server that stops reading loses the bot.

use std::io::{ErrorKind, Read, Write};
use std::sync::atomic::Ordering;
use std::time::Instant;

use mio::net::TcpStream;
use mio::{Interest, Token};

use super::{Connection, Engine, Phase};
use crate::bots::bot::JOIN_PATIENCE;
use crate::bots::wire;
use crate::protocol::{ClientMessage, encode_client_message_into};

/// Spare room kept in a connection's read buffer for the next read.
pub(super) const READ_CHUNK: usize = 16 * 1024;
/// Bytes a bot lets wait to be sent before it gives up on a server that does not read.
const MAX_UNSENT: usize = 1 << 20;

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
        let addr = connection
            .redirected_to
            .as_ref()
            .map_or(self.target.addr, |target| target.addr);
        let mut stream = match TcpStream::connect(addr) {
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

    pub(super) fn on_writable(&mut self, index: usize, now: Instant) {
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
        let target = self.connections[index]
            .redirected_to
            .as_ref()
            .unwrap_or(&self.target);
        let request = wire::handshake_request(&target.authority, &target.path, &key);
        let connection = &mut self.connections[index];
        connection.unsent.extend_from_slice(&request);
        connection.phase = Phase::Upgrading { key };
        if let Err(reason) = self.flush(index) {
            self.lose(index, reason, now);
        }
    }

    pub(super) fn on_readable(&mut self, index: usize, now: Instant) {
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

    /// Frames and sends one protocol message.
    pub(super) fn send(&mut self, index: usize, kind: u8, message: &ClientMessage, now: Instant) {
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
    pub(super) fn send_raw(&mut self, index: usize, kind: u8, payload: &[u8], now: Instant) {
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
