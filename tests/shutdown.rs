//! Graceful shutdown of the real binary: on SIGTERM (and SIGINT) it stops accepting, tells
//! every player why (close 1001 "server shutting down"), and exits promptly and cleanly.

mod common;

use std::time::{Duration, Instant};

use common::child::ChildServer;
use common::expect_close;
use skirmish::client::GameClient;

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
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the server did not exit"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "exit status {status}");
    assert!(
        GameClient::connect(&url).await.is_err(),
        "still accepting after shutdown"
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
