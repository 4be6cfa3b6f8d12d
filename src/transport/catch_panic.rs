//! A connection's work with its panic caught where it runs: should it ever panic (a bug: no
//! input may cause one), the caller still removes the player. tokio catches a task's panic
//! too, but only for a task of its own, which every connection would carry (a second task
//! header, future and wake-up per player) just to learn that it panicked.
//!
//! Must never: swallow a panic silently (the hook has reported it; the caller cleans up), or
//! poll the work again after it panicked.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

pin_project_lite::pin_project! {
    /// `work`, resolving to `Err(Panicked)` instead of unwinding if it panics.
    pub struct CatchPanic<F> {
        #[pin]
        work: F,
        panicked: bool,
    }
}

/// The work panicked; the panic hook has reported where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Panicked;

/// Runs `work` with its panic caught.
pub fn catch_panic<F: Future>(work: F) -> CatchPanic<F> {
    CatchPanic {
        work,
        panicked: false,
    }
}

impl<F: Future> Future for CatchPanic<F> {
    type Output = Result<F::Output, Panicked>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if *this.panicked {
            return Poll::Ready(Err(Panicked));
        }
        let work = this.work;
        // The work is never polled again after a panic, so what it left half-done is not seen.
        match catch_unwind(AssertUnwindSafe(|| work.poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => {
                *this.panicked = true;
                Poll::Ready(Err(Panicked))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_that_ends_gives_its_output() {
        assert_eq!(catch_panic(async { 7 }).await, Ok(7));
    }

    #[tokio::test]
    async fn a_panic_after_a_wait_is_caught() {
        let work = async {
            tokio::task::yield_now().await;
            if std::hint::black_box(true) {
                panic!("a bug");
            }
            1
        };
        assert_eq!(catch_panic(work).await, Err(Panicked));
    }
}
