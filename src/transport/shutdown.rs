//! How a stopping server reaches every connection task, built from tokio-util's pieces: one
//! [`CancellationToken`] that says "stop" to every task at once, and one [`TaskTracker`] that
//! every connection task (HTTP, TLS handshakes, refusals, each WebSocket's reader and writer) is
//! spawned on, so the server knows when the last one is done. Must never: let a connection task
//! be spawned outside the tracker.

use std::future::Future;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The stop signal and the task tracker every connection task shares.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    stopping: CancellationToken,
    tasks: TaskTracker,
}

impl Shutdown {
    /// Spawns a connection task, tracked.
    pub fn spawn<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tasks.spawn(task)
    }

    /// Resolves once the server is stopping.
    pub async fn stopping(&self) {
        self.stopping.cancelled().await;
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.is_cancelled()
    }

    /// Tells every task to stop. [`Shutdown::finished`] may resolve from now on, once the
    /// tracker is empty (a task spawned while others end is still tracked and waited for).
    pub fn begin(&self) {
        self.stopping.cancel();
        self.tasks.close();
    }

    /// Resolves when every tracked task has ended (after [`Shutdown::begin`]).
    pub async fn finished(&self) {
        self.tasks.wait().await;
    }

    /// Connection tasks still running.
    pub fn running(&self) -> usize {
        self.tasks.len()
    }
}
