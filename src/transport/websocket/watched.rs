//! A plain-TCP connection's read side, read on a tick thread: the [`SocketReader`] is a
//! [`Watcher`] that the thread runs whenever the socket is readable, between its rooms' steps.
//! It reads what the socket holds (one `read(2)` when that leaves the socket empty), checks
//! each frame ([`FrameRules`]), charges every message to the connection's budget, and hands a
//! playing player's inputs to its room itself: the common case wakes no task. Every other
//! message (the join, chat, pings, a leave), and why the connection ends, goes to the
//! session's task through the bounded inbox that [`WatchedMessages`] reads. Once the session
//! is over, what the client still sends is read and thrown away until it closes (so that our
//! close frame is not overtaken by a reset), at most [`DRAIN_LIMIT`] bytes.
//!
//! Must never: wait (it is only told the socket is readable), trust a byte it has not checked,
//! hold more than [`MAX_UNREAD`] messages for a session that does not take them, or lose a
//! message the session was owed.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use tokio::sync::Notify;
use tokio::time::Instant;

use super::incoming::{IncomingFrames, READ_CHUNK};
use super::reader::{CLOSE_GRACE, ConnectionReader, DRAIN_LIMIT, FrameRules};
use crate::protocol::{ClientMessage, CloseReason};
use crate::runtime::{Abandoned, Watched, Watcher, Watching};
use crate::session::budget::MessageBudget;
use crate::session::ended::Ended;
use crate::session::{InputRoute, MessageSource};

/// Most messages waiting for a session that has not taken them (the rate limit lets a client
/// send about three a tick; a session takes them as they come).
pub const MAX_UNREAD: usize = 64;

/// What the reader on the tick thread and the session's task share.
#[derive(Default)]
pub struct ReaderShared {
    inbox: Mutex<Inbox>,
    /// Told when a message or the end was put in the inbox.
    arrived: Notify,
    /// Where inputs go once the player is in its room.
    route: OnceLock<InputRoute>,
    /// The session is over: what arrives is thrown away.
    draining: AtomicBool,
    /// The reader let go of the socket (the client closed, or it gave up).
    finished: AtomicBool,
    finished_notify: Notify,
}

#[derive(Default)]
struct Inbox {
    messages: VecDeque<ClientMessage>,
    /// Why the connection ends, once the reader knows: after the messages before it.
    end: Option<Ended>,
}

impl ReaderShared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inbox> {
        self.inbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a message for the session; a session this far behind ends the connection.
    fn push(&self, message: ClientMessage) -> Result<(), Ended> {
        let mut inbox = self.lock();
        if inbox.messages.len() >= MAX_UNREAD {
            return Err(Ended::new(
                CloseReason::RateLimited,
                format!("more than {MAX_UNREAD} messages waiting"),
            ));
        }
        inbox.messages.push_back(message);
        drop(inbox);
        self.arrived.notify_one();
        Ok(())
    }

    /// Says why the connection ends (the first reason given stands).
    fn end(&self, ended: Ended) {
        let mut inbox = self.lock();
        if inbox.end.is_none() {
            inbox.end = Some(ended);
        }
        drop(inbox);
        self.arrived.notify_one();
    }

    /// The next message, or the end once every message before it was taken.
    fn take(&self) -> Option<Result<ClientMessage, Ended>> {
        let mut inbox = self.lock();
        if let Some(message) = inbox.messages.pop_front() {
            if inbox.messages.is_empty() {
                // A burst grew it: let it go (most sessions then hold no buffer at all).
                inbox.messages = VecDeque::new();
            }
            return Some(Ok(message));
        }
        inbox.end.clone().map(Err)
    }

    fn mark_finished(&self) {
        self.finished.store(true, Ordering::Release);
        self.finished_notify.notify_one();
    }

