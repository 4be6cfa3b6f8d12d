//! Where a joiner plays: the process's rooms as records (settings, players, reserved seats), and
//! the placement policy that gives each joiner a seat. Quick play takes the fullest public room
//! with space that matches the joiner's filters, else opens a room; a room is addressed by its id
//! (public rooms) or its code (private rooms); a seat is reserved for the joiner and expires if it
//! is not taken within the seat timeout; a room locks when its players and reserved seats reach
//! its `max_players`; a room empty for the idle timeout is disposed of.
//!
//! Pure: no clock (`now` is passed in), no threads, no sockets; the caller holds it under one
//! lock, which is what makes placement atomic: two joiners racing for the last seat never both
//! get it, and concurrent quick plays fill the room one of them opened instead of opening two.
//! Must never: place a joiner over a room's or the process's limit, or say anything about a
//! private room to whoever does not hold its code.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::protocol::rooms::{RoomCode, RoomId, ValidRoomRequest};

/// What a room is, as the lobby knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomSettings {
    /// The kind of game (today one: the bundled arena).
    pub mode: String,
    /// Where the room runs, for quick play's region filter (one label per process today).
    pub region: String,
    /// Players at once, reserved seats included; the room locks at it.
    pub max_players: u32,
    pub tick_hz: u32,
    /// Listed and open to quick play, or reachable only by its code.
    pub private: bool,
}

/// The lobby's budgets.
#[derive(Debug, Clone)]
pub struct MatchmakerConfig {
    /// Rooms open at once in this process; beyond it a room that would open is refused.
    pub max_rooms: usize,
    /// Players and reserved seats in all rooms at once (`--max-players`).
    pub max_players: usize,
    /// How long a reserved seat waits for its joiner.
    pub seat_timeout: Duration,
    /// How long a room may stay empty before it is disposed of.
    pub idle_timeout: Duration,
    /// Private rooms one address may have open at once.
    pub max_private_rooms_per_address: usize,
    /// The modes rooms can be opened in; the first is quick play's default.
    pub modes: Vec<String>,
    /// What a room opened by quick play or for a private game is like, but for its mode and
    /// privacy.
    pub template: RoomSettings,
}

impl MatchmakerConfig {
    /// Small budgets for tests: 8 rooms, 100 players, rooms of `max_room_players` in the
    /// arena mode, region "local", 15 s seats, 60 s idle, 2 private rooms per address.
    #[doc(hidden)]
    pub fn for_tests(max_room_players: u32) -> MatchmakerConfig {
        MatchmakerConfig {
            max_rooms: 8,
            max_players: 100,
            seat_timeout: Duration::from_secs(15),
            idle_timeout: Duration::from_secs(60),
            max_private_rooms_per_address: 2,
            modes: vec!["arena".to_owned()],
            template: RoomSettings {
                mode: "arena".to_owned(),
                region: "local".to_owned(),
                max_players: max_room_players,
                tick_hz: 30,
                private: false,
            },
        }
    }
}

/// What a joiner asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Want {
    /// The best public room with space (of this mode and region, if given), else a new one.
    QuickPlay {
        mode: Option<String>,
        region: Option<String>,
    },
    /// A public room by its id.
    Room(RoomId),
    /// A private room by its code.
    Code(RoomCode),
    /// A new private room.
    CreatePrivate { mode: Option<String> },
    /// A seat a cluster node reserved: never valid in a process that is not in a cluster (a
    /// cluster node claims its seats from the cluster's directory and calls
    /// [`Matchmaker::seat_in`]).
    ClusterSeat,
}

/// A seat the cluster's directory gave a joiner in a room of this process, with the room's
/// settings (the directory may have opened the room for it: then this process opens it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seated {
    pub room: RoomId,
    pub settings: RoomSettings,
    pub code: Option<RoomCode>,
}

