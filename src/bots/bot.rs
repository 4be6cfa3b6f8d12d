//! One bot: a real client that connects, joins, reads and checks every message, and sends
//! inputs at the server's tick rate until the run ends. One task plays a bot: the frame being read
//! is a future kept across the loop and never dropped half-way (fastwebsockets' reads are not
//! cancel-safe), so reading, answering and sending inputs share the bot's state without a lock,
//! a channel or a second task.

use std::io::Cursor;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use fastwebsockets::{
    Frame, OpCode, Payload, Role, WebSocket, WebSocketError, WebSocketRead, WebSocketWrite,
};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, Chain};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::{Instant, MissedTickBehavior};

use super::behaviour::{Behaviour, Pilot, View};
use super::stats::{BotTally, SwarmStats};
use crate::client::{ClientError, close_code, connect_websocket};
use crate::protocol::codec::SNAPSHOT_VARIANT;
use crate::protocol::delta::{Kind, player_field, position_units};
use crate::protocol::{
    Chat, ClientMessage, Join, PROTOCOL_VERSION, Ping, PlayerId, PlayerInput, Replica,
    ServerMessage, Tick, decode_server_message, encode_client_message,
};

/// The reading half of a bot's TCP connection, after whatever bytes the handshake read ahead.
type Reader = WebSocketRead<Chain<Cursor<Bytes>, OwnedReadHalf>>;
type Writer = WebSocketWrite<OwnedWriteHalf>;

/// Ticks behind the newest snapshot a browser draws other players at (its interpolation
/// delay), reported as the bot's `view_tick`.
const INTERPOLATION_TICKS: u32 = 2;

/// How long a bot waits for its connection and welcome.
const JOIN_PATIENCE: Duration = Duration::from_secs(10);
/// How long a bot keeps reading after its close frame, for the server's.
const CLOSE_PATIENCE: Duration = Duration::from_secs(2);
/// Inputs remembered for acknowledgement latency (a power of two).
const SENT_LOG: usize = 256;

/// Everything a bot needs to know to play.
#[derive(Debug, Clone)]
pub struct BotPlan {
    pub url: String,
    pub name: String,
    pub seed: u64,
    pub behaviour: super::behaviour::Behaviour,
    /// When the run ends for everyone.
    pub deadline: Instant,
}

/// Plays one bot from connection to the end of the run, recording into `stats`.
pub async fn run_bot(plan: BotPlan, stats: Arc<SwarmStats>) {
    stats.attempted.fetch_add(1, Ordering::Relaxed);
    let started = Instant::now();
    let joined = tokio::time::timeout(JOIN_PATIENCE, connect_and_join(&plan)).await;
    let (reader, mut writer, me, tick_hz) = match joined {
        Err(_) => return stats.record_failure("timed out joining"),
        Ok(Err(reason)) => return stats.record_failure(reason),
        Ok(Ok(joined)) => joined,
    };
    stats.record_connect(started.elapsed());
    stats.established.fetch_add(1, Ordering::Relaxed);
    stats.connected.fetch_add(1, Ordering::Relaxed);
    let joined_at = Instant::now();

    let mut player = Player::new(&plan, me, Arc::clone(&stats));
    let period = Duration::from_secs_f64(1.0 / f64::from(tick_hz.max(1)));
    // Welcomes leave the server at its tick; without a random phase every bot would send just
    // after a tick and wait a whole period, unlike players whose frames are not in step.
    let phase = period.mul_f64(unit_interval(plan.seed));
    let mut interval = tokio::time::interval_at(Instant::now() + phase, period);
    interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
    // Bots that send inputs notice the end of the run at their first tick past it (within one
    // period), so that they have one timer to poll on every pass of the loop, not two.
    let sends_inputs = player.pilot.sends_inputs();
    let run_over = tokio::time::sleep_until(plan.deadline);
    tokio::pin!(run_over);
    let reading = next_frame(reader);
    tokio::pin!(reading);
    // In this order: the end of the run, then inputs, which are due at their time whatever is
    // waiting to be read (a backlog of frames must not starve them).
    let ended_early = loop {
        tokio::select! {
            biased;
            _ = &mut run_over, if !sends_inputs => break false,
            due = interval.tick(), if sends_inputs => {
                if due >= plan.deadline {
                    break false;
                }
                if player.send_input(&mut writer).await.is_err() {
                    break true;
                }
            }
            (reader, received) = &mut reading => {
                let Some(received) = player.check_transport(received) else { break true };
                reading.set(next_frame(reader));
                match player.receive(received.opcode, &received.payload) {
                    Heard::Nothing => {}
                    Heard::Closed => break true,
                    Heard::Answer(message) => {
                        if send(&mut writer, &message).await.is_err() {
                            break true;
                        }
                    }
                }
            }
        }
    };
    if !ended_early {
        let _ = writer.write_frame(Frame::close(1000, b"run over")).await;
        let until = Instant::now() + CLOSE_PATIENCE;
        read_until_closed(&mut player, reading, next_frame, until).await;
    }
    player.finish();
    stats.connected.fetch_sub(1, Ordering::Relaxed);
    stats
        .connected_micros
        .fetch_add(joined_at.elapsed().as_micros() as u64, Ordering::Relaxed);
}

