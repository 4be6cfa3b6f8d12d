//! What an authenticated operator's request does: kick a player with a reason, close a room,
//! send a notice, each through the session layer's [`Operator`](crate::session::Operator) (so on a cluster it reaches
//! the node that holds the player or room), each logged with who asked and from where. Must
//! never: act on an unauthenticated socket's request (its caller checks), or log the token.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use super::context::AdminContext;
use super::messages::{ActionResult, Request};
use crate::protocol::PlayerId;
use crate::protocol::rooms::RoomId;
use crate::session::operator::{OperatorError, Outcome};

/// Who is acting: the name the operator gave and the socket's address.
#[derive(Debug, Clone)]
pub struct Actor {
    pub operator: String,
    pub peer: SocketAddr,
}

/// Does what `request` asks and says how it went.
pub async fn act(ctx: &AdminContext, actor: &Actor, request: Request) -> ActionResult {
    let id = request.id();
    let done = match request {
        Request::Auth { .. } => Err("already authenticated".to_owned()),
        Request::Kick {
            player,
            node,
            reason,
            ..
        } => {
            tracing::info!(operator = %actor.operator, peer = %actor.peer, action = "kick", player, node = node.as_deref().unwrap_or(""), %reason, "admin action");
            let outcome = ctx
                .operator
                .kick_with_reason(node.as_deref(), PlayerId(player), &reason)
                .await;
            described(
                outcome,
                &format!("player {player}"),
                "kicked",
                "no such player",
            )
        }
        Request::CloseRoom {
            room, node, reason, ..
        } => {
            tracing::info!(operator = %actor.operator, peer = %actor.peer, action = "close_room", room, node = node.as_deref().unwrap_or(""), %reason, "admin action");
            let outcome = ctx
                .operator
                .close_room(node.as_deref(), RoomId(room), &reason)
                .await;
            described(outcome, &format!("room {room}"), "closed", "no such room")
        }
        Request::Notice { text, .. } => {
            tracing::info!(operator = %actor.operator, peer = %actor.peer, action = "notice", %text, "admin action");
            match ctx.operator.announce(&text).await {
                Ok(()) => Ok("notice sent".to_owned()),
                Err(error) => Err(error.to_string()),
            }
        }
    };
    ctx.actions.fetch_add(1, Ordering::Relaxed);
    match done {
        Ok(message) => ActionResult::ok(id, message),
        Err(error) => {
            tracing::info!(operator = %actor.operator, peer = %actor.peer, %error, "admin action failed");
            ActionResult::failed(id, error)
        }
    }
}

/// An outcome in words: "kicked player 12", "sent to node eu-2", or why not.
fn described(
    outcome: Result<Outcome, OperatorError>,
    what: &str,
    done: &str,
    missing: &str,
) -> Result<String, String> {
    match outcome {
        Ok(Outcome::Done) => Ok(format!("{done} {what}")),
        Ok(Outcome::Forwarded) => Ok(format!("{what}: sent to its node")),
        Ok(Outcome::NotHere) => Err(missing.to_owned()),
        Err(error) => Err(error.to_string()),
    }
}
