//! The lobby: which room each joiner plays in. Today the placement policy and the rooms' records
//! ([`matchmaker`]), pure and stepped with `now` passed in; the server holds it under one lock.

pub mod matchmaker;

pub use matchmaker::{
    Listing, MatchError, Matchmaker, MatchmakerConfig, Placement, RoomLine, RoomSettings, SeatId,
    Seated, Want,
};
