//! A session's way into its room: the room's bounded lock-free event queue. Input is dropped
//! (and counted) when the queue is full, so the room never waits and a flood cannot grow memory;
//! joins, leaves and resumes must arrive, so they wait for room, unless the room has stopped
//! (closed: nobody drains the queue any more). Must never: block a thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossbeam_queue::ArrayQueue;

use crate::metrics::NetStats;
use crate::protocol::{PlayerId, PlayerInput};
use crate::room::RoomEvent;

/// How long a reliable event waits before it tries a full queue again. The room drains the
/// whole queue every tick, so a full queue empties within one tick.
const RETRY_FULL_QUEUE: Duration = Duration::from_millis(1);

/// The sending side of one room's event queue.
#[derive(Clone)]
pub struct RoomLink {
    events: Arc<ArrayQueue<RoomEvent>>,
    net: Arc<NetStats>,
    /// Set once the room has stopped: events for it go nowhere.
    closed: Arc<AtomicBool>,
}

impl RoomLink {
    pub fn new(events: Arc<ArrayQueue<RoomEvent>>, net: Arc<NetStats>) -> RoomLink {
        RoomLink {
            events,
            net,
            closed: Arc::default(),
        }
    }

    /// The room has stopped (disposed of, or failed): what is still sent to it is dropped.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Hands a player's input to the room, or drops it (counted) if the room is a whole queue
    /// behind: input is perishable, the next one supersedes it.
    pub fn forward_input(&self, id: PlayerId, input: PlayerInput) {
        self.net.inputs_received.fetch_add(1, Ordering::Relaxed);
        if self.events.push(RoomEvent::Input { id, input }).is_err() {
            self.net
                .inputs_dropped_queue_full
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Hands the room an event that must arrive (a join, a resume, a leave), waiting on this
    /// task, never on a thread, while the queue is momentarily full. Gives up once the room
    /// has stopped.
    pub async fn push_reliable(&self, mut event: RoomEvent) {
        loop {
            match self.events.push(event) {
                Ok(()) => return,
                Err(_) if self.is_closed() => return,
                Err(rejected) => {
                    event = rejected;
                    tokio::time::sleep(RETRY_FULL_QUEUE).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_reliable_event_waits_for_a_full_queue_until_the_room_stops() {
        let events = Arc::new(ArrayQueue::new(1));
        let link = RoomLink::new(Arc::clone(&events), Arc::default());
        link.push_reliable(RoomEvent::Leave {
            id: PlayerId(1),
            connection: 1,
        })
        .await;
        let waiting = tokio::spawn({
            let link = link.clone();
            async move {
                link.push_reliable(RoomEvent::Leave {
                    id: PlayerId(2),
                    connection: 2,
                })
                .await
            }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "the queue is full: it waits");
        link.close();
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("gave up once the room stopped")
            .unwrap();
        assert_eq!(events.len(), 1);
    }
}
