//! The wire messages of protocol version [`PROTOCOL_VERSION`]: what a client may send and what
//! the server answers. Field order is the byte order on the wire (see `docs/PROTOCOL.md`), so
//! new fields go at the end of a struct only with a version bump, and new variants go at the end
//! of an enum. These types are pure data: no I/O, no validation beyond what serde enforces.

use serde::{Deserialize, Serialize};

/// The protocol version this build speaks. A client announcing another one is refused with
/// [`ErrorCode::VersionMismatch`] before the connection closes. Whatever the version, a `Join`
/// starts with variant index 0 and then the version as a varint `u16`, so that a server can
/// always read the version of a client it does not otherwise understand.
pub const PROTOCOL_VERSION: u16 = 9;

/// A player's identity for the lifetime of its connection. Never reused within a server run.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(transparent)]
pub struct PlayerId(pub u32);

impl std::fmt::Display for PlayerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// The number of a simulation step. Starts at 0 and wraps after `u32::MAX` (four years at
/// 30 Hz); compare ticks with [`Tick::since`], never with `<`.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[serde(transparent)]
pub struct Tick(pub u32);

impl Tick {
    /// The tick after this one, wrapping.
    pub fn next(self) -> Tick {
        Tick(self.0.wrapping_add(1))
    }

    /// How many ticks `self` is after `earlier`, with wrap-around (negative if before).
    pub fn since(self, earlier: Tick) -> i32 {
        self.0.wrapping_sub(earlier.0) as i32
    }
}

/// Bits of [`PlayerInput::buttons`]. Unknown bits are ignored by the server.
pub mod buttons {
    pub const UP: u8 = 1;
    pub const DOWN: u8 = 2;
    pub const LEFT: u8 = 4;
    pub const RIGHT: u8 = 8;
    pub const FIRE: u8 = 16;
    /// Every bit the server understands.
    pub const ALL: u8 = UP | DOWN | LEFT | RIGHT | FIRE;
}

/// Bits of [`PlayerState::flags`].
pub mod player_flags {
    /// Just (re)spawned: cannot be tagged, drawn translucent.
    pub const PROTECTED: u8 = 1;
    /// Connection lost; the player may still resume within the grace window.
    pub const AWAY: u8 = 2;
}

/// The secret that lets a reconnecting client take its player back. 16 bytes from a secure RNG;
/// on the wire, 16 raw bytes.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[serde(transparent)]
pub struct ResumeToken(pub [u8; 16]);

/// Longest chat message, in characters.
pub const MAX_CHAT_CHARS: usize = 200;

