//! One bot as a client of the protocol, free of I/O: the messages it sends to join and play,
//! and what it makes of every frame it receives (each snapshot applied to its replica and
//! measured: gap, acknowledged input, bytes). The swarm's event loop ([`super::engine`]) moves
//! the bytes and keeps the time; this module decides and measures.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Transport;
use super::behaviour::{Behaviour, Pilot, View};
use super::stats::{BotTally, SwarmStats};
use super::wire::opcode;
use crate::client::close_code;
use crate::protocol::codec::SNAPSHOT_VARIANT;
use crate::protocol::snapshot::{Kind, player_field, position_units};
use crate::protocol::{
    Chat, ClientMessage, Join, Ping, PlayerId, PlayerInput, Replica, RoomInfo, RoomRequest,
    SeatTicket, ServerMessage, Tick, decode_server_message,
};

/// Ticks behind the newest snapshot a browser draws other players at (its interpolation
/// delay), reported as the bot's `view_tick`.
const INTERPOLATION_TICKS: u32 = 2;

/// How long a bot waits for its connection and welcome.
pub const JOIN_PATIENCE: Duration = Duration::from_secs(10);
/// How long a bot keeps reading after its close frame, for the server's.
pub const CLOSE_PATIENCE: Duration = Duration::from_secs(2);
/// Inputs remembered for acknowledgement latency (a power of two).
const SENT_LOG: usize = 256;

/// Everything a bot needs to know to play.
#[derive(Debug, Clone)]
pub struct BotPlan {
    pub name: String,
    pub seed: u64,
    pub behaviour: Behaviour,
    pub transport: Transport,
    /// The room the bot asks for.
    pub room: RoomRequest,
    /// When the bot opens its connection.
    pub start_at: Instant,
    /// When the run ends for everyone.
    pub deadline: Instant,
}

impl BotPlan {
    /// The message that joins the game as this bot.
    pub fn join(&self) -> ClientMessage {
        ClientMessage::Join(Join {
            room: self.room.clone(),
            ..Join::quick_play(&self.name)
        })
    }

    /// When, within the first input period after joining, the bot sends its first input.
    /// Welcomes leave the server at its tick; without a random phase every bot would send just
    /// after a tick and wait a whole period, unlike players whose frames are not in step.
    pub fn first_input_after(&self, period: Duration) -> Duration {
        period.mul_f64(unit_interval(self.seed))
    }
}

/// What a message received while joining means.
#[derive(Debug, PartialEq)]
pub enum JoinAnswer {
    Welcome {
        me: PlayerId,
        tick_hz: u16,
        /// The room the server placed the bot in.
        room: RoomInfo,
    },
    /// A cluster node sends the bot to another node (its public URL), with a seat there.
    Redirect {
        url: String,
        ticket: Option<SeatTicket>,
    },
    /// Anything else the server may send first: not an answer yet.
    NotYet,
}

/// Reads a binary message received while joining: the welcome, a refusal (the reason), or
/// something to skip.
pub fn read_join_answer(payload: &[u8]) -> Result<JoinAnswer, String> {
    match decode_server_message(payload) {
        Ok(ServerMessage::Welcome(welcome)) => Ok(JoinAnswer::Welcome {
            me: welcome.player_id,
            tick_hz: welcome.tick_hz,
            room: welcome.room,
        }),
        Ok(ServerMessage::Redirect(redirect)) => Ok(JoinAnswer::Redirect {
            url: redirect.url,
            ticket: redirect.ticket,
        }),
        Ok(ServerMessage::Error(error)) => Err(format!("refused: {}", error.message)),
        Ok(_) => Ok(JoinAnswer::NotYet),
        Err(error) => Err(format!("undecodable message while joining: {error}")),
    }
}

/// What a frame asks of the bot.
#[derive(Debug)]
pub enum Heard {
    Nothing,
    /// Send this back: a pong, or a resync after a snapshot the bot could not apply.
    Answer(ClientMessage),
    /// The server closed the connection.
    Closed,
}

/// A joined bot: what it holds of the world, what it has sent, and what it has measured.
pub struct Player {
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
    /// Starts fetching what handling the next frame reads, a level deeper each call (see
    /// [`Replica::prefetch`]): 0 the player itself, then its replica's states, then their
    /// entities. Each level reads only what the one before fetched.
    pub fn prefetch(&self, level: usize) {
        match level {
            0 => crate::prefetch::value(self),
            1 => {
                // Where the next input's sending time goes, and the next one acknowledged.
                for seq in [self.seq.wrapping_add(1), self.last_acked.wrapping_add(1)] {
                    crate::prefetch::value(&self.sent[seq as usize % SENT_LOG]);
                }
                self.replica.prefetch(0);
            }
            _ => self.replica.prefetch(level - 1),
        }
    }

