//! What drives rooms on a clock: each room's fixed-timestep schedule ([`clock`]) and the pool of
//! tick threads that owns and steps many rooms ([`pool`]), placing them by load; each thread
//! waits on its own poll between steps, which reads the sources handed to it ([`readiness`]). A room does not
//! know which thread steps it; the runtime owns threads, clocks and timing, nothing of the game.

pub mod clock;
pub mod pool;
pub mod readiness;

pub use pool::{PoolStats, PooledRoom, Readiness, RoomPool, Steppable, Watched};
pub use readiness::{Abandoned, Watcher, Watching};
