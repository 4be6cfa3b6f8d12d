//! Where an admitted joiner plays. Without a cluster the process's [`RoomDirectory`] decides
//! alone. On a cluster node: a player of this node comes back first (its token is local); a
//! token another node holds sends the client there; then the cluster's directory seats the
//! joiner, here (enter the room, opened if need be) or on another node (a [`Redirect`] with a
//! one-time seat ticket), and a ticket for this node is claimed.
//!
//! Must never: hold the directory's lock across a call to Redis, seat a joiner the cluster did
//! not count, or let a failure of Redis reach other players (the joiner alone is refused, with
//! the reason).

use std::net::IpAddr;

use super::admission::Admitted;
use super::cluster_state::{RESUME_NODE_GONE, RESUME_UNKNOWN};
use super::directory::{Entered, RoomDirectory};
use super::ended::Ended;
use super::handle::SessionHandle;
use super::refusals::cluster_refusal;
use crate::cluster::{ClusterDirectory, Placed, TokenHome};
use crate::protocol::rooms::ValidRoomRequest;
use crate::protocol::{Join, Redirect};

/// Who the joiner is and where it came from.
pub struct Joiner<'a> {
    pub join: &'a Join,
    pub admitted: Admitted,
    pub from: IpAddr,
    pub handle: &'a SessionHandle,
    pub connection: u64,
}

/// Places `joiner` through `rooms`, and through `cluster` when the node is in one.
pub async fn place(
    rooms: &RoomDirectory,
    cluster: Option<&ClusterDirectory>,
    joiner: Joiner<'_>,
) -> Result<Entered, Ended> {
    let Joiner {
        join,
        admitted,
        from,
        handle,
        connection,
    } = joiner;
    let Some(cluster) = cluster else {
        return rooms.enter(
            join,
            admitted.request,
            from,
            admitted.name,
            handle,
            connection,
        );
    };
    if let Some(entered) = rooms.enter_by_resume(join, &admitted.name, handle, connection) {
        return Ok(entered);
    }
    let resume_failed = match &join.resume_token {
        None => None,
        Some(token) => match cluster.token_home(token).await {
            Ok(TokenHome::Node { id, url }) if id != cluster.node().as_str() => {
                return Err(redirect(url, None));
            }
            Ok(TokenHome::Gone) => Some(RESUME_NODE_GONE),
            Ok(_) | Err(_) => Some(RESUME_UNKNOWN),
        },
    };
    let seated = match admitted.request {
        ValidRoomRequest::Seat(ticket) => cluster.claim(ticket).await,
        request => match cluster.place(&request.into(), from).await {
            Ok(Placed::Here(seated)) => Ok(seated),
            Ok(Placed::There { url, ticket }) => return Err(redirect(url, Some(ticket))),
            Err(error) => Err(error),
        },
    }
    .map_err(cluster_refusal)?;
    rooms.enter_seated(
        join,
        seated,
        admitted.name,
        handle,
        connection,
        resume_failed,
    )
}

fn redirect(url: String, ticket: Option<crate::protocol::SeatTicket>) -> Ended {
    Ended::redirect(Redirect { url, ticket })
}
