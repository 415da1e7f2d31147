//! The isolation rows of topics: who may write a per-actor subscription, in each key
//! layout (in v2 only the subscriber type's own function; in v1 the topic, from any
//! sender's subscribe message, which is v1's gap in the protocol rather than in IAM).

use super::*;

/// Topics: `Shop` publishes to them; `Watcher` and `Auditor` subscribe per actor to
/// `orders` (and send to the topics: in v1 a subscription is a message to the topic);
/// the events function runs the topics and delivers to both.
fn topics_stack() -> Vec<Function> {
    let mut functions = saga();
    functions.retain(|f| f.manifest.sweeper);
    let actor = |bin: &str, actor_type: &str, subscribes: bool| {
        let mut function = saga().remove(0);
        function.bin = bin.into();
        function.code_uri = format!("target/lambda/{bin}/");
        function.manifest.actor_type = Some(actor_type.into());
        function.manifest.sends_to = Some(vec![mqless_runtime::events::TOPIC_TYPE.into()]);
        function.manifest.asks_with_reply_to = false;
        if subscribes {
            function.manifest.subscribes_to = vec!["orders".into()];
        }
        function
    };
    let mut events = actor("events-function", mqless_runtime::events::TOPIC_TYPE, false);
    events.manifest.events = true;
    events.manifest.sends_to = Some(vec!["Watcher".into(), "Auditor".into()]);
    functions.extend([
        actor("shop-function", "Shop", false),
        actor("watcher-function", "Watcher", true),
        actor("auditor-function", "Auditor", true),
        events,
    ]);
    functions
}

#[test]
fn only_a_subscribers_own_function_writes_its_subscriptions() {
    use Expect::{Allowed, Denied, GapInV1};
    for layout in [KeyLayout::V1, KeyLayout::V2, KeyLayout::V1ToV2] {
        let mut arguments = args();
        arguments.key_layout = Some(layout);
        let template = template(&topics_stack(), &arguments).unwrap();
        // Where a Watcher's subscription to `orders` is kept: the topic's partition in
        // v1 (written there by the topic's handler), its type's partition where apart.
        let watchers = if layout.apart() {
            "t/orders/Watcher".to_owned()
        } else {
            "mqless-topic/orders".to_owned()
        };
        let subscription = &["sub", "mth", "arg", "pat"];
        // Where apart, the subscriber's own commit writes it; in v1 nobody but the
        // topic does, and the subscriber's function is denied its partition.
        let own = if layout.apart() { Allowed } else { Denied };
        let rows: Vec<Row<'_>> = vec![
            (
                "EventsFunction",
                "reads a topic's subscriptions",
                Request::item("Query", &watchers, &[]),
                Allowed,
            ),
            (
                "WatcherFunction",
                "subscribes a Watcher in its commit",
                Request::item("PutItem", "t/orders/Watcher", subscription),
                own,
            ),
            (
                "WatcherFunction",
                "ends a Watcher's subscription in its commit",
                Request::item("DeleteItem", "t/orders/Watcher", &[]),
                own,
            ),
            (
                "WatcherFunction",
                "subscribes to a topic it has no method for",
                Request::item("PutItem", "t/payments/Watcher", subscription),
                Denied,
            ),
            (
                "AuditorFunction",
                "writes a Watcher's subscription",
                Request::item("PutItem", &watchers, subscription),
                Denied,
            ),
            (
                "ShopFunction",
                "(publishing to the topic) writes a Watcher's subscription",
                Request::item("PutItem", &watchers, subscription),
                Denied,
            ),
            (
                "ShopFunction",
                "overwrites a Watcher's subscription with a bare message item, ending it",
                Request::item("PutItem", &watchers, MESSAGE),
                GapInV1,
            ),
            (
                "ShopFunction",
                "deletes a Watcher's subscription",
                Request::item("DeleteItem", &watchers, &[]),
                Denied,
            ),
            (
                "ClientPolicy",
                "subscribes a Watcher",
                Request::item("PutItem", &watchers, subscription),
                GapInV1,
            ),
            (
                "ClientPolicy",
                "publishes (queues a message for the topic)",
                Request::item(
                    "PutItem",
                    &layout.mailbox_partition(&Address::parse("mqless-topic/orders").unwrap()),
                    MESSAGE,
                ),
                Allowed,
            ),
        ];
        assert_rows(&template, &rows, layout);
    }
}
