//! One player's connection, from the upgraded WebSocket to its last byte. The reader side (this
//! task) decodes client messages and pushes them to the tick loop's queue; a writer task sends
//! reliable messages from the player's bounded queue and the newest snapshot from the shared
//! cell, skipping any it was too slow to send. When either side ends, the other is stopped and
//! the player is removed in one place ([`serve_player`]).
//!
//! Must never: block the tick loop, buffer without bound, or panic on anything a client sends.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use bytes::Bytes;
use fastwebsockets::{Frame, OpCode, Payload, Role, WebSocketError, WebSocketRead, WebSocketWrite};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, ReadHalf, WriteHalf};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::progress::ReadProgress;
use crate::protocol::CloseReason;
use crate::protocol::{
    Ack, ChatLine, ClientMessage, DecodeError, Heartbeat as Heartbeat_, Join, PROTOCOL_VERSION,
    PlayerId, ServerMessage, decode_client_message, encode_server_message, validate_chat,
    validate_name,
};
use crate::room::RoomEvent as GameEvent;
use crate::server::caps::ConnectionPermit;
use crate::server::context::ServerContext;
use crate::session::{Kick, SessionHandle, SessionInfo, SlotGuard, SnapshotSlot};

type Stream = TokioIo<Upgraded>;
type Reader<'a> = WebSocketRead<&'a mut ReadHalf<Stream>>;
type Writer = WebSocketWrite<WriteHalf<Stream>>;

/// How long the writer may take to send its close frame once the reader has ended, and how
/// long the client then has to close its side.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// Most bytes read and discarded after our close frame before the socket is dropped anyway.
const DRAIN_LIMIT: usize = 1 << 20;
/// Chat lines a player may send in a burst, and refilled per second after it.
const CHAT_BURST: f64 = 5.0;
const CHAT_PER_SECOND: f64 = 1.0;
/// How long a client may stay over its message rate limit (`ConnectionLimits::
/// messages_per_second`, bursts of twice that; pings, pongs and fragments count too) before it
/// is closed (1008, "rate limited"); until then messages over the limit are dropped and
/// counted.
const FLOOD_GRACE: Duration = Duration::from_secs(1);
/// Stands in for "no deadline" in timers.
const FAR_FUTURE: Duration = Duration::from_secs(86_400);

/// Frames the reader asks the writer to send.
#[derive(Debug)]
enum Control {
    /// Answer to a WebSocket ping.
    Pong(Vec<u8>),
    /// Echo of the client's close frame; the last frame we send.
    EchoClose(Vec<u8>),
    /// Close the connection for this reason, telling the client why first if it is ours.
    Close(Ended),
}

/// Why and how a session ended.
#[derive(Debug, Clone)]
pub struct Ended {
    pub reason: CloseReason,
    /// A human-readable specific (e.g. which field was malformed); may be empty.
    pub detail: String,
}

impl Ended {
    fn new(reason: CloseReason, detail: impl Into<String>) -> Ended {
        Ended {
            reason,
            detail: detail.into(),
        }
    }
}

/// Serves one upgraded connection until it ends, then removes its player. The work runs on
/// a task of its own so that, should it ever panic (a bug: no input may cause one), the player
/// is still removed and nobody else notices.
pub async fn serve_player(
    upgrade: fastwebsockets::upgrade::UpgradeFut,
    ctx: Arc<ServerContext>,
    peer: SocketAddr,
    // Holds this connection's place under the caps until the player is gone.
    permit: Arc<ConnectionPermit>,
) {
    let in_game: InGame = Arc::default();
    let task = tokio::spawn(run_connection(
        upgrade,
        Arc::clone(&ctx),
        peer,
        Arc::clone(&in_game),
        permit.socket().map(ReadProgress::new),
    ));
    if let Err(error) = task.await
        && error.is_panic()
    {
        tracing::error!(%peer, "connection task panicked; removing its player");
        let entry = in_game.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some((id, connection)) = entry {
            ctx.sessions.unregister(id);
            push_reliable(&ctx, GameEvent::Leave { id, connection }).await;
        }
    }
}

/// The player a connection plays, while it is in the game: what to clean up after a panic.
type InGame = Arc<std::sync::Mutex<Option<(PlayerId, u64)>>>;

