//! The binary's logs as an operator's tools read them: no terminal colour codes when stderr is
//! not a terminal (a log file, a pipe), with `--log-format json` one JSON object per line, and a
//! disconnect told in the words of the metrics.

mod common;

use std::io::Read;
use std::process::Stdio;

use common::child::ChildServer;

/// Starts the binary with `flags`, waits until it listens, stops it with SIGTERM, and returns
/// what it wrote to stderr.
fn stderr_of_a_run(flags: &[&str]) -> String {
    stderr_after_stopping(ChildServer::start_with(flags, Stdio::piped()))
}

/// Stops `server` (started with its stderr piped) with SIGTERM, and returns what it wrote to
/// stderr.
fn stderr_after_stopping(mut server: ChildServer) -> String {
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(server.child.id() as i32, libc::SIGTERM);
    }
    let mut stderr = String::new();
    server
        .child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(server.child.wait().unwrap().success());
    stderr
}

#[test]
fn text_logs_to_a_pipe_carry_no_colour_codes() {
    let stderr = stderr_of_a_run(&[]);
    assert!(stderr.contains("starting"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "escape codes in: {stderr:?}");
}

#[test]
fn json_logs_are_one_object_per_line() {
    let stderr = stderr_of_a_run(&["--log-format", "json"]);
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(lines.len() >= 2, "{stderr}");
    for line in lines {
        let object: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(object["level"].is_string(), "{line}");
        assert!(object["fields"]["message"].is_string(), "{line}");
    }
    assert!(stderr.contains("\"message\":\"starting\""), "{stderr}");
}

#[test]
fn a_disconnect_is_logged_in_the_metrics_words_with_the_name_and_the_session_length() {
    let server = ChildServer::start_with(&[], Stdio::piped());
    let url = server.ws_url();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let (mut alice, _) = skirmish::client::GameClient::join(&url, "Alice")
            .await
            .unwrap();
        alice.leave().await.unwrap();
        common::expect_close(&mut alice).await;
    });
    // A stopping server waits for its connections' tasks: the line is in by the time it exits.
    let stderr = stderr_after_stopping(server);
    let line = stderr
        .lines()
        .find(|line| line.contains("player disconnected"))
        .unwrap_or_else(|| panic!("no disconnect in:\n{stderr}"));
    for field in [
        "name=Alice",
        "reason=leave",
        "code=1000",
        "session_secs=",
        "player=",
        "peer=",
    ] {
        assert!(line.contains(field), "{field} missing from: {line}");
    }
    assert!(!line.contains("bye"), "{line}");
}
