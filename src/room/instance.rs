//! One room: the only owner of its [`World`]. Each step drains the room's event queue (joins,
//! inputs, leaves, in arrival order), steps the world, records it in the [`Replicator`] and hands
//! each player its own delta snapshot through the [`Outbox`]. It has no clock and no thread: the
//! runtime ([`crate::runtime`]) decides when to step it, tests and benches step it by hand.
//!
//! Must never: await, block on a client (the outbox returns at once), read the clock, or
//! allocate in a steady step. The world's and the replicator's buffers are sized at join, every
//! player's frame is encoded straight into one recycled buffer ([`FramePool`]) and split off it,
//! and so are the small broadcasts (joins, leaves). `tests/tick_allocations.rs` holds it to that.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use crossbeam_queue::ArrayQueue;

use super::event::RoomEvent;
use super::frame_pool::FramePool;
use super::identity::RoomIdentity;
use super::outbox::Outbox;
use super::presence::Presence;
use super::replication::Replicator;
use crate::game::world::{InputOutcome, World, WorldConfig};
use crate::metrics::RoomStats;
use crate::protocol::{
    Notice, NoticeKind, PROTOCOL_VERSION, PlayerId, PlayerInput, ResumeToken, ServerMessage,
    Snapshot, Welcome, encode_server_message, encode_server_message_into,
};

/// Why a resume gave no player back when the player's grace ran out before it arrived.
pub const RESUME_GRACE_ENDED: &str = "your player's grace period ended before you came back";

/// Buffers the players' snapshot frames are encoded into, one per tick. Two suffice when every
/// writer keeps up (a slot holds a player's newest frame while the next is encoded); the others
/// absorb writers still sending older frames.
const SNAPSHOT_BUFFERS: usize = 4;

/// The room's tables are never shrunk below room for this many players.
const SHRINK_FLOOR: usize = 16;

/// Buffers for small broadcasts, and the least each holds: a few hundred tags.
const MESSAGE_BUFFERS: usize = 4;
const MESSAGE_BUFFER_BYTES: usize = 4096;

#[derive(Debug, Clone)]
pub struct RoomConfig {
    pub world: WorldConfig,
    /// After a stall, how many missed ticks are simulated back-to-back before the rest of the
    /// backlog is dropped (counted in `RoomStats::ticks_dropped`) rather than spiralling. The
    /// room sizes its buffers for that many ticks per step.
    pub max_catch_up_ticks: u32,
    /// How long an away player (connection lost) waits to be resumed before it is removed.
    pub resume_grace: Duration,
    /// Which room this is, as every `Welcome` tells it (by default the single room, telling
    /// `u16::MAX` players: the server sets its `--max-players`).
    pub identity: RoomIdentity,
}

impl RoomConfig {
    pub fn new(world: WorldConfig) -> RoomConfig {
        RoomConfig {
            world,
            max_catch_up_ticks: 5,
            resume_grace: Duration::from_secs(10),
            identity: RoomIdentity::single(u32::from(u16::MAX)),
        }
    }
}

pub struct Room<O: Outbox> {
    world: World,
    tick_hz: u16,
    config: RoomConfig,
    events: Arc<ArrayQueue<RoomEvent>>,
    outbox: O,
    stats: Arc<RoomStats>,
    /// Names, connections, away graces and unannounced joins and leaves.
    presence: Presence,
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
    /// The player count the per-player tables were last grown (or shrunk) for.
    sized_for: usize,
    /// Where small broadcasts are encoded, then copied into `message_buffers` to be shared.
    scratch: Vec<u8>,
    /// Where small broadcasts (tags, joins, leaves) live while players' queues hold them.
    message_buffers: FramePool,
}

