//! What drives rooms on a clock. Today: one room stepped by one thread ([`tick_loop`]). A room
//! does not know which thread steps it; the runtime owns threads, clocks and timing, nothing of
//! the game.

pub mod tick_loop;

pub use tick_loop::TickLoop;
