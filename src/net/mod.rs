//! Everything that touches the network: the HTTP server and routes ([`server`], [`http`],
//! [`assets`]) over TCP or TLS ([`tls`]), who may connect ([`auth`]) and how many at once ([`caps`]), lifecycle callbacks for library users ([`hooks`]), one task pair per player ([`connection`]), the registry through which the tick
//! loop reaches players ([`sessions`]), why connections close ([`close`]), and what operators
//! see of it all ([`metrics`]).

pub mod assets;
pub mod auth;
pub mod caps;
pub mod close;
pub mod connection;
pub mod hooks;
pub mod http;
pub mod metrics;
pub mod progress;
pub mod server;
pub mod sessions;
pub mod tls;

pub use close::CloseReason;
pub use server::{Server, run};