impl<O: Outbox> Room<O> {
    pub fn new(
        config: RoomConfig,
        events: Arc<ArrayQueue<RoomEvent>>,
        outbox: O,
        stats: Arc<RoomStats>,
    ) -> Room<O> {
        let tick_hz = config.world.tick_hz;
        Room {
            world: World::new(&config.world),
            tick_hz,
            presence: Presence::new(config.resume_grace, tick_hz),
            config,
            events,
            outbox,
            stats,
            expired: Vec::new(),
            snapshot: Snapshot::default(),
            replicator: Replicator::new(),
            snapshot_buffers: FramePool::new(SNAPSHOT_BUFFERS, 0),
            frames_bytes: 0,
            sized_for: 0,
            scratch: Vec::new(),
            message_buffers: FramePool::new(MESSAGE_BUFFERS, MESSAGE_BUFFER_BYTES),
        }
    }

    pub fn world(&self) -> &World {
        &self.world
    }

    pub fn config(&self) -> &RoomConfig {
        &self.config
    }

    pub fn tick_hz(&self) -> u16 {
        self.tick_hz
    }

    /// The counters this room publishes (its driver adds the tick durations).
    pub fn stats(&self) -> &Arc<RoomStats> {
        &self.stats
    }

    /// Drains events and simulates `count` ticks back to back, then publishes one snapshot of
    /// the result.
    pub fn step(&mut self, count: u32) {
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
        self.stats
            .players_away
            .store(self.presence.away_count() as u64, Ordering::Relaxed);
    }

    fn drain_events(&mut self) {
        // Bounded by the queue's capacity: events pushed while draining wait for the next tick.
        for _ in 0..self.events.capacity() {
            let Some(event) = self.events.pop() else {
                break;
            };
            match event {
                RoomEvent::Join {
                    id,
                    name,
                    request_id,
                    resume_token,
                    connection,
                    resume_failed,
                } => {
                    self.presence.connect(id, connection);
                    self.admit_player(id, name, request_id, resume_token, resume_failed);
                }
                RoomEvent::Resume {
                    id,
                    name,
                    request_id,
                    resume_token,
                    connection,
                } => {
                    self.presence.connect(id, connection);
                    self.resume_player(id, name, request_id, resume_token);
                }
                RoomEvent::Input { id, input } => self.queue_input(id, input),
                RoomEvent::Away { id, connection } if self.is_current(id, connection) => {
                    self.mark_away(id)
                }
                RoomEvent::Leave { id, connection } if self.is_current(id, connection) => {
                    self.remove_player(id)
                }
                RoomEvent::Away { .. } | RoomEvent::Leave { .. } => {}
            }
        }
    }

    fn admit_player(
        &mut self,
        id: PlayerId,
        name: String,
        request_id: u32,
        token: ResumeToken,
        resume_failed: Option<&'static str>,
    ) {
        if !self.world.add_player(id) {
            return;
        }
        let players = self.world.players().len().next_power_of_two();
        self.replicator.reserve(players, self.snapshot.orbs.len());
        self.sized_for = self.sized_for.max(players);
        self.presence.admit(id, name);
        self.send_welcome(id, request_id, token, false, resume_failed);
    }

    fn resume_player(&mut self, id: PlayerId, name: String, request_id: u32, token: ResumeToken) {
        if !self.world.set_away(id, false) {
            // Its grace ran out before the resume arrived: it starts over as a new player.
            self.admit_player(id, name, request_id, token, Some(RESUME_GRACE_ENDED));
            return;
        }
        self.presence.mark_back(id);
        self.send_welcome(id, request_id, token, true, None);
        let back = Notice {
            subject: id,
            kind: NoticeKind::Back,
        };
        self.send_to_others(Some(id), &ServerMessage::Notice(back));
    }

    fn send_welcome(
        &mut self,
        id: PlayerId,
        request_id: u32,
        token: ResumeToken,
        resumed: bool,
        resume_failed: Option<&'static str>,
    ) {
        let welcome = ServerMessage::Welcome(Welcome {
            protocol_version: PROTOCOL_VERSION,
            request_id,
            player_id: id,
            resumed,
            resume_token: token,
            tick_hz: self.tick_hz,
            params: *self.world.params(),
            players: self.presence.players(),
            room: self.config.identity.info(),
            resume_failed: resume_failed.map(str::to_owned),
        });
        if let Some(bytes) = encode(&welcome) {
            self.outbox.welcome(id, bytes);
        }
    }

