//! The server as a whole: what every connection task shares ([`context`], a leaf), the accept
//! loop with its caps and TLS ([`run`], [`caps`], [`tls`]).

pub mod caps;
pub mod context;
pub mod run;
pub mod tls;

pub use run::{Server, run};
