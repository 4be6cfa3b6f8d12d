//! The fixed-timestep driver: the only owner of the [`World`]. Each tick it drains the event
//! queue (joins, inputs, leaves, in arrival order), steps the world, records it in the
//! [`Replicator`] and hands each player its own delta snapshot through the [`Outbox`]. It never awaits a socket and never blocks on a client:
//! the outbox must return at once. It times every tick and logs a summary every few seconds.
//!
//! In steady state a tick allocates nothing: the world's and the replicator's buffers are sized
//! at join, every player's frame is encoded straight into one recycled buffer ([`FramePool`])
//! and split off it, and so are the small broadcasts (joins, leaves). `tests/tick_allocations.rs` holds it to that.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use crossbeam_queue::ArrayQueue;

use super::replication::Replicator;
use super::world::{InputOutcome, World, WorldConfig};
use crate::metrics::{DurationHistogram, TICK_BUCKETS_MICROS};
use crate::protocol::{
    Notice, NoticeKind, PROTOCOL_VERSION, PlayerId, PlayerInfo, PlayerInput, PlayerLeft,
    ResumeToken, Roster, ServerMessage, Snapshot, Tick, Welcome, encode_server_message,
    encode_server_message_into,
};

/// Buffers the players' snapshot frames are encoded into, one per tick. Two suffice when every
/// writer keeps up (a slot holds a player's newest frame while the next is encoded); the others
/// absorb writers still sending older frames.
const SNAPSHOT_BUFFERS: usize = 4;

/// Buffers for small broadcasts, and the least each holds: a few hundred tags.
const MESSAGE_BUFFERS: usize = 4;
const MESSAGE_BUFFER_BYTES: usize = 4096;

/// Something that happened on a connection, for the loop to apply at its next tick.
#[derive(Debug, Clone, PartialEq)]
pub enum GameEvent {
    /// A player passed the handshake; `name` is already validated.
    Join {
        id: PlayerId,
        name: String,
        request_id: u32,
        resume_token: ResumeToken,
        /// Serial number of the connection, unique in the server's life.
        connection: u64,
    },
    /// A reconnecting client presented the resume token of player `id`. If the player is
    /// still in the world it is handed back; if its grace ran out meanwhile, it joins anew.
    Resume {
        id: PlayerId,
        name: String,
        request_id: u32,
        resume_token: ResumeToken,
        connection: u64,
    },
    Input {
        id: PlayerId,
        input: PlayerInput,
    },
    /// The connection dropped without a goodbye: the player stays, frozen and flagged away,
    /// for the resume grace, then leaves.
    /// Ignored if `connection` is no longer the player's (it was resumed meanwhile).
    Away {
        id: PlayerId,
        connection: u64,
    },
    /// The player is gone for good (it said goodbye, was kicked, or broke the rules).
    /// Ignored, like `Away`, if a newer connection has taken the player over.
    Leave {
        id: PlayerId,
        connection: u64,
    },
}

/// Where the loop's output goes. Implementations must not block: they hand bytes over and
/// return (the network layer drops or disconnects slow readers itself).
pub trait Outbox: Send + 'static {
    /// Gives every welcomed player its snapshot of `tick`, replacing any not yet sent. `encode`
    /// gets the player and its baseline (the newest snapshot tick its connection has fully
    /// sent, none if unknown) and returns its frame (none: send nothing).
    fn publish_snapshots(
        &self,
        tick: Tick,
        encode: &mut dyn FnMut(PlayerId, Option<Tick>) -> Option<Bytes>,
    );
    /// The player's welcome: the first message the loop sends it. Broadcasts reach a player
    /// only after its welcome, so nothing it is told predates the roster the welcome carries.
    fn welcome(&self, id: PlayerId, bytes: Bytes) {
        self.send_to(id, bytes);
    }
    /// A message that must reach one player, in order with its other messages.
    fn send_to(&self, id: PlayerId, bytes: Bytes);
    /// A message for every player except `except`.
    fn send_to_all_except(&self, except: Option<PlayerId>, bytes: Bytes);
    /// The player has left the world for good: whatever lets it resume is no longer valid.
    fn forget(&self, _id: PlayerId) {}
}

