//! The server as a whole: start and stop, wiring each layer's context ([`run`]), the
//! configuration's budgets cut per layer ([`limits`]), the rooms the lobby opens, built and run
//! on the tick threads ([`rooms`]), the accept loop with its caps and TLS ([`listener`],
//! [`tls`]), a cluster node's heartbeat and token flusher ([`cluster`]), freed memory given back after
//! players leave ([`memory`]). The operator's
//! handle is the session layer's (`session::operator`), re-exported here. Nothing below imports
//! it.

pub mod cluster;
pub mod limits;
pub mod listener;
pub mod memory;
pub mod rooms;
pub mod run;
pub mod tls;

pub use crate::session::operator::{Operator, OperatorError};
pub use run::{Server, run};
