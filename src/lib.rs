//! Skirmish: a real-time multiplayer game server with a binary protocol over WebSockets.
//!
//! # Layout
//!
//! ```text
//!  browser / bot ──WebSocket──▶ transport::websocket::watched (on a tick thread's poll; TLS:
//!                               reader, on a task) ──inputs──▶ RoomEvent; the rest ──▶ Session
//!                                                                          │ lock-free queue
//!                                                                          ▼
//!                  session::registry ◀──each player's delta── room::Room (stepped by one
//!                  (per-player latest-wins      snapshot      thread of runtime::RoomPool
//!                   slot + reliable queue)                    at a time; owns game::World
//!                          │                                   and room::replication)
//!                          ▼ on plain TCP: written from the tick thread (transport::websocket::sink)
//!  browser / bot ◀──WebSocket── transport::websocket::writer (what a full socket left, reliable
//!                               messages, pings; TLS and long polling: everything)
//! ```
//!
//! Layers, lowest first; each imports only those below it (see `docs/ARCHITECTURE.md`):
//! - [`protocol`]: message types, the bincode codec behind one module, name rules, close
//!   reasons, and in [`protocol::snapshot`] the delta snapshot format (one file per piece of a
//!   frame) and the client's replica. Pure.
//! - [`game`]: the world (its state and step in `world.rs`, one file per rule in `world/`) and
//!   its rules. Pure, steppable, seeded.
//! - [`metrics`]: counters, the tick histogram, the Prometheus exposition and summary log.
//! - [`room`]: one room with no I/O and no thread: presence, replication, `Room::step`, the
//!   [`room::Outbox`] seam.
//! - [`runtime`]: what drives rooms on a clock: a pool of tick threads, each room on one at a
//!   time, each thread waiting on its own poll, which reads the sockets handed to it.
//! - [`lobby`]: which room each joiner plays in (matchmaking, seats, private codes). Pure.
//! - [`cluster`]: the room directory shared by a cluster's nodes in Redis (leases, rooms,
//!   seats on other nodes as tickets, resume tokens), for a node started with `--redis-url`.
//! - [`session`]: one player's session over any transport (join, play, leave; admission, chat,
//!   budgets), the handle it shares with its room (with the `DirectSend` seam a transport
//!   writes snapshots through), the directory of rooms (placement through the lobby or the
//!   cluster, a registry and queue per room, resume tokens), the registry through which a room
//!   reaches its players, and the operator's actions.
//! - [`transport`]: what carries sessions: connection caps, WebSocket (a plain-TCP socket read
//!   on a tick thread, a TLS one on a task; the writer task, the frame sink the tick thread
//!   writes to) and HTTP long polling.
//! - [`admin`]: the operator's live page behind `--admin-token` (its access rules, samples,
//!   state, actions and socket).
//! - [`http`]: routing, embedded files, who may connect, the polling and admin endpoints.
//! - [`server`]: start and stop, each layer's context wired from the configuration, the rooms
//!   built and run on the tick threads, the accept loop with TLS, a cluster node's tasks, freed
//!   memory given back.
//! - [`bots`]: the bot swarm (real clients that play and measure, many per event-loop thread),
//!   behind `bin/swarm`; [`client`]: a Rust client of the protocol (tests, bots);
//!   [`config`]: flags and environment variables; [`prefetch`]: cache hints for the swarm.

pub mod admin;
pub mod bots;
pub mod client;
pub mod cluster;
pub mod config;
pub mod game;
pub mod http;
pub mod lobby;
pub mod metrics;
pub mod prefetch;
pub mod protocol;
pub mod room;
pub mod runtime;
pub mod server;
pub mod session;
pub mod transport;