    fn mark_away(&mut self, id: PlayerId) {
        if self.world.set_away(id, true) {
            self.presence.mark_away(id, self.world.tick());
            let away = Notice {
                subject: id,
                kind: NoticeKind::Away,
            };
            self.send_to_others(Some(id), &ServerMessage::Notice(away));
        }
    }

    fn expire_away_players(&mut self) {
        self.presence
            .collect_expired(self.world.tick(), &mut self.expired);
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
        self.presence.is_current(id, connection)
    }

    fn remove_player(&mut self, id: PlayerId) {
        self.presence.disconnect(id);
        if self.world.remove_player(id) {
            self.presence.left(id);
            self.replicator.forget(id);
            self.outbox.forget(id);
            self.shrink_after_leaves();
        }
    }

    /// Once the players fell to a quarter of what the tables were sized for (a crowd left),
    /// gives back the rest: the world's and the replicator's tables, and the snapshot buffers
    /// sized for the crowd's frames. The quarter keeps a room whose count wavers from growing
    /// and shrinking in turn; the next join beyond the new size grows them again.
    fn shrink_after_leaves(&mut self) {
        let needed = (self.world.players().len().next_power_of_two()).max(SHRINK_FLOOR);
        if needed * 4 > self.sized_for {
            return;
        }
        self.sized_for = needed;
        self.world.shrink_for_players(needed);
        self.replicator.shrink(needed, self.snapshot.orbs.len());
        self.snapshot.players.shrink_to(needed);
        self.snapshot.tags.shrink_to(needed);
        // Frames still queued keep their buffers alive until sent; new ones are sized afresh.
        self.frames_bytes = 0;
        self.snapshot_buffers = FramePool::new(SNAPSHOT_BUFFERS, 0);
    }

