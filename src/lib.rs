//! Skirmish: a real-time multiplayer game server with a binary protocol over WebSockets.
//!
//! # Layout
//!
//! ```text
//!  browser / bot ──WebSocket──▶ net::connection (reader task) ──decode──▶ GameEvent
//!                                                                          │ lock-free queue
//!                                                                          ▼
//!                    net::sessions ◀──each player's delta── game::tick_loop (own thread)
//!                    (per-player latest-wins     snapshot      owns game::world, and
//!                     slot + reliable queue)                   game::replication
//!                          │
//!                          ▼
//!  browser / bot ◀──WebSocket── net::connection (writer task)
//! ```
//!
//! - [`protocol`]: message types, the bincode codec behind one module, name rules, the delta
//!   snapshot format and the client's replica. Pure.
//! - [`game`]: the world and its rules (pure, steppable, seeded), per-client replication, and
//!   the fixed-tick driver.
//! - [`net`]: HTTP (files, health, upgrade), connection tasks, the session registry.
//! - [`bots`]: the bot swarm (real clients that play and measure, many per event-loop thread),
//!   behind `bin/swarm`.
//! - [`client`]: a Rust client of the protocol (tests, bots).
//! - [`config`]: flags and environment variables.
//! - [`prefetch`]: cache hints, with which the swarm's event loop fetches the next bots' data
//!   while it handles one.

pub mod bots;
pub mod client;
pub mod config;
pub mod game;
pub mod metrics;
pub mod net;
pub mod prefetch;
pub mod protocol;
