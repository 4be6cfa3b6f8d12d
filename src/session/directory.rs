//! The process's rooms as sessions find them: where a joiner plays (the lobby's
//! [`Matchmaker`], under one lock: placement is atomic), each open room's registry and event
//! queue, which room each resume token's player is in, player ids unique across rooms, and the
//! rooms' lives: opened on demand through the [`RoomHost`], disposed of once idle, and closed
//! alone when one fails (its players get 1011, every other room plays on).
//!
//! Must never: hold its locks across an await or while a room steps, let a joiner into a room
//! past its or the process's limit, or name a private room to whoever lacks its code.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, Weak};
use std::time::{Instant, SystemTime};

use crossbeam_queue::ArrayQueue;
use dashmap::DashMap;
use rand::RngExt;

mod readings;

use super::cluster_state::{ClosedRooms, ClusterCounts, RESUME_UNKNOWN, TokenChanges};
use super::ended::Ended;
use super::handle::SessionHandle;
use super::refusals::lobby_refusal;
use super::registry::Sessions;
use super::room_link::RoomLink;
use crate::cluster::{NodeReport, RoomReport};
use crate::lobby::{Listing, MatchError, Matchmaker, MatchmakerConfig, RoomSettings, Seated, Want};
use crate::metrics::{DeliveryStats, NetStats, RoomStats};
use crate::protocol::rooms::{RoomCode, RoomId, ValidRoomRequest};
use crate::protocol::{CloseReason, Join, PlayerId, ResumeToken};
use crate::room::{RoomEvent, RoomIdentity};

/// Events a room's queue holds per seat: a generous second of input from each player at 30 Hz.
const EVENTS_PER_SEAT: usize = 32;
/// The least a room's queue holds, however small the room.
const MIN_EVENT_QUEUE: usize = 256;

/// What runs rooms: the server starts each new room on its tick threads.
pub trait RoomHost: Send + Sync {
    /// Starts stepping a room just opened.
    fn start(&self, room: NewRoom);
    /// Stops stepping a room (disposed of: nobody is in it).
    fn stop(&self, id: RoomId);
}

/// A room to start, with everything it is wired to.
pub struct NewRoom {
    pub identity: RoomIdentity,
    pub settings: RoomSettings,
    pub events: Arc<ArrayQueue<RoomEvent>>,
    /// The room's registry, which it reaches its players through.
    pub outbox: Arc<Sessions>,
    pub stats: Arc<RoomStats>,
    /// To run if the room panics: its players are closed with 1011 and the room is forgotten.
    pub on_panic: Box<dyn FnOnce() + Send>,
}

/// An open room, as sessions and the lobby API see it.
pub struct OpenRoom {
    pub identity: RoomIdentity,
    pub settings: RoomSettings,
    pub sessions: Arc<Sessions>,
    pub link: RoomLink,
    pub stats: Arc<RoomStats>,
    /// When it opened, for the lobby's listing.
    pub created: SystemTime,
    /// Its joiners as a cluster's directory counts them.
    pub cluster: ClusterCounts,
}

/// Counters of rooms' lives, read by `/metrics`.
#[derive(Debug, Default)]
pub struct LobbyStats {
    pub rooms_opened: AtomicU64,
    pub rooms_disposed: AtomicU64,
    pub rooms_failed: AtomicU64,
    /// Rooms the operator closed.
    pub rooms_closed: AtomicU64,
    /// Private rooms refused because their address had opened as many as it may.
    pub private_rooms_refused: AtomicU64,
}

/// A joiner placed in its room: its player, and the event that enters it.
pub struct Entered {
    pub id: PlayerId,
    pub room: Arc<OpenRoom>,
    pub event: RoomEvent,
}

/// A public room's line in the lobby's listing, with its live readings.
pub struct ListedRoom {
    pub listing: Listing,
    pub created: SystemTime,
    /// The room's 99th percentile tick duration's bucket bound, in microseconds.
    pub tick_p99_us: Option<u64>,
}

