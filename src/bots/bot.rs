//! One bot: a real client that connects, joins, reads and checks every message, and sends
//! inputs at the server's tick rate until the run ends. Its reading half runs in its own task
//! (fastwebsockets' reads are not cancel-safe), its writing half in the bot's task.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fastwebsockets::{Frame, OpCode, Payload, WebSocketRead, WebSocketWrite};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{ReadHalf, WriteHalf};
use tokio::time::{Instant, MissedTickBehavior};

use super::behaviour::{Pilot, View};
use super::stats::SwarmStats;
use crate::client::{ClientError, close_code, connect_websocket};
use crate::protocol::codec::SNAPSHOT_VARIANT;
use crate::protocol::delta::{Kind, player_field, position_units};
use crate::protocol::{
    Chat, ClientMessage, GameParams, Join, PROTOCOL_VERSION, Ping, PlayerId, PlayerInput, Replica,
    ServerMessage, Tick, decode_server_message, encode_client_message,
};

type Stream = TokioIo<Upgraded>;
type Reader = WebSocketRead<ReadHalf<Stream>>;
type Writer = WebSocketWrite<WriteHalf<Stream>>;

/// Ticks behind the newest snapshot a browser draws other players at (its interpolation
/// delay), reported as the bot's `view_tick`.
const INTERPOLATION_TICKS: u32 = 2;

/// How long a bot waits for its connection and welcome.
const JOIN_PATIENCE: Duration = Duration::from_secs(10);
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

/// What the reading half tells the writing half.
struct Shared {
    view: View,
    /// `(seq, when sent)` by `seq % SENT_LOG`.
    sent: [(u32, Option<Instant>); SENT_LOG],
}

