//! OpenTelemetry export of MQLess's spans (feature `opentelemetry`).
//!
//! Add [`layer`] to your `tracing` subscriber with a tracer of your OpenTelemetry SDK:
//! every `message` span is then exported as a span whose parent is the span that sent
//! the message, wherever that ran (a client, another actor's handler, another Lambda
//! function), because the W3C `traceparent` in the message's envelope becomes the
//! span's remote parent. Sends made under an exported span of your own (an HTTP
//! request's, say) carry its context without [`in_trace`](crate::trace::in_trace).
//!
//! ```no_run
//! use mqless_runtime::otel::opentelemetry::trace::TracerProvider;
//! use tracing_subscriber::layer::SubscriberExt as _;
//!
//! // `provider`: your SDK's, e.g. `opentelemetry_sdk::trace::SdkTracerProvider` with an
//! // OTLP exporter.
//! fn init_tracing<P: TracerProvider>(provider: &P)
//! where
//!     P::Tracer: Send + Sync + 'static,
//!     <P::Tracer as mqless_runtime::otel::opentelemetry::trace::Tracer>::Span: Send + Sync,
//! {
//!     let subscriber = tracing_subscriber::registry()
//!         .with(mqless_runtime::otel::layer(provider.tracer("my-service")));
//!     tracing::subscriber::set_global_default(subscriber).expect("set once, at start-up");
//! }
//! ```
//!
//! In a Lambda function, flush the exporter after each invocation (Lambda may freeze
//! the process as soon as it answers) with
//! [`aws::run_with_flush`](crate::aws::run_with_flush).
//!
//! The crates are re-exported so your exporter's versions match MQLess's.

pub use opentelemetry;
pub use tracing_opentelemetry;

use opentelemetry::trace::{SpanContext, TraceContextExt as _, TraceFlags, TraceId, TraceState};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::TraceParent;

/// The `tracing` layer that exports spans through `tracer`, MQLess's message spans
/// parented by the spans that sent them.
pub fn layer<S, T>(tracer: T) -> tracing_opentelemetry::OpenTelemetryLayer<S, T>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
    T: opentelemetry::trace::Tracer + 'static,
    T::Span: Send + Sync,
{
    tracing_opentelemetry::layer().with_tracer(tracer)
}

/// Makes `parent` (a message's sender) the exported parent of `span` (its `message`
/// span), and returns the context its handler runs in: `span`'s own ids when it is
/// exported, so the messages the handler sends are parented by it.
pub(crate) fn continue_trace(
    span: &tracing::Span,
    parent: Option<TraceParent>,
) -> Option<TraceParent> {
    if let Some(parent) = parent {
        let remote = SpanContext::new(
            TraceId::from(parent.trace_id_u128()),
            opentelemetry::trace::SpanId::from(parent.span_id_u64()),
            if parent.sampled() {
                TraceFlags::SAMPLED
            } else {
                TraceFlags::default()
            },
            true,
            TraceState::default(),
        );
        // Fails only when no OpenTelemetry layer records the span: nothing to export.
        let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(remote));
    }
    exported(span).or_else(|| parent.map(|parent| parent.child()))
}

/// The context of the current span, when it is exported.
pub(crate) fn current() -> Option<TraceParent> {
    exported(&tracing::Span::current())
}

fn exported(span: &tracing::Span) -> Option<TraceParent> {
    let context = span.context();
    let span_context = context.span().span_context().clone();
    if !span_context.is_valid() {
        return None;
    }
    TraceParent::from_parts(
        u128::from_be_bytes(span_context.trace_id().to_bytes()),
        u64::from_be_bytes(span_context.span_id().to_bytes()),
        span_context.is_sampled(),
    )
}
