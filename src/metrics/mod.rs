//! What operators see: the counters every layer reports into ([`counters`]), the tick-duration
//! histogram ([`histogram`]), their Prometheus exposition for `GET /metrics` ([`exposition`])
//! and the summary logged every few seconds ([`summary`]). Imports only the protocol (for the
//! close reasons' labels): every other layer may report here.

pub mod counters;
pub mod exposition;
pub mod histogram;
pub mod summary;

pub use counters::{DeliveryStats, NetStats, RoomStats};
pub use exposition::{
    ClusterCounts, LobbyCounts, PollingCounts, PoolCounts, Readings, RoomKind,
    process_resident_bytes, render,
};
pub use histogram::{DurationHistogram, TICK_BUCKETS_MICROS, render_value};
