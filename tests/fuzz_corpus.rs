//! The fuzz targets on stable Rust. Coverage-guided fuzzing (`cargo +nightly fuzz run`, see
//! `fuzz/`) needs a nightly toolchain; this runs the very same checks (`fuzz/src/lib.rs`,
//! included by path) over the committed corpus and over inputs mutated from it:
//!
//! - `the_corpus_and_its_mutations_pass_every_target` replays `fuzz/corpus/<target>/*` and a
//!   few thousand seeded mutations per target: quick, part of `cargo test`.
//! - `fuzz_for_a_while` (ignored by default) mutates for a set time, keeping inputs that decode
//!   as new seeds, and writes any input that panics to `fuzz/artifacts/<target>/`:
//!
//! ```text
//! SKIRMISH_FUZZ_SECONDS=120 cargo test --release --test fuzz_corpus -- --ignored --nocapture
//! ```
//!
//! An input it finds belongs in `fuzz/corpus/<target>/` (named `regression-...`) once fixed, so
//! that every later run replays it.

#[path = "../fuzz/src/lib.rs"]
mod targets;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Most seeds a long run keeps per target, so memory stays bounded.
const MAX_SEEDS: usize = 20_000;
/// Largest input the mutator makes: a little over the client message limit.
const MAX_INPUT: usize = 1200;

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

fn load_corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = corpus_dir(target);
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    let corpus: Vec<_> = entries
        .iter()
        .map(|path| std::fs::read(path).unwrap())
        .collect();
    assert!(!corpus.is_empty(), "{} is empty", dir.display());
    corpus
}

/// A small deterministic generator (xorshift64*), so any run can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound.max(1) as u64) as usize
    }
}

/// Bytes that matter to bincode's varints and to the message layouts.
const INTERESTING: [u8; 12] = [0, 1, 2, 6, 10, 0x7f, 0x80, 250, 251, 252, 253, 0xff];

/// One to four random edits of a seed, or a splice of two.
fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut input = seeds[rng.below(seeds.len())].clone();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(input.len() + 1);
        match rng.below(9) {
            0 if at < input.len() => input[at] ^= 1 << rng.below(8),
            1 if at < input.len() => input[at] = INTERESTING[rng.below(INTERESTING.len())],
            2 if at < input.len() => input[at] = rng.next() as u8,
            3 => input.insert(at, INTERESTING[rng.below(INTERESTING.len())]),
            4 if at < input.len() => {
                input.remove(at);
            }
            5 => input.truncate(at),
            6 => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len() + 1);
                input.truncate(at);
                input.extend_from_slice(&other[from..]);
            }
            7 => {
                let len = rng.below(16);
                let tail: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                input.splice(at..at, tail);
            }
            _ => {
                // A varint marker followed by extreme bytes: lengths and counts.
                let marker = [251u8, 252, 253, 254][rng.below(4)];
                let fill = [0u8, 0xff][rng.below(2)];
                input.splice(at..at, std::iter::once(marker).chain([fill; 8]));
            }
        }
    }
    input.truncate(MAX_INPUT);
    input
}

/// Runs `check` on `input`; on a panic, saves the input under `fuzz/artifacts/<target>/` and
/// returns its path.
fn run_one(target: &str, check: targets::Check, input: &[u8]) -> Result<bool, PathBuf> {
    catch_unwind(AssertUnwindSafe(|| check(input))).map_err(|_| save_crash(target, input))
}

fn save_crash(target: &str, input: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/artifacts")
        .join(target);
    std::fs::create_dir_all(&dir).unwrap();
    // FNV-1a: a stable name, so the same crash is saved once.
    let hash = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let path = dir.join(format!("crash-{hash:016x}"));
    std::fs::write(&path, input).unwrap();
    path
}

/// What a run did for one target.
#[derive(Debug, Default)]
struct Outcome {
    executions: u64,
    accepted: u64,
    seeds: usize,
    crashes: Vec<PathBuf>,
}

/// Replays the corpus, then mutates until `budget` inputs ran or `deadline` passed.
fn fuzz_target(
    target: &str,
    check: targets::Check,
    seed: u64,
    budget: u64,
    deadline: Instant,
) -> Outcome {
    let mut seeds = load_corpus(target);
    let mut outcome = Outcome::default();
    for input in &seeds {
        match run_one(target, check, input) {
            Ok(accepted) => outcome.accepted += u64::from(accepted),
            Err(path) => outcome.crashes.push(path),
        }
        outcome.executions += 1;
    }
    let mut rng = Rng(seed | 1);
    while outcome.executions < budget && Instant::now() < deadline {
        let input = mutate(&mut rng, &seeds);
        match run_one(target, check, &input) {
            Ok(true) => {
                outcome.accepted += 1;
                // Inputs that decode are deep: keep them as seeds.
                if seeds.len() < MAX_SEEDS {
                    seeds.push(input);
                }
            }
            Ok(false) => {}
            Err(path) => outcome.crashes.push(path),
        }
        outcome.executions += 1;
    }
    outcome.seeds = seeds.len();
    outcome
}

fn assert_no_crash(target: &str, outcome: &Outcome) {
    assert!(
        outcome.crashes.is_empty(),
        "{target}: inputs that panicked were saved to {:?}",
        outcome.crashes
    );
}

#[test]
fn the_corpus_and_its_mutations_pass_every_target() {
    let far = Instant::now() + Duration::from_secs(3600);
    for (i, (target, check)) in targets::TARGETS.into_iter().enumerate() {
        let outcome = fuzz_target(target, check, 0x5eed + i as u64, 5_000, far);
        assert_no_crash(target, &outcome);
        assert!(
            outcome.accepted > 0,
            "{target}: nothing decoded: {outcome:?}"
        );
    }
}

#[test]
#[ignore = "runs for SKIRMISH_FUZZ_SECONDS (default 60); see the module docs"]
fn fuzz_for_a_while() {
    let seconds: u64 = std::env::var("SKIRMISH_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let seed: u64 = std::env::var("SKIRMISH_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    println!("fuzzing for {seconds} s with SKIRMISH_FUZZ_SEED={seed}");
    let share = Duration::from_secs(seconds) / targets::TARGETS.len() as u32;
    let mut crashed = Vec::new();
    for (target, check) in targets::TARGETS {
        let outcome = fuzz_target(target, check, seed, u64::MAX, Instant::now() + share);
        println!(
            "{target}: {} executions, {} accepted, {} seeds, {} crashes",
            outcome.executions,
            outcome.accepted,
            outcome.seeds,
            outcome.crashes.len()
        );
        crashed.extend(outcome.crashes);
    }
    assert!(
        crashed.is_empty(),
        "inputs that panicked were saved: {crashed:?}"
    );
}
