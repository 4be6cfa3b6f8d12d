//! Chat as Socket.IO routes it: a line to everyone (`io.emit`) or to one player
//! (`io.to(id).emit`), checked, rate limited per sender and encoded once. Delivered through the
//! registry's reliable queues, beside the room's loop: a chat line changes no game state.
//! Must never: send to a player that has not been welcomed.

use std::sync::atomic::Ordering;

use bytes::Bytes;
use tokio::time::Instant;

use super::limits::{CHAT_BURST, CHAT_PER_SECOND, TokenBucket};
use super::registry::Sessions;
use crate::metrics::NetStats;
use crate::protocol::{ChatLine, PlayerId, ServerMessage, encode_server_message, validate_chat};

/// One sender's chat: its allowance of lines.
pub struct Chat {
    allowance: TokenBucket,
}

impl Default for Chat {
    fn default() -> Chat {
        Chat {
            allowance: TokenBucket::new(CHAT_BURST, CHAT_PER_SECOND),
        }
    }
}

impl Chat {
    /// Sends `raw` from `from` to everyone (`to` is `None`) or to one player. `Err` is the
    /// reason told to the sender in its acknowledgement.
    pub fn send(
        &mut self,
        sessions: &Sessions,
        net: &NetStats,
        from: PlayerId,
        to: Option<PlayerId>,
        raw: &str,
        now: Instant,
    ) -> Result<(), String> {
        let text = validate_chat(raw).map_err(|e| e.to_string())?;
        if !self.allowance.take(now) {
            net.chat_rate_limited.fetch_add(1, Ordering::Relaxed);
            return Err("rate limited: slow down".to_owned());
        }
        let line = ServerMessage::Chat(ChatLine {
            from,
            text: text.to_owned(),
            whisper: to.is_some(),
        });
        let bytes = Bytes::from(encode_server_message(&line).map_err(|e| e.to_string())?);
        match to {
            None => sessions.broadcast(bytes),
            Some(target) => {
                if !sessions.send_to_player(target, bytes) {
                    return Err(format!("player {target} is not connected"));
                }
            }
        }
        Ok(())
    }
}
