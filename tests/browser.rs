//! Plays the game end to end: the files in `tests/browser/` (`game`, `session`, `netcode`,
//! `hud`, `lobby`, `cluster`, `polling`, `admin`; `node --test` runs every `*.test.mjs` there)
//! start this crate's server binary and drive headless Chromium pages through the real client,
//! on desktop windows and phone-sized touch screens, directly and through a slow, jittery proxy
//! (or one that refuses WebSocket upgrades, so the page plays over long polling). `cluster` also
//! starts Debian's `redis-server` and two nodes (skipped with a message where it is missing,
//! unless `SKIRMISH_REQUIRE_REDIS` is set); `admin` drives the operator's page at `/admin` while
//! the crate's `swarm` binary plays (`SWARM_BIN`; run alone, `cargo build --bins` first). Any
//! console error on a page fails its test. Needs Node.js 20+, npm (the first run installs
//! `playwright-core` from the lockfile into `tests/browser/node_modules`) and Debian's Chromium
//! at `/usr/bin/chromium` (or the path in `CHROMIUM`). Set
//! `SKIRMISH_SKIP_BROWSER_TESTS=1` to skip it on a machine without a browser; without that, a
//! missing browser is a failure, not a silent pass. Screenshots of every layout are saved in
//! `target/browser-artifacts/`.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian's `chromium` package puts the browser; `CHROMIUM` in the environment overrides it
/// (the JavaScript test reads the same variable).
const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";
/// Installing one npm package from the lockfile.
const NPM_LIMIT: Duration = Duration::from_secs(180);
/// Each browser test bounds itself (60 s at most; they run one after the other, about two and
/// a half minutes in all on two shared cores); this only catches a hung Node process.
const TEST_LIMIT: Duration = Duration::from_secs(300);

#[test]
fn two_players_play_in_headless_chromium() {
    if std::env::var_os("SKIRMISH_SKIP_BROWSER_TESTS").is_some_and(|value| value == "1") {
        // Written to the real stderr rather than with `eprintln!`, which the test harness
        // captures (and hides) for a passing test.
        let notice = "\n\
            !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
            !! SKIPPED: the browser test (SKIRMISH_SKIP_BROWSER_TESTS=1).                !!\n\
            !! The game client was NOT tested in a browser.                              !!\n\
            !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\n";
        let _ = std::io::stderr().write_all(notice.as_bytes());
        return;
    }
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| DEFAULT_CHROMIUM.to_owned());
    assert!(
        Path::new(&chromium).exists(),
        "the browser test needs Chromium at {chromium}: install it with \
         `sudo apt-get install chromium` (or set SKIRMISH_SKIP_BROWSER_TESTS=1 to skip it)"
    );

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let browser_tests = root.join("tests/browser");
    if !browser_tests.join("node_modules/playwright-core").exists() {
        let installed = run(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&browser_tests),
            NPM_LIMIT,
        );
        if !installed {
            eprintln!("`npm ci` failed; trying `npm install`");
            let installed = run(
                Command::new("npm")
                    .args(["install", "--no-audit", "--no-fund"])
                    .current_dir(&browser_tests),
                NPM_LIMIT,
            );
            assert!(
                installed,
                "could not install playwright-core in tests/browser (see above)"
            );
        }
    }

    let passed = run(
        Command::new("node")
            .args(["--test", "tests/browser/"])
            .current_dir(root)
            .env("SKIRMISH_BIN", env!("CARGO_BIN_EXE_skirmish"))
            .env("SWARM_BIN", env!("CARGO_BIN_EXE_swarm")),
        TEST_LIMIT,
    );
    assert!(
        passed,
        "`node --test tests/browser/` failed; its output is above, screenshots are in \
         target/browser-artifacts/"
    );
}

/// Runs `command` to completion (killing it after `limit`), prints its output, and says whether
/// it succeeded.
fn run(command: &mut Command, limit: Duration) -> bool {
    let description = format!("{command:?}");
    let mut child = match command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(error) => {
            panic!("cannot start {description}: {error} (is Node.js 20+ with npm installed?)")
        }
    };
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(error) => panic!("cannot wait for {description}: {error}"),
        }
    };
    print!("{}", out.join().unwrap_or_default());
    eprint!("{}", err.join().unwrap_or_default());
    match status {
        Some(status) if status.success() => true,
        Some(status) => {
            eprintln!("{description} failed: {status}");
            false
        }
        None => {
            eprintln!("{description} was killed after {limit:?}");
            false
        }
    }
}