/// The process's rooms.
pub struct RoomDirectory {
    /// Hands each room's panic handler a way back here.
    me: Weak<RoomDirectory>,
    /// Locked first, always: every change of who is in which room happens under it.
    lobby: Mutex<Matchmaker>,
    rooms: RwLock<BTreeMap<RoomId, Arc<OpenRoom>>>,
    /// Which room each resume token's player is in.
    tokens: DashMap<ResumeToken, RoomId>,
    next_player: AtomicU32,
    host: Box<dyn RoomHost>,
    net: Arc<NetStats>,
    pub delivery: Arc<DeliveryStats>,
    /// The counters of rooms that closed, kept so that the totals never go back.
    retired: RoomStats,
    pub stats: LobbyStats,
    /// `--max-players`, for the refusal's message.
    max_players: usize,
    /// The lobby's budgets, for a cluster node's heartbeat.
    config: MatchmakerConfig,
    /// For a cluster node's heartbeat: resume tokens gained and lost, rooms closed.
    pub token_changes: TokenChanges,
    closed: ClosedRooms,
}

impl RoomDirectory {
    pub fn new(
        config: MatchmakerConfig,
        host: Box<dyn RoomHost>,
        net: Arc<NetStats>,
        delivery: Arc<DeliveryStats>,
    ) -> Arc<RoomDirectory> {
        Arc::new_cyclic(|me| RoomDirectory {
            me: me.clone(),
            max_players: config.max_players,
            lobby: Mutex::new(Matchmaker::new(config.clone())),
            config,
            token_changes: TokenChanges::default(),
            closed: ClosedRooms::default(),
            rooms: RwLock::default(),
            tokens: DashMap::new(),
            next_player: AtomicU32::new(1),
            host,
            net,
            delivery,
            retired: RoomStats::default(),
            stats: LobbyStats::default(),
        })
    }

    /// Places an admitted joiner: back into its own room if its resume token names a player
    /// away there, else in the room its request leads to (opened if need be), as a new player
    /// registered with `handle`. `connection` is the connection's serial number (see
    /// [`RoomEvent::Away`]).
    pub fn enter(
        &self,
        join: &Join,
        request: ValidRoomRequest,
        from: IpAddr,
        name: String,
        handle: &SessionHandle,
        connection: u64,
    ) -> Result<Entered, Ended> {
        let now = Instant::now();
        let mut lobby = self.lobby();
        if let Some(entered) = self.resume(join, &name, handle, connection) {
            return Ok(entered);
        }
        let resume_failed = join.resume_token.map(|_| RESUME_UNKNOWN);
        let room = self.place(&mut lobby, request.into(), from, now)?;
        Ok(self.register(room, join, name, handle, connection, resume_failed))
    }

    /// The player `join`'s resume token names, back on `handle`, if this process has it away
    /// in a room that still runs: the first step of a cluster node's join, before it asks the
    /// cluster where the token's player is.
    pub fn enter_by_resume(
        &self,
        join: &Join,
        name: &str,
        handle: &SessionHandle,
        connection: u64,
    ) -> Option<Entered> {
        let _lobby = self.lobby();
        self.resume(join, name, handle, connection)
    }

    /// Places a joiner in the seat the cluster's directory gave it on this node: into room
    /// `seat.room`, opened here with the directory's settings if it is not open yet. The
    /// directory counted the joiner in already; should it not get in after all, the room's
    /// [`ClusterCounts`] count it out again.
    pub fn enter_seated(
        &self,
        join: &Join,
        seat: Seated,
        name: String,
        handle: &SessionHandle,
        connection: u64,
        resume_failed: Option<&'static str>,
    ) -> Result<Entered, Ended> {
        let now = Instant::now();
        let mut lobby = self.lobby();
        let placement = lobby.seat_in(&seat, now);
        let placement = match placement {
            Ok(placement) => placement,
            Err(error) => {
                if let Some(room) = self.room(seat.room) {
                    room.cluster.refused();
                }
                return Err(self.refusal(error));
            }
        };
        if let Some(settings) = placement.opened {
            self.open(placement.room, settings, placement.code.clone());
        }
        let room = match lobby.take_seat(placement.seat, now) {
            Ok(room_id) => self.room(room_id),
            Err(_) => None,
        };
        let Some(room) = room else {
            return Err(self.refusal(MatchError::NoSuchRoom));
        };
        room.cluster.joined();
        Ok(self.register(room, join, name, handle, connection, resume_failed))
    }

