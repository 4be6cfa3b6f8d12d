//! The byte format of delta snapshots (protocol version 8), shared by the server's encoder
//! (`room::replication`) and every client's decoder ([`Replica`]). See "Snapshots" in
//! `docs/PROTOCOL.md` for the normative description. Pure: no tokio, no sockets, no clock, and
//! no panic on any bytes a peer sends.
//!
//! Not bincode: the format is written by hand because its fields are deltas whose widths
//! depend on the values (zigzag LEB128), and because the server composes each client's frame
//! from pieces encoded once and shared.
//!
//! One file per piece of a frame, each writing and reading its piece:
//! - `varint`: LEB128 varints, zigzag, and the bounds-checked [`Reader`];
//! - `entity`: the quantized [`Entity`], its kinds, fields and hash, position and angle steps;
//! - `interest`: the fixed grid of interest cells and a client's view rectangle;
//! - `header`: the [`FrameHeader`], the client's own player ([`OwnState`]) and its rank;
//! - `entry`: one entry of a cell (update with a change mask, upsert, removal);
//! - `error`: [`DeltaError`], why a frame was refused;
//! - `replica`: the client's side, a ring of rebuilt states ([`Replica`]).

mod entity;
mod entry;
mod error;
mod header;
mod interest;
mod replica;
mod varint;

pub use entity::{
    Entity, Kind, POSITION_SCALE, angle_radians, bolt_field, player_field, position_units,
    quantize_angle, quantize_position,
};
pub use entry::{
    Entry, Op, apply_update, player_change_mask, player_changes, read_entry, write_entry,
};
pub use error::DeltaError;
pub use header::{
    BASELINE_RING, FrameHeader, OwnState, SCOREBOARD_SIZE, frame_flags, read_header, read_own,
    read_rank, write_header, write_own, write_rank,
};
pub use interest::{
    CELL_GRID, CELL_SIZE, CellGrid, CellRect, INTEREST_HALF_HEIGHT, INTEREST_HALF_WIDTH,
    MAX_ARENA_SIDE,
};
pub use replica::{Replica, ReplicaState, bolt_at};
pub use varint::{Reader, put_signed, put_varint};
