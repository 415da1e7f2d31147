//! Feature `opentelemetry`: MQLess's spans are exported through the OpenTelemetry SDK,
//! each message's span parented by the span that sent it (a client's span, or the
//! sending handler's message span), across the mailbox: on the embedded runtime and
//! through DynamoDB Local. Spans are read back from the SDK's in-memory exporter.

use std::collections::HashMap;

use mqless::otel::opentelemetry::trace::{SpanId, TraceId, TracerProvider as _};
use mqless::trace::{self, TraceParent};
use mqless::{Context, Embedded};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use serde::{Deserialize, Serialize};
use tracing::Instrument as _;
use tracing_subscriber::layer::SubscriberExt as _;

/// Passes a message along a chain of hops, each recording the trace context it ran in.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Hop {
    ran_in: Option<String>,
}

#[mqless::actor]
impl Hop {
    /// Records the current trace context, then passes on to `hop-{hops}`.
    pub async fn pass(&mut self, hops: u32, ctx: &mut Context) -> Result<(), String> {
        self.ran_in = trace::current().map(|t| t.to_string());
        if hops > 0 {
            let next = ctx
                .actor::<Hop>(format!("hop-{hops}"))
                .map_err(|e| e.to_string())?;
            next.pass(hops - 1)
                .send()
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// The exported `message` span of each actor, by actor address.
fn message_spans(spans: &[SpanData]) -> HashMap<String, SpanData> {
    spans
        .iter()
        .filter(|span| span.name == "message")
        .filter_map(|span| {
            let actor = span
                .attributes
                .iter()
                .find(|kv| kv.key.as_str() == "actor")?;
            Some((actor.value.to_string(), span.clone()))
        })
        .collect()
}

/// Runs `hop-3 -> hop-2 -> hop-1` inside a span of the test's own (as a service's request
/// span would be) and checks the exported tree: one trace, each message span the child
/// of its sender's, and each handler's `trace::current()` its message span's ids.
async fn exported_spans_follow_the_messages(runtime: &Embedded) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber =
        tracing_subscriber::registry().with(mqless::otel::layer(provider.tracer("test")));
    let _guard = tracing::subscriber::set_default(subscriber);
    runtime.register::<Hop>().unwrap();

    let request = tracing::info_span!("request");
    async {
        let hop = runtime.client::<Hop>("hop-3").unwrap();
        hop.pass(2).send().await.unwrap();
    }
    .instrument(request)
    .await;
    runtime.settle().await;
    provider.force_flush().unwrap();

    let spans = exporter.get_finished_spans().unwrap();
    let request = spans.iter().find(|s| s.name == "request").unwrap();
    let trace_id = request.span_context.trace_id();
    let messages = message_spans(&spans);
    let mut parent = request.span_context.span_id();
    for id in ["hop-3", "hop-2", "hop-1"] {
        let message = &messages[&format!("Hop/{id}")];
        assert_eq!(message.span_context.trace_id(), trace_id, "{id}");
        assert_eq!(message.parent_span_id, parent, "{id}'s sender");
        assert!(
            message.parent_span_is_remote,
            "{id}: parented through the envelope"
        );
        let ran_in = runtime.state::<Hop>(id).await.unwrap().unwrap().ran_in;
        let ran_in = TraceParent::parse(&ran_in.unwrap()).unwrap();
        assert_eq!(
            ran_in.trace_id_u128(),
            u128::from_be_bytes(trace_id.to_bytes())
        );
        assert_eq!(
            ran_in.span_id_u64(),
            u64::from_be_bytes(message.span_context.span_id().to_bytes()),
            "{id}'s handler runs in its exported span"
        );
        parent = message.span_context.span_id();
    }

    // A context set with `in_trace` (from an incoming `traceparent`) parents the first
    // message's exported span too.
    let incoming =
        TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
    trace::in_trace(incoming, async {
        let hop = runtime.client::<Hop>("incoming").unwrap();
        hop.pass(0).send().await.unwrap();
    })
    .await;
    runtime.settle().await;
    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let message = &message_spans(&spans)["Hop/incoming"];
    assert_eq!(
        message.span_context.trace_id(),
        TraceId::from(incoming.trace_id_u128())
    );
    assert_eq!(message.parent_span_id, SpanId::from(incoming.span_id_u64()));
}

#[tokio::test]
async fn embedded() {
    exported_spans_follow_the_messages(&Embedded::new()).await;
}

#[tokio::test]
async fn through_dynamodb_local() {
    mqless_tests::requires_local_aws!();
    let store = mqless_tests::local_aws::fresh_store("otel").await;
    let runtime = Embedded::builder()
        .store(std::sync::Arc::new(store))
        .build();
    exported_spans_follow_the_messages(&runtime).await;
}