#[derive(Debug, Clone)]
pub struct TickLoopConfig {
    pub world: WorldConfig,
    /// After a stall, how many missed ticks are simulated back-to-back before the rest of the
    /// backlog is dropped (counted in `LoopStats::ticks_dropped`) rather than spiralling.
    pub max_catch_up_ticks: u32,
    /// How often the loop logs its tick-duration summary.
    pub report_interval: Duration,
    /// How long an away player (connection lost) waits to be resumed before it is removed.
    pub resume_grace: Duration,
}

impl TickLoopConfig {
    pub fn new(world: WorldConfig) -> TickLoopConfig {
        TickLoopConfig {
            world,
            max_catch_up_ticks: 5,
            report_interval: Duration::from_secs(5),
            resume_grace: Duration::from_secs(10),
        }
    }
}

/// Counters the loop publishes for the rest of the server (health, metrics). Relaxed atomics:
/// each is an independent reading.
#[derive(Debug)]
pub struct LoopStats {
    /// Duration of each wake-up's work (usually one tick; several when catching up).
    pub tick_duration: DurationHistogram,
    pub tick: AtomicU64,
    pub players: AtomicU64,
    pub ticks_total: AtomicU64,
    /// Ticks whose work took longer than the tick period.
    pub overruns: AtomicU64,
    /// Ticks skipped because the loop fell further behind than it may catch up.
    pub ticks_dropped: AtomicU64,
    pub last_tick_micros: AtomicU64,
    pub last_snapshot_bytes: AtomicU64,
    /// The arena's width and height (whole units) at the last tick.
    pub arena_width: AtomicU64,
    pub arena_height: AtomicU64,
    pub inputs_applied: AtomicU64,
    /// Inputs discarded by the world: queue overflow, stale sequence or unknown player.
    pub inputs_dropped: AtomicU64,
}

impl Default for LoopStats {
    fn default() -> LoopStats {
        LoopStats {
            tick_duration: DurationHistogram::new(&TICK_BUCKETS_MICROS),
            tick: AtomicU64::default(),
            players: AtomicU64::default(),
            ticks_total: AtomicU64::default(),
            overruns: AtomicU64::default(),
            ticks_dropped: AtomicU64::default(),
            last_tick_micros: AtomicU64::default(),
            last_snapshot_bytes: AtomicU64::default(),
            arena_width: AtomicU64::default(),
            arena_height: AtomicU64::default(),
            inputs_applied: AtomicU64::default(),
            inputs_dropped: AtomicU64::default(),
        }
    }
}

/// Tick-duration summary over one report interval.
#[derive(Debug, Default)]
struct DurationWindow {
    ticks: u64,
    total: Duration,
    max: Duration,
    overruns: u64,
}

pub struct TickLoop<O: Outbox> {
    world: World,
    tick_hz: u16,
    period: Duration,
    config: TickLoopConfig,
    events: Arc<ArrayQueue<GameEvent>>,
    outbox: O,
    stats: Arc<LoopStats>,
    /// Names of the players in the world, for welcomes.
    names: HashMap<PlayerId, String>,
    /// Away players and the tick their grace ends.
    away_until: HashMap<PlayerId, Tick>,
    /// The connection currently playing each player, to ignore the end of a superseded one.
    connection_of: HashMap<PlayerId, u64>,
    /// Scratch list of players whose grace ended this tick (kept to avoid allocating).
    expired: Vec<PlayerId>,
    /// The snapshot, refilled each tick so its buffers are reused.
    snapshot: Snapshot,
    /// Encodes each player's snapshot from the world, sharing work between players.
    replicator: Replicator,
    /// Where each tick's snapshot frames are encoded, one after another.
    snapshot_buffers: FramePool,
    /// Most bytes the frames of one tick have taken (to size each tick's buffer).
    frames_bytes: usize,
    /// Where small broadcasts are encoded, then copied into `message_buffers` to be shared.
    scratch: Vec<u8>,
    /// Where small broadcasts (tags, joins, leaves) live while players' queues hold them.
    message_buffers: FramePool,
    /// Joins and leaves since the last tick's announcement (see [`ServerMessage::Roster`]).
    roster: Roster,
    window: DurationWindow,
}

