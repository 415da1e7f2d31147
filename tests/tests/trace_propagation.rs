//! A trace set on a client continues into the handler's `message` span and on to the
//! actors it sends to, through the mailbox: on the embedded runtime, and through
//! DynamoDB Local (the envelope's `trace` round-trips the table). The Lambda path is in
//! `lambda.rs` (`a_trace_set_on_the_client_reaches_the_functions_logs`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use mqless::trace::{self, TraceParent};
use mqless::{Context, Embedded};
use serde::{Deserialize, Serialize};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Passes a message along a chain of relays, each recording the trace it ran in.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Relay {
    seen: Vec<(String, String)>,
}

#[mqless::actor]
impl Relay {
    /// Records the current trace (trace id, span id), then passes on `hops` more times.
    pub async fn pass(&mut self, hops: u32, ctx: &mut Context) -> Result<(), String> {
        let current = trace::current();
        self.seen
            .push(current.map_or_else(Default::default, |t| (t.trace_id(), t.span_id())));
        if hops > 0 {
            let next = format!("relay-{hops}");
            let relay = ctx.actor::<Relay>(next).map_err(|e| e.to_string())?;
            relay
                .pass(hops - 1)
                .send()
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// The fields of every `message` span opened, in order.
#[derive(Clone, Default)]
struct MessageSpans {
    spans: Arc<Mutex<Vec<BTreeMap<String, String>>>>,
    ids: Arc<AtomicU64>,
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl Subscriber for MessageSpans {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let id = self.ids.fetch_add(1, Ordering::Relaxed) + 1;
        let mut spans = self.spans.lock().unwrap();
        let mut fields = BTreeMap::new();
        fields.insert("#name".to_owned(), span.metadata().name().to_owned());
        fields.insert("#id".to_owned(), id.to_string());
        span.record(&mut Fields(&mut fields));
        spans.push(fields);
        Id::from_u64(id)
    }
    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut spans = self.spans.lock().unwrap();
        let id = span.into_u64().to_string();
        if let Some(fields) = spans.iter_mut().find(|f| f["#id"] == id) {
            values.record(&mut Fields(fields));
        }
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

impl MessageSpans {
    fn of_messages(&self) -> Vec<BTreeMap<String, String>> {
        let spans = self.spans.lock().unwrap();
        spans
            .iter()
            .filter(|f| f["#name"] == "message")
            .cloned()
            .collect()
    }
}

const ROOT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// Sends along a chain of three relays inside `ROOT`'s trace: every handler ran in it,
/// each with a span of its own, and every `message` span carries its trace id.
async fn a_trace_crosses_the_mailbox_and_the_actors_sends(runtime: &Embedded) {
    let spans = MessageSpans::default();
    let _guard = tracing::subscriber::set_default(spans.clone());
    runtime.register::<Relay>().unwrap();
    let root = TraceParent::parse(ROOT).unwrap();
    trace::in_trace(root, async {
        runtime
            .client::<Relay>("relay-3")
            .unwrap()
            .pass(2)
            .send()
            .await
            .unwrap();
    })
    .await;
    // Outside any trace: nothing is carried.
    runtime
        .client::<Relay>("untraced")
        .unwrap()
        .pass(0)
        .send()
        .await
        .unwrap();
    runtime.settle().await;

    let mut span_ids = Vec::new();
    for id in ["relay-3", "relay-2", "relay-1"] {
        let relay = runtime.state::<Relay>(id).await.unwrap().unwrap();
        let (trace_id, span_id) = &relay.seen[0];
        assert_eq!(trace_id, &root.trace_id(), "{id}");
        span_ids.push(span_id.clone());
    }
    span_ids.push(root.span_id());
    span_ids.sort();
    span_ids.dedup();
    assert_eq!(span_ids.len(), 4, "each hop runs in a span of its own");
    let untraced = runtime.state::<Relay>("untraced").await.unwrap().unwrap();
    assert_eq!(untraced.seen, vec![(String::new(), String::new())]);

    let messages = spans.of_messages();
    let traced: Vec<_> = messages
        .iter()
        .filter(|f| f.get("trace_id") == Some(&root.trace_id()))
        .collect();
    assert_eq!(traced.len(), 3, "{messages:?}");
    assert!(traced.iter().all(|f| f["method"] == "pass"), "{messages:?}");
    // Each message's span is a child of its sender's: the client, then each handler.
    assert_eq!(traced[0]["parent_id"], root.span_id());
    let relay_3 = runtime.state::<Relay>("relay-3").await.unwrap().unwrap();
    let relay_2 = runtime.state::<Relay>("relay-2").await.unwrap().unwrap();
    assert_eq!(traced[1]["parent_id"], relay_3.seen[0].1);
    assert_eq!(traced[2]["parent_id"], relay_2.seen[0].1);
}

#[tokio::test]
async fn embedded() {
    a_trace_crosses_the_mailbox_and_the_actors_sends(&Embedded::new()).await;
}

#[tokio::test]
async fn through_dynamodb_local() {
    mqless_tests::requires_local_aws!();
    let store = mqless_tests::local_aws::fresh_store("trace").await;
    let runtime = Embedded::builder().store(Arc::new(store)).build();
    a_trace_crosses_the_mailbox_and_the_actors_sends(&runtime).await;
}
