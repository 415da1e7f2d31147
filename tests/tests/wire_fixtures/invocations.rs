//! What a client writes and hears outside the Rust API: a mailbox item written to the
//! table directly, and the functions' invocations and answers.

use super::*;

/// A mailbox item as a client writing the table directly puts it (DynamoDB JSON, as the
/// AWS CLI and SDKs show items): the envelope of `envelope-tell.msgpack` under a
/// canonical id, in each key layout (the partition key as the DynamoDB store computes
/// it). The Python tests write items of this shape and check that they run.
#[test]
fn mailbox_items() {
    use base64::Engine;
    use mqless::aws::KeyLayout;
    let envelope = Envelope::new(
        rmp_serde::to_vec_named(&CounterMessage::Increment { by: 5 }).unwrap(),
        false,
        None,
    )
    .encode(&Limits::DEFAULT)
    .unwrap();
    let id = MessageId::from_u128((1_800_000_000_000u128 << 80) | 1);
    let address = mqless::id::Address::parse("Counter/c1").unwrap();
    for (layout, name) in [
        (KeyLayout::V1, "item-mailbox.json"),
        (KeyLayout::V2, "item-mailbox-key-layout-v2.json"),
    ] {
        let item = serde_json::json!({
            "pk": {"S": layout.mailbox_partition(&address)},
            "sk": {"S": format!("m#{id}")},
            "env": {"B": base64::engine::general_purpose::STANDARD.encode(&envelope)},
        });
        json(name, &item);
    }
    if std::env::var_os("MQLESS_BLESS").is_none() {
        assert_eq!(
            envelope,
            std::fs::read(path("envelope-tell.msgpack")).unwrap()
        );
    }
}

/// A reply item as a client reads it when the reply did not come back in the function's
/// answer: `reply-ok.msgpack` under the ask's id, in each key layout (v2: the partition
/// of the asker that `envelope` named, as the DynamoDB store computes it).
#[test]
fn reply_items() {
    use base64::Engine;
    use mqless::aws::KeyLayout;
    let id = MessageId::from_u128((1_800_000_000_000u128 << 80) | 1);
    let address = mqless::id::Address::parse("Counter/c1").unwrap();
    let reply = std::fs::read(path("reply-ok.msgpack")).unwrap();
    for (layout, name) in [
        (KeyLayout::V1, "item-reply.json"),
        (KeyLayout::V2, "item-reply-key-layout-v2.json"),
    ] {
        let item = serde_json::json!({
            "pk": {"S": layout.reply_partition(&address, Some("AROAEXAMPLEID:billing-job"))},
            "sk": {"S": format!("r#{id}")},
            "rep": {"B": base64::engine::general_purpose::STANDARD.encode(&reply)},
            "ttl": {"N": "1800000600"},
        });
        json(name, &item);
    }
}

#[test]
fn invocations_and_answers() {
    let body = rmp_serde::to_vec_named(&CounterMessage::Increment { by: 5 }).unwrap();
    let body = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(body)
    };
    let id = MessageId::from_u128((1_800_000_000_000u128 << 80) | 1).to_string();
    let next = MessageId::from_u128((1_800_000_000_000u128 << 80) | 2).to_string();
    json(
        "invocation-drain.json",
        &Invocation {
            actor: "c1".into(),
            actor_type: Some("Counter".into()),
            reply_to: None,
            hop: 0,
            send: None,
        },
    );
    json(
        "invocation-ask.json",
        &Invocation {
            actor: "c1".into(),
            actor_type: Some("Counter".into()),
            reply_to: Some(id.clone()),
            hop: 0,
            send: None,
        },
    );
    json(
        "invocation-send.json",
        &Invocation {
            actor: "c1".into(),
            actor_type: Some("Counter".into()),
            reply_to: None,
            hop: 0,
            send: Some(SendRequest {
                body: body.clone(),
                ask: true,
                key: Some("order-1".into()),
                after: Some(id.clone()),
                at: None,
                name: None,
                trace: None,
                asker: None,
            }),
        },
    );
    // Key layout v2: an ask names who asks (its IAM user id), where its reply is kept.
    json(
        "invocation-send-key-layout-v2.json",
        &Invocation {
            actor: "c1".into(),
            actor_type: Some("Counter".into()),
            reply_to: None,
            hop: 0,
            send: Some(SendRequest {
                body,
                ask: true,
                key: None,
                after: None,
                at: None,
                name: None,
                trace: None,
                asker: Some("AROAEXAMPLEID:billing-job".into()),
            }),
        },
    );
    answers(next);
}

/// The answers of an invocation (a drain's, a quarantine's) and of a sweep.
fn answers(next: String) {
    json(
        "answer-send-ask.json",
        &InvocationResult {
            end: "Empty".into(),
            processed: 1,
            dead_lettered: 0,
            quarantine: None,
            reply: Some("gaJPa8QBBQ==".into()),
            dynamodb_requests: 7,
            write_units: 6.0,
            read_units: 1.0,
            id: Some(next),
        },
    );
    json(
        "answer-quarantined.json",
        &InvocationResult {
            end: "Quarantined".into(),
            processed: 0,
            dead_lettered: 0,
            quarantine: Some(
                "the committed state does not decode as this version of `Counter` (...)".into(),
            ),
            reply: None,
            dynamodb_requests: 2,
            write_units: 2.0,
            read_units: 0.0,
            id: None,
        },
    );
    json(
        "answer-sweep.json",
        &SweepResult {
            pending: 3,
            nudged: 3,
            failed: Vec::new(),
            quarantined: vec!["Counter/broken".into()],
            entries: 5,
            complete: true,
        },
    );
    // The reply in the answer above is `reply-ok.msgpack`, base64.
    let reply = encode(&ReplyRecord::Ok(encode(&5i64)));
    assert_eq!(hex(&reply), "81a24f6bc40105");
}

/// A per-actor subscription item, in each key layout (the partition and sort key as the
/// DynamoDB store computes them): in v1 in the topic's partition, written by the topic
/// from a subscribe message (`by` its id); in v2 in the subscriber type's partition of
/// the topic, written by the subscriber's own commit. The DynamoDB store's items are
/// checked against these by `subscriptions_apart`.
#[test]
fn subscription_items() {
    use mqless::aws::KeyLayout;
    let id = MessageId::from_u128((1_800_000_000_000u128 << 80) | 1);
    let watcher = mqless::id::ActorType::new("Watcher").unwrap();
    let pattern = r#"{"total": [{"numeric": [">", 100]}]}"#;
    json(
        "item-subscription.json",
        &serde_json::json!({
            "pk": {"S": "mqless-topic/orders"},
            "sk": {"S": "s#Watcher/w1#on_order"},
            "sub": {"S": "Watcher/w1"},
            "mth": {"S": "on_order"},
            "arg": {"S": "event"},
            "pat": {"S": pattern},
            "by": {"S": id.to_string()},
        }),
    );
    json(
        "item-subscription-key-layout-v2.json",
        &serde_json::json!({
            "pk": {"S": KeyLayout::V2.subscription_partition("orders", &watcher)},
            "sk": {"S": "w1#on_order"},
            "sub": {"S": "Watcher/w1"},
            "mth": {"S": "on_order"},
            "arg": {"S": "event"},
            "pat": {"S": pattern},
        }),
    );
}