async fn run_connection(
    upgrade: fastwebsockets::upgrade::UpgradeFut,
    ctx: Arc<ServerContext>,
    peer: SocketAddr,
    in_game: InGame,
    progress: Option<ReadProgress>,
) {
    let ws = match upgrade.await {
        Ok(ws) => ws,
        Err(error) => {
            tracing::debug!(%peer, %error, "upgrade failed");
            return;
        }
    };
    // The reader borrows our read half so that, once the session is over, we can drain what the
    // client still sends: closing a socket with unread data resets it, and the reset can
    // overtake our close frame.
    let (mut read_half, write_half) = tokio::io::split(ws.into_inner());
    let (mut reader, writer) =
        fastwebsockets::after_handshake_split(&mut read_half, write_half, Role::Server);
    reader.set_max_message_size(ctx.limits.max_message_bytes);
    // fastwebsockets would unmask client frames without telling us whether they were masked,
    // and then check close frames and answer pings on the unmasked bytes. We check the mask
    // first (RFC 6455 section 5.1: a server must close on an unmasked frame), so control
    // frames are ours to validate and answer too: see [`Session::next_message`].
    reader.set_auto_apply_mask(false);
    reader.set_auto_close(false);
    reader.set_auto_pong(false);

    let (control_tx, control_rx) = mpsc::channel(8);
    let (outbound_tx, outbound_rx) = mpsc::channel(ctx.limits.outbound_queue);
    let kick = Arc::new(Kick::default());
    let welcomed = Arc::new(AtomicBool::new(false));
    let heartbeat = Arc::new(Heartbeat::default());
    let snapshots = Arc::new(SnapshotSlot::default());
    let mut writer_task = tokio::spawn(write_loop(
        writer,
        WriterInputs {
            outbound: outbound_rx,
            snapshots: Arc::clone(&snapshots),
            control: control_rx,
            kick: Arc::clone(&kick),
            welcomed: Arc::clone(&welcomed),
            heartbeat: Arc::clone(&heartbeat),
            progress,
        },
        Arc::clone(&ctx),
    ));

    let mut joined: Option<Joined> = None;
    let session = Session {
        ctx: &ctx,
        peer,
        connection: next_serial(),
        outbound: &outbound_tx,
        kick: &kick,
        welcomed: &welcomed,
        heartbeat: &heartbeat,
        snapshots: &snapshots,
        control: &control_tx,
        in_game: &in_game,
    };
    let ended = tokio::select! {
        ended = session.run(&mut reader, &mut joined) => Some(ended),
        _ = &mut writer_task => None,
    };
    let reason = match &ended {
        Some(ended) => ended.reason,
        None => kick.reason().unwrap_or(CloseReason::ClientClosed),
    };
    // The player leaves the game (or goes away) at once; saying goodbye on the socket may take
    // a moment longer.
    if let Some(Joined { id, connection, .. }) = &joined {
        let (id, connection) = (*id, *connection);
        in_game.lock().unwrap_or_else(|e| e.into_inner()).take();
        ctx.hooks.on_disconnecting(id, reason);
        ctx.net.closed[reason.index()].fetch_add(1, Ordering::Relaxed);
        ctx.sessions.unregister(id);
        let event = if reason.allows_resume() {
            GameEvent::Away { id, connection }
        } else {
            GameEvent::Leave { id, connection }
        };
        push_reliable(&ctx, event).await;
    }
    if let Some(ended) = ended {
        let _ = control_tx.try_send(Control::Close(ended));
        if tokio::time::timeout(CLOSE_GRACE, &mut writer_task)
            .await
            .is_err()
        {
            writer_task.abort();
        }
        drop(reader);
        if reason != CloseReason::ClientClosed {
            drain(&mut read_half).await;
        }
    }
    if let Some(Joined { id, slot, .. }) = joined {
        drop(slot);
        ctx.hooks.on_disconnect(id, reason);
        tracing::info!(player = %id, %peer, %reason, "player disconnected");
    } else {
        ctx.net.rejected[reason.index()].fetch_add(1, Ordering::Relaxed);
        tracing::debug!(%peer, %reason, "connection closed before joining");
    }
}

