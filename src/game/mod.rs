//! The game: its rules and world ([`world`], [`movement`], [`params`], [`grid`], [`arena`]), all pure and
//! free of I/O, and the fixed-tick driver ([`tick_loop`]) that owns a world on its own thread,
//! fed by a lock-free event queue and publishing each player's delta snapshot (encoded by
//! [`replication`]) through an [`Outbox`].

pub mod arena;
pub mod grid;
pub mod movement;
pub mod params;
pub mod replication;
pub mod tick_loop;
pub mod world;

pub use tick_loop::{GameEvent, LoopStats, Outbox, TickLoop, TickLoopConfig};
pub use world::{World, WorldConfig};
