//! The process's readings for `/metrics`: when it started (captured once) and its resident
//! memory (read from procfs at each scrape). Must never: be read on a hot path.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use super::readings::ProcessReadings;

static STARTED: OnceLock<SystemTime> = OnceLock::new();

/// Notes now as the process's start, unless it was noted already; call it first thing.
pub fn note_process_start() {
    STARTED.get_or_init(SystemTime::now);
}

/// When the process started (as first noted), in seconds since the Unix epoch.
pub fn process_start_time_seconds() -> f64 {
    let started = *STARTED.get_or_init(SystemTime::now);
    started
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64())
}

/// The process's readings now.
pub fn read_process() -> ProcessReadings {
    ProcessReadings {
        start_time_seconds: process_start_time_seconds(),
        resident_bytes: process_resident_bytes(),
    }
}

/// The process's resident set size in bytes, from `/proc/self/status` (`None` where there is
/// no procfs).
pub fn process_resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_rss(&status)
}

/// The `VmRSS:` line of a `/proc/<pid>/status` text, in bytes.
fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_memory_is_read_from_proc_status() {
        let status = "Name:\tskirmish\nVmPeak:\t  9000 kB\nVmRSS:\t  1234 kB\nThreads:\t4\n";
        assert_eq!(parse_vm_rss(status), Some(1234 * 1024));
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
        if cfg!(target_os = "linux") {
            assert!(process_resident_bytes().is_some_and(|bytes| bytes > 0));
        }
    }

    #[test]
    fn the_start_time_is_noted_once() {
        note_process_start();
        let first = process_start_time_seconds();
        note_process_start();
        assert_eq!(process_start_time_seconds(), first);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        assert!(first > 1.6e9 && first <= now.as_secs_f64(), "{first}");
    }
}
