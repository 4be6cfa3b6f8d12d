//! The seam between a session and what carries it. A transport gives the session its client's
//! messages ([`MessageSource`]); everything the session sends leaves through its
//! [`SessionHandle`](super::SessionHandle) (a reliable message into the bounded queue, the newest
//! snapshot into the latest-wins slot, a close with a reason through the kick), which the
//! transport's writer drains in its own way. So a session never knows whether it runs over
//! WebSocket or HTTP long polling. Must never: name a transport's types.

use std::future::Future;

use super::budget::MessageBudget;
use super::ended::Ended;
use crate::protocol::ClientMessage;

/// Where a session's client messages come from.
pub trait MessageSource {
    /// The next complete client message, or why the session must end (the client closed, a
    /// transport rule was broken, the message did not decode). Whatever the transport reads that
    /// is not a whole message (pings, fragments) is charged to `budget`, so a flood of those
    /// ends like any other; whole messages are charged by the session.
    fn next_message(
        &mut self,
        budget: &mut MessageBudget,
    ) -> impl Future<Output = Result<ClientMessage, Ended>> + Send;
}