/// Everything a client sends. Each variant is one binary WebSocket message.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub enum ClientMessage {
    /// First message of a connection: who I am and which protocol I speak.
    Join(Join),
    /// The controls held during one client tick.
    Input(PlayerInput),
    /// Asks for a [`ServerMessage::Pong`] carrying the same nonce, to measure round-trip time.
    Ping(Ping),
    /// Answer to the server's heartbeat [`ServerMessage::Ping`], with its nonce.
    Pong(Ping),
    /// A chat line for everyone; answered with an [`Ack`].
    Chat(Chat),
    /// A chat line for one player only; answered with an [`Ack`].
    Whisper(Whisper),
    /// "I am leaving on purpose": the player is removed at once, with no resume window.
    Leave,
    /// "I cannot apply your snapshots" (unknown baseline, checksum mismatch): the next snapshot
    /// is a full one.
    Resync,
    /// The first message of a WebSocket that takes over the long-polling session `sid` of the
    /// same client (since version 9): the same session goes on over this socket, nothing
    /// resent or lost, no rejoin. Instead of a `Join`.
    Upgrade(Upgrade),
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Upgrade {
    /// The polling session's id, as `POST /poll` gave it.
    pub sid: String,
    /// The number of the last reliable message the client received over polling (as a GET's
    /// `ack`): the socket starts with the one after it.
    pub ack: u32,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Join {
    /// Always the first field, in every version (see [`PROTOCOL_VERSION`]).
    pub protocol_version: u16,
    /// Echoed in the [`Welcome`], so the client can match the answer to its request.
    pub request_id: u32,
    /// Display name, validated by [`crate::protocol::validate_name`].
    pub name: String,
    /// A token from an earlier welcome, to take that player back after a lost connection.
    pub resume_token: Option<ResumeToken>,
    /// With a resume token: the newest snapshot tick the client still holds, so that the first
    /// snapshot after resuming can be a delta against it.
    pub baseline_tick: Option<Tick>,
    /// The room the client wants (since version 7). With a resume token the token decides: the
    /// player comes back to the room it was in.
    pub room: RoomRequest,
}

impl Join {
    /// A fresh player's join (request 1, no resume) by quick play in the default mode: what a
    /// client sends when the player just wants a game.
    pub fn quick_play(name: &str) -> Join {
        Join {
            protocol_version: PROTOCOL_VERSION,
            request_id: 1,
            name: name.to_owned(),
            resume_token: None,
            baseline_tick: None,
            room: RoomRequest::default(),
        }
    }
}

/// Which room a joiner wants. On the wire the client's own words, unchecked: the server checks
/// them with [`RoomRequest::validate`] (the rules of [`crate::protocol::rooms`]) and refuses a
/// request that breaks them, or names a room or mode it lacks, with a close reason, never a panic.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub enum RoomRequest {
    /// The best public room with space, else a new one. An empty `mode` is the server's default
    /// mode, an empty `region` any region.
    QuickPlay { mode: String, region: String },
    /// A public room by its id, as the lobby lists it.
    Id(u32),
    /// A private room by its code, as shared in a link (`?room=CODE`): any case, surrounding
    /// whitespace allowed.
    Code(String),
    /// A new private room of `mode` (empty: the server's default mode); its code comes back in
    /// [`RoomInfo::code`].
    CreatePrivate { mode: String },
    /// The seat a cluster node reserved for this client in a [`Redirect`] (since version 9):
    /// valid once, on the node it names, until it expires.
    Seat(SeatTicket),
}

/// A one-time seat ticket: 16 bytes from a secure RNG, naming a seat a cluster node reserved
/// for the client on another node (see [`Redirect`]). On the wire, 16 raw bytes.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[serde(transparent)]
pub struct SeatTicket(pub [u8; 16]);