/// After the bot's own close frame: reads (and measures) what still arrives until the server's
/// close frame, the end of the connection, or `until`. `next` starts the next read (it is
/// [`next_frame`], whose future type has no name to write here).
async fn read_until_closed<F: Future<Output = (Reader, ReadResult)>>(
    player: &mut Player,
    mut reading: std::pin::Pin<&mut F>,
    next: impl Fn(Reader) -> F,
    until: Instant,
) {
    while let Ok((reader, received)) = tokio::time::timeout_at(until, &mut reading).await {
        let Some(received) = player.check_transport(received) else {
            return;
        };
        reading.set(next(reader));
        // Answers are no longer due: the bot has said goodbye.
        if let Heard::Closed = player.receive(received.opcode, &received.payload) {
            return;
        }
    }
}

/// A frame read whole, owning its payload so that the reader can go on to the next one.
struct Received {
    opcode: OpCode,
    payload: BytesMut,
}

type ReadResult = Result<Received, WebSocketError>;

/// Reads the next frame. The reader travels into the future and back out, so that the bot can
/// keep one read in flight across its loop and start the next when it completes.
async fn next_frame(mut reader: Reader) -> (Reader, ReadResult) {
    let received = match reader.read_frame(&mut ignore_obligations).await {
        Ok(frame) => Ok(Received {
            opcode: frame.opcode,
            payload: match frame.payload {
                Payload::Bytes(bytes) => bytes,
                borrowed => BytesMut::from(&borrowed[..]),
            },
        }),
        Err(error) => Err(error),
    };
    (reader, received)
}

/// What a frame asks of the bot.
enum Heard {
    Nothing,
    /// Send this back: a pong, or a resync after a snapshot the bot could not apply.
    Answer(ClientMessage),
    /// The server closed the connection.
    Closed,
}

/// A joined bot: what it holds of the world, what it has sent, and what it has measured.
struct Player {
    me: PlayerId,
    replica: Replica,
    pilot: Pilot,
    /// What the pilot decides from, updated by every snapshot.
    view: View,
    /// Whether the pilot steers by the nearest other player: finding it is a pass over every
    /// player held, so bots that ignore it skip it.
    wants_nearest_other: bool,
    /// When the run ends: a close or error before it is a dropped connection.
    deadline: Instant,
    /// The last input's sequence number.
    seq: u32,
    /// `(seq, when sent)` by `seq % SENT_LOG`.
    sent: Box<[(u32, Option<Instant>); SENT_LOG]>,
    /// The newest input a snapshot acknowledged.
    last_acked: u32,
    first_tick: Option<Tick>,
    last_tick: Tick,
    last_arrival: Option<Instant>,
    tally: BotTally,
    stats: Arc<SwarmStats>,
}

impl Player {
    fn new(plan: &BotPlan, me: PlayerId, stats: Arc<SwarmStats>) -> Player {
        Player {
            me,
            replica: Replica::new(),
            pilot: Pilot::new(plan.behaviour, plan.seed),
            view: View::default(),
            wants_nearest_other: plan.behaviour == Behaviour::Chase,
            deadline: plan.deadline,
            seq: 0,
            sent: Box::new([(0, None); SENT_LOG]),
            last_acked: 0,
            first_tick: None,
            last_tick: Tick(0),
            last_arrival: None,
            tally: BotTally::new(Arc::clone(&stats)),
            stats,
        }
    }

