//! The game: its rules and world ([`world`], [`movement`], [`params`], [`grid`], [`arena`]), all
//! pure and free of I/O: stepped with no clock, no sockets and a seeded RNG in its state. Rooms
//! ([`crate::room`]) own worlds; nothing here knows of players' connections.

pub mod arena;
pub mod grid;
pub mod movement;
pub mod params;
pub mod world;

pub use world::{World, WorldConfig};