    /// A bot welcomed as `me` into `room`.
    pub fn new(plan: &BotPlan, me: PlayerId, room: &RoomInfo, stats: Arc<SwarmStats>) -> Player {
        Player {
            me,
            replica: replica_for(plan.transport),
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
            tally: BotTally::new(Arc::clone(&stats), room),
            stats,
        }
    }

    /// The tick of the newest snapshot applied (`None` before any): what a polling bot tells
    /// the server it holds, the baseline of the next delta.
    pub fn applied_tick(&self) -> Option<Tick> {
        self.first_tick.map(|_| self.last_tick)
    }

    /// Counts bytes received that carried messages without being one (a WebSocket frame's
    /// header, an HTTP response's head and a polling body's lengths).
    pub fn count_framing(&mut self, bytes: usize) {
        self.tally.counts.bytes_received += bytes as u64;
    }

    /// Whether the bot sends inputs (an idle bot only reads).
    pub fn sends_inputs(&self) -> bool {
        self.pilot.sends_inputs()
    }

    /// The connection failed at `now`: a drop, if the run was not over.
    pub fn lost(&self, reason: impl Into<String>, now: Instant) {
        if now < self.deadline {
            self.stats.record_drop(reason);
        }
    }

    /// Counts and checks one whole message (its WebSocket opcode and payload) that arrived at
    /// `now`; applies it if it is a snapshot.
    pub fn receive(&mut self, opcode: u8, payload: &[u8], now: Instant) -> Heard {
        self.tally.counts.bytes_received += payload.len() as u64;
        match opcode {
            opcode::BINARY => {}
            opcode::CLOSE => {
                if now < self.deadline {
                    let reason = format!("closed by server ({})", close_code(payload));
                    self.stats.record_drop(reason);
                }
                return Heard::Closed;
            }
            opcode::TEXT => {
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

    /// Applies a snapshot to the replica and measures its gap and the input it acknowledged
    /// (until the run's deadline).
    fn apply_snapshot(&mut self, snapshot: &[u8], now: Instant) -> Heard {
        let state = match self.replica.apply(snapshot) {
            Ok(state) => state,
            Err(_) => {
                self.tally.counts.decode_errors += 1;
                return Heard::Answer(ClientMessage::Resync);
            }
        };
        let tick = state.tick;
        // The run is over: what still arrives while the swarm closes its connections is not
        // counted (thousands of bots leaving at once make the server's tick late, which is
        // not the play the run measures).
        if now >= self.deadline {
            return Heard::Nothing;
        }
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
        self.tally.record_snapshot(gap, ack, now);
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

    /// Decides the next input, sent at `now`, and a chat line when one is due.
    pub fn next_messages(&mut self, now: Instant) -> (ClientMessage, Option<ClientMessage>) {
        self.seq += 1;
        let seq = self.seq;
        let controls = self.pilot.next_controls(&self.view);
        self.sent[seq as usize % SENT_LOG] = (seq, Some(now));
        let input = ClientMessage::Input(PlayerInput {
            seq,
            buttons: controls.buttons,
            aim: controls.aim,
            ack_tick: self.view.tick,
            view_tick: Tick(self.view.tick.0.wrapping_sub(INTERPOLATION_TICKS)),
        });
        self.tally.counts.inputs_sent += 1;
        let chat = self.pilot.chat_line().map(|text| {
            self.tally.counts.chat_sent += 1;
            ClientMessage::Chat(Chat {
                request_id: seq,
                text: text.to_owned(),
            })
        });
        (input, chat)
    }

    /// Counts the ticks the bot's snapshots spanned, and hands over its tally.
    pub fn finish(&mut self) {
        if let Some(first) = self.first_tick.take() {
            let spanned = self.last_tick.since(first).max(0) as u64 + 1;
            self.tally.counts.snapshots_expected += spanned;
        }
        self.tally.hand_over();
    }
}

/// The replica a bot's transport needs. A WebSocket's deltas are against the last snapshot
/// sent, whose baselines never go back, so older states can be freed; over long polling the
/// server deltas against the tick the client acknowledged, which may be older than the newest
/// it holds, so the replica keeps its ring of baselines.
fn replica_for(transport: Transport) -> Replica {
    match transport {
        Transport::Websocket => Replica::for_monotonic_baselines(),
        Transport::Polling => Replica::new(),
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

/// A number in [0, 1) derived from `seed` (splitmix64's finaliser).
fn unit_interval(seed: u64) -> f64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) as f64 / (u64::MAX as f64 + 1.0)
}
