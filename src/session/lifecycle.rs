//! One player's session from its first message to its last, over whatever transport carries it:
//! joining (the first message must be a `Join`, within the join timeout; admission; resume or
//! register), playing (each client message charged to the budget and dispatched: input to the
//! room, pings answered, chat routed, a resync asked for), and leaving (the room told the
//! player left, or went away when the reason allows a resume; the hooks called). Must never:
//! know its transport (messages come from a [`MessageSource`], everything sent leaves through
//! the [`SessionHandle`]), block, or panic on anything a client sends.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use tokio::time::Instant;

use super::admission::admit;
use super::budget::MessageBudget;
use super::chat::Chat;
use super::context::SessionContext;
use super::directory::{Entered, OpenRoom};
use super::ended::Ended;
use super::handle::SessionHandle;
use super::hooks::SessionInfo;
use super::placement::{Joiner, place};
use super::transport::{InputRoute, MessageSource};
use crate::protocol::{
    Ack, ClientMessage, CloseReason, PlayerId, ServerMessage, encode_server_message,
};
use crate::room::RoomEvent;

/// One player's session.
pub struct Session {
    ctx: Arc<SessionContext>,
    peer: SocketAddr,
    /// This connection's serial number (see [`RoomEvent::Away`]).
    connection: u64,
    /// This session's side of what it shares with the room and the transport.
    handle: SessionHandle,
    /// Set once the player is in the game.
    joined: Option<Joined>,
    /// The player to remove should the task running this session panic.
    in_game: InGame,
}

/// What a session holds once its player is in the game.
struct Joined {
    id: PlayerId,
    /// The room it plays in.
    room: Arc<OpenRoom>,
    /// The room has been told the player left or went away.
    left: bool,
    /// Its name and when it joined, for the log line that says it disconnected.
    name: String,
    since: Instant,
}

/// The player a session plays while it is in the game, and its room: shared with
/// [`PanicCleanup`].
type InGame = Arc<Mutex<Option<(PlayerId, u64, Arc<OpenRoom>)>>>;

impl Session {
    pub fn new(ctx: Arc<SessionContext>, peer: SocketAddr, handle: SessionHandle) -> Session {
        Session {
            ctx,
            peer,
            connection: next_connection_serial(),
            handle,
            joined: None,
            in_game: InGame::default(),
        }
    }

    /// This session's side of what it shares with the room and the transport.
    pub fn handle(&self) -> &SessionHandle {
        &self.handle
    }

    /// What to do should the task running this session panic (a bug: no input may cause one):
    /// the player is still removed, and nobody else notices.
    pub fn cleanup_on_panic(&self) -> PanicCleanup {
        PanicCleanup {
            in_game: Arc::clone(&self.in_game),
        }
    }