    /// The frame, or `None` when the connection failed (a drop, if the run was not over).
    fn check_transport(&self, received: ReadResult) -> Option<Received> {
        match received {
            Ok(received) => Some(received),
            Err(error) => {
                if Instant::now() < self.deadline {
                    self.stats.record_drop(format!("transport: {error}"));
                }
                None
            }
        }
    }

    /// Counts and checks one frame; applies it if it is a snapshot.
    fn receive(&mut self, opcode: OpCode, payload: &[u8]) -> Heard {
        let now = Instant::now();
        self.tally.counts.bytes_received += payload.len() as u64;
        match opcode {
            OpCode::Binary => {}
            OpCode::Close => {
                if now < self.deadline {
                    let reason = format!("closed by server ({})", close_code(payload));
                    self.stats.record_drop(reason);
                }
                return Heard::Closed;
            }
            OpCode::Text => {
                self.tally.counts.decode_errors += 1;
                return Heard::Nothing;
            }
            _ => return Heard::Nothing,
        }
        match payload.split_first() {
            Some((&SNAPSHOT_VARIANT, snapshot)) => self.apply_snapshot(snapshot, now),
            _ => self.read_message(payload),
        }
    }

    /// Applies a snapshot to the replica and measures its gap and the input it acknowledged.
    fn apply_snapshot(&mut self, snapshot: &[u8], now: Instant) -> Heard {
        let state = match self.replica.apply(snapshot) {
            Ok(state) => state,
            Err(_) => {
                self.tally.counts.decode_errors += 1;
                return Heard::Answer(ClientMessage::Resync);
            }
        };
        let tick = state.tick;
        self.first_tick.get_or_insert(tick);
        self.last_tick = tick;
        let gap = self.last_arrival.map(|at| now - at);
        self.last_arrival = Some(now);
        let own = state.own;
        if self.wants_nearest_other {
            self.view.nearest_other =
                own.and_then(|own| nearest_other(state, self.me, own.x, own.y));
        }
        let mut ack = None;
        if let Some(own) = own {
            self.view.me = Some((own.x, own.y));
            if own.last_input_seq > self.last_acked {
                self.last_acked = own.last_input_seq;
                let (seq, sent_at) = self.sent[self.last_acked as usize % SENT_LOG];
                ack = sent_at
                    .filter(|_| seq == self.last_acked)
                    .map(|at| now - at);
            }
        }
        self.view.tick = tick;
        self.tally.record_snapshot(gap, ack);
        Heard::Nothing
    }

    /// Counts a message that is not a snapshot.
    fn read_message(&mut self, payload: &[u8]) -> Heard {
        let counts = &mut self.tally.counts;
        match decode_server_message(payload) {
            Ok(ServerMessage::Ack(ack)) => match ack.error {
                None => counts.chat_acked += 1,
                Some(_) => counts.chat_refused += 1,
            },
            Ok(ServerMessage::Chat(_)) => counts.chat_received += 1,
            Ok(ServerMessage::Ping(ping)) => {
                return Heard::Answer(ClientMessage::Pong(Ping { nonce: ping.nonce }));
            }
            Ok(_) => {}
            Err(_) => counts.decode_errors += 1,
        }
        Heard::Nothing
    }

    /// Decides and sends the next input, and a chat line when one is due.
    async fn send_input(&mut self, writer: &mut Writer) -> Result<(), ()> {
        self.seq += 1;
        let seq = self.seq;
        let controls = self.pilot.next_controls(&self.view);
        self.sent[seq as usize % SENT_LOG] = (seq, Some(Instant::now()));
        let input = ClientMessage::Input(PlayerInput {
            seq,
            buttons: controls.buttons,
            aim: controls.aim,
            ack_tick: self.view.tick,
            view_tick: Tick(self.view.tick.0.wrapping_sub(INTERPOLATION_TICKS)),
        });
        send(writer, &input).await?;
        self.tally.counts.inputs_sent += 1;
        if let Some(text) = self.pilot.chat_line() {
            let chat = ClientMessage::Chat(Chat {
                request_id: seq,
                text: text.to_owned(),
            });
            send(writer, &chat).await?;
            self.tally.counts.chat_sent += 1;
        }
        Ok(())
    }