impl From<ValidRoomRequest> for Want {
    fn from(request: ValidRoomRequest) -> Want {
        match request {
            ValidRoomRequest::QuickPlay { mode, region } => Want::QuickPlay { mode, region },
            ValidRoomRequest::Id(id) => Want::Room(id),
            ValidRoomRequest::Code(code) => Want::Code(code),
            ValidRoomRequest::CreatePrivate { mode } => Want::CreatePrivate { mode },
            ValidRoomRequest::Seat(_) => Want::ClusterSeat,
        }
    }
}

/// A seat reserved in a room, to be taken with [`Matchmaker::take_seat`] before it expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeatId(pub u64);

/// Where a joiner was placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub room: RoomId,
    pub seat: SeatId,
    /// The room was opened for this joiner: the caller starts it.
    pub opened: Option<RoomSettings>,
    /// The room's code, for a private room (to share as a link).
    pub code: Option<RoomCode>,
}

/// Why a joiner could not be placed. The messages name nothing but what the joiner asked for.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum MatchError {
    #[error("no such room")]
    NoSuchRoom,
    #[error("room is full")]
    RoomFull,
    #[error("no such mode {0:?}")]
    UnknownMode(String),
    #[error("server is full")]
    ServerFull,
    #[error("no more rooms can be opened on this server")]
    TooManyRooms,
    #[error("too many private rooms opened from your address")]
    TooManyPrivateRooms,
    #[error("the reserved seat expired")]
    SeatExpired,
}

/// A public room's line in a lobby's listing, as its clients see it (the JSON of `/rooms`),
/// whichever node runs it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RoomLine {
    pub id: RoomId,
    pub mode: String,
    pub region: String,
    /// Players in the room now (away players waiting to resume included).
    pub players: u32,
    pub max_players: u32,
    /// Players and reserved seats have reached `max_players`: no one else can join.
    pub locked: bool,
    pub tick_hz: u32,
}

/// A public room of this process as the lobby lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub line: RoomLine,
    pub opened: Instant,
}

#[derive(Debug)]
struct RoomRecord {
    settings: RoomSettings,
    code: Option<RoomCode>,
    /// Who opened a private room (counted against its address).
    opened_by: Option<IpAddr>,
    opened: Instant,
    players: u32,
    seats: BTreeMap<SeatId, Instant>,
    /// Since when the room has held no player and no seat.
    empty_since: Option<Instant>,
}

impl RoomRecord {
    fn taken(&self) -> u32 {
        self.players + self.seats.len() as u32
    }

    fn is_locked(&self) -> bool {
        self.taken() >= self.settings.max_players
    }

    fn update_empty(&mut self, now: Instant) {
        if self.taken() == 0 {
            self.empty_since.get_or_insert(now);
        } else {
            self.empty_since = None;
        }
    }
}

/// The process's rooms and their seats.
#[derive(Debug)]
pub struct Matchmaker {
    config: MatchmakerConfig,
    rooms: BTreeMap<RoomId, RoomRecord>,
    /// Which room each outstanding seat is in.
    seats: BTreeMap<SeatId, RoomId>,
    next_room: u32,
    next_seat: u64,
}

impl Matchmaker {
    pub fn new(config: MatchmakerConfig) -> Matchmaker {
        Matchmaker {
            config,
            rooms: BTreeMap::new(),
            seats: BTreeMap::new(),
            next_room: 1,
            next_seat: 1,
        }
    }