/// Plays one bot from connection to the end of the run, recording into `stats`.
pub async fn run_bot(plan: BotPlan, stats: Arc<SwarmStats>) {
    stats.attempted.fetch_add(1, Ordering::Relaxed);
    let started = Instant::now();
    let joined = tokio::time::timeout(JOIN_PATIENCE, connect_and_join(&plan)).await;
    let (reader, mut writer, me, tick_hz, _params) = match joined {
        Err(_) => return stats.record_failure("timed out joining"),
        Ok(Err(reason)) => return stats.record_failure(reason),
        Ok(Ok(joined)) => joined,
    };
    stats.record_connect(started.elapsed());
    stats.established.fetch_add(1, Ordering::Relaxed);
    stats.connected.fetch_add(1, Ordering::Relaxed);
    let joined_at = Instant::now();

    let shared = Arc::new(Mutex::new(Shared {
        view: View::default(),
        sent: [(0, None); SENT_LOG],
    }));
    // The reader sees the server's heartbeat pings and snapshots it cannot apply; the writer
    // (this task) answers them.
    let (pongs, mut pongs_rx) = tokio::sync::mpsc::channel(2);
    let mut reading = tokio::spawn(read_until_closed(
        reader,
        me,
        Replica::new(),
        Arc::clone(&shared),
        Arc::clone(&stats),
        plan.deadline,
        pongs,
    ));
    let mut pilot = Pilot::new(plan.behaviour, plan.seed);
    let period = Duration::from_secs_f64(1.0 / f64::from(tick_hz.max(1)));
    // Welcomes leave the server at its tick; without a random phase every bot would send just
    // after a tick and wait a whole period, unlike players whose frames are not in step.
    let phase = period.mul_f64(unit_interval(plan.seed));
    let mut interval = tokio::time::interval_at(Instant::now() + phase, period);
    interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut seq = 0u32;
    let ended_early = loop {
        tokio::select! {
            _ = tokio::time::sleep_until(plan.deadline) => break false,
            _ = &mut reading => break true,
            Some(reply) = pongs_rx.recv() => {
                let message = match reply {
                    Reply::Pong(nonce) => ClientMessage::Pong(Ping { nonce }),
                    Reply::Resync => ClientMessage::Resync,
                };
                if send(&mut writer, &message).await.is_err() {
                    break true;
                }
            }
            _ = interval.tick(), if pilot.sends_inputs() => {
                seq += 1;
                let view = lock(&shared).view;
                let controls = pilot.next_controls(&view);
                lock(&shared).sent[seq as usize % SENT_LOG] = (seq, Some(Instant::now()));
                let input = ClientMessage::Input(PlayerInput {
                    seq,
                    buttons: controls.buttons,
                    aim: controls.aim,
                    ack_tick: view.tick,
                    view_tick: Tick(view.tick.0.wrapping_sub(INTERPOLATION_TICKS)),
                });
                if send(&mut writer, &input).await.is_err() {
                    break true;
                }
                stats.inputs_sent.fetch_add(1, Ordering::Relaxed);
                if let Some(text) = pilot.chat_line() {
                    let chat = ClientMessage::Chat(Chat { request_id: seq, text: text.to_owned() });
                    if send(&mut writer, &chat).await.is_err() {
                        break true;
                    }
                    stats.chat_sent.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    };
    if !ended_early {
        let _ = writer.write_frame(Frame::close(1000, b"run over")).await;
        if tokio::time::timeout(Duration::from_secs(2), &mut reading)
            .await
            .is_err()
        {
            reading.abort();
        }
    }
    stats.connected.fetch_sub(1, Ordering::Relaxed);
    stats
        .connected_micros
        .fetch_add(joined_at.elapsed().as_micros() as u64, Ordering::Relaxed);
}

/// What the reading half asks the writing half to send.
enum Reply {
    Pong(u32),
    /// A snapshot could not be applied: ask for a full one.
    Resync,
}

type Joined = (Reader, Writer, PlayerId, u16, GameParams);

async fn connect_and_join(plan: &BotPlan) -> Result<Joined, String> {
    let ws = connect_websocket(&plan.url)
        .await
        .map_err(|e| failure_reason(&e))?;
    let (mut reader, mut writer) = ws.split(tokio::io::split);
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
                    return Ok((reader, writer, id, hz, welcome.params));
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

fn failure_reason(error: &ClientError) -> String {
    match error {
        ClientError::Connect(io) => format!("connect: {}", io.kind()),
        ClientError::WebSocket(ws) => format!("handshake: {ws}"),
        other => other.to_string(),
    }
}

/// Reads every frame until the connection ends; measures snapshots; returns when closed.
async fn read_until_closed(
    mut reader: Reader,
    me: PlayerId,
    mut replica: Replica,
    shared: Arc<Mutex<Shared>>,
    stats: Arc<SwarmStats>,
    deadline: Instant,
    replies: tokio::sync::mpsc::Sender<Reply>,
) {
    let mut first_tick: Option<Tick> = None;
    let mut last_tick = Tick(0);
    let mut last_arrival: Option<Instant> = None;
    let mut last_acked = 0u32;
    loop {
        let frame = match reader.read_frame(&mut ignore_obligations).await {
            Ok(frame) => frame,
            Err(error) => {
                if Instant::now() < deadline {
                    stats.record_drop(format!("transport: {error}"));
                }
                break;
            }
        };
        let now = Instant::now();
        stats
            .bytes_received
            .fetch_add(frame.payload.len() as u64, Ordering::Relaxed);
        match frame.opcode {
            OpCode::Binary => {}
            OpCode::Close => {
                if now < deadline {
                    stats.record_drop(format!("closed by server ({})", close_code(&frame.payload)));
                }
                break;
            }
            OpCode::Text => {
                stats.decode_errors.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            _ => continue,
        }
        let Some((&SNAPSHOT_VARIANT, snapshot)) = frame.payload.split_first() else {
            read_message(&frame.payload, &stats, &replies);
            continue;
        };
        let state = match replica.apply(snapshot) {
            Ok(state) => state,
            Err(_) => {
                stats.decode_errors.fetch_add(1, Ordering::Relaxed);
                // Full means a request is already waiting to go.
                let _ = replies.try_send(Reply::Resync);
                continue;
            }
        };
        let tick = state.tick;
        first_tick.get_or_insert(tick);
        last_tick = tick;
        let gap = last_arrival.map(|at| now - at);
        last_arrival = Some(now);
        let own = state.own;
        let nearest = own.and_then(|own| nearest_other(state, me, own.x, own.y));
        let mut ack = None;
        let mut shared = lock(&shared);
        if let Some(own) = own {
            shared.view.me = Some((own.x, own.y));
            if own.last_input_seq > last_acked {
                last_acked = own.last_input_seq;
                let (seq, sent_at) = shared.sent[last_acked as usize % SENT_LOG];
                ack = sent_at.filter(|_| seq == last_acked).map(|at| now - at);
            }
        }
        shared.view.nearest_other = nearest;
        shared.view.tick = tick;
        drop(shared);
        stats.record_snapshot(gap, ack);
    }
    if let Some(first) = first_tick {
        let spanned = last_tick.since(first).max(0) as u64 + 1;
        stats
            .snapshots_expected
            .fetch_add(spanned, Ordering::Relaxed);
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

/// Counts a message that is not a snapshot.
fn read_message(payload: &[u8], stats: &SwarmStats, replies: &tokio::sync::mpsc::Sender<Reply>) {
    match decode_server_message(payload) {
        Ok(ServerMessage::Ack(ack)) => {
            let counter = match ack.error {
                None => &stats.chat_acked,
                Some(_) => &stats.chat_refused,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        Ok(ServerMessage::Chat(_)) => {
            stats.chat_received.fetch_add(1, Ordering::Relaxed);
        }
        Ok(ServerMessage::Ping(ping)) => {
            // Full means a pong is already waiting to go: the server needs only one.
            let _ = replies.try_send(Reply::Pong(ping.nonce));
        }
        Ok(_) => {}
        Err(_) => {
            stats.decode_errors.fetch_add(1, Ordering::Relaxed);
        }
    }
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

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}
