//! The real server binary as a child process, for tests that need a process of its own: its
//! memory, its signals, its exit status.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

/// The server binary, started on 127.0.0.1:0 and ready (it printed its address). Killed when
/// dropped, if still running.
pub struct ChildServer {
    pub child: Child,
    pub addr: SocketAddr,
}

impl ChildServer {
    /// Starts the binary with `--addr 127.0.0.1:0` and then `flags`, and waits for the line that
    /// says where it listens.
    pub fn start(flags: &[&str]) -> ChildServer {
        ChildServer::start_with(flags, Stdio::inherit())
    }

    /// Like [`ChildServer::start`], with the server's stderr going to `stderr` (e.g. a pipe the
    /// test reads from `child.stderr`).
    pub fn start_with(flags: &[&str], stderr: Stdio) -> ChildServer {
        let mut child = Command::new(env!("CARGO_BIN_EXE_skirmish"))
            .args(["--addr", "127.0.0.1:0"])
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("the server binary starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("skirmish listening on http://")
            .expect("the ready line")
            .parse()
            .unwrap();
        ChildServer { child, addr }
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