    /// Reserves a seat for a joiner from `from`. `new_code` draws a fresh random code (called
    /// again if one is taken). Expired seats are dropped first, so they never block a joiner.
    pub fn place(
        &mut self,
        want: &Want,
        from: IpAddr,
        now: Instant,
        mut new_code: impl FnMut() -> RoomCode,
    ) -> Result<Placement, MatchError> {
        self.expire_seats(now);
        if self.taken() >= self.config.max_players {
            return Err(MatchError::ServerFull);
        }
        match want {
            Want::QuickPlay { mode, region } => {
                let mode = self.mode_or_default(mode.as_deref())?;
                let region = region.as_deref();
                match self.best_public_room(&mode, region) {
                    Some(room) => Ok(self.reserve(room, now, None)),
                    None => {
                        if region.is_some_and(|region| region != self.config.template.region) {
                            // Rooms open only in this process's region.
                            return Err(MatchError::NoSuchRoom);
                        }
                        self.open(mode, false, None, now, &mut new_code)
                    }
                }
            }
            Want::Room(id) => {
                let room = self
                    .rooms
                    .get(id)
                    .filter(|room| !room.settings.private)
                    .ok_or(MatchError::NoSuchRoom)?;
                if room.is_locked() {
                    return Err(MatchError::RoomFull);
                }
                Ok(self.reserve(*id, now, None))
            }
            Want::Code(code) => {
                let (&id, room) = self
                    .rooms
                    .iter()
                    .find(|(_, room)| room.code.as_ref() == Some(code))
                    .ok_or(MatchError::NoSuchRoom)?;
                if room.is_locked() {
                    return Err(MatchError::RoomFull);
                }
                let code = room.code.clone();
                Ok(self.reserve(id, now, code))
            }
            Want::CreatePrivate { mode } => {
                let mode = self.mode_or_default(mode.as_deref())?;
                let open_here = self
                    .rooms
                    .values()
                    .filter(|room| room.opened_by == Some(from))
                    .count();
                if open_here >= self.config.max_private_rooms_per_address {
                    return Err(MatchError::TooManyPrivateRooms);
                }
                self.open(mode, true, Some(from), now, &mut new_code)
            }
            Want::ClusterSeat => Err(MatchError::NoSuchRoom),
        }
    }

    /// Reserves the seat a cluster's directory gave a joiner in room `seat.room`, opening the
    /// room with its settings if it is not open. The directory decided there is space; this
    /// still never lets the room past its `max_players` nor the process past its limits.
    pub fn seat_in(&mut self, seat: &Seated, now: Instant) -> Result<Placement, MatchError> {
        self.expire_seats(now);
        if self.taken() >= self.config.max_players {
            return Err(MatchError::ServerFull);
        }
        match self.rooms.get(&seat.room) {
            Some(room) if room.is_locked() => Err(MatchError::RoomFull),
            Some(room) => {
                let code = room.code.clone();
                Ok(self.reserve(seat.room, now, code))
            }
            None => {
                if self.rooms.len() >= self.config.max_rooms {
                    return Err(MatchError::TooManyRooms);
                }
                self.insert_room(
                    seat.room,
                    seat.settings.clone(),
                    seat.code.clone(),
                    None,
                    now,
                );
                self.next_room = self.next_room.max(seat.room.0.saturating_add(1));
                let mut placement = self.reserve(seat.room, now, seat.code.clone());
                placement.opened = Some(seat.settings.clone());
                Ok(placement)
            }
        }
    }

    /// The joiner arrived: its seat becomes a player of the room. Fails if the seat expired
    /// (its place may have gone to someone else).
    pub fn take_seat(&mut self, seat: SeatId, now: Instant) -> Result<RoomId, MatchError> {
        self.expire_seats(now);
        let room_id = self.seats.remove(&seat).ok_or(MatchError::SeatExpired)?;
        let room = self.rooms.get_mut(&room_id).ok_or(MatchError::NoSuchRoom)?;
        room.seats.remove(&seat);
        room.players += 1;
        room.update_empty(now);
        Ok(room_id)
    }

    /// The joiner gave up before taking its seat.
    pub fn release_seat(&mut self, seat: SeatId, now: Instant) {
        if let Some(room_id) = self.seats.remove(&seat)
            && let Some(room) = self.rooms.get_mut(&room_id)
        {
            room.seats.remove(&seat);
            room.update_empty(now);
        }
    }

