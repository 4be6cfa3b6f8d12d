//! Runs the browser client's JavaScript unit tests (`web-client/test/`: the codec against the
//! shared vectors, the movement twin, the game state, the connection and its cluster routing,
//! the long-polling transport and its framing against `tests/vectors/polling_v1.json`, the
//! operator page's formats and socket)
//! under Node's built-in test runner, so that a plain `cargo test` covers both sides of the
//! protocol. Needs Node.js 20+.

use std::process::Command;

#[test]
fn javascript_client_tests_pass() {
    let root = env!("CARGO_MANIFEST_DIR");
    let output = Command::new("node")
        .args(["--test", "web-client/test/"])
        .current_dir(root)
        .output()
        .expect("cannot run `node`: the JavaScript tests need Node.js 20 or newer on PATH");
    print!("{}", String::from_utf8_lossy(&output.stdout));
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success(),
        "`node --test web-client/test/` failed ({}); its output is above",
        output.status
    );
}
