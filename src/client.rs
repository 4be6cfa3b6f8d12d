//! A Rust client of the Skirmish protocol over a real WebSocket: connect, send typed messages,
//! receive typed messages or the close frame. Used by the integration tests and the bot swarm,
//! so both exercise the same path a browser does.

use std::future::Future;

use bytes::Bytes;
use fastwebsockets::{FragmentCollector, Frame, OpCode, Payload, WebSocket, WebSocketError};
use http_body_util::Empty;
use hyper::Request;
use hyper::header::{CONNECTION, HOST, UPGRADE};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::protocol::{
    ClientMessage, DecodeError, Join, PlayerId, Replica, RoomRequest, ServerMessage, Welcome,
    decode_server_message, decode_server_message_with, encode_client_message,
};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid url {0:?}: expected ws://host:port/path")]
    InvalidUrl(String),
    #[error("cannot connect: {0}")]
    Connect(#[from] std::io::Error),
    #[error("websocket: {0}")]
    WebSocket(#[from] WebSocketError),
    #[error("undecodable server message: {0}")]
    Decode(#[from] DecodeError),
    #[error("server closed the connection: {code} {reason}")]
    Closed { code: u16, reason: String },
    #[error("unexpected message before welcome: {0:?}")]
    Unexpected(Box<ServerMessage>),
    #[error("server sent a text frame")]
    TextFrame,
    #[error("redirected {MAX_REDIRECTS} times in a row, last to {0}")]
    TooManyRedirects(String),
}

/// What arrived from the server.
#[derive(Debug)]
pub enum Received {
    Message(ServerMessage),
    /// The server's close frame (code 1005 if it had none).
    Closed {
        code: u16,
        reason: String,
    },
}

pub struct GameClient {
    ws: FragmentCollector<TokioIo<Upgraded>>,
    /// Payload bytes received so far (snapshots included), for bandwidth figures.
    pub bytes_received: u64,
    /// The world as this client holds it, rebuilt from delta snapshots; set by the welcome.
    replica: Option<Replica>,
    me: PlayerId,
    tick_hz: u16,
    url: String,
}

/// Redirects followed in a row before a join gives up (a loop between nodes).
pub const MAX_REDIRECTS: usize = 3;

/// The WebSocket URL on the node at `public_url` (`http://host:port`) with the same path as
/// `current` (`ws://other:port/ws`).
pub fn redirected_url(current: &str, public_url: &str) -> Result<String, ClientError> {
    let (_, path) = split_ws_url(current)?;
    let authority = public_url
        .strip_prefix("http://")
        .ok_or_else(|| ClientError::InvalidUrl(public_url.to_owned()))?;
    let authority = authority.trim_end_matches('/');
    if authority.is_empty() || authority.contains('/') {
        return Err(ClientError::InvalidUrl(public_url.to_owned()));
    }
    Ok(format!("ws://{authority}{path}"))
}

impl GameClient {
    /// Opens a WebSocket to `url` (e.g. `ws://127.0.0.1:8080/ws`).
    pub async fn connect(url: &str) -> Result<GameClient, ClientError> {
        Ok(GameClient::from_websocket(connect_websocket(url).await?))
    }

    /// A client on a WebSocket opened elsewhere (e.g. over TLS with [`handshake_websocket`]).
    pub fn from_websocket(ws: WebSocket<TokioIo<Upgraded>>) -> GameClient {
        GameClient {
            ws: FragmentCollector::new(ws),
            bytes_received: 0,
            replica: None,
            me: PlayerId(0),
            tick_hz: 30,
            url: String::new(),
        }
    }

    /// Connects and joins as `name`, returning once welcomed.
    pub async fn join(url: &str, name: &str) -> Result<(GameClient, Welcome), ClientError> {
        GameClient::join_with(url, Join::quick_play(name)).await
    }

    /// Connects and sends `join` (e.g. with a resume token), returning once welcomed. A
    /// cluster node's [`Redirect`] is followed (up to [`MAX_REDIRECTS`] in a row): the same
    /// join goes to the node named, with the seat ticket given; [`GameClient::url`] says where
    /// the client ended up.
    pub async fn join_with(
        url: &str,
        mut join: Join,
    ) -> Result<(GameClient, Welcome), ClientError> {
        let mut url = url.to_owned();
        for _ in 0..=MAX_REDIRECTS {
            let mut client = GameClient::connect(&url).await?;
            client.url = url.clone();
            client.send(&ClientMessage::Join(join.clone())).await?;
            match client.recv().await? {
                Received::Message(ServerMessage::Welcome(welcome)) => return Ok((client, welcome)),
                Received::Message(ServerMessage::Redirect(redirect)) => {
                    url = redirected_url(&url, &redirect.url)?;
                    if let Some(ticket) = redirect.ticket {
                        join.room = RoomRequest::Seat(ticket);
                    }
                }
                Received::Message(ServerMessage::Error(error)) => {
                    return Err(ClientError::Closed {
                        code: 0,
                        reason: error.message,
                    });
                }
                Received::Message(other) => return Err(ClientError::Unexpected(Box::new(other))),
                Received::Closed { code, reason } => {
                    return Err(ClientError::Closed { code, reason });
                }
            }
        }
        Err(ClientError::TooManyRedirects(url))
    }

    /// The WebSocket URL this client is connected to (after any redirect).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub async fn send(&mut self, message: &ClientMessage) -> Result<(), ClientError> {
        let bytes = encode_client_message(message).expect("client messages always encode");
        self.send_raw(OpCode::Binary, bytes).await
    }

    /// Sends any frame, valid or not (tests use this to misbehave).
    pub async fn send_raw(&mut self, opcode: OpCode, payload: Vec<u8>) -> Result<(), ClientError> {
        let frame = Frame::new(true, opcode, None, Payload::Owned(payload));
        self.ws.write_frame(frame).await?;
        Ok(())
    }

    /// Leaves on purpose: the player is removed at once (no resume window) and the server
    /// closes the connection (1000).
    pub async fn leave(&mut self) -> Result<(), ClientError> {
        self.send(&ClientMessage::Leave).await
    }

    /// Sends a close frame with `code`.
    pub async fn close(&mut self, code: u16) -> Result<(), ClientError> {
        self.ws.write_frame(Frame::close(code, b"")).await?;
        Ok(())
    }

    /// The next message or the close frame.
    pub async fn recv(&mut self) -> Result<Received, ClientError> {
        loop {
            let frame = self.ws.read_frame().await?;
            self.bytes_received += frame.payload.len() as u64;
            match frame.opcode {
                OpCode::Binary => {
                    let message = match self.replica.as_mut() {
                        Some(replica) => decode_server_message_with(
                            &frame.payload,
                            replica,
                            self.me,
                            self.tick_hz,
                        )?,
                        None => decode_server_message(&frame.payload)?,
                    };
                    if let ServerMessage::Welcome(welcome) = &message {
                        self.start_replica(welcome);
                    }
                    return Ok(Received::Message(message));
                }
                OpCode::Close => {
                    return Ok(Received::Closed {
                        code: close_code(&frame.payload),
                        reason: close_reason(&frame.payload),
                    });
                }
                OpCode::Text => return Err(ClientError::TextFrame),
                _ => continue,
            }
        }
    }

    /// A fresh replica for the welcomed player, unless this connection resumed the player the
    /// replica already holds (a delta against its newest state may follow).
    fn start_replica(&mut self, welcome: &Welcome) {
        let keep = welcome.resumed && welcome.player_id == self.me && self.replica.is_some();
        if !keep {
            self.replica = Some(Replica::for_monotonic_baselines());
        }
        self.me = welcome.player_id;
        self.tick_hz = welcome.tick_hz;
    }

    /// The newest snapshot tick this client holds (for a resuming `Join::baseline_tick`).
    pub fn latest_tick(&self) -> Option<crate::protocol::Tick> {
        self.replica.as_ref().and_then(Replica::latest_tick)
    }

    /// The header of the newest snapshot frame applied.
    pub fn last_frame_header(&self) -> Option<crate::protocol::snapshot::FrameHeader> {
        self.replica.as_ref().and_then(Replica::last_header)
    }

    /// Moves this client's replica to `other` (a new connection resuming the same player), so
    /// that a delta against what this one held can be applied there.
    pub fn hand_replica_to(&mut self, other: &mut GameClient) {
        other.replica = self.replica.take();
        other.me = self.me;
        other.tick_hz = self.tick_hz;
    }

    /// The next message, treating a close as an error.
    pub async fn recv_message(&mut self) -> Result<ServerMessage, ClientError> {
        match self.recv().await? {
            Received::Message(message) => Ok(message),
            Received::Closed { code, reason } => Err(ClientError::Closed { code, reason }),
        }
    }
}

/// Opens a plain WebSocket to `url` (e.g. `ws://127.0.0.1:8080/ws`), for callers that want to
/// split it into reading and writing halves themselves.
pub async fn connect_websocket(url: &str) -> Result<WebSocket<TokioIo<Upgraded>>, ClientError> {
    let (authority, path) = split_ws_url(url)?;
    let stream = TcpStream::connect(authority).await?;
    stream.set_nodelay(true)?;
    handshake_websocket(stream, authority, path).await
}

/// The authority (host:port) and path of a `ws://` URL.
pub fn split_ws_url(url: &str) -> Result<(&str, &str), ClientError> {
    let invalid = || ClientError::InvalidUrl(url.to_owned());
    let rest = url.strip_prefix("ws://").ok_or_else(invalid)?;
    let (authority, path) = match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(invalid());
    }
    Ok((authority, path))
}