/// A number unique to each connection in the server's life.
fn next_serial() -> u64 {
    static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    SERIAL.fetch_add(1, Ordering::Relaxed)
}

/// What a connection holds once its player is in the game.
struct Joined {
    id: PlayerId,
    /// Keeps a player slot taken while connected.
    slot: SlotGuard,
    connection: u64,
}

/// The heartbeat shared by the writer (which pings) and the reader (which sees the pongs).
#[derive(Debug, Default)]
struct Heartbeat {
    sent_nonce: AtomicU32,
    answered_nonce: AtomicU32,
    sent_at: std::sync::Mutex<Option<Instant>>,
    /// Round-trip time of the last answered ping, in microseconds.
    rtt_us: AtomicU32,
}

impl Heartbeat {
    fn sent(&self, nonce: u32) {
        *self.sent_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        self.sent_nonce.store(nonce, Ordering::Release);
    }

    fn answered(&self, nonce: u32) {
        if nonce != self.sent_nonce.load(Ordering::Acquire) {
            return;
        }
        if let Some(sent_at) = *self.sent_at.lock().unwrap_or_else(|e| e.into_inner()) {
            let rtt = sent_at.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
            self.rtt_us.store(rtt, Ordering::Relaxed);
        }
        self.answered_nonce.store(nonce, Ordering::Release);
    }

    fn is_answered(&self) -> bool {
        self.answered_nonce.load(Ordering::Acquire) == self.sent_nonce.load(Ordering::Acquire)
    }
}

/// Reads and discards what the client still sends after our close frame, until it closes its
/// side, [`CLOSE_GRACE`] passes, or [`DRAIN_LIMIT`] bytes were thrown away.
async fn drain(read_half: &mut ReadHalf<Stream>) {
    let mut scratch = [0u8; 4096];
    let mut drained = 0;
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        while drained < DRAIN_LIMIT {
            match read_half.read(&mut scratch).await {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    })
    .await;
}

/// The reading side's view of the connection.
struct Session<'a> {
    ctx: &'a Arc<ServerContext>,
    peer: SocketAddr,
    /// This connection's serial number (see [`GameEvent::Away`]).
    connection: u64,
    outbound: &'a mpsc::Sender<Bytes>,
    kick: &'a Arc<Kick>,
    welcomed: &'a Arc<AtomicBool>,
    heartbeat: &'a Arc<Heartbeat>,
    snapshots: &'a Arc<SnapshotSlot>,
    control: &'a mpsc::Sender<Control>,
    in_game: &'a InGame,
}