    /// Registers a new player in the room it was placed in, under the lobby's lock: a room that
    /// fails meanwhile either kicks this player with the others, or was already gone and was not
    /// placed into.
    fn register(
        &self,
        room: Arc<OpenRoom>,
        join: &Join,
        name: String,
        handle: &SessionHandle,
        connection: u64,
        resume_failed: Option<&'static str>,
    ) -> Entered {
        let id = PlayerId(self.next_player.fetch_add(1, Ordering::Relaxed));
        let token = room.sessions.register(id, handle.clone());
        self.tokens.insert(token, room.identity.id);
        self.token_changes.added(token);
        let event = RoomEvent::Join {
            id,
            name,
            request_id: join.request_id,
            resume_token: token,
            connection,
            resume_failed,
        };
        Entered { id, room, event }
    }

    /// The player `join`'s resume token names, back on `handle`, if it is away in a room
    /// that still runs. `None`: join as a new player.
    fn resume(
        &self,
        join: &Join,
        name: &str,
        handle: &SessionHandle,
        connection: u64,
    ) -> Option<Entered> {
        let token = join.resume_token?;
        let room_id = *self.tokens.get(&token)?;
        let room = self.room(room_id)?;
        let id = room.sessions.resume(&token, handle.clone())?;
        // The client's newest snapshot from its previous connection: if the room still has
        // it, the first snapshot is one delta, not the whole state.
        handle.snapshots.set_baseline(join.baseline_tick);
        let event = RoomEvent::Resume {
            id,
            name: name.to_owned(),
            request_id: join.request_id,
            resume_token: token,
            connection,
        };
        Some(Entered { id, room, event })
    }

    /// Takes a seat for `want` (opening its room if need be) and returns the room.
    fn place(
        &self,
        lobby: &mut Matchmaker,
        want: Want,
        from: IpAddr,
        now: Instant,
    ) -> Result<Arc<OpenRoom>, Ended> {
        let placement = lobby
            .place(&want, from, now, || {
                RoomCode::from_random(rand::rng().random())
            })
            .map_err(|error| self.refusal(error))?;
        if let Some(settings) = placement.opened {
            self.open(placement.room, settings, placement.code.clone());
        }
        let room_id = lobby
            .take_seat(placement.seat, now)
            .map_err(|error| self.refusal(error))?;
        match self.room(room_id) {
            Some(room) => Ok(room),
            None => {
                // Cannot happen: a room leaves the map only under the lobby's lock, with its
                // record. Refused rather than trusted.
                lobby.leave(room_id, now);
                Err(self.refusal(MatchError::NoSuchRoom))
            }
        }
    }

    /// Starts a room the matchmaker just opened.
    fn open(&self, id: RoomId, settings: RoomSettings, code: Option<RoomCode>) {
        let identity = RoomIdentity {
            id,
            mode: settings.mode.clone(),
            max_players: u16::try_from(settings.max_players).unwrap_or(u16::MAX),
            code,
        };
        let queue = (settings.max_players as usize)
            .saturating_mul(EVENTS_PER_SEAT)
            .max(MIN_EVENT_QUEUE);
        let events = Arc::new(ArrayQueue::new(queue));
        let me = self.me.clone();
        let sessions = Arc::new(Sessions::new(
            Arc::clone(&self.delivery),
            Some(Box::new(move |token| {
                if let Some(directory) = me.upgrade() {
                    directory.forgotten(id, token);
                }
            })),
        ));
        let room = Arc::new(OpenRoom {
            identity: identity.clone(),
            settings: settings.clone(),
            sessions: Arc::clone(&sessions),
            link: RoomLink::new(Arc::clone(&events), Arc::clone(&self.net)),
            stats: Arc::default(),
            created: SystemTime::now(),
            cluster: ClusterCounts::default(),
        });
        self.rooms_mut().insert(id, Arc::clone(&room));
        let me = self.me.clone();
        self.host.start(NewRoom {
            identity,
            settings,
            events,
            outbox: sessions,
            stats: Arc::clone(&room.stats),
            on_panic: Box::new(move || {
                if let Some(directory) = me.upgrade() {
                    directory.room_failed(id);
                }
            }),
        });
        self.stats.rooms_opened.fetch_add(1, Ordering::Relaxed);
        tracing::info!(room = id.0, mode = %room.settings.mode, private = room.settings.private, "room opened");
    }

