//! One room: a world and everything it takes to play it with others, with no I/O and no thread.
//! Its sessions feed it [`RoomEvent`]s through a lock-free queue; it is stepped
//! ([`Room::step`]) by whatever drives it ([`crate::runtime`], or a test on a manual clock); its
//! output leaves through an [`Outbox`]: each player's delta snapshot (encoded by
//! [`replication`]) and reliable messages (welcomes, joins, leaves, notices, decided by
//! [`presence`]).

pub mod event;
pub mod frame_pool;
pub mod identity;
pub mod instance;
pub mod outbox;
pub mod presence;
pub mod replication;

pub use event::RoomEvent;
pub use identity::RoomIdentity;
pub use instance::{Room, RoomConfig};
pub use outbox::Outbox;
