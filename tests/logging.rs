//! The binary's logs as an operator's tools read them: no terminal colour codes when stderr is
//! not a terminal (a log file, a pipe), and with `--log-format json` one JSON object per line.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

/// Starts the binary with `flags`, waits until it listens, stops it with SIGTERM, and returns
/// what it wrote to stderr.
fn stderr_of_a_run(flags: &[&str]) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_skirmish"))
        .args(["--addr", "127.0.0.1:0"])
        .args(flags)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the server binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("skirmish listening on"), "{line}");
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(child.wait().unwrap().success());
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