    /// Resolves once the reader has let go of the socket.
    async fn finished(&self) {
        while !self.finished.load(Ordering::Acquire) {
            let notified = self.finished_notify.notified();
            if self.finished.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }
}

/// A plain-TCP connection's socket as a tick thread reads it.
pub struct SocketReader {
    socket: Arc<TcpStream>,
    frames: IncomingFrames,
    rules: FrameRules,
    budget: MessageBudget,
    shared: Arc<ReaderShared>,
    /// Once the session is over (or the reader ended it): bytes thrown away.
    drained: Option<usize>,
}

impl SocketReader {
    /// A reader of `socket`, with `ahead` (what was read before the upgrade was done) first.
    pub fn new(
        socket: Arc<TcpStream>,
        ahead: &[u8],
        max_message_bytes: usize,
        rules: FrameRules,
        budget: MessageBudget,
        shared: Arc<ReaderShared>,
    ) -> SocketReader {
        let mut frames = IncomingFrames::new(max_message_bytes);
        frames.push_read(ahead);
        SocketReader {
            socket,
            frames,
            rules,
            budget,
            shared,
            drained: None,
        }
    }

    /// Acts on every whole frame read so far.
    fn take_frames(&mut self, now: Instant) -> Result<(), Ended> {
        let SocketReader {
            frames,
            rules,
            budget,
            shared,
            ..
        } = self;
        while let Some(frame) = frames.buffered_frame()? {
            if let Some(message) = rules.on_frame(frame, budget, now)? {
                deliver(shared, budget, message, now)?;
            }
        }
        Ok(())
    }

