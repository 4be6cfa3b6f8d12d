//! Gives memory back to the system after players leave. glibc's allocator keeps what a
//! thousand connections freed (their tasks, buffers and queues) in its arenas, so the resident
//! set would stay at its peak for the life of the process; once the players have dropped by a
//! good margin, `malloc_trim` returns the free pages. Pure decision ([`TrimPolicy`]), one call.
//! Must never: trim on every sweep (it walks the heap), or run where glibc does not.

use std::time::Duration;

/// How often the player count is looked at.
pub const TRIM_CHECK_INTERVAL: Duration = Duration::from_secs(10);
/// Players that must have left since the last trim (or since the peak) before trimming again.
const LEFT_BEFORE_TRIM: usize = 64;

/// When to trim: after the player count fell [`LEFT_BEFORE_TRIM`] below its highest since the
/// last trim.
#[derive(Debug, Default)]
pub struct TrimPolicy {
    peak: usize,
}

impl TrimPolicy {
    /// Looks at the player count now; true when it is time to trim.
    pub fn should_trim(&mut self, players: usize) -> bool {
        self.peak = self.peak.max(players);
        if self.peak - players >= LEFT_BEFORE_TRIM {
            self.peak = players;
            return true;
        }
        false
    }
}

/// Returns free heap pages to the system; whether any were (false where the allocator
/// cannot).
pub fn trim() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim only walks glibc's own free lists.
        unsafe { libc::malloc_trim(0) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_once_enough_players_left_and_not_again_until_more_leave() {
        let mut policy = TrimPolicy::default();
        assert!(!policy.should_trim(0));
        assert!(!policy.should_trim(1000));
        assert!(!policy.should_trim(1000 - LEFT_BEFORE_TRIM + 1));
        assert!(policy.should_trim(1000 - LEFT_BEFORE_TRIM));
        assert!(!policy.should_trim(1000 - LEFT_BEFORE_TRIM - 1));
        // Players come back: the peak since the trim is what counts.
        assert!(!policy.should_trim(1000));
        assert!(!policy.should_trim(1000 - LEFT_BEFORE_TRIM + 1));
        assert!(policy.should_trim(10));
        assert!(!policy.should_trim(0), "only 10 more left");
    }

    #[test]
    fn trimming_is_harmless() {
        let _ = trim();
        let v: Vec<u8> = vec![1; 1 << 20];
        drop(v);
        let _ = trim();
    }
}