    /// Tells everyone who joined and left since the last tick (see
    /// [`Presence::take_announcement`]).
    fn announce_roster(&mut self) {
        if let Some((except, message)) = self.presence.take_announcement() {
            self.send_to_others(except, &message);
        }
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
    use crate::protocol::{
        PlayerInfo, Replica, Roster, Tick, buttons, decode_server_message,
        decode_server_message_with,
    };

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

    fn join(id: u32, name: &str) -> RoomEvent {
        RoomEvent::Join {
            id: PlayerId(id),
            name: name.into(),
            request_id: id,
            resume_token: ResumeToken([id as u8; 16]),
            connection: u64::from(id),
            resume_failed: None,
        }
    }

    fn new_room(config: RoomConfig) -> (Room<Recorder>, Arc<ArrayQueue<RoomEvent>>, Recorder) {
        let events = Arc::new(ArrayQueue::new(64));
        let recorder = Recorder::default();
        let room = Room::new(
            config,
            Arc::clone(&events),
            recorder.clone(),
            Arc::new(RoomStats::default()),
        );
        (room, events, recorder)
    }

    #[test]
    fn a_join_is_welcomed_announced_and_simulated() {
        let (mut room, events, recorder) = new_room(RoomConfig::new(small_world()));
        events.push(join(1, "Ann")).unwrap();
        events.push(join(2, "Ben")).unwrap();
        events
            .push(RoomEvent::Input {
                id: PlayerId(1),
                input: PlayerInput {
                    seq: 1,
                    buttons: buttons::UP,
                    aim: 0.0,
                    ..Default::default()
                },
            })
            .unwrap();
        room.step(1);

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
        room.step(1);
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
        let (mut room, events, recorder) = new_room(RoomConfig::new(small_world()));
        events.push(join(1, "Ann")).unwrap();
        room.step(3);
        let snapshots = recorder.snapshots.lock().unwrap();
        assert_eq!(snapshots.len(), 1);
        assert_eq!(snapshots[0].0, Tick(3));
    }

    fn away_now(room: &Room<Recorder>) -> u64 {
        room.stats.players_away.load(Ordering::Relaxed)
    }

    #[test]
    fn an_away_player_is_resumed_within_the_grace_and_removed_after_it() {
        let mut config = RoomConfig::new(small_world());
        config.resume_grace = Duration::from_millis(100); // 3 ticks at 30 Hz
        let (mut room, events, recorder) = new_room(config);
        events.push(join(1, "Ann")).unwrap();
        events.push(join(2, "Ben")).unwrap();
        room.step(1);
        events
            .push(RoomEvent::Away {
                id: PlayerId(1),
                connection: 1,
            })
            .unwrap();
        room.step(1);
        assert!(room.world().player(PlayerId(1)).unwrap().away);
        assert_eq!(away_now(&room), 1);
        let resume = RoomEvent::Resume {
            id: PlayerId(1),
            name: "Ann".into(),
            request_id: 7,
            resume_token: ResumeToken([1; 16]),
            connection: 1,
        };
        events.push(resume.clone()).unwrap();
        room.step(1);
        assert!(!room.world().player(PlayerId(1)).unwrap().away);
        assert_eq!(away_now(&room), 0, "back on resume");
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
            .push(RoomEvent::Away {
                id: PlayerId(1),
                connection: 1,
            })
            .unwrap();
        room.step(1);
        assert_eq!(away_now(&room), 1);
        room.step(5);
        assert!(room.world().player(PlayerId(1)).is_none());
        assert_eq!(away_now(&room), 0, "down when the grace ends");
        // A resume after the grace starts over as a new player.
        events.push(resume).unwrap();
        room.step(1);
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
        let (mut room, events, recorder) = new_room(RoomConfig::new(small_world()));
        events.push(join(1, "Ann")).unwrap();
        room.step(1);
        events
            .push(RoomEvent::Leave {
                id: PlayerId(1),
                connection: 1,
            })
            .unwrap();
        events
            .push(RoomEvent::Leave {
                id: PlayerId(1),
                connection: 1,
            })
            .unwrap();
        room.step(1);
        let sent = recorder.sent.lock().unwrap();
        let leaves = sent
            .iter()
            .filter(|(_, _, m)| matches!(m, ServerMessage::PlayerLeft(_)))
            .count();
        assert_eq!(leaves, 1);
        assert!(recorder.snapshots.lock().unwrap()[1].1.players.is_empty());
        assert!(room.world().players().is_empty());
    }

    #[test]
    fn a_room_gives_back_what_a_crowd_left_and_grows_again() {
        let (mut room, events, recorder) = new_room(RoomConfig::new(small_world()));
        let arrive = |room: &mut Room<Recorder>, ids: std::ops::RangeInclusive<u32>| {
            for id in ids {
                events.push(join(id, &format!("p{id}"))).unwrap();
                if id % 50 == 0 {
                    room.step(1);
                }
            }
            room.step(1);
        };
        arrive(&mut room, 1..=200);
        assert_eq!(room.sized_for, 256);
        for id in 11..=200 {
            let connection = u64::from(id);
            let leave = RoomEvent::Leave {
                id: PlayerId(id),
                connection,
            };
            events.push(leave).unwrap();
            if id % 50 == 0 {
                room.step(1);
            }
        }
        room.step(1);
        assert_eq!(room.world().players().len(), 10);
        assert_eq!(
            room.sized_for, SHRINK_FLOOR,
            "shrunk to the floor once a crowd left"
        );
        // The players who stayed still decode every frame against their baselines (the
        // recorder's replicas), and newcomers grow the tables again.
        arrive(&mut room, 201..=240);
        assert_eq!(room.sized_for, 64);
        room.step(3);
        let snapshots = recorder.snapshots.lock().unwrap();
        assert_eq!(snapshots.last().unwrap().1.players.len(), 50);
    }
}