    /// A room's player left for good (its registry forgot it, on the room's thread).
    fn forgotten(&self, room: RoomId, token: ResumeToken) {
        self.tokens.remove(&token);
        self.token_changes.removed(token);
        if let Some(open) = self.room(room) {
            open.cluster.left();
        }
        self.lobby().leave(room, Instant::now());
    }

    /// Disposes of the rooms that have been empty for the idle timeout; returns how many.
    pub fn dispose_idle(&self, now: Instant) -> usize {
        let mut lobby = self.lobby();
        let idle = lobby.dispose_idle(now);
        for &id in &idle {
            if self.close(id).is_some() {
                self.host.stop(id);
                self.stats.rooms_disposed.fetch_add(1, Ordering::Relaxed);
                tracing::info!(room = id.0, "room disposed of (idle)");
            }
        }
        idle.len()
    }

    /// Rooms that joiners from other nodes hold seats in are not idle, however empty they are
    /// here (a cluster node's heartbeat tells which).
    pub fn keep_awaited(&self, rooms: &[RoomId], now: Instant) {
        let mut lobby = self.lobby();
        for &id in rooms {
            lobby.touch(id, now);
        }
    }

    /// A room panicked (its tick thread dropped it): it is forgotten and its players are
    /// closed with 1011 "room failed". Other rooms never notice.
    fn room_failed(&self, id: RoomId) {
        let mut lobby = self.lobby();
        lobby.close(id);
        let Some(room) = self.close(id) else {
            return;
        };
        drop(lobby);
        self.stats.rooms_failed.fetch_add(1, Ordering::Relaxed);
        tracing::error!(room = id.0, "room failed: closing its players");
        for handle in room.sessions.handles() {
            handle.kick.kick(CloseReason::RoomFailed);
        }
    }

    /// Takes a room out of the directory: its queue closes, its tokens lapse, its counters
    /// join the retired ones. Called under the lobby's lock.
    fn close(&self, id: RoomId) -> Option<Arc<OpenRoom>> {
        let room = self.rooms_mut().remove(&id)?;
        self.closed.push(id);
        room.link.close();
        self.tokens.retain(|_, in_room| *in_room != id);
        self.retired.absorb_counters(&room.stats);
        Some(room)
    }

    /// Asks a connected player's connection to close with `reason`, whatever its room.
    /// Returns false if no room has it connected.
    pub fn kick(&self, id: PlayerId, reason: CloseReason) -> bool {
        self.kick_with(id, reason, "")
    }

    /// [`RoomDirectory::kick`], telling the player `detail` (the operator's reason).
    pub fn kick_with(&self, id: PlayerId, reason: CloseReason, detail: &str) -> bool {
        self.open_rooms()
            .iter()
            .any(|room| room.sessions.kick_with(id, reason, detail))
    }

    /// Closes room `id` at the operator's request: every player in it is kicked (4005) and
    /// told `detail`, players away in it are forgotten, and the room stops at once. Returns
    /// false if no such room is open.
    pub fn close_room(&self, id: RoomId, detail: &str) -> bool {
        let mut lobby = self.lobby();
        lobby.close(id);
        let Some(room) = self.close(id) else {
            return false;
        };
        drop(lobby);
        self.host.stop(id);
        self.stats.rooms_closed.fetch_add(1, Ordering::Relaxed);
        tracing::info!(room = id.0, %detail, "room closed by the operator");
        for handle in room.sessions.handles() {
            handle.kick.kick_with(CloseReason::Kicked, detail);
        }
        true
    }

    /// Sends one encoded message to every connected player of every room; returns how many
    /// rooms it went to.
    pub fn broadcast_to_all(&self, bytes: &bytes::Bytes) -> usize {
        let rooms = self.open_rooms();
        for room in &rooms {
            room.sessions.broadcast(bytes.clone());
        }
        rooms.len()
    }

