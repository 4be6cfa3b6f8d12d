//! What operators see: the counters every layer reports into ([`counters`]), the tick-duration
//! histogram ([`histogram`]), what a scrape gathers ([`readings`], [`process`]), its
//! OpenMetrics exposition for `GET /metrics` through the `prometheus-client` crate
//! ([`exposition`]) and the summary logged every few seconds ([`summary`]). Imports only the
//! protocol (for the close reasons and the protocol version): every other layer may report here.

pub mod counters;
pub mod exposition;
pub mod histogram;
pub mod process;
pub mod readings;
pub mod summary;

pub use counters::{DeliveryStats, NetStats, RoomStats};
pub use exposition::{CONTENT_TYPE, ExpositionError, reasons_to_export, render};
pub use histogram::{DurationHistogram, TICK_BUCKETS_MICROS};
pub use process::{note_process_start, process_resident_bytes, read_process};
pub use readings::{
    ClusterCounts, LobbyCounts, PollingCounts, PoolCounts, ProcessReadings, Readings, RoomKind,
};
