//! [`Committed`]: the future of a command that resolves once its writes are
//! in the store.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::oneshot;

use crate::error::Error;

/// A command that was handed to the engine when the method was called (so
/// calls keep their order even if their futures are awaited later or
/// together) and resolves once its writes are committed to the store.
///
/// Await it in async code; call [`Committed::wait`] from synchronous code.
/// Dropping it does not cancel the command: the write still happens.
#[must_use = "the command runs anyway; await it to learn whether it was stored"]
#[derive(Debug)]
pub struct Committed<T> {
    state: State<T>,
}

#[derive(Debug)]
enum State<T> {
    /// Refused before it reached the engine (invalid input, driver gone).
    Done(Option<Result<T, Error>>),
    /// Waiting for the store thread's answer; `value` is returned with it.
    Waiting {
        rx: oneshot::Receiver<Result<(), Error>>,
        value: Option<T>,
    },
}

impl<T> Committed<T> {
    pub(crate) fn waiting(rx: oneshot::Receiver<Result<(), Error>>, value: T) -> Committed<T> {
        Committed {
            state: State::Waiting {
                rx,
                value: Some(value),
            },
        }
    }

    pub(crate) fn done(result: Result<T, Error>) -> Committed<T> {
        Committed {
            state: State::Done(Some(result)),
        }
    }

    /// Blocks the calling thread until the commit. For synchronous callers
    /// (see [`crate::blocking`]); inside an async runtime it never blocks a
    /// worker that other tasks need (it uses `block_in_place`, or a helper
    /// thread on a current-thread runtime).
    pub fn wait(self) -> Result<T, Error> {
        let (rx, value) = match self.state {
            State::Done(r) => return r.unwrap_or(Err(Error::DriverGone)),
            State::Waiting { rx, value } => (rx, value),
        };
        let answer = match tokio::runtime::Handle::try_current() {
            Err(_) => rx.blocking_recv(),
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| rx.blocking_recv())
            }
            Ok(_) => std::thread::scope(|s| {
                s.spawn(|| rx.blocking_recv())
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p))
            }),
        };
        finish(answer, value)
    }
}

fn finish<T>(
    answer: Result<Result<(), Error>, oneshot::error::RecvError>,
    value: Option<T>,
) -> Result<T, Error> {
    match answer {
        Ok(Ok(())) => value.ok_or(Error::DriverGone),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(Error::DriverGone),
    }
}

impl<T: Unpin> Future for Committed<T> {
    type Output = Result<T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match &mut this.state {
            State::Done(r) => Poll::Ready(r.take().unwrap_or(Err(Error::DriverGone))),
            State::Waiting { rx, value } => match Pin::new(rx).poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(answer) => Poll::Ready(finish(answer, value.take())),
            },
        }
    }
}