    /// Every open room, public and private (for metrics and shutdown; never shown to
    /// clients).
    pub fn open_rooms(&self) -> Vec<Arc<OpenRoom>> {
        self.rooms
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// Players connected now, in every room.
    pub fn player_count(&self) -> usize {
        self.open_rooms()
            .iter()
            .map(|room| room.sessions.player_count())
            .sum()
    }

    pub fn room_count(&self) -> usize {
        self.rooms
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// What a cluster node's heartbeat tells the directory: its load and limits, every room
    /// it runs with its counts, and the rooms closed since the last report.
    pub fn cluster_report(&self) -> NodeReport {
        let template = &self.config.template;
        let (players, seats) = {
            let lobby = self.lobby();
            (lobby.player_count(), lobby.seat_count())
        };
        let rooms = self.open_rooms();
        NodeReport {
            players: u32::try_from(players + seats).unwrap_or(u32::MAX),
            max_players: u32::try_from(self.config.max_players).unwrap_or(u32::MAX),
            max_rooms: u32::try_from(self.config.max_rooms).unwrap_or(u32::MAX),
            max_room_players: template.max_players,
            tick_hz: template.tick_hz,
            region: template.region.clone(),
            modes: self.config.modes.clone(),
            highest_room: rooms
                .iter()
                .map(|room| room.identity.id.0)
                .max()
                .unwrap_or(0),
            rooms: rooms
                .iter()
                .map(|room| {
                    let (joins, leaves) = room.cluster.read();
                    RoomReport {
                        id: room.identity.id,
                        settings: room.settings.clone(),
                        code: room.identity.code.clone(),
                        created: room.created,
                        joins,
                        leaves,
                    }
                })
                .collect(),
            closed: self.closed.take(),
        }
    }

    /// Every resume token of a player in a room here (for a full resync with the cluster).
    pub fn resume_tokens(&self) -> Vec<ResumeToken> {
        self.tokens.iter().map(|entry| *entry.key()).collect()
    }

    fn room(&self, id: RoomId) -> Option<Arc<OpenRoom>> {
        self.rooms
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .cloned()
    }

    fn rooms_mut(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<RoomId, Arc<OpenRoom>>> {
        self.rooms.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn lobby(&self) -> MutexGuard<'_, Matchmaker> {
        // The matchmaker's records stay consistent whatever panicked while holding the lock.
        self.lobby.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Why a joiner was not placed, as its session ends (a private room refused to its address
    /// is counted).
    fn refusal(&self, error: MatchError) -> Ended {
        if error == MatchError::TooManyPrivateRooms {
            self.stats
                .private_rooms_refused
                .fetch_add(1, Ordering::Relaxed);
        }
        lobby_refusal(error, self.max_players)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::protocol::RoomRequest;

    /// A host that runs nothing and keeps what it was asked to start.
    #[derive(Default, Clone)]
    struct KeptRooms(Arc<Mutex<Vec<NewRoom>>>);

    impl RoomHost for KeptRooms {
        fn start(&self, room: NewRoom) {
            self.0.lock().unwrap().push(room);
        }
        fn stop(&self, _id: RoomId) {}
    }

    fn directory(max_room_players: u32) -> (Arc<RoomDirectory>, KeptRooms) {
        let host = KeptRooms::default();
        let config = MatchmakerConfig::for_tests(max_room_players);
        let rooms = RoomDirectory::new(
            config,
            Box::new(host.clone()),
            Arc::default(),
            Arc::default(),
        );
        (rooms, host)
    }

    fn enter(rooms: &RoomDirectory, join: &Join) -> Result<(Entered, SessionHandle), Ended> {
        let (handle, queue) = SessionHandle::new(8);
        std::mem::forget(queue);
        let request = join.room.validate().unwrap();
        let from = IpAddr::from([127, 0, 0, 1]);
        rooms
            .enter(join, request, from, join.name.clone(), &handle, 1)
            .map(|entered| (entered, handle))
    }

    fn token_of(event: &RoomEvent) -> ResumeToken {
        match event {
            RoomEvent::Join { resume_token, .. } | RoomEvent::Resume { resume_token, .. } => {
                *resume_token
            }
            other => panic!("not an entry: {other:?}"),
        }
    }

    #[test]
    fn a_token_resumes_into_its_room_until_the_room_forgets_the_player() {
        let (rooms, _host) = directory(1);
        let (first, _) = enter(&rooms, &Join::quick_play("First")).unwrap();
        let (second, _) = enter(&rooms, &Join::quick_play("Second")).unwrap();
        assert_eq!(
            (first.room.identity.id, second.room.identity.id),
            (RoomId(1), RoomId(2))
        );
        assert_ne!(first.id, second.id, "ids are unique across rooms");
        // The second player's connection drops: it is away, its seat kept.
        second.room.sessions.unregister(second.id);
        let resume = Join {
            resume_token: Some(token_of(&second.event)),
            ..Join::quick_play("Second")
        };
        let (back, _) = enter(&rooms, &resume).unwrap();
        assert!(matches!(back.event, RoomEvent::Resume { .. }));
        assert_eq!((back.id, back.room.identity.id), (second.id, RoomId(2)));
        // Gone for good: its room forgets it, the token no longer resumes and the seat is free.
        back.room.sessions.unregister(back.id);
        back.room.sessions.forget(back.id);
        let (again, _) = enter(&rooms, &resume).unwrap();
        assert!(matches!(again.event, RoomEvent::Join { .. }));
        assert_ne!(again.id, second.id);
        assert_eq!(
            again.room.identity.id,
            RoomId(2),
            "the freed seat in room 2"
        );
    }

    #[test]
    fn a_failed_room_kicks_its_players_closes_its_queue_and_leaves_the_others() {
        let (rooms, host) = directory(1);
        let (healthy, healthy_handle) = enter(&rooms, &Join::quick_play("Healthy")).unwrap();
        let (doomed, doomed_handle) = enter(&rooms, &Join::quick_play("Doomed")).unwrap();
        let on_panic = {
            let mut started = host.0.lock().unwrap();
            assert_eq!(started.len(), 2);
            std::mem::replace(&mut started[1].on_panic, Box::new(|| {}))
        };
        on_panic();
        assert_eq!(doomed_handle.kick.reason(), Some(CloseReason::RoomFailed));
        assert_eq!(healthy_handle.kick.reason(), None);
        assert!(doomed.room.link.is_closed() && !healthy.room.link.is_closed());
        assert_eq!(rooms.room_count(), 1);
        assert_eq!(rooms.lobby_counts().failed, 1);
        assert!(rooms.kick(healthy.id, CloseReason::Kicked));
        assert!(
            !rooms.kick(doomed.id, CloseReason::Kicked),
            "its room is gone"
        );
        // The failed room's token lapsed with it: a resume becomes a new player elsewhere.
        let resume = Join {
            resume_token: Some(token_of(&doomed.event)),
            ..Join::quick_play("Doomed")
        };
        let (elsewhere, _) = enter(&rooms, &resume).unwrap();
        assert!(matches!(elsewhere.event, RoomEvent::Join { .. }));
        assert_eq!(elsewhere.room.identity.id, RoomId(3));
    }

    #[test]
    fn an_idle_room_is_disposed_of_and_its_counters_kept_in_the_totals() {
        let (rooms, _host) = directory(4);
        let (player, _) = enter(&rooms, &Join::quick_play("Lonely")).unwrap();
        player.room.stats.ticks_total.store(7, Ordering::Relaxed);
        assert_eq!(
            rooms.dispose_idle(Instant::now() + Duration::from_secs(60)),
            0
        );
        player.room.sessions.unregister(player.id);
        player.room.sessions.forget(player.id);
        assert_eq!(
            rooms.dispose_idle(Instant::now() + Duration::from_secs(60)),
            1
        );
        assert_eq!(rooms.room_count(), 0);
        assert!(player.room.link.is_closed());
        assert_eq!(rooms.total_stats().ticks_total.load(Ordering::Relaxed), 7);
        let join = Join {
            room: RoomRequest::Id(1),
            ..Join::quick_play("Late")
        };
        let refused = enter(&rooms, &join).err().unwrap();
        assert_eq!(refused.reason, CloseReason::NoSuchRoom);
    }
}