    /// Counts the ticks the bot's snapshots spanned, and hands over its tally.
    fn finish(&mut self) {
        if let Some(first) = self.first_tick {
            let spanned = self.last_tick.since(first).max(0) as u64 + 1;
            self.stats
                .snapshots_expected
                .fetch_add(spanned, Ordering::Relaxed);
        }
        self.tally.hand_over();
    }
}

type Joined = (Reader, Writer, PlayerId, u16);

async fn connect_and_join(plan: &BotPlan) -> Result<Joined, String> {
    let ws = connect_websocket(&plan.url)
        .await
        .map_err(|e| failure_reason(&e))?;
    let (mut reader, mut writer) = split_tcp(ws)?;
    let join = ClientMessage::Join(Join {
        protocol_version: PROTOCOL_VERSION,
        request_id: 1,
        name: plan.name.clone(),
        resume_token: None,
        baseline_tick: None,
    });
    send(&mut writer, &join)
        .await
        .map_err(|_| "connection lost while joining".to_owned())?;
    loop {
        let frame = reader
            .read_frame(&mut ignore_obligations)
            .await
            .map_err(|e| format!("websocket error while joining: {e}"))?;
        match frame.opcode {
            OpCode::Binary => match decode_server_message(&frame.payload) {
                Ok(ServerMessage::Welcome(welcome)) => {
                    let (id, hz) = (welcome.player_id, welcome.tick_hz);
                    return Ok((reader, writer, id, hz));
                }
                Ok(ServerMessage::Error(error)) => {
                    return Err(format!("refused: {}", error.message));
                }
                Ok(_) => continue,
                Err(error) => return Err(format!("undecodable message while joining: {error}")),
            },
            OpCode::Close => {
                return Err(format!(
                    "closed while joining ({})",
                    close_code(&frame.payload)
                ));
            }
            _ => continue,
        }
    }
}

/// Takes the TCP stream back from hyper after the handshake and splits it into owned halves: the
/// same bytes on the same socket, without the upgraded connection's boxed stream and the lock
/// of a generic split on every read and write.
fn split_tcp(ws: WebSocket<TokioIo<Upgraded>>) -> Result<(Reader, Writer), String> {
    let upgraded = ws.into_inner().into_inner();
    let parts = upgraded
        .downcast::<TokioIo<TcpStream>>()
        .map_err(|_| "handshake: upgraded connection is not plain TCP".to_owned())?;
    let (read, write) = parts.io.into_inner().into_split();
    let read = Cursor::new(parts.read_buf).chain(read);
    Ok(fastwebsockets::after_handshake_split(
        read,
        write,
        Role::Client,
    ))
}

fn failure_reason(error: &ClientError) -> String {
    match error {
        ClientError::Connect(io) => format!("connect: {}", io.kind()),
        ClientError::WebSocket(ws) => format!("handshake: {ws}"),
        other => other.to_string(),
    }
}

/// The nearest other player the bot holds, by position.
fn nearest_other(
    state: &crate::protocol::ReplicaState,
    me: PlayerId,
    x: f32,
    y: f32,
) -> Option<(f32, f32)> {
    let mut best: Option<(f32, (f32, f32))> = None;
    for player in state.entities_of(Kind::Player).filter(|p| p.id != me.0) {
        let px = position_units(player.fields[player_field::X]);
        let py = position_units(player.fields[player_field::Y]);
        let d2 = (px - x) * (px - x) + (py - y) * (py - y);
        if best.is_none_or(|(best, _)| d2 < best) {
            best = Some((d2, (px, py)));
        }
    }
    best.map(|(_, at)| at)
}

async fn send(writer: &mut Writer, message: &ClientMessage) -> Result<(), ()> {
    let bytes = encode_client_message(message).map_err(|_| ())?;
    writer
        .write_frame(Frame::binary(Payload::Owned(bytes)))
        .await
        .map_err(|_| ())
}

/// Bots do not answer pings or echo closes from the reading half; the server needs neither
/// (its heartbeat is in the protocol, and it drains after its own close).
async fn ignore_obligations(_: Frame<'_>) -> Result<(), std::convert::Infallible> {
    Ok(())
}

/// A number in [0, 1) derived from `seed` (splitmix64's finaliser).
fn unit_interval(seed: u64) -> f64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) as f64 / (u64::MAX as f64 + 1.0)
}