    /// Reads the socket until it is empty (or the reader is done with it).
    fn read_socket(&mut self, now: Instant) -> Watching {
        loop {
            if self.drained.is_none() && self.shared.draining.load(Ordering::Acquire) {
                self.start_draining();
            }
            if self.drained.is_some() {
                return self.drain();
            }
            let socket = &self.socket;
            match self.frames.read_with(|buf| (&**socket).read(buf)) {
                Ok(0) => {
                    return self.end(Ended::new(CloseReason::ClientClosed, "transport closed"));
                }
                Ok(count) => {
                    if let Err(ended) = self.take_frames(now) {
                        if self.end(ended) == Watching::Done {
                            return Watching::Done;
                        }
                        continue;
                    }
                    // A read that did not fill the buffer left the socket empty: the next
                    // bytes to arrive make it readable again.
                    if count < READ_CHUNK {
                        return Watching::Keep;
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Watching::Keep,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    return self.end(Ended::new(CloseReason::ClientClosed, "transport closed"));
                }
            }
        }
    }

    /// The connection ends for `ended`: the session is told. After the client's own close
    /// there is nothing more to read; otherwise what it still sends is drained.
    fn end(&mut self, ended: Ended) -> Watching {
        let client_closed = ended.reason == CloseReason::ClientClosed;
        self.shared.end(ended);
        if client_closed {
            return Watching::Done;
        }
        self.start_draining();
        Watching::Keep
    }

    fn start_draining(&mut self) {
        self.drained = Some(0);
        self.frames = IncomingFrames::new(0);
    }

    /// Reads and throws away what the socket holds, until the client closes or the limit.
    fn drain(&mut self) -> Watching {
        let mut drained = self.drained.unwrap_or(0);
        let outcome = loop {
            match IncomingFrames::read_discarding(|buf| (&*self.socket).read(buf)) {
                Ok(0) => break Watching::Done,
                Ok(count) => {
                    drained += count;
                    if drained >= DRAIN_LIMIT {
                        break Watching::Done;
                    }
                    if count < READ_CHUNK {
                        break Watching::Keep;
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break Watching::Keep,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break Watching::Done,
            }
        };
        self.drained = Some(drained);
        outcome
    }
}

/// One whole message, charged: a playing player's input goes to its room, anything else to
/// the session.
fn deliver(
    shared: &ReaderShared,
    budget: &mut MessageBudget,
    message: ClientMessage,
    now: Instant,
) -> Result<(), Ended> {
    if !budget.charge(now)? {
        return Ok(());
    }
    match (message, shared.route.get()) {
        (ClientMessage::Input(input), Some(route)) => {
            route.forward(input);
            Ok(())
        }
        (message, _) => shared.push(message),
    }
}

impl Watcher for SocketReader {
    fn fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }

    fn on_readable(&mut self, now: std::time::Instant) -> Watching {
        self.read_socket(Instant::from_std(now))
    }

    fn on_abandoned(&mut self, why: Abandoned) {
        match why {
            // The connection's task let go first: its session is over.
            Abandoned::Unwatched => {}
            Abandoned::Stopping => self.shared.end(Ended::new(CloseReason::ServerShutdown, "")),
            Abandoned::Panicked => self.shared.end(Ended::new(
                CloseReason::RoomFailed,
                "a fault in the server while reading this connection",
            )),
        }
    }
}

impl Drop for SocketReader {
    /// However the reader goes (done, let go, or never watched because its thread had
    /// stopped), the session hears of an end.
    fn drop(&mut self) {
        self.shared
            .end(Ended::new(CloseReason::ClientClosed, "transport closed"));
        self.shared.mark_finished();
    }
}

/// The session's side: the messages the reader handed over, then why the connection ends.
pub struct WatchedMessages {
    shared: Arc<ReaderShared>,
    /// Keeps the socket watched; dropped, the tick thread lets the reader go.
    watched: Option<Watched>,
}

impl WatchedMessages {
    pub fn new(shared: Arc<ReaderShared>, watched: Watched) -> WatchedMessages {
        WatchedMessages {
            shared,
            watched: Some(watched),
        }
    }
}

impl ConnectionReader for WatchedMessages {
    async fn finish(&mut self, drain: bool) {
        // From now on the reader throws away what it reads.
        self.shared.draining.store(true, Ordering::Release);
        if drain {
            let _ = tokio::time::timeout(CLOSE_GRACE, self.shared.finished()).await;
        }
        self.watched = None;
    }
}

impl MessageSource for WatchedMessages {
    const CHARGES_MESSAGES: bool = true;

    async fn next_message(&mut self, _budget: &mut MessageBudget) -> Result<ClientMessage, Ended> {
        loop {
            if let Some(next) = self.shared.take() {
                return next;
            }
            self.shared.arrived.notified().await;
        }
    }

    fn playing(&mut self, route: InputRoute) {
        let _ = self.shared.route.set(route);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::net::TcpListener;
    use std::time::Duration;

    use crossbeam_queue::ArrayQueue;

    use super::*;
    use crate::metrics::NetStats;
    use crate::protocol::{Ping, PlayerId, PlayerInput, encode_client_message};
    use crate::room::RoomEvent;
    use crate::session::room_link::RoomLink;
    use crate::transport::websocket::control::ControlFrames;

    const MASK: [u8; 4] = [0x11, 0x22, 0x33, 0x44];

    /// A masked client frame (payloads under 126 bytes).
    fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0x80 | opcode, 0x80 | payload.len() as u8];
        bytes.extend_from_slice(&MASK);
        bytes.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i & 3]));
        bytes
    }

    fn message(message: &ClientMessage) -> Vec<u8> {
        frame(0x2, &encode_client_message(message).unwrap())
    }

    fn input(seq: u32) -> ClientMessage {
        ClientMessage::Input(PlayerInput {
            seq,
            ..PlayerInput::default()
        })
    }

    /// A reader on the server's end of a real TCP connection, and the client's end.
    fn watched_socket(per_second: f64) -> (SocketReader, Arc<ReaderShared>, std::net::TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        // Every write on the wire at once: the reader is run 20 ms later.
        client.set_nodelay(true).unwrap();
        let shared = Arc::new(ReaderShared::default());
        let net = Arc::new(NetStats::default());
        let rules = FrameRules::new(1024, Arc::new(ControlFrames::default()), Arc::clone(&net));
        let reader = SocketReader::new(
            Arc::new(server),
            &[],
            1024,
            rules,
            MessageBudget::new(per_second, net),
            Arc::clone(&shared),
        );
        (reader, shared, client)
    }

    /// Has the reader read until the socket is empty (the bytes are on loopback already).
    fn read(reader: &mut SocketReader) -> Watching {
        std::thread::sleep(Duration::from_millis(20));
        reader.on_readable(std::time::Instant::now())
    }

    /// What the session would take now: the messages, then the end if there is one.
    fn taken(shared: &ReaderShared) -> Vec<Result<ClientMessage, CloseReason>> {
        let mut taken = Vec::new();
        while let Some(next) = shared.take() {
            let end = next.is_err();
            taken.push(next.map_err(|ended| ended.reason));
            if end {
                break;
            }
        }
        taken
    }

    #[test]
    fn inputs_go_to_the_room_once_playing_and_everything_else_to_the_session() {
        let (mut reader, shared, mut client) = watched_socket(1000.0);
        let ping = ClientMessage::Ping(Ping { nonce: 7 });
        // What was read ahead of the upgrade comes first.
        client.write_all(&message(&input(1))).unwrap();
        client.write_all(&message(&ping)).unwrap();
        assert_eq!(read(&mut reader), Watching::Keep);
        assert_eq!(taken(&shared), [Ok(input(1)), Ok(ping.clone())]);

        let events = Arc::new(ArrayQueue::new(8));
        let link = RoomLink::new(Arc::clone(&events), Arc::default());
        WatchedMessages {
            shared: Arc::clone(&shared),
            watched: None,
        }
        .playing(InputRoute::new(PlayerId(5), link));
        client.write_all(&message(&input(2))).unwrap();
        client.write_all(&message(&ping)).unwrap();
        client.write_all(&message(&input(3))).unwrap();
        assert_eq!(read(&mut reader), Watching::Keep);
        assert_eq!(taken(&shared), [Ok(ping)]);
        let seqs: Vec<u32> = std::iter::from_fn(|| events.pop())
            .map(|event| match event {
                RoomEvent::Input { id, input } => {
                    assert_eq!(id, PlayerId(5));
                    input.seq
                }
                _ => panic!("not an input"),
            })
            .collect();
        assert_eq!(seqs, [2, 3]);

        // The client's close frame ends it: nothing more to read.
        client
            .write_all(&frame(0x8, &1000u16.to_be_bytes()))
            .unwrap();
        assert_eq!(read(&mut reader), Watching::Done);
        assert_eq!(taken(&shared), [Err(CloseReason::ClientClosed)]);
    }

    #[test]
    fn a_broken_rule_ends_the_session_and_what_follows_is_drained_until_the_client_closes() {
        let (mut reader, shared, mut client) = watched_socket(1000.0);
        let mut unmasked = vec![0x82, 0x01, 0x00];
        unmasked.extend_from_slice(&message(&input(1)));
        client.write_all(&unmasked).unwrap();
        assert_eq!(read(&mut reader), Watching::Keep);
        assert_eq!(taken(&shared), [Err(CloseReason::ProtocolError)]);
        // Thrown away, never handed over.
        client.write_all(&message(&input(2))).unwrap();
        assert_eq!(read(&mut reader), Watching::Keep);
        assert_eq!(taken(&shared), [Err(CloseReason::ProtocolError)]);
        drop(client);
        assert_eq!(read(&mut reader), Watching::Done);
        drop(reader);
        assert!(shared.finished.load(Ordering::Acquire));
    }

    #[test]
    fn a_session_far_behind_ends_the_connection_and_every_message_is_charged() {
        let (mut reader, shared, mut client) = watched_socket(10_000.0);
        for nonce in 0..=MAX_UNREAD as u32 {
            client
                .write_all(&message(&ClientMessage::Ping(Ping { nonce })))
                .unwrap();
        }
        read(&mut reader);
        let unread = taken(&shared);
        assert_eq!(unread.len(), MAX_UNREAD + 1);
        assert_eq!(unread[MAX_UNREAD], Err(CloseReason::RateLimited));

        // Every message is charged here: past the budget's burst (twice the rate) they are
        // dropped (a flood that goes on is closed after the grace, `tests/hardening.rs`).
        let (mut flooded, shared, mut client) = watched_socket(5.0);
        let burst: Vec<u8> = (0..200).flat_map(|seq| message(&input(seq))).collect();
        client.write_all(&burst).unwrap();
        assert_eq!(read(&mut flooded), Watching::Keep);
        let admitted: Vec<_> = taken(&shared);
        assert_eq!(
            admitted,
            (0..10).map(|seq| Ok(input(seq))).collect::<Vec<_>>()
        );
    }
}