impl<O: Outbox> TickLoop<O> {
    pub fn new(
        config: TickLoopConfig,
        events: Arc<ArrayQueue<GameEvent>>,
        outbox: O,
        stats: Arc<LoopStats>,
    ) -> TickLoop<O> {
        let tick_hz = config.world.tick_hz;
        let replicator = Replicator::new();
        TickLoop {
            world: World::new(&config.world),
            tick_hz,
            period: Duration::from_secs_f64(1.0 / f64::from(tick_hz)),
            config,
            events,
            outbox,
            stats,
            names: HashMap::new(),
            away_until: HashMap::new(),
            connection_of: HashMap::new(),
            expired: Vec::new(),
            snapshot: Snapshot::default(),
            replicator,
            snapshot_buffers: FramePool::new(SNAPSHOT_BUFFERS, 0),
            frames_bytes: 0,
            scratch: Vec::new(),
            message_buffers: FramePool::new(MESSAGE_BUFFERS, MESSAGE_BUFFER_BYTES),
            roster: Roster::default(),
            window: DurationWindow::default(),
        }
    }

    pub fn world(&self) -> &World {
        &self.world
    }

    /// Runs ticks on the calling thread at the configured rate until `stop` is set.
    pub fn run(mut self, stop: &AtomicBool) {
        let mut next_tick = Instant::now();
        let mut last_report = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            if now < next_tick {
                std::thread::sleep(next_tick - now);
                continue;
            }
            let due = self.ticks_due(now, next_tick);
            let started = Instant::now();
            self.run_ticks(due);
            self.record_duration(started.elapsed());
            next_tick += self.period * due;
            if Instant::now() > next_tick + self.period * self.config.max_catch_up_ticks {
                // Still hopelessly behind: drop the backlog rather than spiral.
                let behind = Instant::now().duration_since(next_tick);
                let dropped = (behind.as_secs_f64() / self.period.as_secs_f64()) as u64;
                self.stats
                    .ticks_dropped
                    .fetch_add(dropped, Ordering::Relaxed);
                next_tick = Instant::now();
            }
            if last_report.elapsed() >= self.config.report_interval {
                self.log_report();
                last_report = Instant::now();
            }
        }
    }

    /// How many ticks to simulate now, bounded by the catch-up limit.
    fn ticks_due(&self, now: Instant, next_tick: Instant) -> u32 {
        let late = now.duration_since(next_tick);
        let due = 1 + (late.as_secs_f64() / self.period.as_secs_f64()) as u32;
        due.min(self.config.max_catch_up_ticks.max(1))
    }

    /// Drains events and simulates `count` ticks back to back, then publishes one snapshot of
    /// the result. Public so tests and benches can drive the loop on a manual clock.
    pub fn run_ticks(&mut self, count: u32) {
        // At most one tag per player per tick: room for a full catch-up, reserved only when
        // players joined, so steady ticks never allocate.
        let most_tags = self.world.players().len() * self.config.max_catch_up_ticks.max(1) as usize;
        if self.snapshot.tags.capacity() < most_tags {
            self.snapshot.tags.reserve(most_tags);
        }
        for _ in 0..count {
            self.drain_events();
            self.expire_away_players();
            self.world.step();
            self.snapshot.tags.extend_from_slice(self.world.tags());
        }
        self.announce_roster();
        self.publish_snapshot();
        self.stats
            .ticks_total
            .fetch_add(u64::from(count), Ordering::Relaxed);
        self.stats
            .tick
            .store(u64::from(self.world.tick().0), Ordering::Relaxed);
        self.stats
            .players
            .store(self.world.players().len() as u64, Ordering::Relaxed);
    }

    fn drain_events(&mut self) {
        // Bounded by the queue's capacity: events pushed while draining wait for the next tick.
        for _ in 0..self.events.capacity() {
            let Some(event) = self.events.pop() else {
                break;
            };
            match event {
                GameEvent::Join {
                    id,
                    name,
                    request_id,
                    resume_token,
                    connection,
                } => {
                    self.connection_of.insert(id, connection);
                    self.admit_player(id, name, request_id, resume_token);
                }
                GameEvent::Resume {
                    id,
                    name,
                    request_id,
                    resume_token,
                    connection,
                } => {
                    self.connection_of.insert(id, connection);
                    self.resume_player(id, name, request_id, resume_token);
                }
                GameEvent::Input { id, input } => self.queue_input(id, input),
                GameEvent::Away { id, connection } if self.is_current(id, connection) => {
                    self.mark_away(id)
                }
                GameEvent::Leave { id, connection } if self.is_current(id, connection) => {
                    self.remove_player(id)
                }
                GameEvent::Away { .. } | GameEvent::Leave { .. } => {}
            }
        }
    }

    fn admit_player(&mut self, id: PlayerId, name: String, request_id: u32, token: ResumeToken) {
        if !self.world.add_player(id) {
            return;
        }
        let players = self.world.players().len().next_power_of_two();
        self.replicator.reserve(players, self.snapshot.orbs.len());
        self.names.insert(id, name.clone());
        self.send_welcome(id, request_id, token, false);
        self.roster.joined.push(PlayerInfo { id, name });
    }

    fn resume_player(&mut self, id: PlayerId, name: String, request_id: u32, token: ResumeToken) {
        if !self.world.set_away(id, false) {
            // Its grace ran out before the resume arrived: it starts over as a new player.
            self.admit_player(id, name, request_id, token);
            return;
        }
        self.away_until.remove(&id);
        self.send_welcome(id, request_id, token, true);
        let back = Notice {
            subject: id,
            kind: NoticeKind::Back,
        };
        self.send_to_others(Some(id), &ServerMessage::Notice(back));
    }

    fn send_welcome(&mut self, id: PlayerId, request_id: u32, token: ResumeToken, resumed: bool) {
        let welcome = ServerMessage::Welcome(Welcome {
            protocol_version: PROTOCOL_VERSION,
            request_id,
            player_id: id,
            resumed,
            resume_token: token,
            tick_hz: self.tick_hz,
            params: *self.world.params(),
            players: self
                .names
                .iter()
                .map(|(&id, name)| PlayerInfo {
                    id,
                    name: name.clone(),
                })
                .collect(),
        });
        if let Some(bytes) = encode(&welcome) {
            self.outbox.welcome(id, bytes);
        }
    }

    fn mark_away(&mut self, id: PlayerId) {
        if self.world.set_away(id, true) {
            let grace = (self.config.resume_grace.as_secs_f64() * f64::from(self.tick_hz)).ceil();
            let until = Tick(self.world.tick().0.wrapping_add(grace as u32));
            self.away_until.insert(id, until);
            let away = Notice {
                subject: id,
                kind: NoticeKind::Away,
            };
            self.send_to_others(Some(id), &ServerMessage::Notice(away));
        }
    }

    fn expire_away_players(&mut self) {
        if self.away_until.is_empty() {
            return;
        }
        let now = self.world.tick();
        self.expired.clear();
        self.expired.extend(
            self.away_until
                .iter()
                .filter(|&(_, &until)| now.since(until) >= 0)
                .map(|(&id, _)| id),
        );
        for index in 0..self.expired.len() {
            let id = self.expired[index];
            self.remove_player(id);
        }
    }

    fn queue_input(&mut self, id: PlayerId, input: PlayerInput) {
        let counter = match self.world.queue_input(id, input) {
            InputOutcome::Queued => &self.stats.inputs_applied,
            InputOutcome::QueuedDroppingOldest => {
                self.stats.inputs_applied.fetch_add(1, Ordering::Relaxed);
                &self.stats.inputs_dropped
            }
            InputOutcome::Stale | InputOutcome::UnknownPlayer => &self.stats.inputs_dropped,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn is_current(&self, id: PlayerId, connection: u64) -> bool {
        self.connection_of.get(&id) == Some(&connection)
    }

    fn remove_player(&mut self, id: PlayerId) {
        self.away_until.remove(&id);
        self.connection_of.remove(&id);
        if self.world.remove_player(id) {
            self.names.remove(&id);
            self.replicator.forget(id);
            self.outbox.forget(id);
            self.roster.left.push(PlayerLeft { id });
        }
    }

    /// Tells everyone who joined and left since the last tick: a lone join or leave as its
    /// own message (not to the joiner, whose welcome lists it), several as one `Roster`.
    fn announce_roster(&mut self) {
        let roster = &mut self.roster;
        let message = match (roster.joined.len(), roster.left.len()) {
            (0, 0) => return,
            (1, 0) => {
                let joined = roster.joined.pop().expect("one join");
                let except = Some(joined.id);
                self.send_to_others(except, &ServerMessage::PlayerJoined(joined));
                return;
            }
            (0, 1) => ServerMessage::PlayerLeft(roster.left.pop().expect("one leave")),
            _ => ServerMessage::Roster(std::mem::take(roster)),
        };
        self.send_to_others(None, &message);
    }

    fn publish_snapshot(&mut self) {
        self.world.write_snapshot(&mut self.snapshot);
        let tick_us = self.stats.last_tick_micros.load(Ordering::Relaxed);
        self.replicator
            .record(&self.snapshot, tick_us.min(u64::from(u32::MAX)) as u32);
        let buffer = self
            .snapshot_buffers
            .buffer(self.frames_bytes + self.frames_bytes / 4 + 4096);
        let replicator = &mut self.replicator;
        let (mut total, mut frames) = (0, 0);
        self.outbox
            .publish_snapshots(self.world.tick(), &mut |id, baseline| {
                if !replicator.encode_for(id, baseline, buffer) {
                    return None;
                }
                total += buffer.len();
                frames += 1;
                Some(buffer.split().freeze())
            });
        // The most any tick has needed: a buffer sized for it is reused whatever the next
        // tick needs, where sizing for the last tick would replace buffers as traffic wavers.
        self.frames_bytes = self.frames_bytes.max(total);
        self.stats
            .last_snapshot_bytes
            .store((total / frames.max(1)) as u64, Ordering::Relaxed);
        let params = self.world.params();
        (self.stats.arena_width).store(params.arena_width as u64, Ordering::Relaxed);
        (self.stats.arena_height).store(params.arena_height as u64, Ordering::Relaxed);
        self.snapshot.tags.clear();
    }

    /// Encodes a small message into a shared buffer (no allocation in steady state) and hands it
    /// to everyone but `except`.
    fn send_to_others(&mut self, except: Option<PlayerId>, message: &ServerMessage) {
        if let Err(error) = encode_server_message_into(message, &mut self.scratch) {
            tracing::error!(%error, "message not encoded");
            return;
        }
        let buffer = self.message_buffers.buffer(self.scratch.len());
        buffer.extend_from_slice(&self.scratch);
        self.outbox
            .send_to_all_except(except, buffer.split().freeze());
    }

    fn record_duration(&mut self, took: Duration) {
        let window = &mut self.window;
        window.ticks += 1;
        window.total += took;
        window.max = window.max.max(took);
        self.stats
            .last_tick_micros
            .store(took.as_micros() as u64, Ordering::Relaxed);
        self.stats.tick_duration.observe(took);
        if took > self.period {
            window.overruns += 1;
            self.stats.overruns.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn log_report(&mut self) {
        let window = std::mem::take(&mut self.window);
        let mean = window
            .total
            .checked_div(window.ticks.max(1) as u32)
            .unwrap_or_default();
        tracing::info!(
            ticks = window.ticks,
            mean_us = mean.as_micros() as u64,
            max_us = window.max.as_micros() as u64,
            overruns = window.overruns,
            dropped_total = self.stats.ticks_dropped.load(Ordering::Relaxed),
            players = self.world.players().len(),
            mean_frame_bytes = self.stats.last_snapshot_bytes.load(Ordering::Relaxed),
            arena = %format_args!(
                "{}x{}",
                self.world.params().arena_width,
                self.world.params().arena_height
            ),
            "tick summary"
        );
    }
}

/// Buffers from which outgoing messages are cut as shared [`Bytes`] and reused once every copy
/// of them has been dropped, so that publishing allocates nothing in steady state.
///
/// Each slot is a `BytesMut` sharing its memory with the frames split off it: a frame is cut
/// from the free tail; when the tail is too short and no frame cut from the slot is alive any
/// more, `try_reclaim` takes the whole buffer back without allocating. Only when every slot is
/// still in use (writers still sending old frames) or too small does one get a new buffer; the
/// old memory is freed by whoever drops its last frame.
struct FramePool {
    slots: Vec<BytesMut>,
    /// Least capacity of a new buffer (it gets at least twice the request, too).
    min_capacity: usize,
    /// The slot to replace next when none can be reused.
    next_replaced: usize,
}

impl FramePool {
    fn new(slots: usize, min_capacity: usize) -> FramePool {
        FramePool {
            slots: (0..slots.max(1)).map(|_| BytesMut::new()).collect(),
            min_capacity,
            next_replaced: 0,
        }
    }

    /// An empty buffer with room for `len` bytes. Split what is written off it with
    /// `split().freeze()`.
    fn buffer(&mut self, len: usize) -> &mut BytesMut {
        let reusable = self.slots.iter_mut().position(|slot| slot.try_reclaim(len));
        let index = reusable.unwrap_or_else(|| {
            let index = self.next_replaced;
            self.next_replaced = (index + 1) % self.slots.len();
            self.slots[index] = BytesMut::with_capacity((2 * len).max(self.min_capacity));
            index
        });
        &mut self.slots[index]
    }
}

fn encode(message: &ServerMessage) -> Option<Bytes> {
    match encode_server_message(message) {
        Ok(bytes) => Some(Bytes::from(bytes)),
        Err(error) => {
            tracing::error!(%error, "message not encoded");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use std::collections::BTreeMap;

    use super::*;
    use crate::protocol::{Replica, buttons, decode_server_message, decode_server_message_with};

    /// `(sent only to, sent to all except, message)`.
    type Sent = (Option<PlayerId>, Option<PlayerId>, ServerMessage);

    /// An outbox that records what the loop sent, decoded: each player's snapshots through its
    /// own replica (so deltas are exercised), and per tick the lowest id's view of the world.
    #[derive(Default, Clone)]
    struct Recorder {
        sent: Arc<Mutex<Vec<Sent>>>,
        snapshots: Arc<Mutex<Vec<(Tick, Snapshot)>>>,
        replicas: Arc<Mutex<BTreeMap<PlayerId, Replica>>>,
    }

    impl Outbox for Recorder {
        fn publish_snapshots(
            &self,
            tick: Tick,
            encode: &mut dyn FnMut(PlayerId, Option<Tick>) -> Option<Bytes>,
        ) {
            let mut replicas = self.replicas.lock().unwrap();
            let mut first = None;
            for (&id, replica) in replicas.iter_mut() {
                let bytes = encode(id, replica.latest_tick()).expect("a frame for every player");
                let Ok(ServerMessage::Snapshot(snapshot)) =
                    decode_server_message_with(&bytes, replica, id, 30)
                else {
                    panic!("published bytes are not a snapshot");
                };
                first.get_or_insert(snapshot);
            }
            let snapshot = first.unwrap_or_default();
            self.snapshots.lock().unwrap().push((tick, snapshot));
        }
        fn welcome(&self, id: PlayerId, bytes: Bytes) {
            let replica = Replica::new();
            self.replicas.lock().unwrap().insert(id, replica);
            self.send_to(id, bytes);
        }
        fn forget(&self, id: PlayerId) {
            self.replicas.lock().unwrap().remove(&id);
        }
        fn send_to(&self, id: PlayerId, bytes: Bytes) {
            let message = decode_server_message(&bytes).unwrap();
            self.sent.lock().unwrap().push((Some(id), None, message));
        }
        fn send_to_all_except(&self, except: Option<PlayerId>, bytes: Bytes) {
            let message = decode_server_message(&bytes).unwrap();
            self.sent.lock().unwrap().push((None, except, message));
        }
    }

    /// An arena within every player's area of interest, wherever it stands.
    fn small_world() -> WorldConfig {
        let mut world = WorldConfig::new(30, 1);
        world.set_arena(1000.0, 700.0);
        world
    }

    fn join(id: u32, name: &str) -> GameEvent {
        GameEvent::Join {
            id: PlayerId(id),
            name: name.into(),
            request_id: id,
            resume_token: ResumeToken([id as u8; 16]),
            connection: u64::from(id),
        }
    }

    fn new_loop() -> (TickLoop<Recorder>, Arc<ArrayQueue<GameEvent>>, Recorder) {
        let events = Arc::new(ArrayQueue::new(64));
        let recorder = Recorder::default();
        let tick_loop = TickLoop::new(
            TickLoopConfig::new(small_world()),
            Arc::clone(&events),
            recorder.clone(),
            Arc::new(LoopStats::default()),
        );
        (tick_loop, events, recorder)
    }

    #[test]
    fn a_join_is_welcomed_announced_and_simulated() {
        let (mut tick_loop, events, recorder) = new_loop();
        events.push(join(1, "Ann")).unwrap();
        events.push(join(2, "Ben")).unwrap();
        events
            .push(GameEvent::Input {
                id: PlayerId(1),
                input: PlayerInput {
                    seq: 1,
                    buttons: buttons::UP,
                    aim: 0.0,
                    ..Default::default()
                },
            })
            .unwrap();
        tick_loop.run_ticks(1);

        let sent = recorder.sent.lock().unwrap();
        let ServerMessage::Welcome(welcome) = &sent[0].2 else {
            panic!("first message is a welcome")
        };
        assert_eq!(
            (sent[0].0, welcome.player_id, welcome.tick_hz),
            (Some(PlayerId(1)), PlayerId(1), 30)
        );
        let ServerMessage::Welcome(second) = &sent[1].2 else {
            panic!("Ben is welcomed")
        };
        assert_eq!(second.players.len(), 2);
        // Both joins of the tick are announced together, once, to everyone.
        let info = |id: u32, name: &str| PlayerInfo {
            id: PlayerId(id),
            name: name.into(),
        };
        assert_eq!(
            sent[2..],
            [(
                None,
                None,
                ServerMessage::Roster(Roster {
                    joined: vec![info(1, "Ann"), info(2, "Ben")],
                    left: Vec::new(),
                })
            )]
        );

        // A lone join is announced on its own, to the others only.
        drop(sent);
        events.push(join(3, "Cy")).unwrap();
        tick_loop.run_ticks(1);
        let sent = recorder.sent.lock().unwrap();
        assert_eq!(
            sent.last(),
            Some(&(
                None,
                Some(PlayerId(3)),
                ServerMessage::PlayerJoined(info(3, "Cy"))
            ))
        );

        let snapshots = recorder.snapshots.lock().unwrap();
        let (tick, snapshot) = &snapshots[0];
        assert_eq!(*tick, Tick(1));
        assert_eq!(snapshot.players.len(), 2);
        assert_eq!(
            snapshot
                .players
                .iter()
                .find(|p| p.id == PlayerId(1))
                .unwrap()
                .last_input_seq,
            1
        );
    }

    #[test]
    fn catching_up_steps_several_ticks_but_publishes_once() {
        let (mut tick_loop, events, recorder) = new_loop();
        events.push(join(1, "Ann")).unwrap();
        tick_loop.run_ticks(3);
        let snapshots = recorder.snapshots.lock().unwrap();
        assert_eq!(snapshots.len(), 1);
        assert_eq!(snapshots[0].0, Tick(3));
    }

    #[test]
    fn an_away_player_is_resumed_within_the_grace_and_removed_after_it() {
        let (mut tick_loop, events, recorder) = new_loop();
        tick_loop.config.resume_grace = Duration::from_millis(100); // 3 ticks at 30 Hz
        events.push(join(1, "Ann")).unwrap();
        events.push(join(2, "Ben")).unwrap();
        tick_loop.run_ticks(1);
        events
            .push(GameEvent::Away {
                id: PlayerId(1),
                connection: 1,
            })
            .unwrap();
        tick_loop.run_ticks(1);
        assert!(tick_loop.world().player(PlayerId(1)).unwrap().away);
        let resume = GameEvent::Resume {
            id: PlayerId(1),
            name: "Ann".into(),
            request_id: 7,
            resume_token: ResumeToken([1; 16]),
            connection: 1,
        };
        events.push(resume.clone()).unwrap();
        tick_loop.run_ticks(1);
        assert!(!tick_loop.world().player(PlayerId(1)).unwrap().away);
        {
            let sent = recorder.sent.lock().unwrap();
            let welcome = sent.iter().rev().find_map(|(to, _, m)| match m {
                ServerMessage::Welcome(w) if *to == Some(PlayerId(1)) => Some(w.clone()),
                _ => None,
            });
            let welcome = welcome.unwrap();
            assert!(welcome.resumed && welcome.request_id == 7);
            let notices: Vec<_> = sent
                .iter()
                .filter_map(|(_, except, m)| match m {
                    ServerMessage::Notice(n) => Some((*except, n.kind)),
                    _ => None,
                })
                .collect();
            assert_eq!(
                notices,
                [
                    (Some(PlayerId(1)), NoticeKind::Away),
                    (Some(PlayerId(1)), NoticeKind::Back)
                ]
            );
        }

        events
            .push(GameEvent::Away {
                id: PlayerId(1),
                connection: 1,
            })
            .unwrap();
        tick_loop.run_ticks(5);
        assert!(tick_loop.world().player(PlayerId(1)).is_none());
        // A resume after the grace starts over as a new player.
        events.push(resume).unwrap();
        tick_loop.run_ticks(1);
        let sent = recorder.sent.lock().unwrap();
        let ServerMessage::Welcome(last) =
            &sent.iter().rev().find(|(to, _, _)| to.is_some()).unwrap().2
        else {
            panic!("a welcome");
        };
        assert!(!last.resumed);
    }

    #[test]
    fn a_leave_removes_the_player_and_tells_the_others() {
        let (mut tick_loop, events, recorder) = new_loop();
        events.push(join(1, "Ann")).unwrap();
        tick_loop.run_ticks(1);
        events
            .push(GameEvent::Leave {
                id: PlayerId(1),
                connection: 1,
            })
            .unwrap();
        events
            .push(GameEvent::Leave {
                id: PlayerId(1),
                connection: 1,
            })
            .unwrap();
        tick_loop.run_ticks(1);
        let sent = recorder.sent.lock().unwrap();
        let leaves = sent
            .iter()
            .filter(|(_, _, m)| matches!(m, ServerMessage::PlayerLeft(_)))
            .count();
        assert_eq!(leaves, 1);
        assert!(recorder.snapshots.lock().unwrap()[1].1.players.is_empty());
        assert!(tick_loop.world().players().is_empty());
    }
}