/// The WebSocket handshake for `path` at `authority` (the Host header) over a stream that is
/// already open: plain TCP, or TLS for wss://.
pub async fn handshake_websocket<S>(
    stream: S,
    authority: &str,
    path: &str,
) -> Result<WebSocket<TokioIo<Upgraded>>, ClientError>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let invalid = || ClientError::InvalidUrl(format!("{authority}{path}"));
    let request = Request::builder()
        .method("GET")
        .uri(path)
        .header(HOST, authority)
        .header(UPGRADE, "websocket")
        .header(CONNECTION, "upgrade")
        .header(
            "Sec-WebSocket-Key",
            fastwebsockets::handshake::generate_key(),
        )
        .header("Sec-WebSocket-Version", "13")
        .body(Empty::<Bytes>::new())
        .map_err(|_| invalid())?;
    let (ws, _) = fastwebsockets::handshake::client(&SpawnExecutor, request, stream).await?;
    Ok(ws)
}

/// The code of a close frame's payload (1005, "no status", if it has none).
pub fn close_code(payload: &[u8]) -> u16 {
    match payload {
        [high, low, ..] => u16::from_be_bytes([*high, *low]),
        _ => 1005,
    }
}

/// The reason text of a close frame's payload.
pub fn close_reason(payload: &[u8]) -> String {
    payload
        .get(2..)
        .map(|r| String::from_utf8_lossy(r).into_owned())
        .unwrap_or_default()
}

/// Runs hyper's connection future for the client handshake on tokio.
struct SpawnExecutor;

impl<F> hyper::rt::Executor<F> for SpawnExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        tokio::spawn(future);
    }
}
