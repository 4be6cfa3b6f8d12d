//! Why a snapshot frame was refused: the one error type of the snapshot format, returned by
//! every read of a frame and by [`super::Replica::apply`]. Never a panic: every byte of a frame
//! may come from a hostile or broken peer.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DeltaError {
    #[error("truncated snapshot: {0} needs more bytes")]
    Truncated(&'static str),
    #[error("malformed snapshot: {0}")]
    Malformed(&'static str),
    #[error("snapshot {tick} is a delta against tick {baseline}, which this client does not hold")]
    UnknownBaseline { tick: u32, baseline: u32 },
    /// A frame older than a state the client already holds in its place in the ring (it
    /// arrived more than the ring's length late): dropped, so no newer baseline is lost.
    #[error("snapshot {tick} arrived after {newer}, which holds its place")]
    Stale { tick: u32, newer: u32 },
    #[error(
        "snapshot {tick}: state checksum {actual:#010x} differs from the server's {expected:#010x}"
    )]
    ChecksumMismatch {
        tick: u32,
        expected: u32,
        actual: u32,
    },
}
