//! Shared by the integration tests: a real server on an ephemeral port, and helpers to wait
//! for what real clients would see. Beside it: [`raw_socket`] (hand-built frames and upgrades
//! for hostile-client tests), [`metrics`] (reading `/metrics`) and [`child`] (the server binary
//! as a child process).

#![allow(dead_code)]

pub mod child;
pub mod metrics;
pub mod polling;
pub mod raw_socket;
pub mod redis;

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use skirmish::client::{GameClient, Received};
use std::sync::Arc;

use skirmish::config::Config;
use skirmish::protocol::{ServerMessage, Snapshot};
use skirmish::server::Server;
use skirmish::session::RoomDirectory;
use tokio::sync::oneshot;

/// How long any single expectation may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(5);

pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(PATIENCE, &mut self.task).await;
    }
}

/// Starts the real server on 127.0.0.1:0 with extra flags (e.g. `["--max-players", "1"]`).
pub async fn start_server(flags: &[&str]) -> TestServer {
    start_custom_server(flags, |server| server).await.0
}

/// Like [`start_server`], letting the test adjust the [`Server`] (hooks, authenticator) and
/// returning its rooms.
pub async fn start_custom_server(
    flags: &[&str],
    customize: impl FnOnce(Server) -> Server,
) -> (TestServer, Arc<RoomDirectory>) {
    let mut args = vec!["skirmish", "--addr", "127.0.0.1:0", "--seed", "42"];
    args.extend_from_slice(flags);
    let config = Config::try_parse_from(args).expect("test flags are valid");
    let listener = tokio::net::TcpListener::bind(config.addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut server = customize(Server::from_config(config).expect("server configuration"));
    // A no-op without --redis-url.
    server
        .join_cluster(addr)
        .await
        .expect("the cluster's Redis answers");
    let sessions = server.rooms();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(listener, async {
        let _ = stopped.await;
    }));
    (
        TestServer {
            addr,
            stop: Some(stop),
            task,
        },
        sessions,
    )
}

/// A WebSocket upgrade request's headers, for raw HTTP tests.
pub const UPGRADE_HEADERS: &str = "Upgrade: websocket\r\nConnection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

/// Receives until `pick` returns something, failing the test after [`PATIENCE`].
pub async fn wait_for<T>(
    client: &mut GameClient,
    what: &str,
    mut pick: impl FnMut(&ServerMessage) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let received = tokio::time::timeout_at(deadline, client.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
            .unwrap_or_else(|e| panic!("connection failed waiting for {what}: {e}"));
        match received {
            Received::Message(message) => {
                if let Some(found) = pick(&message) {
                    return found;
                }
            }
            Received::Closed { code, reason } => {
                panic!("closed ({code} {reason}) while waiting for {what}")
            }
        }
    }
}

/// The next snapshot satisfying `accept`.
pub async fn wait_for_snapshot(
    client: &mut GameClient,
    what: &str,
    mut accept: impl FnMut(&Snapshot) -> bool,
) -> Snapshot {
    wait_for(client, what, |m| match m {
        ServerMessage::Snapshot(s) if accept(s) => Some(s.clone()),
        _ => None,
    })
    .await
}

/// Reads until the server closes, returning the close code, reason, and any error message
/// received before it.
pub async fn expect_close(client: &mut GameClient) -> (u16, String, Option<String>) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut error = None;
    loop {
        match tokio::time::timeout_at(deadline, client.recv()).await {
            Err(_) => panic!("server did not close the connection"),
            Ok(Err(e)) => panic!("connection ended without a close frame: {e}"),
            Ok(Ok(Received::Closed { code, reason })) => return (code, reason, error),
            Ok(Ok(Received::Message(ServerMessage::Error(e)))) => error = Some(e.message),
            Ok(Ok(Received::Message(_))) => {}
        }
    }
}

/// A minimal HTTP/1.1 GET over a raw socket: status line, headers and body.
pub async fn http_get(addr: SocketAddr, path: &str, extra_headers: &str) -> (u16, String, Vec<u8>) {
    http_request(addr, "GET", path, extra_headers).await
}

/// A minimal HTTP/1.1 request with no body over a raw socket: status line, headers and body.
pub async fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    extra_headers: &str,
) -> (u16, String, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra_headers}\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut response))
        .await
        .unwrap()
        .unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("complete response");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head[9..12].parse().unwrap();
    (status, head, response[split + 4..].to_vec())
}
