//! The operator's live page (`/admin`, docs/ADMIN.md), off unless `--admin-token` is set: who
//! may use it ([`access`]), its socket's messages ([`messages`]), the numbers over time
//! ([`sampler`]) and the rooms, players and nodes now ([`view`]), what its actions do
//! ([`actions`]), the shared state and the sampler task ([`context`]), and one admin socket
//! ([`socket`]). Sits above the transports (it reads their counters) and below HTTP (which
//! routes `/admin` here). Must never: be reachable without the token, or slow a tick.

pub mod access;
pub mod actions;
pub mod context;
pub mod messages;
pub mod sampler;
pub mod socket;
pub mod view;

pub use access::{AdminToken, TokenError};
pub use context::{AdminContext, AdminSources, run_sampler};