impl Default for RoomRequest {
    /// Quick play in the default mode, any region: what a client asks for unless told otherwise.
    fn default() -> RoomRequest {
        RoomRequest::QuickPlay {
            mode: String::new(),
            region: String::new(),
        }
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Chat {
    pub request_id: u32,
    /// 1 to [`MAX_CHAT_CHARS`] characters, validated by [`crate::protocol::validate_chat`].
    pub text: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Whisper {
    pub request_id: u32,
    pub to: PlayerId,
    pub text: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Default)]
pub struct PlayerInput {
    /// Increments by one per input; echoed back as [`PlayerState::last_input_seq`] once applied.
    pub seq: u32,
    /// A set of [`buttons`] bits.
    pub buttons: u8,
    /// Direction the player aims, in radians (0 = +x, π/2 = +y, i.e. down on screen).
    pub aim: f32,
    /// The tick of the newest snapshot the client had received when it sent this input: its
    /// acknowledgement, so that a transport without delivery reports can pick delta baselines.
    pub ack_tick: Tick,
    /// The server tick at which the client was drawing the other players when it sent this
    /// input (its interpolation point): hits are judged against where targets were then.
    pub view_tick: Tick,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct Ping {
    pub nonce: u32,
}

/// Everything the server sends. Each variant is one binary WebSocket message.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub enum ServerMessage {
    /// Answer to a valid [`ClientMessage::Join`]: who you are and the rules of the game.
    Welcome(Welcome),
    /// The world around the player at one tick. Sent every tick; a slow reader gets only the
    /// newest. On the wire this is not bincode but a delta against a snapshot the client holds
    /// (`protocol::snapshot`); decoded by a client's [`crate::protocol::Replica`] into the whole
    /// state it holds.
    Snapshot(Snapshot),
    /// Someone joined (not sent to the joiner, whose welcome lists everyone).
    PlayerJoined(PlayerInfo),
    /// Someone left; their entity is gone from the next snapshot.
    PlayerLeft(PlayerLeft),
    /// A bolt from `shooter` hit `victim`. Not sent since version 3: tags travel in
    /// [`Snapshot::tags`], encoded once for everyone instead of one message per player per tag.
    /// Kept so that the variants after it keep their indices.
    Tagged(Tagged),
    Pong(Ping),
    /// Why the server is about to close the connection.
    Error(ErrorMessage),
    /// Heartbeat: answer with [`ClientMessage::Pong`] within the ping timeout, or be closed.
    Ping(Heartbeat),
    /// A chat line from a player (to everyone, or to you alone when `whisper`).
    Chat(ChatLine),
    /// Something happened to a player, told to everyone else (e.g. lost connection, back).
    Notice(Notice),
    /// Answer to a request that carried a `request_id` (chat, whisper).
    Ack(Ack),
    /// Everyone who joined and left during one tick, when more than one did: one message per
    /// tick instead of one per join per player (a thousand players arriving would otherwise be
    /// half a million messages). A single join or leave still goes as `PlayerJoined` or
    /// `PlayerLeft`. The roster may list the receiver itself.
    Roster(Roster),
    /// "Play on another node" (since version 9): the player's seat, or its player to resume, is
    /// on the cluster node at `url`. The server closes the connection with 4010 right after; the
    /// client connects to `url` and sends the same `Join`, with [`RoomRequest::Seat`] when a
    /// ticket is given.
    Redirect(Redirect),
    /// A line from the server's operator to every player (since version 9), e.g. "restarting
    /// in five minutes"; on a cluster, to every player of every node.
    Announcement(Announcement),
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Announcement {
    /// 1 to [`MAX_CHAT_CHARS`] characters, checked like a chat line.
    pub text: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Redirect {
    /// The node's public URL (`http://` or `https://`, no path): its WebSocket is `url` + `/ws`
    /// with the scheme `ws://` or `wss://`.
    pub url: String,
    /// The reserved seat to claim there; `None` when the join's resume token decides.
    pub ticket: Option<SeatTicket>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Roster {
    pub joined: Vec<PlayerInfo>,
    pub left: Vec<PlayerLeft>,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct Heartbeat {
    pub nonce: u32,
    /// Round-trip time of the previous heartbeat, in microseconds (0 before the first).
    pub rtt_us: u32,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ChatLine {
    pub from: PlayerId,
    pub text: String,
    pub whisper: bool,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Notice {
    pub subject: PlayerId,
    pub kind: NoticeKind,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// The player's connection dropped; it may come back within the grace window.
    Away,
    /// The player resumed its session.
    Back,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Ack {
    pub request_id: u32,
    /// `None` on success, else why the request was refused.
    pub error: Option<String>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Welcome {
    pub protocol_version: u16,
    /// The `request_id` of the `Join` this answers.
    pub request_id: u32,
    pub player_id: PlayerId,
    /// True when the join's resume token gave back an existing player.
    pub resumed: bool,
    /// Keep this to resume the same player after a lost connection.
    pub resume_token: ResumeToken,
    pub tick_hz: u16,
    pub params: GameParams,
    /// Everyone in the game at the moment of joining, including the joiner.
    pub players: Vec<PlayerInfo>,
    /// The room the player got (since version 7).
    pub room: RoomInfo,
    /// The join carried a resume token that gave no player back, and why (since version 9): the
    /// player joined afresh.
    pub resume_failed: Option<String>,
}

/// The room a [`Welcome`] placed the player in.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct RoomInfo {
    /// The room's id in this process. A private room's id is told to its own players only, and
    /// is no way in: a join by id is refused for a private room as for a room that does not exist.
    pub id: u32,
    /// The kind of game played in the room (a label checked by
    /// [`crate::protocol::rooms::validate_mode`]).
    pub mode: String,
    /// Players the room holds at most.
    pub max_players: u16,
    /// The private room's code, so that its players can share the link; `None` for a public room.
    pub code: Option<String>,
}

/// The rules a client needs to draw the world and predict its own movement exactly as the
/// server simulates it (see "Movement" in `docs/PROTOCOL.md`).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct GameParams {
    pub arena_width: f32,
    pub arena_height: f32,
    pub player_radius: f32,
    pub orb_radius: f32,
    pub bolt_radius: f32,
    /// Units per second squared while a direction is held.
    pub accel: f32,
    /// Fraction of velocity lost per second (applied as `1 - friction * dt` per tick).
    pub friction: f32,
    /// Units per second; faster velocities are scaled down to this.
    pub max_speed: f32,
    pub bolt_speed: f32,
    pub bolt_lifetime_ticks: u16,
    pub fire_cooldown_ticks: u16,
    pub spawn_protection_ticks: u16,
    /// The largest area a client may show, in arena units: the server sends each client only
    /// the entities around its player within this view plus a margin (area of interest).
    pub view_width: f32,
    pub view_height: f32,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct PlayerInfo {
    pub id: PlayerId,
    pub name: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct PlayerLeft {
    pub id: PlayerId,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct Tagged {
    pub tick: Tick,
    pub shooter: PlayerId,
    pub victim: PlayerId,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Snapshot {
    pub tick: Tick,
    /// The arena's size at this tick (it may change as players come and go).
    pub arena_width: f32,
    pub arena_height: f32,
    pub players: Vec<PlayerState>,
    pub orbs: Vec<OrbState>,
    pub bolts: Vec<BoltState>,
    /// Tags that happened since the previous snapshot (in this tick, or in the ticks a
    /// catching-up loop ran back to back). A reader that skips a snapshot misses its tags; the
    /// scores they changed are in every snapshot.
    pub tags: Vec<Tagged>,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct PlayerState {
    pub id: PlayerId,
    pub x: f32,
    pub y: f32,
    pub vx: f32,
    pub vy: f32,
    pub aim: f32,
    pub score: u32,
    /// The `seq` of the last [`PlayerInput`] the server applied for this player: the
    /// acknowledgement a client needs to reconcile its prediction.
    pub last_input_seq: u32,
    /// A set of [`player_flags`] bits.
    pub flags: u8,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct OrbState {
    pub id: u32,
    pub x: f32,
    pub y: f32,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct BoltState {
    pub id: u32,
    pub owner: PlayerId,
    pub x: f32,
    pub y: f32,
    /// Units per second (bolts fly straight at constant speed).
    pub vx: f32,
    pub vy: f32,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ErrorMessage {
    pub code: ErrorCode,
    pub message: String,
}

/// Why the server refused or ended a session; sent in [`ErrorMessage`] before the close frame.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    VersionMismatch,
    InvalidName,
    ServerFull,
    MalformedMessage,
    UnexpectedMessage,
    /// Too many messages too fast, for too long (close 1008). Chat refusals travel in `Ack`
    /// errors instead.
    RateLimited,
    /// Removed by the server's operator or game logic.
    Kicked,
    /// No answer to the heartbeat in time.
    PingTimeout,
    /// The room id or code names no room this client may join (since version 7).
    NoSuchRoom,
    /// The room asked for has no free seat.
    RoomFull,
    /// The mode asked for is not played on this server.
    UnknownMode,
    /// No room can be opened: the server's or this address's limit of rooms is reached.
    TooManyRooms,
    /// The cluster's room directory cannot be reached just now (since version 9): try again.
    ClusterUnavailable,
}
