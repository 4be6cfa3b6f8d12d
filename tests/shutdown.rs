//! Graceful shutdown of the real binary: on SIGTERM (and SIGINT) it stops accepting, tells
//! every WebSocket why (close 1001 "server shutting down"), joined or not, closes idle HTTP
//! connections, and exits as soon as the last connection is done, or at `--shutdown-timeout`
//! if one never is.

mod common;

use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use common::child::ChildServer;
use common::expect_close;
use skirmish::client::GameClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn shuts_down_gracefully_on(signal: libc::c_int) {
    let mut server = ChildServer::start(&["--log", "warn"]);
    let url = server.ws_url();
    let child = &mut server.child;
    let (mut alice, _) = GameClient::join(&url, "Alice").await.unwrap();
    let (mut bob, _) = GameClient::join(&url, "Bob").await.unwrap();
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
    let started = Instant::now();
    for client in [&mut alice, &mut bob] {
        let (code, reason, _) = expect_close(client).await;
        assert_eq!((code, reason.as_str()), (1001, "server shutting down"));
    }
    let status = wait_for_exit(child, started, Duration::from_secs(5)).await;
    assert!(status.success(), "exit status {status}");
    assert!(
        GameClient::connect(&url).await.is_err(),
        "still accepting after shutdown"
    );
}

/// Waits for the child to exit, failing the test if it has not within `limit` of `started`.
async fn wait_for_exit(child: &mut Child, started: Instant, limit: Duration) -> ExitStatus {
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(started.elapsed() < limit, "the server did not exit");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn terminate(child: &Child) {
    // SAFETY: sending a signal to our own child process.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) },
        0
    );
}

#[tokio::test]
async fn sigterm_closes_every_player_with_1001_and_exits_cleanly() {
    shuts_down_gracefully_on(libc::SIGTERM).await;
}

#[tokio::test]
async fn sigint_does_the_same() {
    shuts_down_gracefully_on(libc::SIGINT).await;
}

#[tokio::test]
async fn a_socket_that_has_not_joined_is_told_too() {
    let mut server = ChildServer::start(&["--log", "warn"]);
    let url = server.ws_url();
    let (mut player, _) = GameClient::join(&url, "Alice").await.unwrap();
    // Upgraded, but no Join sent: not a player yet, still an open socket.
    let mut newcomer = GameClient::connect(&url).await.unwrap();
    terminate(&server.child);
    let started = Instant::now();
    for client in [&mut player, &mut newcomer] {
        let (code, reason, _) = expect_close(client).await;
        assert_eq!((code, reason.as_str()), (1001, "server shutting down"));
    }
    let status = wait_for_exit(&mut server.child, started, Duration::from_secs(5)).await;
    assert!(status.success(), "exit status {status}");
}

#[tokio::test]
async fn an_idle_http_connection_is_closed_and_the_exit_does_not_wait_for_the_timeout() {
    // A timeout far beyond the test's patience: exiting in time means the server saw its last
    // connection end, rather than waiting the timeout out.
    let mut server = ChildServer::start(&["--log", "warn", "--shutdown-timeout", "60s"]);
    let mut http = TcpStream::connect(server.addr).await.unwrap();
    http.write_all(b"GET /healthz HTTP/1.1\r\nHost: skirmish\r\n\r\n")
        .await
        .unwrap();
    let mut answer = vec![0u8; 4096];
    let n = http.read(&mut answer).await.unwrap();
    assert!(answer[..n].starts_with(b"HTTP/1.1 200"), "healthz answered");
    // The connection is kept alive, idle.
    terminate(&server.child);
    let started = Instant::now();
    let closed = tokio::time::timeout(Duration::from_secs(5), http.read(&mut answer))
        .await
        .expect("the idle connection is closed");
    assert!(matches!(closed, Ok(0) | Err(_)), "closed, not answered");
    let status = wait_for_exit(&mut server.child, started, Duration::from_secs(5)).await;
    assert!(status.success(), "exit status {status}");
}

#[tokio::test]
async fn a_connection_that_never_finishes_is_cut_at_the_shutdown_timeout() {
    let mut server = ChildServer::start(&[
        "--log",
        "warn",
        "--shutdown-timeout",
        "1s",
        "--handshake-timeout",
        "60s",
    ]);
    // A request whose headers never end, holding its connection task open.
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: skirmish\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    terminate(&server.child);
    let started = Instant::now();
    let status = wait_for_exit(&mut server.child, started, Duration::from_secs(10)).await;
    assert!(status.success(), "exit status {status}");
    // It did wait for the connection, up to the timeout, before giving up on it.
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "exited after {waited:?}"
    );
    drop(slow);
}
