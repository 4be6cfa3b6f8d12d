//! The seam between a session and what carries it. A transport gives the session its client's
//! messages ([`MessageSource`]); everything the session sends leaves through its
//! [`SessionHandle`](super::SessionHandle) (a reliable message into the bounded queue, the newest
//! snapshot into the latest-wins slot, a close with a reason through the kick), which the
//! transport's writer drains in its own way. So a session never knows whether it runs over
//! WebSocket or HTTP long polling. Must never: name a transport's types.

use std::future::Future;

use super::budget::MessageBudget;
use super::ended::Ended;
use super::room_link::RoomLink;
use crate::protocol::{ClientMessage, PlayerId, PlayerInput};

/// Where a player's inputs go once it is in its room: a source that reads on a thread of its
/// own hands them to the room from there, and the session never sees them.
#[derive(Clone)]
pub struct InputRoute {
    id: PlayerId,
    link: RoomLink,
}

impl InputRoute {
    pub fn new(id: PlayerId, link: RoomLink) -> InputRoute {
        InputRoute { id, link }
    }

    /// Hands one input to the room (dropped and counted if its queue is full).
    pub fn forward(&self, input: PlayerInput) {
        self.link.forward_input(self.id, input);
    }
}

/// Where a session's client messages come from.
pub trait MessageSource {
    /// Whether every whole message was charged to the rate limit already (by a source that
    /// reads on a thread of its own, with a budget of its own); the session then charges none.
    const CHARGES_MESSAGES: bool = false;

    /// The next complete client message, or why the session must end (the client closed, a
    /// transport rule was broken, the message did not decode). Whatever the transport reads that
    /// is not a whole message (pings, fragments) is charged to `budget`, so a flood of those
    /// ends like any other; whole messages are charged by the session.
    fn next_message(
        &mut self,
        budget: &mut MessageBudget,
    ) -> impl Future<Output = Result<ClientMessage, Ended>> + Send;

    /// The player is in its room: from now on the source may hand inputs to `route` itself
    /// (charged) instead of yielding them. Called once, before the first message after the join.
    fn playing(&mut self, _route: InputRoute) {}
}
