//! Trace context across actors: the W3C `traceparent` of a send travels in the message's
//! envelope, so a trace continues from a client, across the mailbox, into the handler
//! (whose `message` span carries its `trace_id`) and on to the actors it sends to.
//!
//! A send carries the trace context current where it is made: inside a handler, the
//! handled message's (a child span of it); in a client, the one set with [`in_trace`]
//! (for example from an incoming HTTP request's `traceparent` header). Without one, no
//! trace is sent and the envelope is no bigger.
//!
//! ```
//! # async fn demo() -> Result<(), mqless_runtime::Error> {
//! use mqless_runtime::trace::{self, TraceParent};
//! let incoming = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")?;
//! trace::in_trace(incoming, async {
//!     // counter.increment(5).send().await?; carries trace 4bf92f35...
//!     assert_eq!(trace::current().unwrap().trace_id(), incoming.trace_id());
//! })
//! .await;
//! # Ok(()) }
//! ```

#[cfg(feature = "opentelemetry")]
#[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry")))]
pub mod otel;

use std::fmt;
use std::future::Future;

use crate::error::Error;
use crate::id::random_u64;

/// A W3C trace context (`traceparent`): the trace, the span that sent, and whether the
/// trace is sampled.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceParent {
    trace_id: u128,
    span_id: u64,
    sampled: bool,
}

impl TraceParent {
    /// A new trace, sampled, with random ids.
    #[must_use]
    pub fn new_root() -> Self {
        let trace_id = (u128::from(random_u64()) << 64 | u128::from(random_u64())).max(1);
        Self {
            trace_id,
            span_id: random_u64().max(1),
            sampled: true,
        }
    }

    /// A trace context from its parts. `None` when either id is zero (invalid in W3C).
    #[must_use]
    pub fn from_parts(trace_id: u128, span_id: u64, sampled: bool) -> Option<Self> {
        (trace_id != 0 && span_id != 0).then_some(Self {
            trace_id,
            span_id,
            sampled,
        })
    }

    /// Parses `00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`.
    ///
    /// # Errors
    /// [`Error::InvalidTraceParent`] saying what is wrong.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let invalid = |why: &str| Error::InvalidTraceParent(format!("{text:?}: {why}"));
        let parts: Vec<&str> = text.trim().split('-').collect();
        let [version, trace, span, flags] = parts[..] else {
            return Err(invalid("expected `00-<trace id>-<span id>-<flags>`"));
        };
        fn hex(s: &str, len: usize) -> Option<&str> {
            (s.len() == len
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
            .then_some(s)
        }
        if hex(version, 2).is_none() || version == "ff" {
            return Err(invalid(
                "the version is not two lower-case hex digits below ff",
            ));
        }
        let trace = hex(trace, 32)
            .and_then(|s| u128::from_str_radix(s, 16).ok())
            .ok_or_else(|| invalid("the trace id is not 32 lower-case hex digits"))?;
        let span = hex(span, 16)
            .and_then(|s| u64::from_str_radix(s, 16).ok())
            .ok_or_else(|| invalid("the span id is not 16 lower-case hex digits"))?;
        let flags = hex(flags, 2)
            .and_then(|s| u8::from_str_radix(s, 16).ok())
            .ok_or_else(|| invalid("the flags are not two lower-case hex digits"))?;
        Self::from_parts(trace, span, flags & 1 == 1)
            .ok_or_else(|| invalid("an all-zero trace id or span id is invalid"))
    }

    /// The trace id, as 32 lower-case hex digits.
    #[must_use]
    pub fn trace_id(&self) -> String {
        format!("{:032x}", self.trace_id)
    }

    /// The id of the span that sent, as 16 lower-case hex digits.
    #[must_use]
    pub fn span_id(&self) -> String {
        format!("{:016x}", self.span_id)
    }

    /// The trace id as a number.
    #[must_use]
    pub fn trace_id_u128(&self) -> u128 {
        self.trace_id
    }

    /// The id of the span that sent, as a number.
    #[must_use]
    pub fn span_id_u64(&self) -> u64 {
        self.span_id
    }

    /// Whether the trace is sampled.
    #[must_use]
    pub fn sampled(&self) -> bool {
        self.sampled
    }

    /// The same trace with a new span id: the context a message's handler runs in, and
    /// what each send from it carries.
    #[must_use]
    pub fn child(&self) -> Self {
        Self {
            span_id: random_u64().max(1),
            ..*self
        }
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flags = u8::from(self.sampled);
        write!(
            f,
            "00-{:032x}-{:016x}-{flags:02x}",
            self.trace_id, self.span_id
        )
    }
}

impl fmt::Debug for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceParent({self})")
    }
}

tokio::task_local! {
    static CURRENT: TraceParent;
}

/// Runs `future` with `trace` as the current trace context: every send it makes carries
/// it, so the receiving message's span is a child of `trace`'s span.
pub async fn in_trace<F: Future>(trace: TraceParent, future: F) -> F::Output {
    CURRENT.scope(trace, future).await
}

/// The current trace context: inside a handler, its message's; in a client, the one
/// set with [`in_trace`]; with the `opentelemetry` feature, otherwise the current span's
/// if it is exported; otherwise `None`.
#[must_use]
pub fn current() -> Option<TraceParent> {
    let scoped = CURRENT.try_with(|trace| *trace).ok();
    #[cfg(feature = "opentelemetry")]
    let scoped = scoped.or_else(otel::current);
    scoped
}

/// The context a handler runs in, given its message's sender (`parent`): a child of
/// it, or with the `opentelemetry` feature the `message` span's own exported context
/// (its parent set to the sender).
pub(crate) fn for_message(
    span: &tracing::Span,
    parent: Option<TraceParent>,
) -> Option<TraceParent> {
    #[cfg(feature = "opentelemetry")]
    return otel::continue_trace(span, parent);
    #[cfg(not(feature = "opentelemetry"))]
    {
        let _ = span;
        parent.map(|parent| parent.child())
    }
}

/// The `traceparent` a send made now carries: the current context, whose span (the
/// handler's, or the client's) is the parent of the receiving message's span.
pub(crate) fn for_send() -> Option<String> {
    current().map(|trace| trace.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn the_w3c_example_round_trips() {
        let trace = TraceParent::parse(EXAMPLE).unwrap();
        assert_eq!(trace.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(trace.span_id(), "00f067aa0ba902b7");
        assert!(trace.sampled());
        assert_eq!(trace.to_string(), EXAMPLE);
        let child = trace.child();
        assert_eq!(child.trace_id(), trace.trace_id());
        assert_ne!(child.span_id(), trace.span_id());
    }

    #[test]
    fn malformed_contexts_are_refused_with_the_reason() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        ] {
            let error = TraceParent::parse(bad).unwrap_err();
            assert!(error.to_string().contains("traceparent"), "{bad}: {error}");
        }
    }

    #[tokio::test]
    async fn sends_carry_the_current_context() {
        assert_eq!(for_send(), None);
        let trace = TraceParent::parse(EXAMPLE).unwrap();
        let sent = in_trace(trace, async { for_send() }).await;
        assert_eq!(sent.as_deref(), Some(EXAMPLE));
        assert_eq!(current(), None);
    }
}
