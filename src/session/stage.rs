//! Where a session is in its life: joining (the transport is open, the player not yet welcomed),
//! welcomed (the room queued its welcome: broadcasts and snapshots may flow), closing (the
//! session ended; nothing more is handed to it). The one owner of that state: the registry, the
//! room and the transport's writer only ask it. Must never: go back to an earlier stage.

use std::sync::atomic::{AtomicU8, Ordering};

const JOINING: u8 = 0;
const WELCOMED: u8 = 1;
const CLOSING: u8 = 2;

/// A session's stage, shared by the session, the registry and the transport's writer.
#[derive(Debug, Default)]
pub struct SessionStage(AtomicU8);

impl SessionStage {
    /// The room queued the player's welcome. Returns false if the session is already closing.
    pub fn welcome(&self) -> bool {
        match self
            .0
            .compare_exchange(JOINING, WELCOMED, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => true,
            Err(current) => current == WELCOMED,
        }
    }

    /// Whether the welcome was queued and the session has not ended: messages for everyone
    /// and snapshots may be handed to it.
    pub fn is_welcomed(&self) -> bool {
        self.0.load(Ordering::Acquire) == WELCOMED
    }

    /// The session ended: from now on nothing more is handed to it.
    pub fn close(&self) {
        self.0.store(CLOSING, Ordering::Release);
    }

    pub fn is_closing(&self) -> bool {
        self.0.load(Ordering::Acquire) == CLOSING
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_welcomed_once_and_never_after_it_closed() {
        let stage = SessionStage::default();
        assert!(!stage.is_welcomed());
        assert!(stage.welcome());
        assert!(stage.is_welcomed());
        assert!(stage.welcome(), "welcoming twice is harmless");
        stage.close();
        assert!(stage.is_closing());
        assert!(!stage.is_welcomed());
        assert!(!stage.welcome(), "a closing session is not welcomed again");
        assert!(stage.is_closing());
    }
}