    /// A player left `room` for good.
    pub fn leave(&mut self, room: RoomId, now: Instant) {
        if let Some(room) = self.rooms.get_mut(&room) {
            room.players = room.players.saturating_sub(1);
            room.update_empty(now);
        }
    }

    /// A player who had left `room` (its connection dropped, and the room counted it out) comes
    /// back with its resume token. Refused when the room filled meanwhile, like any join.
    pub fn rejoin(&mut self, room: RoomId, now: Instant) -> Result<(), MatchError> {
        self.expire_seats(now);
        let room = self.rooms.get_mut(&room).ok_or(MatchError::NoSuchRoom)?;
        if room.is_locked() {
            return Err(MatchError::RoomFull);
        }
        room.players += 1;
        room.update_empty(now);
        Ok(())
    }

    /// Removes and returns the rooms that have been empty for the idle timeout: the caller
    /// stops them.
    pub fn dispose_idle(&mut self, now: Instant) -> Vec<RoomId> {
        self.expire_seats(now);
        let timeout = self.config.idle_timeout;
        let idle: Vec<RoomId> = self
            .rooms
            .iter()
            .filter(|(_, room)| {
                room.empty_since
                    .is_some_and(|since| now.saturating_duration_since(since) >= timeout)
            })
            .map(|(&id, _)| id)
            .collect();
        for id in &idle {
            self.rooms.remove(id);
        }
        idle
    }

    /// A room is awaited (seats for it are reserved elsewhere): if empty, it is empty from now.
    pub fn touch(&mut self, room: RoomId, now: Instant) {
        if let Some(room) = self.rooms.get_mut(&room)
            && room.empty_since.is_some()
        {
            room.empty_since = Some(now);
        }
    }

    /// Forgets a room at once (it stopped, e.g. after a panic); its seats go with it.
    pub fn close(&mut self, room: RoomId) {
        if self.rooms.remove(&room).is_some() {
            self.seats.retain(|_, in_room| *in_room != room);
        }
    }

