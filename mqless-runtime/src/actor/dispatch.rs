//! Running one user method: the generated `match` behind [`Actor::handle`], with panics
//! caught whether they happen when the future is made or while it is polled.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Once;
use std::task::{Context as TaskContext, Poll};

use crate::actor::client::handler_scope;
use crate::actor::{Actor, Context, Outcome};
use crate::error::CodecError;

/// A panic's payload.
pub(crate) type Panic = Box<dyn Any + Send>;

/// Calls the method `message` names on `state`; `Err` if it panicked.
pub(crate) async fn dispatch<A: Actor>(
    state: &mut A,
    message: A::Message,
    ctx: &mut Context,
) -> Result<Result<Outcome, CodecError>, Panic> {
    quiet_handler_panics();
    let made = {
        let _inside = handler_scope::enter();
        std::panic::catch_unwind(AssertUnwindSafe(move || state.handle(message, ctx)))
    };
    match made {
        Ok(future) => CatchUnwind(future).await,
        Err(panic) => Err(panic),
    }
}

/// Set `MQLESS_PANIC_BACKTRACE=1` to see handler panics through the standard hook
/// (message and backtrace) as well.
const PANIC_BACKTRACE_VAR: &str = "MQLESS_PANIC_BACKTRACE";

/// A handler's panic is caught, retried and dead-lettered, and the engine logs one line
/// per attempt (actor, message, panic text). The standard panic hook would also print
/// the panic, with a backtrace under `RUST_BACKTRACE`, for every attempt; so once per
/// process this wraps the installed hook to stay quiet for panics inside a handler,
/// unless `MQLESS_PANIC_BACKTRACE=1`. Panics anywhere else reach the hook unchanged.
fn quiet_handler_panics() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        if std::env::var_os(PANIC_BACKTRACE_VAR).is_some_and(|v| v == "1") {
            return;
        }
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !handler_scope::inside() {
                previous(info);
            }
        }));
    });
}

/// Polls a future, turning a panic during any poll into an `Err`.
struct CatchUnwind<F>(F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Panic>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let future = &mut self.0;
        let _inside = handler_scope::enter();
        match std::panic::catch_unwind(AssertUnwindSafe(|| Pin::new(future).poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}