    /// Reads `source` until the session ends, and says why. Cancel-safe between messages: the
    /// player, once admitted, is recorded before any await.
    pub async fn run<S: MessageSource>(&mut self, source: &mut S) -> Ended {
        let mut budget = MessageBudget::new(
            self.ctx.limits.messages_per_second,
            Arc::clone(&self.ctx.net),
        );
        // Boxed: placement (the lobby, a cluster's directory) is the largest future a session
        // awaits, and only once; inline it would sit in every connection's task all its life.
        let (id, room) = match Box::pin(self.join(source, &mut budget)).await {
            Ok(joined) => joined,
            Err(ended) => return ended,
        };
        let mut chat = Chat::default();
        source.playing(InputRoute::new(id, room.link.clone()));
        loop {
            let message = match source.next_message(&mut budget).await {
                Ok(message) => message,
                Err(ended) => return ended,
            };
            if !S::CHARGES_MESSAGES {
                match budget.charge(Instant::now()) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(ended) => return ended,
                }
            }
            if let Err(ended) = self.dispatch(id, &room, message, &mut chat) {
                return ended;
            }
        }
    }

    /// Waits for the `Join`, admits it and enters the player into its room.
    async fn join(
        &mut self,
        source: &mut impl MessageSource,
        budget: &mut MessageBudget,
    ) -> Result<(PlayerId, Arc<OpenRoom>), Ended> {
        let first = tokio::time::timeout(self.ctx.limits.join_timeout, source.next_message(budget))
            .await
            .map_err(|_| Ended::new(CloseReason::JoinTimeout, ""))??;
        let ClientMessage::Join(join) = first else {
            return Err(Ended::new(
                CloseReason::Unexpected,
                "the first message must be Join",
            ));
        };
        let admitted = admit(&join)?;
        let name = admitted.name.clone();
        let joiner = Joiner {
            join: &join,
            admitted,
            from: self.peer.ip(),
            handle: &self.handle,
            connection: self.connection,
        };
        let entered = place(&self.ctx.rooms, self.ctx.cluster.as_deref(), joiner).await?;
        Ok(self.enter(name, entered).await)
    }

    /// Records the player its room registered and tells the room.
    async fn enter(&mut self, name: String, entered: Entered) -> (PlayerId, Arc<OpenRoom>) {
        let Entered { id, room, event } = entered;
        *self.in_game.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((id, self.connection, Arc::clone(&room)));
        self.joined = Some(Joined {
            id,
            room: Arc::clone(&room),
            left: false,
            name: name.clone(),
            since: Instant::now(),
        });
        let resumed = matches!(event, RoomEvent::Resume { .. });
        self.handle.profile.joined(&name, std::time::Instant::now());
        tracing::info!(player = %id, name = %name, room = room.identity.id.0, resumed, peer = %self.peer, "player connected");
        self.ctx.hooks.on_connection(&SessionInfo {
            id,
            name,
            peer: self.peer,
            resumed,
        });
        room.link.push_reliable(event).await;
        (id, room)
    }

    /// Acts on one message from a player in the game; `Err` ends the session.
    fn dispatch(
        &self,
        id: PlayerId,
        room: &OpenRoom,
        message: ClientMessage,
        chat: &mut Chat,
    ) -> Result<(), Ended> {
        match message {
            ClientMessage::Input(input) => room.link.forward_input(id, input),
            ClientMessage::Ping(ping) => self.reply(&ServerMessage::Pong(ping)),
            ClientMessage::Pong(pong) => self.handle.heartbeat.answered(pong.nonce),
            ClientMessage::Chat(line) => {
                let error = self.chat(chat, room, id, None, &line.text).err();
                self.acknowledge(line.request_id, error);
            }
            ClientMessage::Whisper(whisper) => {
                let error = self
                    .chat(chat, room, id, Some(whisper.to), &whisper.text)
                    .err();
                self.acknowledge(whisper.request_id, error);
            }
            ClientMessage::Leave => return Err(Ended::new(CloseReason::Leave, "")),
            // The client could not apply a delta: its next snapshot is a full one.
            ClientMessage::Resync => self.handle.snapshots.set_baseline(None),
            ClientMessage::Join(_) => {
                return Err(Ended::new(CloseReason::Unexpected, "already joined"));
            }
            ClientMessage::Upgrade(_) => {
                return Err(Ended::new(
                    CloseReason::Unexpected,
                    "an upgrade is a new socket's first message",
                ));
            }
        }
        Ok(())
    }

    /// A line to the player's room (or to one player in it).
    fn chat(
        &self,
        chat: &mut Chat,
        room: &OpenRoom,
        from: PlayerId,
        to: Option<PlayerId>,
        text: &str,
    ) -> Result<(), String> {
        chat.send(
            &room.sessions,
            &self.ctx.net,
            from,
            to,
            text,
            Instant::now(),
        )
    }

    fn acknowledge(&self, request_id: u32, error: Option<String>) {
        self.reply(&ServerMessage::Ack(Ack { request_id, error }));
    }

    /// A direct answer to this client, through its reliable queue; a client too slow to take
    /// it is closed.
    fn reply(&self, message: &ServerMessage) {
        match encode_server_message(message) {
            Ok(bytes) => {
                if self.handle.outbound.try_send(Bytes::from(bytes)).is_err() {
                    self.handle.kick.kick(CloseReason::SlowConsumer);
                }
            }
            Err(error) => tracing::error!(%error, "reply not encoded"),
        }
    }

    /// The session is over for `reason`: the player leaves the game at once (or goes away, if
    /// the reason allows a resume), before the transport's goodbye, which may take longer.
    /// Does nothing before the join or the second time.
    pub async fn leave_world(&mut self, reason: CloseReason) {
        self.handle.stage.close();
        let Some(joined) = self.joined.as_mut().filter(|joined| !joined.left) else {
            return;
        };
        joined.left = true;
        let (id, connection, room) = (joined.id, self.connection, Arc::clone(&joined.room));
        self.in_game
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let ctx = &self.ctx;
        ctx.hooks.on_disconnecting(id, reason);
        ctx.net.closed[reason.index()].fetch_add(1, Ordering::Relaxed);
        room.sessions.unregister(id);
        let event = if reason.allows_resume() {
            RoomEvent::Away { id, connection }
        } else {
            RoomEvent::Leave { id, connection }
        };
        room.link.push_reliable(event).await;
    }

    /// The transport has said goodbye: the disconnect hook is called, or a connection that
    /// never joined is counted as rejected.
    pub fn finish(self, reason: CloseReason) {
        let peer = self.peer;
        match self.joined {
            Some(Joined {
                id, name, since, ..
            }) => {
                self.ctx.hooks.on_disconnect(id, reason);
                tracing::info!(
                    player = %id,
                    name = %name,
                    %peer,
                    %reason,
                    code = reason.code(),
                    session_secs = seconds_to_a_tenth(since.elapsed()),
                    "player disconnected"
                );
            }
            None => {
                self.ctx.net.rejected[reason.index()].fetch_add(1, Ordering::Relaxed);
                tracing::debug!(
                    %peer,
                    %reason,
                    code = reason.code(),
                    "connection closed before joining"
                );
            }
        }
    }
}

/// Removes a session's player after the task running it panicked.
pub struct PanicCleanup {
    in_game: InGame,
}

impl PanicCleanup {
    pub async fn run(self) {
        let entry = self
            .in_game
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some((id, connection, room)) = entry {
            room.sessions.unregister(id);
            room.link
                .push_reliable(RoomEvent::Leave { id, connection })
                .await;
        }
    }
}

/// A duration in seconds rounded to one decimal, for a log a human reads.
fn seconds_to_a_tenth(duration: std::time::Duration) -> f64 {
    (duration.as_secs_f64() * 10.0).round() / 10.0
}

/// A number unique to each connection in the server's life.
fn next_connection_serial() -> u64 {
    static SERIAL: AtomicU64 = AtomicU64::new(1);
    SERIAL.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_lengths_are_logged_to_a_tenth_of_a_second() {
        use std::time::Duration;
        assert_eq!(seconds_to_a_tenth(Duration::from_millis(12_345)), 12.3);
        assert_eq!(seconds_to_a_tenth(Duration::from_millis(49)), 0.0);
        assert_eq!(seconds_to_a_tenth(Duration::from_millis(50)), 0.1);
    }
}