    /// The public rooms, by id.
    pub fn listing(&self) -> impl Iterator<Item = Listing> + '_ {
        self.rooms
            .iter()
            .filter(|(_, room)| !room.settings.private)
            .map(|(&id, room)| Listing {
                line: RoomLine {
                    id,
                    mode: room.settings.mode.clone(),
                    region: room.settings.region.clone(),
                    players: room.players,
                    max_players: room.settings.max_players,
                    locked: room.is_locked(),
                    tick_hz: room.settings.tick_hz,
                },
                opened: room.opened,
            })
    }

    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    pub fn player_count(&self) -> usize {
        self.rooms.values().map(|room| room.players as usize).sum()
    }

    pub fn seat_count(&self) -> usize {
        self.seats.len()
    }

    /// Players of a room (none if it does not exist).
    pub fn players_in(&self, room: RoomId) -> u32 {
        self.rooms.get(&room).map_or(0, |room| room.players)
    }

    fn taken(&self) -> usize {
        self.player_count() + self.seat_count()
    }

    fn mode_or_default(&self, mode: Option<&str>) -> Result<String, MatchError> {
        match mode {
            None => Ok(self.config.modes[0].clone()),
            Some(mode) if self.config.modes.iter().any(|known| known == mode) => {
                Ok(mode.to_owned())
            }
            Some(mode) => Err(MatchError::UnknownMode(mode.to_owned())),
        }
    }

    /// The fullest public room with space of this mode (and region), the oldest on a tie.
    fn best_public_room(&self, mode: &str, region: Option<&str>) -> Option<RoomId> {
        self.rooms
            .iter()
            .filter(|(_, room)| {
                !room.settings.private
                    && room.settings.mode == mode
                    && region.is_none_or(|region| room.settings.region == region)
                    && !room.is_locked()
            })
            .max_by_key(|&(&id, room)| (room.taken(), std::cmp::Reverse(id)))
            .map(|(&id, _)| id)
    }

    fn open(
        &mut self,
        mode: String,
        private: bool,
        opened_by: Option<IpAddr>,
        now: Instant,
        new_code: &mut impl FnMut() -> RoomCode,
    ) -> Result<Placement, MatchError> {
        if self.rooms.len() >= self.config.max_rooms {
            return Err(MatchError::TooManyRooms);
        }
        let code = private.then(|| self.unused_code(new_code));
        let settings = RoomSettings {
            mode,
            private,
            ..self.config.template.clone()
        };
        let id = RoomId(self.next_room);
        self.next_room += 1;
        self.insert_room(id, settings.clone(), code.clone(), opened_by, now);
        let mut placement = self.reserve(id, now, code);
        placement.opened = Some(settings);
        Ok(placement)
    }

    fn insert_room(
        &mut self,
        id: RoomId,
        settings: RoomSettings,
        code: Option<RoomCode>,
        opened_by: Option<IpAddr>,
        now: Instant,
    ) {
        self.rooms.insert(
            id,
            RoomRecord {
                settings,
                code,
                opened_by,
                opened: now,
                players: 0,
                seats: BTreeMap::new(),
                empty_since: Some(now),
            },
        );
    }

    fn unused_code(&self, new_code: &mut impl FnMut() -> RoomCode) -> RoomCode {
        loop {
            let code = new_code();
            if !self
                .rooms
                .values()
                .any(|room| room.code.as_ref() == Some(&code))
            {
                return code;
            }
        }
    }

    fn reserve(&mut self, room_id: RoomId, now: Instant, code: Option<RoomCode>) -> Placement {
        let seat = SeatId(self.next_seat);
        self.next_seat += 1;
        let expires = now + self.config.seat_timeout;
        if let Some(room) = self.rooms.get_mut(&room_id) {
            room.seats.insert(seat, expires);
            room.update_empty(now);
        }
        self.seats.insert(seat, room_id);
        Placement {
            room: room_id,
            seat,
            opened: None,
            code,
        }
    }

    fn expire_seats(&mut self, now: Instant) {
        let rooms = &mut self.rooms;
        self.seats.retain(|seat, room_id| {
            let Some(room) = rooms.get_mut(room_id) else {
                return false;
            };
            let expiry = room.seats.get(seat).copied();
            let expired = expiry.is_none_or(|expires| expires <= now);
            if expired {
                room.seats.remove(seat);
                // Empty since the seat lapsed, not since someone noticed.
                room.update_empty(expiry.map_or(now, |expires| expires.min(now)));
            }
            !expired
        });
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::sync::{Arc, Mutex};

    use super::*;

    const ALICE: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    const BOB: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

    fn config(max_room_players: u32) -> MatchmakerConfig {
        let mut config = MatchmakerConfig::for_tests(max_room_players);
        config.modes.push("duel".to_owned());
        config
    }

    fn quick_play() -> Want {
        Want::QuickPlay {
            mode: None,
            region: None,
        }
    }

    /// Codes from a counter: distinct, and predictable in tests.
    fn codes() -> impl FnMut() -> RoomCode {
        let mut next = 0u8;
        move || {
            next += 1;
            RoomCode::from_random([next; 10])
        }
    }

    /// Places and seats one joiner.
    fn join(lobby: &mut Matchmaker, want: &Want, now: Instant) -> Result<RoomId, MatchError> {
        let placement = lobby.place(want, ALICE, now, codes())?;
        lobby.take_seat(placement.seat, now)
    }

    #[test]
    fn quick_play_opens_a_room_then_fills_it_before_opening_another() {
        let mut lobby = Matchmaker::new(config(3));
        let now = Instant::now();
        let first = lobby.place(&quick_play(), ALICE, now, codes()).unwrap();
        assert!(first.opened.is_some(), "no room yet: one is opened");
        assert_eq!(first.code, None, "a public room has no code");
        for _ in 0..2 {
            let next = lobby.place(&quick_play(), BOB, now, codes()).unwrap();
            assert_eq!((next.room, next.opened), (first.room, None));
        }
        let fourth = lobby.place(&quick_play(), BOB, now, codes()).unwrap();
        assert_ne!(fourth.room, first.room, "the first room is locked");
        assert!(fourth.opened.is_some());
        assert_eq!(lobby.room_count(), 2);
    }

    #[test]
    fn quick_play_prefers_the_fullest_room_with_space() {
        let mut lobby = Matchmaker::new(config(4));
        let now = Instant::now();
        let by_id = |id| Want::Room(id);
        let a = join(&mut lobby, &quick_play(), now).unwrap();
        // A second room, by filling the first then freeing places in it.
        for _ in 0..3 {
            join(&mut lobby, &by_id(a), now).unwrap();
        }
        let b = join(&mut lobby, &quick_play(), now).unwrap();
        assert_ne!(a, b);
        lobby.leave(a, now);
        lobby.leave(a, now);
        join(&mut lobby, &by_id(b), now).unwrap();
        // a: 2 players, b: 2 players: the older wins the tie; then a has 3 and wins outright.
        assert_eq!(join(&mut lobby, &quick_play(), now), Ok(a));
        assert_eq!(join(&mut lobby, &quick_play(), now), Ok(a));
        assert_eq!(join(&mut lobby, &quick_play(), now), Ok(b), "a is full");
    }

    #[test]
    fn quick_play_filters_by_mode_and_region() {
        let mut lobby = Matchmaker::new(config(10));
        let now = Instant::now();
        let arena = join(&mut lobby, &quick_play(), now).unwrap();
        let duel = Want::QuickPlay {
            mode: Some("duel".to_owned()),
            region: None,
        };
        let duel_room = join(&mut lobby, &duel, now).unwrap();
        assert_ne!(arena, duel_room, "another mode: its own room");
        assert_eq!(join(&mut lobby, &duel, now), Ok(duel_room));
        let here = Want::QuickPlay {
            mode: None,
            region: Some("local".to_owned()),
        };
        assert_eq!(join(&mut lobby, &here, now), Ok(arena));
        let elsewhere = Want::QuickPlay {
            mode: None,
            region: Some("eu-west".to_owned()),
        };
        assert_eq!(
            join(&mut lobby, &elsewhere, now),
            Err(MatchError::NoSuchRoom)
        );
        let unknown = Want::QuickPlay {
            mode: Some("golf".to_owned()),
            region: None,
        };
        assert_eq!(
            join(&mut lobby, &unknown, now),
            Err(MatchError::UnknownMode("golf".to_owned()))
        );
    }

    #[test]
    fn a_room_locks_when_players_and_reserved_seats_reach_its_maximum() {
        let mut lobby = Matchmaker::new(config(2));
        let now = Instant::now();
        let room = join(&mut lobby, &quick_play(), now).unwrap();
        let reserved = lobby.place(&Want::Room(room), BOB, now, codes()).unwrap();
        assert!(lobby.listing().next().unwrap().line.locked);
        assert_eq!(
            lobby.place(&Want::Room(room), BOB, now, codes()),
            Err(MatchError::RoomFull),
            "one player and one reserved seat: full"
        );
        lobby.release_seat(reserved.seat, now);
        assert!(!lobby.listing().next().unwrap().line.locked);
        assert_eq!(join(&mut lobby, &Want::Room(room), now), Ok(room));
    }

    #[test]
    fn a_seat_not_taken_in_time_expires_and_frees_its_place() {
        let mut lobby = Matchmaker::new(config(2));
        let start = Instant::now();
        let room = join(&mut lobby, &quick_play(), start).unwrap();
        let late = lobby.place(&Want::Room(room), BOB, start, codes()).unwrap();
        let almost = start + Duration::from_secs(14);
        assert_eq!(
            lobby.place(&Want::Room(room), BOB, almost, codes()),
            Err(MatchError::RoomFull),
            "still reserved"
        );
        let after = start + Duration::from_secs(15);
        let punctual = lobby.place(&Want::Room(room), BOB, after, codes()).unwrap();
        assert_eq!(
            lobby.take_seat(late.seat, after),
            Err(MatchError::SeatExpired),
            "its place went to someone else"
        );
        assert_eq!(lobby.take_seat(punctual.seat, after), Ok(room));
        assert_eq!(lobby.players_in(room), 2);
    }

    #[test]
    fn an_empty_room_is_disposed_after_the_idle_timeout() {
        let mut lobby = Matchmaker::new(config(4));
        let start = Instant::now();
        let room = join(&mut lobby, &quick_play(), start).unwrap();
        let emptied = start + Duration::from_secs(5);
        lobby.leave(room, emptied);
        assert!(
            lobby
                .dispose_idle(emptied + Duration::from_secs(59))
                .is_empty()
        );
        // Someone reserved a seat meanwhile: not idle while it is held.
        let seat = lobby
            .place(
                &Want::Room(room),
                BOB,
                emptied + Duration::from_secs(30),
                codes(),
            )
            .unwrap();
        assert!(
            lobby
                .dispose_idle(emptied + Duration::from_secs(35))
                .is_empty()
        );
        lobby.release_seat(seat.seat, emptied + Duration::from_secs(40));
        assert!(
            lobby
                .dispose_idle(emptied + Duration::from_secs(99))
                .is_empty()
        );
        assert_eq!(
            lobby.dispose_idle(emptied + Duration::from_secs(100)),
            vec![room]
        );
        assert_eq!(lobby.room_count(), 0);
        assert_eq!(
            lobby.place(
                &Want::Room(room),
                BOB,
                emptied + Duration::from_secs(100),
                codes()
            ),
            Err(MatchError::NoSuchRoom)
        );
    }

    #[test]
    fn a_room_whose_last_seat_expired_is_empty_from_the_expiry_on() {
        let mut lobby = Matchmaker::new(config(4));
        let start = Instant::now();
        let placed = lobby.place(&quick_play(), ALICE, start, codes()).unwrap();
        // The seat expires at 15 s untaken; nobody looks until much later.
        assert!(
            lobby
                .dispose_idle(start + Duration::from_secs(74))
                .is_empty()
        );
        assert_eq!(
            lobby.dispose_idle(start + Duration::from_secs(75)),
            vec![placed.room]
        );
    }

    #[test]
    fn a_private_room_is_reached_only_by_its_code_and_never_listed() {
        let mut lobby = Matchmaker::new(config(4));
        let now = Instant::now();
        let create = Want::CreatePrivate { mode: None };
        let private = lobby.place(&create, ALICE, now, codes()).unwrap();
        let code = private.code.clone().expect("a private room has a code");
        lobby.take_seat(private.seat, now).unwrap();
        assert_eq!(lobby.listing().count(), 0, "private rooms are not listed");
        assert_eq!(
            lobby.place(&Want::Room(private.room), BOB, now, codes()),
            Err(MatchError::NoSuchRoom),
            "by id it does not exist, as if it did not"
        );
        let public = join(&mut lobby, &quick_play(), now).unwrap();
        assert_ne!(
            public, private.room,
            "quick play never lands in a private room"
        );
        let friend = lobby
            .place(&Want::Code(code.clone()), BOB, now, codes())
            .unwrap();
        assert_eq!((friend.room, friend.code), (private.room, Some(code)));
        let wrong = RoomCode::from_random([31; 10]);
        assert_eq!(
            lobby.place(&Want::Code(wrong), BOB, now, codes()),
            Err(MatchError::NoSuchRoom)
        );
    }

    #[test]
    fn codes_are_never_shared_between_rooms() {
        let mut lobby = Matchmaker::new(config(4));
        let now = Instant::now();
        // A code generator that repeats itself: the lobby draws again.
        let mut draws = [1u8, 1, 2].into_iter();
        let mut repeating = || RoomCode::from_random([draws.next().unwrap(); 10]);
        let create = Want::CreatePrivate { mode: None };
        let first = lobby.place(&create, ALICE, now, &mut repeating).unwrap();
        let second = lobby.place(&create, BOB, now, &mut repeating).unwrap();
        assert_ne!(first.code, second.code);
    }

    #[test]
    fn limits_on_rooms_players_and_private_rooms_per_address_hold() {
        let mut small = config(1);
        small.max_rooms = 3;
        small.max_players = 3;
        let mut lobby = Matchmaker::new(small);
        let now = Instant::now();
        let create = Want::CreatePrivate { mode: None };
        lobby.place(&create, ALICE, now, codes()).unwrap();
        lobby.place(&create, ALICE, now, codes()).unwrap();
        assert_eq!(
            lobby.place(&create, ALICE, now, codes()),
            Err(MatchError::TooManyPrivateRooms)
        );
        lobby.place(&create, BOB, now, codes()).unwrap();
        assert_eq!(
            lobby.place(&quick_play(), BOB, now, codes()),
            Err(MatchError::ServerFull),
            "three seats reserved in three rooms: the process is full"
        );
        let mut roomy = config(1);
        roomy.max_rooms = 1;
        let mut lobby = Matchmaker::new(roomy);
        join(&mut lobby, &quick_play(), now).unwrap();
        assert_eq!(
            lobby.place(&quick_play(), BOB, now, codes()),
            Err(MatchError::TooManyRooms)
        );
    }

    #[test]
    fn a_closed_room_takes_its_seats_with_it() {
        let mut lobby = Matchmaker::new(config(4));
        let now = Instant::now();
        let room = join(&mut lobby, &quick_play(), now).unwrap();
        let seat = lobby.place(&Want::Room(room), BOB, now, codes()).unwrap();
        lobby.close(room);
        assert_eq!(lobby.seat_count(), 0);
        assert_eq!(
            lobby.take_seat(seat.seat, now),
            Err(MatchError::SeatExpired)
        );
    }

    #[test]
    fn a_resume_finds_its_room_unless_it_filled() {
        let mut lobby = Matchmaker::new(config(2));
        let now = Instant::now();
        let room = join(&mut lobby, &quick_play(), now).unwrap();
        join(&mut lobby, &Want::Room(room), now).unwrap();
        lobby.leave(room, now);
        assert_eq!(lobby.rejoin(room, now), Ok(()));
        lobby.leave(room, now);
        join(&mut lobby, &Want::Room(room), now).unwrap();
        assert_eq!(lobby.rejoin(room, now), Err(MatchError::RoomFull));
    }

    #[test]
    fn racing_joiners_never_overfill_a_room_or_open_needless_rooms() {
        // Eight threads, 25 quick plays each, into rooms of 10: exactly 20 full rooms.
        let lobby = Arc::new(Mutex::new(Matchmaker::new(MatchmakerConfig {
            max_rooms: 100,
            max_players: 1000,
            ..config(10)
        })));
        let now = Instant::now();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let lobby = Arc::clone(&lobby);
                std::thread::spawn(move || {
                    for _ in 0..25 {
                        let mut lobby = lobby.lock().unwrap();
                        let placed = lobby.place(&quick_play(), ALICE, now, codes()).unwrap();
                        lobby.take_seat(placed.seat, now).unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let lobby = lobby.lock().unwrap();
        let rooms: Vec<_> = lobby.listing().collect();
        assert_eq!(rooms.len(), 20);
        assert!(
            rooms
                .iter()
                .all(|room| room.line.players == 10 && room.line.locked)
        );
    }
}
