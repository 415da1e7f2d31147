//! Running one user method: the generated `match` behind [`Actor::handle`], with panics
//! caught whether they happen when the future is made or while it is polled.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use crate::actor::{Actor, Context, Outcome};
use crate::error::CodecError;

/// A panic's payload.
pub(super) type Panic = Box<dyn Any + Send>;

/// Calls the method `message` names on `state`; `Err` if it panicked.
pub(super) async fn dispatch<A: Actor>(
    state: &mut A,
    message: A::Message,
    ctx: &mut Context,
) -> Result<Result<Outcome, CodecError>, Panic> {
    match std::panic::catch_unwind(AssertUnwindSafe(move || state.handle(message, ctx))) {
        Ok(future) => CatchUnwind(future).await,
        Err(panic) => Err(panic),
    }
}

/// Polls a future, turning a panic during any poll into an `Err`.
struct CatchUnwind<F>(F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Panic>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let future = &mut self.0;
        match std::panic::catch_unwind(AssertUnwindSafe(|| Pin::new(future).poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}