impl Session<'_> {
    /// Reads until the session ends; `joined` is set once the player is in the game.
    async fn run(&self, reader: &mut Reader<'_>, joined: &mut Option<Joined>) -> Ended {
        let mut assembler = MessageAssembler::new(self.ctx.limits.max_message_bytes);
        let mut flood = FloodGuard::new(self.ctx.limits.messages_per_second);
        let join = match tokio::time::timeout(
            self.ctx.limits.join_timeout,
            self.next_message(reader, &mut assembler, &mut flood),
        )
        .await
        {
            Err(_) => return Ended::new(CloseReason::JoinTimeout, ""),
            Ok(Err(ended)) => return ended,
            Ok(Ok(ClientMessage::Join(join))) => join,
            Ok(Ok(_)) => {
                return Ended::new(CloseReason::Unexpected, "the first message must be Join");
            }
        };
        let (name, slot) = match self.admit(&join) {
            Ok(admitted) => admitted,
            Err(ended) => return ended,
        };
        let (id, event) = self.enter_world(&join, name.clone());
        *self.in_game.lock().unwrap_or_else(|e| e.into_inner()) = Some((id, self.connection));
        *joined = Some(Joined {
            id,
            slot,
            connection: self.connection,
        });
        let resumed = matches!(event, GameEvent::Resume { .. });
        tracing::info!(player = %id, name = %name, resumed, peer = %self.peer, "player connected");
        self.ctx.hooks.on_connection(&SessionInfo {
            id,
            name,
            peer: self.peer,
            resumed,
        });
        push_reliable(self.ctx, event).await;
        let mut chat_allowance = TokenBucket::new(CHAT_BURST, CHAT_PER_SECOND);
        loop {
            let message = match self.next_message(reader, &mut assembler, &mut flood).await {
                Ok(message) => message,
                Err(ended) => return ended,
            };
            match self.admit_frame(&mut flood) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(ended) => return ended,
            }
            match message {
                ClientMessage::Input(input) => self.forward_input(id, input),
                ClientMessage::Ping(ping) => self.reply(&ServerMessage::Pong(ping)),
                ClientMessage::Pong(pong) => self.heartbeat.answered(pong.nonce),
                ClientMessage::Chat(chat) => {
                    let error = self.chat(id, None, &chat.text, &mut chat_allowance).err();
                    self.reply(&ServerMessage::Ack(Ack {
                        request_id: chat.request_id,
                        error,
                    }));
                }
                ClientMessage::Whisper(whisper) => {
                    let to = Some(whisper.to);
                    let error = self.chat(id, to, &whisper.text, &mut chat_allowance).err();
                    self.reply(&ServerMessage::Ack(Ack {
                        request_id: whisper.request_id,
                        error,
                    }));
                }
                ClientMessage::Leave => return Ended::new(CloseReason::Leave, ""),
                // The client could not apply a delta: its next snapshot is a full one.
                ClientMessage::Resync => self.snapshots.set_baseline(None),
                ClientMessage::Join(_) => {
                    return Ended::new(CloseReason::Unexpected, "already joined");
                }
            }
        }
    }

    /// Registers this connection for the player the join names: the one its resume token
    /// belongs to if that player is away, else a new one. Returns the event for the loop.
    fn enter_world(&self, join: &Join, name: String) -> (PlayerId, GameEvent) {
        let handle = SessionHandle {
            outbound: self.outbound.clone(),
            kick: Arc::clone(self.kick),
            welcomed: Arc::clone(self.welcomed),
            snapshots: Arc::clone(self.snapshots),
        };
        let sessions = &self.ctx.sessions;
        if let Some(token) = join.resume_token
            && let Some(id) = sessions.resume(&token, handle.clone())
        {
            // The client's newest snapshot from its previous connection: if the server still
            // has it, the first snapshot is one delta, not the whole state.
            self.snapshots.set_baseline(join.baseline_tick);
            let event = GameEvent::Resume {
                id,
                name,
                request_id: join.request_id,
                resume_token: token,
                connection: self.connection,
            };
            return (id, event);
        }
        let id = sessions.allocate_id();
        let token = sessions.register(id, handle);
        let event = GameEvent::Join {
            id,
            name,
            request_id: join.request_id,
            resume_token: token,
            connection: self.connection,
        };
        (id, event)
    }

    fn forward_input(&self, id: PlayerId, input: crate::protocol::PlayerInput) {
        self.ctx.net.inputs_received.fetch_add(1, Ordering::Relaxed);
        if self
            .ctx
            .events
            .push(GameEvent::Input { id, input })
            .is_err()
        {
            // The loop is behind by a whole queue: drop input, never block.
            self.ctx
                .net
                .inputs_dropped_queue_full
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Sends a chat line to everyone (`to` is `None`, like Socket.IO's `io.emit`) or to one
    /// player (`io.to(id).emit`). `Err` is the reason told to the sender.
    fn chat(
        &self,
        from: PlayerId,
        to: Option<PlayerId>,
        raw: &str,
        allowance: &mut TokenBucket,
    ) -> Result<(), String> {
        let text = validate_chat(raw).map_err(|e| e.to_string())?;
        if !allowance.take(Instant::now()) {
            self.ctx
                .net
                .chat_rate_limited
                .fetch_add(1, Ordering::Relaxed);
            return Err("rate limited: slow down".to_owned());
        }
        let line = ServerMessage::Chat(ChatLine {
            from,
            text: text.to_owned(),
            whisper: to.is_some(),
        });
        let bytes = Bytes::from(encode_server_message(&line).map_err(|e| e.to_string())?);
        match to {
            None => self.ctx.sessions.broadcast(bytes),
            Some(target) => {
                if !self.ctx.sessions.send_to_player(target, bytes) {
                    return Err(format!("player {target} is not connected"));
                }
            }
        }
        Ok(())
    }

    /// Checks a join's version and name and takes a player slot.
    fn admit(&self, join: &Join) -> Result<(String, SlotGuard), Ended> {
        if join.protocol_version != PROTOCOL_VERSION {
            return Err(Ended::new(
                CloseReason::VersionMismatch,
                format!(
                    "server speaks version {PROTOCOL_VERSION}, client sent {}",
                    join.protocol_version
                ),
            ));
        }
        let name = validate_name(&join.name)
            .map_err(|e| Ended::new(CloseReason::InvalidName, e.to_string()))?;
        let slot = self.ctx.sessions.reserve_slot().ok_or_else(|| {
            Ended::new(
                CloseReason::ServerFull,
                format!("{} players at most", self.ctx.limits.max_players),
            )
        })?;
        Ok((name.to_owned(), slot))
    }

    /// A direct answer to this client, through its reliable queue.
    fn reply(&self, message: &ServerMessage) {
        match encode_server_message(message) {
            Ok(bytes) => {
                if self.outbound.try_send(Bytes::from(bytes)).is_err() {
                    self.kick.kick(CloseReason::SlowConsumer);
                }
            }
            Err(error) => tracing::error!(%error, "reply not encoded"),
        }
    }

    /// The next complete client message, or why the session must end. Control frames are
    /// checked and answered here (pongs through the writer), data frames reassembled.
    /// Pings, pongs and message fragments count against the message rate limit here (whole
    /// messages in [`Session::run`]), so a flood of them ends like any other flood.
    async fn next_message(
        &self,
        reader: &mut Reader<'_>,
        assembler: &mut MessageAssembler,
        flood: &mut FloodGuard,
    ) -> Result<ClientMessage, Ended> {
        loop {
            // With automatic close and pong off, the reader never asks us to send anything.
            let mut no_obligations =
                |_: Frame<'_>| std::future::ready(Ok::<(), WebSocketError>(()));
            let mut frame = reader
                .read_frame(&mut no_obligations)
                .await
                .map_err(ended_by_transport)?;
            unmask_checked(&mut frame)?;
            self.ctx
                .net
                .bytes_in
                .fetch_add(frame.payload.len() as u64, Ordering::Relaxed);
            match frame.opcode {
                OpCode::Close => return Err(self.answer_close(&frame.payload).await),
                OpCode::Ping => {
                    if self.admit_frame(flood)? {
                        self.send_control(Control::Pong(frame.payload.to_vec()))
                            .await?;
                    }
                    continue;
                }
                OpCode::Pong => {
                    self.admit_frame(flood)?;
                    continue;
                }
                OpCode::Text => return Err(Ended::new(CloseReason::TextFrame, "")),
                OpCode::Binary | OpCode::Continuation if !frame.fin => {
                    // A fragment cannot be dropped without breaking its message: it is counted,
                    // and the message's size limit bounds what it can add.
                    self.admit_frame(flood)?;
                }
                OpCode::Binary | OpCode::Continuation => {}
            }
            if let Some(result) = assembler.push(frame.opcode, frame.fin, &frame.payload)? {
                return result.map_err(|error| ended_by_decode(&error));
            }
        }
    }

    /// The client's close frame: echoed if valid (the closing handshake), else the reason to
    /// close with instead.
    async fn answer_close(&self, payload: &[u8]) -> Ended {
        if let Err(ended) = check_close_payload(payload) {
            return ended;
        }
        let _ = self
            .send_control(Control::EchoClose(payload.to_vec()))
            .await;
        Ended::new(CloseReason::ClientClosed, "")
    }

    /// Whether the rate limit lets this frame or message through (`false`: drop it, counted),
    /// or why the client must be closed for flooding.
    fn admit_frame(&self, flood: &mut FloodGuard) -> Result<bool, Ended> {
        match flood.admit(Instant::now()) {
            Admit::Yes => Ok(true),
            Admit::Drop => {
                self.ctx
                    .net
                    .messages_rate_limited
                    .fetch_add(1, Ordering::Relaxed);
                Ok(false)
            }
            Admit::Disconnect => {
                let rate = self.ctx.limits.messages_per_second;
                let detail = format!("more than {rate} messages a second");
                Err(Ended::new(CloseReason::RateLimited, detail))
            }
        }
    }

    /// Hands a frame to the writer, waiting for room.
    async fn send_control(&self, command: Control) -> Result<(), Ended> {
        self.control
            .send(command)
            .await
            .map_err(|_| Ended::new(CloseReason::ClientClosed, "transport closed"))
    }
}

/// Largest payload of a control frame (RFC 6455 section 5.5). fastwebsockets checks it for
/// pings only.
const MAX_CONTROL_PAYLOAD: usize = 125;

/// What every client frame must be before anything reads it: masked (it is unmasked here, in
/// place), and, for a control frame, at most 125 bytes long.
fn unmask_checked(frame: &mut Frame<'_>) -> Result<(), Ended> {
    if !is_masked(frame) {
        return Err(Ended::new(
            CloseReason::ProtocolError,
            "client frames must be masked",
        ));
    }
    frame.unmask();
    let is_control = matches!(frame.opcode, OpCode::Close | OpCode::Ping | OpCode::Pong);
    if is_control && frame.payload.len() > MAX_CONTROL_PAYLOAD {
        return Err(Ended::new(
            CloseReason::ProtocolError,
            "control frame over 125 bytes",
        ));
    }
    Ok(())
}

/// Whether the client masked `frame`. `Frame` keeps its mask private; its header, as
/// `fmt_head` writes it, carries the mask bit.
fn is_masked(frame: &mut Frame<'_>) -> bool {
    let mut head = [0u8; 16];
    frame.fmt_head(&mut head);
    head[1] & 0x80 != 0
}

/// A close frame's payload must be empty, or a permitted code followed by UTF-8 text
/// (RFC 6455 sections 5.5.1 and 7.4).
fn check_close_payload(payload: &[u8]) -> Result<(), Ended> {
    let (code, text) = match payload {
        [] => return Ok(()),
        [_] => {
            return Err(Ended::new(
                CloseReason::ProtocolError,
                "close frame of one byte",
            ));
        }
        [high, low, text @ ..] => (u16::from_be_bytes([*high, *low]), text),
    };
    if !fastwebsockets::CloseCode::from(code).is_allowed() {
        return Err(Ended::new(
            CloseReason::ProtocolError,
            format!("close code {code} is not allowed"),
        ));
    }
    if std::str::from_utf8(text).is_err() {
        return Err(Ended::new(
            CloseReason::Malformed,
            "close reason is not UTF-8",
        ));
    }
    Ok(())
}

/// Reassembles fragmented binary messages up to a size bound; single-frame messages (the norm)
/// are decoded straight from the frame without copying.
struct MessageAssembler {
    limit: usize,
    fragments: Vec<u8>,
    in_progress: bool,
}

impl MessageAssembler {
    fn new(limit: usize) -> MessageAssembler {
        MessageAssembler {
            limit,
            fragments: Vec::new(),
            in_progress: false,
        }
    }

    /// Returns the decoded message once complete, `None` while more fragments are due.
    fn push(
        &mut self,
        opcode: OpCode,
        fin: bool,
        payload: &[u8],
    ) -> Result<Option<Result<ClientMessage, DecodeError>>, Ended> {
        match (opcode, self.in_progress) {
            (OpCode::Binary, false) if fin => return Ok(Some(decode_client_message(payload))),
            (OpCode::Binary, false) => self.in_progress = true,
            (OpCode::Continuation, true) => {}
            _ => {
                return Err(Ended::new(
                    CloseReason::ProtocolError,
                    "unexpected fragment",
                ));
            }
        }
        if self.fragments.len() + payload.len() > self.limit {
            return Err(Ended::new(CloseReason::TooLarge, ""));
        }
        self.fragments.extend_from_slice(payload);
        if !fin {
            return Ok(None);
        }
        self.in_progress = false;
        let decoded = decode_client_message(&self.fragments);
        self.fragments.clear();
        Ok(Some(decoded))
    }
}

fn ended_by_decode(error: &DecodeError) -> Ended {
    match error {
        DecodeError::VersionMismatch(version) => Ended::new(
            CloseReason::VersionMismatch,
            format!("server speaks version {PROTOCOL_VERSION}, client sent {version}"),
        ),
        DecodeError::TooLarge { .. } => Ended::new(CloseReason::TooLarge, error.to_string()),
        _ => Ended::new(CloseReason::Malformed, error.to_string()),
    }
}

fn ended_by_transport(error: WebSocketError) -> Ended {
    match error {
        WebSocketError::FrameTooLarge => Ended::new(CloseReason::TooLarge, ""),
        WebSocketError::UnexpectedEOF
        | WebSocketError::ConnectionClosed
        | WebSocketError::IoError(_)
        | WebSocketError::SendError(_) => Ended::new(CloseReason::ClientClosed, "transport closed"),
        // With automatic close off, only a text frame is checked for UTF-8, and text frames
        // are refused whatever they hold.
        WebSocketError::InvalidUTF8 => Ended::new(CloseReason::TextFrame, ""),
        other => Ended::new(CloseReason::ProtocolError, other.to_string()),
    }
}

/// What to do with a message, as far as the rate limit is concerned.
enum Admit {
    Yes,
    Drop,
    Disconnect,
}

/// The per-connection message rate limit: a token bucket, and how long the client has been
/// over it.
struct FloodGuard {
    allowance: TokenBucket,
    over_since: Option<Instant>,
}

impl FloodGuard {
    fn new(per_second: f64) -> FloodGuard {
        FloodGuard {
            allowance: TokenBucket::new(2.0 * per_second, per_second),
            over_since: None,
        }
    }

    fn admit(&mut self, now: Instant) -> Admit {
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
struct TokenBucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    fn new(capacity: f64, per_second: f64) -> TokenBucket {
        TokenBucket {
            capacity,
            per_second,
            tokens: capacity,
            updated: Instant::now(),
        }
    }

    /// Takes one token if there is one.
    fn take(&mut self, now: Instant) -> bool {
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

/// Joins and leaves must reach the loop; if its queue is momentarily full, wait for room.
async fn push_reliable(ctx: &ServerContext, mut event: GameEvent) {
    loop {
        match ctx.events.push(event) {
            Ok(()) => return,
            Err(rejected) => {
                event = rejected;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    }
}

/// What the writer listens to.
struct WriterInputs {
    outbound: mpsc::Receiver<Bytes>,
    snapshots: Arc<SnapshotSlot>,
    control: mpsc::Receiver<Control>,
    kick: Arc<Kick>,
    /// Set by the registry when the welcome is queued; no snapshot goes out before it.
    welcomed: Arc<AtomicBool>,
    heartbeat: Arc<Heartbeat>,
    /// Whether the client still acknowledges what we send (none when the socket is unknown).
    progress: Option<ReadProgress>,
}

/// Sends until told to close. Reliable messages go first; snapshots only once the welcome has
/// been sent, and only the newest.
async fn write_loop(mut ws: Writer, mut inputs: WriterInputs, ctx: Arc<ServerContext>) {
    let mut welcomed = false;
    let interval = ctx.limits.ping_interval;
    let mut ping_timer = tokio::time::interval_at(Instant::now() + interval, interval);
    ping_timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Small frames can take minutes to fill a stalled client's buffers: ask the kernel instead.
    let check_every = (ctx.limits.write_timeout / 4).max(Duration::from_millis(50));
    let mut progress_timer = tokio::time::interval(check_every);
    progress_timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut nonce = 0u32;
    // When the outstanding ping must have been answered; none outstanding when `None`.
    let mut ping_deadline: Option<Instant> = None;
    loop {
        if ping_deadline.is_some() && inputs.heartbeat.is_answered() {
            // Answered: the next ping goes at the next interval.
            ping_deadline = None;
        }
        let deadline = ping_deadline.unwrap_or_else(|| Instant::now() + FAR_FUTURE);
        let result = tokio::select! {
            biased;
            command = inputs.control.recv() => match command {
                Some(Control::Pong(payload)) => {
                    send(&mut ws, &ctx, Frame::pong(Payload::Owned(payload))).await
                }
                Some(Control::EchoClose(payload)) => {
                    let _ = send(&mut ws, &ctx, Frame::close_raw(Payload::Owned(payload))).await;
                    return;
                }
                Some(Control::Close(ended)) => return close(&mut ws, &ctx, &ended).await,
                None => return,
            },
            reason = inputs.kick.kicked() => {
                return close(&mut ws, &ctx, &Ended::new(reason, "")).await;
            }
            _ = tokio::time::sleep_until(deadline), if ping_deadline.is_some() => {
                if !inputs.heartbeat.is_answered() {
                    let timeout = Ended::new(CloseReason::PingTimeout, "no answer to the heartbeat");
                    return close(&mut ws, &ctx, &timeout).await;
                }
                ping_deadline = None;
                Ok(())
            }
            _ = progress_timer.tick(), if inputs.progress.is_some() => {
                let limit = ctx.limits.write_timeout;
                let stalled = inputs
                    .progress
                    .as_mut()
                    .is_some_and(|progress| progress.stalled_for(limit, std::time::Instant::now()));
                if stalled {
                    // Nothing acknowledged for the write timeout: the client stopped reading.
                    inputs.kick.kick(CloseReason::SlowConsumer);
                    return;
                }
                Ok(())
            }
            _ = ping_timer.tick(), if welcomed && ping_deadline.is_none() => {
                nonce = nonce.wrapping_add(1);
                inputs.heartbeat.sent(nonce);
                ping_deadline = Some(Instant::now() + ctx.limits.ping_timeout);
                let rtt_us = inputs.heartbeat.rtt_us.load(Ordering::Relaxed);
                let ping = ServerMessage::Ping(Heartbeat_ { nonce, rtt_us });
                match encode_server_message(&ping) {
                    Ok(bytes) => send(&mut ws, &ctx, Frame::binary(Payload::Owned(bytes))).await,
                    Err(_) => Ok(()),
                }
            }
            Some(bytes) = inputs.outbound.recv() => {
                if !welcomed && inputs.welcomed.load(Ordering::Acquire) {
                    // Snapshots go out only after the welcome, which this message is or follows.
                    welcomed = true;
                }
                send(&mut ws, &ctx, Frame::binary(Payload::Borrowed(&bytes))).await
            }
            () = inputs.snapshots.ready(), if welcomed => {
                match inputs.snapshots.take() {
                    Some(frame) => {
                        ctx.sessions.delivery.snapshots_sent.fetch_add(1, Ordering::Relaxed);
                        let sent =
                            send(&mut ws, &ctx, Frame::binary(Payload::Borrowed(&frame.bytes)))
                                .await;
                        if sent.is_ok() {
                            inputs.snapshots.sent(frame.tick);
                        }
                        sent
                    }
                    None => Ok(()),
                }
            }
        };
        match result {
            Ok(()) => {}
            Err(WriteFailed::TimedOut) => {
                // The client stopped reading: its socket buffer is full and stays full.
                inputs.kick.kick(CloseReason::SlowConsumer);
                return;
            }
            Err(WriteFailed::Closed) => return,
        }
    }
}

/// Why a frame could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteFailed {
    /// Not taken within the write timeout: the socket's send buffer stayed full.
    TimedOut,
    /// The socket is gone.
    Closed,
}

/// Writes one frame, giving up on a client that has not taken it within the write timeout.
/// A frame is at most one snapshot, normally much smaller than the socket's send buffer, so a
/// write blocks that long only when the client stopped draining its socket.
async fn send(ws: &mut Writer, ctx: &ServerContext, frame: Frame<'_>) -> Result<(), WriteFailed> {
    let len = frame.payload.len() as u64;
    match tokio::time::timeout(ctx.limits.write_timeout, ws.write_frame(frame)).await {
        Ok(Ok(())) => {
            ctx.net.bytes_out.fetch_add(len, Ordering::Relaxed);
            Ok(())
        }
        Ok(Err(_)) => Err(WriteFailed::Closed),
        Err(_) => Err(WriteFailed::TimedOut),
    }
}

/// Tells the client why (if it is ours to explain) and sends the close frame.
async fn close(ws: &mut Writer, ctx: &ServerContext, ended: &Ended) {
    if ended.reason == CloseReason::ClientClosed {
        return;
    }
    if let Some(error) = ended.reason.error_message(&ended.detail)
        && let Ok(bytes) = encode_server_message(&ServerMessage::Error(error))
    {
        let _ = send(ws, ctx, Frame::binary(Payload::Owned(bytes))).await;
    }
    let reason = ended.reason;
    let _ = send(
        ws,
        ctx,
        Frame::close(reason.code(), reason.text().as_bytes()),
    )
    .await;
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
