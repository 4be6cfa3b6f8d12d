//! One player's connection, from the upgraded WebSocket to its last byte. The reader side (this
//! task) runs the session: join or resume, dispatch of client messages to the room's queue,
//! chat; the writer task ([`super::writer`]) sends reliable messages and the newest snapshot.
//! When either side ends, the other is stopped and the player is removed in one place
//! ([`serve_player`]).
//!
//! Must never: block the tick loop, buffer without bound, or panic on anything a client sends.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use fastwebsockets::{Frame, OpCode, Role, WebSocketError, WebSocketRead};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, ReadHalf};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::frames::{MessageAssembler, check_close_payload, ended_by_transport, unmask_checked};
use super::progress::ReadProgress;
use super::writer::{Control, WriterInputs, write_loop};
use crate::protocol::CloseReason;
use crate::protocol::{
    Ack, ChatLine, ClientMessage, Join, PROTOCOL_VERSION, PlayerId, ServerMessage,
    encode_server_message, validate_chat, validate_name,
};
use crate::room::RoomEvent;
use crate::server::caps::ConnectionPermit;
use crate::server::context::ServerContext;
use crate::session::ended::{Ended, ended_by_decode};
use crate::session::heartbeat::Heartbeat;
use crate::session::limits::{Admit, CHAT_BURST, CHAT_PER_SECOND, FloodGuard, TokenBucket};
use crate::session::{Kick, SessionHandle, SessionInfo, SlotGuard, SnapshotSlot};

type Stream = TokioIo<Upgraded>;
type Reader<'a> = WebSocketRead<&'a mut ReadHalf<Stream>>;

/// How long the writer may take to send its close frame once the reader has ended, and how
/// long the client then has to close its side.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// Most bytes read and discarded after our close frame before the socket is dropped anyway.
const DRAIN_LIMIT: usize = 1 << 20;

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
            push_reliable(&ctx, RoomEvent::Leave { id, connection }).await;
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
            RoomEvent::Away { id, connection }
        } else {
            RoomEvent::Leave { id, connection }
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
    /// This connection's serial number (see [`RoomEvent::Away`]).
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
        let resumed = matches!(event, RoomEvent::Resume { .. });
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
    fn enter_world(&self, join: &Join, name: String) -> (PlayerId, RoomEvent) {
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
            let event = RoomEvent::Resume {
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
        let event = RoomEvent::Join {
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
            .push(RoomEvent::Input { id, input })
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

/// Joins and leaves must reach the loop; if its queue is momentarily full, wait for room.
async fn push_reliable(ctx: &ServerContext, mut event: RoomEvent) {
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
