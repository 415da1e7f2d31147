//! Every `mqless` subcommand, run as a user runs it (the built binary, its output and
//! exit code) against DynamoDB Local and the Lambda emulator that `scripts/test` starts.
//! Actors are set up through the library on a fresh table per test, except where the
//! command invokes a function: the emulator's functions use the shared e2e table.
// A failed step should stop the test with its message, as `assert!` does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};
use std::sync::Arc;

use mqless::aws::dynamodb::DynamoStore;
use mqless::clock::Clock as _;
use mqless::store::{MailboxItem, Store};
use mqless::{Embedded, MessageId};
use mqless_examples::bank::{Account, AccountMessage};
use mqless_examples::counter::Counter;
use mqless_tests::local_aws;
use serde_json::Value as Json;

/// Runs `mqless args...`; the output and whether it succeeded.
fn mqless(args: &[&str]) -> Output {
    local_aws::configure();
    Command::new(env!("CARGO_BIN_EXE_mqless"))
        .args(args)
        .output()
        .expect("run the mqless binary")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs it and expects success; its standard output.
fn ok(args: &[&str]) -> String {
    let output = mqless(args);
    assert!(
        output.status.success(),
        "mqless {args:?} failed: {}{}",
        stdout(&output),
        stderr(&output)
    );
    stdout(&output)
}

/// Runs it with `--output json` and expects success; the parsed document.
fn json(args: &[&str]) -> Json {
    let mut args = args.to_vec();
    args.extend(["--output", "json"]);
    serde_json::from_str(&ok(&args)).expect("--output json prints JSON")
}

/// Runs it and expects failure; its standard error.
fn fails(args: &[&str]) -> String {
    let output = mqless(args);
    assert!(
        !output.status.success(),
        "mqless {args:?} should fail: {}",
        stdout(&output)
    );
    stderr(&output)
}

/// A fresh table with the bank's accounts and counters running on an embedded runtime.
async fn bank(test: &str) -> (DynamoStore, Embedded) {
    let store = local_aws::fresh_store(test).await;
    let runtime = Embedded::builder().store(Arc::new(store.clone())).build();
    runtime.register::<Account>().unwrap();
    runtime.register::<Counter>().unwrap();
    (store, runtime)
}

/// Queues `message` for `Account/<id>` straight into the table, so nothing runs it.
async fn queue(store: &DynamoStore, id: &str, message: &AccountMessage) {
    let body = mqless::wire::encode(message, "message", 64 * 1024).unwrap();
    let envelope = mqless::wire::Envelope::new(body, false, Some("key-1".into()))
        .encode(&mqless::Limits::DEFAULT)
        .unwrap();
    let address = mqless::id::Address::parse(&format!("Account/{id}")).unwrap();
    let item = MailboxItem {
        id: MessageId::generate(mqless::clock::SystemClock.now_millis(), None),
        envelope,
    };
    store.enqueue(&address, &item).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actors_list_pages_and_show_renders_state_as_json() {
    mqless_tests::requires_local_aws!();
    let (store, runtime) = bank("cli-actors").await;
    for i in 0..5 {
        let account = runtime.client::<Account>(format!("a{i}")).unwrap();
        account.deposit(100 + i).send().await.unwrap();
    }
    runtime.settle().await;
    let table = store.table();

    let listed = ok(&["actors", "list", "Account", "--table", table]);
    assert_eq!(listed, "ID\na0\na1\na2\na3\na4\n");
    let page = json(&[
        "actors", "list", "Account", "--limit", "2", "--after", "a1", "--table", table,
    ]);
    assert_eq!(page, serde_json::json!([{"id": "a2"}, {"id": "a3"}]));
    let all = json(&["actors", "list", "Account", "--all", "--table", table]);
    assert_eq!(all.as_array().unwrap().len(), 5);

    let shown = ok(&["actors", "show", "Account", "a3", "--table", table]);
    assert!(shown.contains("\"balance\": 103"), "{shown}");
    assert!(shown.contains("lease         free"), "{shown}");
    let shown = json(&["actors", "show", "Account", "a3", "--table", table]);
    assert_eq!(shown["state"]["balance"], 103);
    assert_eq!(shown["version"], 1);
    assert_eq!(shown["queued"], 0);

    let missing = fails(&["actors", "show", "Account", "nobody", "--table", table]);
    assert!(missing.contains("has no state"), "{missing}");
    let invalid = fails(&["actors", "show", "Account", "", "--table", table]);
    assert!(invalid.contains("actor id"), "{invalid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailbox_peek_decodes_queued_messages_without_running_them() {
    mqless_tests::requires_local_aws!();
    let (store, _runtime) = bank("cli-mailbox").await;
    queue(&store, "waiting", &AccountMessage::Deposit { amount: 25 }).await;
    queue(&store, "waiting", &AccountMessage::Withdraw { amount: 5 }).await;
    let table = store.table();

    let peeked = json(&["mailbox", "peek", "Account", "waiting", "--table", table]);
    let rows = peeked.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["method"], "deposit");
    assert_eq!(rows[0]["arguments"], serde_json::json!({"amount": 25}));
    assert_eq!(rows[0]["kind"], "tell");
    assert_eq!(rows[0]["key"], "key-1");
    assert_eq!(rows[1]["method"], "withdraw");
    let table_text = ok(&[
        "mailbox", "peek", "Account", "waiting", "--limit", "1", "--table", table,
    ]);
    assert!(table_text.starts_with("ID"), "{table_text}");
    assert_eq!(table_text.lines().count(), 2, "{table_text}");
    // Still queued: peeking runs nothing.
    let shown = json(&["actors", "show", "Account", "waiting", "--table", table]);
    assert_eq!(shown["queued"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_reset_and_actors_delete_confirm_and_change_the_table() {
    mqless_tests::requires_local_aws!();
    let (store, runtime) = bank("cli-retire").await;
    let account = runtime.client::<Account>("kept").unwrap();
    account.deposit(40).send().await.unwrap();
    runtime
        .client::<Account>("doomed")
        .unwrap()
        .deposit(1)
        .send()
        .await
        .unwrap();
    runtime.settle().await;
    let table = store.table();

    // Without a terminal and without --yes, nothing changes.
    let refused = fails(&["state", "reset", "Account", "kept", "--table", table]);
    assert!(refused.contains("--yes"), "{refused}");
    assert_eq!(
        json(&["actors", "show", "Account", "kept", "--table", table])["state"]["balance"],
        40
    );

    ok(&[
        "state", "reset", "Account", "kept", "--yes", "--table", table,
    ]);
    let shown = json(&["actors", "show", "Account", "kept", "--table", table]);
    assert_eq!(shown["state"], Json::Null);
    assert_eq!(shown["version"], 2);
    account.deposit(2).send().await.unwrap();
    runtime.settle().await;
    assert_eq!(
        json(&["actors", "show", "Account", "kept", "--table", table])["state"]["balance"],
        2
    );

    let said = ok(&[
        "actors", "delete", "Account", "doomed", "--yes", "--table", table,
    ]);
    assert_eq!(said, "Account/doomed deleted\n");
    let listed = json(&["actors", "list", "Account", "--table", table]);
    assert_eq!(listed, serde_json::json!([{"id": "kept"}]));
    let gone = fails(&[
        "actors", "delete", "Account", "doomed", "--yes", "--table", table,
    ]);
    assert!(gone.contains("does not exist"), "{gone}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_list_show_redrive_and_discard() {
    mqless_tests::requires_local_aws!();
    let (store, runtime) = bank("cli-dead-letters").await;
    for id in ["poor", "broke"] {
        let account = runtime.client::<Account>(id).unwrap();
        account.deposit(10).send().await.unwrap();
        // A tell whose method returns `Err` is dead-lettered as `rejected`.
        account.withdraw(50).send().await.unwrap();
        account.withdraw(60).send().await.unwrap();
    }
    runtime.settle().await;
    let table = store.table();

    let listed = json(&["dead-letters", "list", "Account", "--table", table]);
    let rows = listed.as_array().unwrap();
    assert_eq!(rows.len(), 4, "{listed}");
    let rejected = |r: &Json| r["status"] == "rejected" && r["method"] == "withdraw";
    assert!(rows.iter().all(rejected), "{listed}");
    let of_one = json(&["dead-letters", "list", "Account", "poor", "--table", table]);
    assert_eq!(of_one.as_array().unwrap().len(), 2);
    let first = of_one[0]["id"].as_str().unwrap().to_owned();
    let second = of_one[1]["id"].as_str().unwrap().to_owned();

    let shown = json(&[
        "dead-letters",
        "show",
        "Account",
        "poor",
        &first,
        "--table",
        table,
    ]);
    assert_eq!(shown["arguments"], serde_json::json!({"amount": 50}));
    assert!(
        shown["error"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("insufficient"),
        "{shown}"
    );

    let redriven = ok(&[
        "dead-letters",
        "redrive",
        "Account",
        "poor",
        &first,
        "--table",
        table,
    ]);
    assert!(redriven.contains("queued again as"), "{redriven}");
    ok(&[
        "dead-letters",
        "discard",
        "Account",
        "poor",
        &second,
        "--table",
        table,
    ]);
    assert_eq!(
        json(&["dead-letters", "list", "Account", "poor", "--table", table]),
        serde_json::json!([])
    );
    // The redriven message is queued again (the emulator's function drains another
    // table, so it waits here).
    let peeked = json(&["mailbox", "peek", "Account", "poor", "--table", table]);
    assert_eq!(peeked[0]["arguments"], serde_json::json!({"amount": 50}));

    let needs_all = fails(&["dead-letters", "redrive", "Account", "--table", table]);
    assert!(needs_all.contains("--all"), "{needs_all}");
    let all = json(&[
        "dead-letters",
        "redrive",
        "Account",
        "--all",
        "--table",
        table,
    ]);
    assert_eq!(all["count"], 2);
    assert_eq!(
        json(&["dead-letters", "list", "Account", "--table", table]),
        serde_json::json!([])
    );
    let unknown = fails(&[
        "dead-letters",
        "discard",
        "Account",
        "poor",
        &second,
        "--table",
        table,
    ]);
    assert!(
        unknown.contains("no dead letter") || unknown.contains("not found"),
        "{unknown}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_tells_and_asks_through_the_function() {
    mqless_tests::requires_local_aws!();
    let table = local_aws::env("MQLESS_TEST_LAMBDA_TABLE");
    let counter = format!(
        "cli-{}",
        MessageId::generate(mqless::clock::SystemClock.now_millis(), None)
    );
    let queued = ok(&[
        "send",
        "Counter",
        &counter,
        "increment",
        "--json",
        r#"{"by": 5}"#,
        "--table",
        &table,
    ]);
    assert!(queued.contains("queued"), "{queued}");
    assert_eq!(
        ok(&[
            "send",
            "Counter",
            &counter,
            "increment",
            "--json",
            r#"{"by": 2}"#,
            "--ask",
            "--table",
            &table
        ]),
        "7\n"
    );
    let asked = json(&[
        "send", "Counter", &counter, "get", "--ask", "--table", &table,
    ]);
    assert_eq!(
        (asked["outcome"].as_str(), asked["reply"].as_i64()),
        (Some("ok"), Some(7))
    );
    // Keyed twice: the second is skipped.
    ok(&[
        "send",
        "Counter",
        &counter,
        "increment",
        "--json",
        r#"{"by": 1}"#,
        "--key",
        "once",
        "--table",
        &table,
    ]);
    let again = json(&[
        "send",
        "Counter",
        &counter,
        "increment",
        "--json",
        r#"{"by": 1}"#,
        "--key",
        "once",
        "--ask",
        "--table",
        &table,
    ]);
    assert_eq!(again["outcome"], "duplicate");

    let unknown = fails(&["send", "Counter", &counter, "nope", "--table", &table]);
    assert!(unknown.contains("unknown variant `nope`"), "{unknown}");
    let not_json = fails(&[
        "send",
        "Counter",
        &counter,
        "increment",
        "--json",
        "{by: 5}",
        "--table",
        &table,
    ]);
    assert!(not_json.contains("--json is not JSON"), "{not_json}");
    let not_object = fails(&[
        "send",
        "Counter",
        &counter,
        "increment",
        "--json",
        "5",
        "--table",
        &table,
    ]);
    assert!(not_object.contains("JSON object"), "{not_object}");
    assert_eq!(
        json(&["send", "Counter", &counter, "get", "--ask", "--table", &table])["reply"],
        8
    );
    let bad_trace = fails(&[
        "send",
        "Counter",
        &counter,
        "get",
        "--traceparent",
        "00-xyz",
        "--table",
        &table,
    ]);
    assert!(bad_trace.contains("invalid traceparent"), "{bad_trace}");
    let traced = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    ok(&[
        "send",
        "Counter",
        &counter,
        "get",
        "--traceparent",
        traced,
        "--table",
        &table,
    ]);
}

/// `sweep` wakes what the due index holds (a marked actor); `audit` reads every mailbox
/// (a message queued with no wake-up at all).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_and_audit_wake_actors_with_messages_due() {
    mqless_tests::requires_local_aws!();
    let (store, _runtime) = bank("cli-sweep").await;
    queue(&store, "asleep", &AccountMessage::Deposit { amount: 1 }).await;
    let said = ok(&["sweep", "--table", store.table()]);
    assert_eq!(said, "0 actors had something due; woke 0\n");
    let said = ok(&["audit", "--table", store.table()]);
    assert_eq!(said, "1 actors had something due; woke 1\n");

    queue(&store, "marked", &AccountMessage::Deposit { amount: 1 }).await;
    let marked = mqless::id::Address::parse("Account/marked").unwrap();
    let now = mqless::clock::SystemClock.now_millis();
    store.arm(&marked, now).await.unwrap();
    let said = ok(&["sweep", "--table", store.table()]);
    assert_eq!(said, "1 actors had something due; woke 1\n");
}

/// `mqless table create` records v2 in a new table when nothing says otherwise, and
/// says what an existing table records; the other commands, not told a layout, go by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_create_records_v2_in_a_new_table_and_commands_go_by_it() {
    mqless_tests::requires_local_aws!();
    local_aws::configure();
    let table = format!("cli-layout-{}", MessageId::generate(1, None));
    // As a user without MQLESS_KEY_LAYOUT runs it.
    let untold = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_mqless"))
            .args(args)
            .args(["--table", &table])
            .env_remove("MQLESS_KEY_LAYOUT")
            .output()
            .unwrap();
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        stdout(&output)
    };
    let created = untold(&["table", "create"]);
    assert!(
        created.contains("key layout v2, recorded in the table"),
        "{created}"
    );
    let again = untold(&["table", "create", "--key-layout", "v1"]);
    assert!(again.contains("records key layout v2 (not v1"), "{again}");

    // A table that records none (as the template makes it) records what the flag says.
    let sdk = mqless::aws::load_config().await;
    let raw = mqless::aws::aws_sdk_dynamodb::Client::new(&sdk);
    let layout_key = |request: mqless::aws::aws_sdk_dynamodb::operation::delete_item::builders::DeleteItemFluentBuilder| {
        use mqless::aws::aws_sdk_dynamodb::types::AttributeValue::S;
        request
            .table_name(&table)
            .key("pk", S("~table".into()))
            .key("sk", S("layout".into()))
    };
    layout_key(raw.delete_item()).send().await.unwrap();
    let unrecorded = untold(&["table", "create"]);
    assert!(unrecorded.contains("records no key layout"), "{unrecorded}");
    let recorded = untold(&["table", "create", "--key-layout", "v2"]);
    assert!(recorded.contains("it now records v2"), "{recorded}");

    // A message queued in v2's mailbox partition, which a command in v1 would not see.
    let store = DynamoStore::new(raw, &table).with_key_layout(mqless::aws::KeyLayout::V2);
    queue(&store, "a-1", &AccountMessage::Deposit { amount: 5 }).await;
    let peeked = untold(&["mailbox", "peek", "Account", "a-1"]);
    assert!(peeked.contains("deposit"), "{peeked}");
}

/// `mqless migrate` that finds nothing left to move records v2 in the table, for the
/// processes not told their layout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_with_nothing_left_records_v2() {
    mqless_tests::requires_local_aws!();
    let store = local_aws::fresh_store("cli-migrated").await;
    assert_eq!(
        store.recorded_key_layout().await.unwrap(),
        Some(mqless::aws::KeyLayout::V1)
    );
    let output = Command::new(env!("CARGO_BIN_EXE_mqless"))
        .args(["migrate", "--table", store.table()])
        .env("MQLESS_KEY_LAYOUT", "v1-to-v2")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("the table now records v2"),
        "{}",
        stdout(&output)
    );
    assert_eq!(
        store.recorded_key_layout().await.unwrap(),
        Some(mqless::aws::KeyLayout::V2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_passes_a_healthy_deployment_and_says_what_to_fix() {
    mqless_tests::requires_local_aws!();
    let table = local_aws::env("MQLESS_TEST_LAMBDA_TABLE");
    // The shared table exists once any function ran; make sure it does.
    local_aws::configure();
    let config = mqless::aws::load_config().await;
    DynamoStore::new(
        mqless::aws::aws_sdk_dynamodb::Client::new(&config),
        table.clone(),
    )
    .create_table()
    .await
    .unwrap();
    let healthy = ok(&["doctor", "--sweeper", "sweeper-function", "--table", &table]);
    assert!(!healthy.contains("FAIL"), "{healthy}");
    assert!(
        healthy.contains("answers as an MQLess handler"),
        "{healthy}"
    );
    assert!(healthy.contains("swept:"), "{healthy}");

    let output = mqless(&["doctor", "--table", "no-such-table"]);
    assert!(!output.status.success());
    assert!(
        stdout(&output).contains("does not exist"),
        "{}",
        stdout(&output)
    );

    let wrong = Command::new(env!("CARGO_BIN_EXE_mqless"))
        .args(["doctor", "--table", &table, "--output", "json"])
        .env("MQLESS_FUNCTIONS", "Counter=no-such-function")
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    let checks: Json = serde_json::from_slice(&wrong.stdout).unwrap();
    let function = checks
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"].as_str().unwrap().contains("no-such-function"))
        .unwrap();
    assert_eq!(function["status"], "FAIL");
}
