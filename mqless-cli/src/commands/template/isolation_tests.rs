//! What the template's IAM isolates, checked request by request against the policies
//! it writes (evaluated by `policy_model`, a model of IAM's documented rules: nothing
//! that runs here evaluates IAM conditions for DynamoDB). Each row is a request one
//! principal of the order saga's stack could make, and whether IAM lets it through, in
//! each key layout.
//!
//! IAM scopes DynamoDB by partition key and attribute names only. In key layout v1 every
//! kind of record of an actor shares its partition key, so a role allowed to put a
//! message into a mailbox may put any item into that partition: rows marked
//! [`Expect::GapInV1`] are those forbidden requests, allowed in v1 and denied in v2,
//! whose mailboxes and client replies are partitions of their own. A forbidden request
//! that both layouts let through (there was one: reading another client's reply, until
//! v2's reply partitions) gets a variant of its own, asserted as allowed until a layout
//! closes it. docs/guide/aws.md lists what is checked.

use serde_json::Value as Json;

use mqless_runtime::aws::KeyLayout;
use mqless_runtime::id::Address;

use super::policy_model::{allows, Request, REQUESTER, TABLE};
use super::tests::args;
use super::*;

mod topics;

/// What IAM answers a row's request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Allowed,
    Denied,
    /// Forbidden, let through by v1's shared partitions, denied in v2 (see the module's
    /// docs).
    GapInV1,
    /// Forbidden, let through until the table is v2: a client reading an actor's
    /// bookkeeping (its last batch's replies), which only v2's policy holds to the
    /// attributes a client reads (on the way to v2 the actors' partitions still hold
    /// v1's mailboxes, which clients read whole).
    GapUntilV2,
}

impl Expect {
    fn allowed_in(self, layout: KeyLayout) -> bool {
        match self {
            Self::Allowed => true,
            Self::Denied => false,
            Self::GapInV1 => layout == KeyLayout::V1,
            Self::GapUntilV2 => layout != KeyLayout::V2,
        }
    }
}

/// The saga: `Order` sends to `Warehouse` and `Wallet` and asks them with `reply_to`.
fn saga() -> Vec<Function> {
    let actor = |bin: &str, actor_type: &str, sends_to: &[&str], asks: bool| Function {
        bin: bin.into(),
        code_uri: format!("target/lambda/{bin}/"),
        manifest: Manifest {
            mqless_manifest: 1,
            actor_type: Some(actor_type.into()),
            sends_to: Some(sends_to.iter().map(|t| (*t).to_owned()).collect()),
            asks_with_reply_to: asks,
            emits_to: None,
            sweeper: false,
            events: false,
            subscribes_to: Vec::new(),
        },
    };
    let mut sweeper = actor("sweeper-function", "x", &[], false);
    sweeper.manifest.actor_type = None;
    sweeper.manifest.sends_to = None;
    sweeper.manifest.sweeper = true;
    vec![
        actor("order-function", "Order", &["Warehouse", "Wallet"], true),
        actor("warehouse-function", "Warehouse", &[], false),
        actor("wallet-function", "Wallet", &[], false),
        sweeper,
    ]
}

/// The policy documents a principal of the stack holds: a function's inline policies,
/// or a managed policy's document.
fn policies_of(template: &Json, principal: &str) -> Vec<Json> {
    let resource = &template["Resources"][principal]["Properties"];
    match resource["Policies"].as_array() {
        Some(inline) => inline.clone(),
        None => vec![resource["PolicyDocument"].clone()],
    }
}

/// A request one principal of the stack could make, and whether IAM must let it through.
type Row<'a> = (&'a str, &'a str, Request, Expect);

/// Asserts each row's answer against the template's policies, listing every wrong one.
fn assert_rows(template: &Json, rows: &[Row<'_>], layout: KeyLayout) {
    let mut wrong = Vec::new();
    for (principal, what, request, expect) in rows {
        let allowed = allows(&policies_of(template, principal), request);
        if allowed != expect.allowed_in(layout) {
            wrong.push(format!(
                "{principal} {what} (key layout {layout}): expected {expect:?}, IAM {}",
                if allowed { "allows it" } else { "denies it" }
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

const MESSAGE: &[&str] = &["env"];
const STATE: &[&str] = &["st", "ver", "ep", "meta"];

fn invoke(function: &str) -> Request {
    Request::on(
        "lambda:InvokeFunction",
        &format!("arn:aws:lambda:us-east-1:123456789012:function:app-{function}"),
    )
}

#[test]
fn the_templates_roles_allow_what_the_protocol_needs_and_deny_the_rest() {
    for layout in [KeyLayout::V1, KeyLayout::V2, KeyLayout::V1ToV2] {
        check_rows(layout);
    }
}

fn check_rows(layout: KeyLayout) {
    use Expect::{Allowed, Denied, GapInV1, GapUntilV2};
    let mut arguments = args();
    arguments.key_layout = Some(layout);
    // A client that sends to orders only (`ShopClientPolicy`).
    arguments.clients = vec!["Shop=Order".into()];
    let template = template(&saga(), &arguments).unwrap();
    let index = |name: &str| format!("{TABLE}/index/{name}");
    // The partition of an actor's mailbox, in this layout.
    let mailbox = |address: &str| layout.mailbox_partition(&Address::parse(address).unwrap());
    // The partition of the reply to an ask that client `asker` made of `address`.
    let reply = |address: &str, asker: &str| {
        layout.reply_partition(&Address::parse(address).unwrap(), Some(asker))
    };
    let another_client = "AIDAANOTHERCLIENT";
    let rows: Vec<Row<'_>> = vec![
        // An actor's function and its own actors.
        (
            "OrderFunction",
            "writes its own state",
            Request::item("PutItem", "Order/o-1", STATE),
            Allowed,
        ),
        (
            "OrderFunction",
            "reads its own mailbox",
            Request::item("Query", &mailbox("Order/o-1"), &[]),
            Allowed,
        ),
        (
            "OrderFunction",
            "deletes its consumed messages",
            Request::item("DeleteItem", &mailbox("Order/o-1"), &[]),
            Allowed,
        ),
        (
            "OrderFunction",
            "queues a message to itself (a reminder, a continued fan-out)",
            Request::item("PutItem", &mailbox("Order/o-1"), &["env", "dsh", "dk"]),
            Allowed,
        ),
        (
            "OrderFunction",
            "writes its own dead letters and replies",
            Request::item("PutItem", "Order/o-1", &["env", "err", "rep"]),
            Allowed,
        ),
        (
            "OrderFunction",
            "writes the reply to a client's ask of an Order",
            Request::item("PutItem", &reply("Order/o-1", REQUESTER), &["rep", "ttl"]),
            Allowed,
        ),
        // Sends: a message into the mailboxes of the types it sends to, nothing else.
        (
            "OrderFunction",
            "sends to a Warehouse",
            Request::item("PutItem", &mailbox("Warehouse/w-1"), MESSAGE),
            Allowed,
        ),
        (
            "OrderFunction",
            "schedules a message to a Wallet",
            Request::item("PutItem", &mailbox("Wallet/w-1"), &["env", "dsh", "dk"]),
            Allowed,
        ),
        (
            "OrderFunction",
            "marks the message it queued for a Warehouse it could not wake",
            Request::item("UpdateItem", &mailbox("Warehouse/w-1"), &["dsh", "dk"]),
            Allowed,
        ),
        (
            "OrderFunction",
            "marks a Warehouse's record for the sweep",
            Request::item("UpdateItem", "Warehouse/w-1", &["dsh", "dk"]),
            GapInV1,
        ),
        (
            "OrderFunction",
            "marks a Wallet's record for the sweep",
            Request::item("UpdateItem", "Wallet/w-1", &["dsh", "dk"]),
            GapInV1,
        ),
        (
            "OrderFunction",
            "wakes the Warehouse function",
            invoke("warehouse-function"),
            Allowed,
        ),
        (
            "OrderFunction",
            "puts a state into a Warehouse's record",
            Request::item("PutItem", "Warehouse/w-1", STATE),
            Denied,
        ),
        (
            "OrderFunction",
            "changes a Warehouse's state",
            Request::item("UpdateItem", "Warehouse/w-1", &["st"]),
            Denied,
        ),
        (
            "OrderFunction",
            "reads a Warehouse",
            Request::item("GetItem", "Warehouse/w-1", &[]),
            Denied,
        ),
        (
            "OrderFunction",
            "deletes a Warehouse's messages",
            Request::item("DeleteItem", &mailbox("Warehouse/w-1"), &[]),
            Denied,
        ),
        (
            "OrderFunction",
            "sends to a type it never sends to",
            Request::item("PutItem", &mailbox("Account/a-1"), MESSAGE),
            Denied,
        ),
        (
            "OrderFunction",
            "scans the table",
            Request::on("dynamodb:Scan", TABLE),
            Denied,
        ),
        (
            "OrderFunction",
            "wakes a function it never sends to",
            invoke("sweeper-function"),
            Denied,
        ),
        (
            "OrderFunction",
            "overwrites a Warehouse's state record with a bare message item",
            Request::item("PutItem", "Warehouse/w-1", MESSAGE),
            GapInV1,
        ),
        // Replies: the askers' mailboxes only, for the types it answers with reply_to.
        (
            "WarehouseFunction",
            "answers an Order's reply_to ask",
            Request::item("PutItem", &mailbox("Order/o-1"), MESSAGE),
            Allowed,
        ),
        (
            "WarehouseFunction",
            "writes an Order's state",
            Request::item("PutItem", "Order/o-1", STATE),
            Denied,
        ),
        (
            "WarehouseFunction",
            "forges the reply to a client's ask of an Order",
            Request::item("PutItem", &reply("Order/o-1", REQUESTER), &["rep", "ttl"]),
            Denied,
        ),
        (
            "WalletFunction",
            "sends to a Warehouse (it never does)",
            Request::item("PutItem", &mailbox("Warehouse/w-1"), MESSAGE),
            Denied,
        ),
        // The sweeper: the indexes, its cursor, the audit's scan, wake-ups.
        (
            "SweeperFunction",
            "reads the due index",
            Request::on("dynamodb:Query", &index("due")),
            Allowed,
        ),
        (
            "SweeperFunction",
            "keeps its cursor",
            Request::item("PutItem", "~sweeper", &["cur"]),
            Allowed,
        ),
        (
            "SweeperFunction",
            "records the stack's key layout in the table",
            Request::item("PutItem", "~table", &["kl"]),
            Allowed,
        ),
        (
            "SweeperFunction",
            "reads the key layout the table records",
            Request::item("GetItem", "~table", &[]),
            Allowed,
        ),
        (
            "SweeperFunction",
            "writes another attribute into the table's item",
            Request::item("PutItem", "~table", &["kl", "st"]),
            Denied,
        ),
        (
            "SweeperFunction",
            "scans for the audit",
            Request::on("dynamodb:Scan", TABLE),
            Allowed,
        ),
        (
            "SweeperFunction",
            "wakes an actor",
            invoke("order-function"),
            Allowed,
        ),
        (
            "SweeperFunction",
            "writes an actor's item",
            Request::item("PutItem", &mailbox("Order/o-1"), MESSAGE),
            Denied,
        ),
        (
            "SweeperFunction",
            "reads an actor's state",
            Request::item("GetItem", "Order/o-1", &[]),
            Denied,
        ),
        // Clients (`ClientPolicy`): queue messages, read replies and state, wake.
        (
            "ClientPolicy",
            "queues a message",
            Request::item("PutItem", &mailbox("Order/o-1"), MESSAGE),
            Allowed,
        ),
        (
            "ClientPolicy",
            "reads the reply to its own ask",
            Request::item("GetItem", &reply("Order/o-1", REQUESTER), &["rep"]),
            Allowed,
        ),
        (
            "ClientPolicy",
            "reads an actor's state",
            Request::item("GetItem", "Order/o-1", &["st"]),
            Allowed,
        ),
        (
            "ClientPolicy",
            "reads an actor's dead letters",
            Request::item("Query", "Order/o-1", &["env", "err", "att", "at", "kind"]),
            Allowed,
        ),
        (
            "ClientPolicy",
            "reads an actor's bookkeeping (its last batch's replies, to other askers too)",
            Request::item("GetItem", "Order/o-1", &["st", "meta"]),
            GapUntilV2,
        ),
        (
            "ClientPolicy",
            "reads an actor's whole record",
            Request::whole_item("GetItem", "Order/o-1"),
            GapUntilV2,
        ),
        (
            "ClientPolicy",
            "queries an actor's partition whole",
            Request::whole_item("Query", "Order/o-1"),
            GapUntilV2,
        ),
        (
            "ClientPolicy",
            "reads which messages are queued for an actor, and when they are due",
            Request::item("Query", &mailbox("Order/o-1"), &["dk"]),
            Allowed,
        ),
        (
            "ClientPolicy",
            "reads whether its message is queued",
            Request::item("GetItem", &mailbox("Order/o-1"), &[]),
            Allowed,
        ),
        (
            "ClientPolicy",
            "reads the requests queued for an actor (other clients' too)",
            Request::whole_item("Query", &mailbox("Order/o-1")),
            GapUntilV2,
        ),
        (
            "ClientPolicy",
            "reads a queued message's envelope",
            Request::item("GetItem", &mailbox("Order/o-1"), &["env"]),
            GapUntilV2,
        ),
        (
            "ClientPolicy",
            "reads the key layout the table records",
            Request::item("GetItem", "~table", &[]),
            Allowed,
        ),
        (
            "ClientPolicy",
            "records another key layout in the table",
            Request::item("PutItem", "~table", &["kl"]),
            Denied,
        ),
        (
            "OrderFunction",
            "records another key layout in the table",
            Request::item("PutItem", "~table", &["kl"]),
            Denied,
        ),
        (
            "ClientPolicy",
            "marks the message it queued for an actor it could not wake",
            Request::item("UpdateItem", &mailbox("Order/o-1"), &["dsh", "dk"]),
            Allowed,
        ),
        (
            "ClientPolicy",
            "marks an actor's record for the sweep",
            Request::item("UpdateItem", "Order/o-1", &["dsh", "dk"]),
            GapInV1,
        ),
        (
            "ClientPolicy",
            "wakes a function",
            invoke("order-function"),
            Allowed,
        ),
        (
            "ClientPolicy",
            "changes an actor's state",
            Request::item("UpdateItem", "Order/o-1", &["st"]),
            Denied,
        ),
        (
            "ClientPolicy",
            "writes a state into a mailbox's partition",
            Request::item("PutItem", &mailbox("Order/o-1"), STATE),
            GapInV1,
        ),
        (
            "ClientPolicy",
            "deletes a message",
            Request::item("DeleteItem", &mailbox("Order/o-1"), &[]),
            Denied,
        ),
        (
            "ClientPolicy",
            "scans the table",
            Request::on("dynamodb:Scan", TABLE),
            Denied,
        ),
        (
            "ClientPolicy",
            "overwrites an actor's state record",
            Request::item("PutItem", "Order/o-1", STATE),
            GapInV1,
        ),
        (
            "ClientPolicy",
            "forges a reply before the actor writes it",
            Request::item("PutItem", "Order/o-1", &["rep"]),
            GapInV1,
        ),
        (
            "ClientPolicy",
            "reads a reply addressed to another caller",
            Request::item("GetItem", &reply("Order/o-1", another_client), &["rep"]),
            GapInV1,
        ),
        (
            "ClientPolicy",
            "queries another caller's replies",
            Request::item("Query", &reply("Order/o-1", another_client), &[]),
            GapInV1,
        ),
        (
            "ClientPolicy",
            "writes a reply into its own reply partition",
            Request::item("PutItem", &reply("Order/o-1", REQUESTER), &["rep"]),
            GapInV1,
        ),
        // A client granted one type (`--client Shop=Order`): that type's actors only.
        (
            "ShopClientPolicy",
            "queues a message to an order",
            Request::item("PutItem", &mailbox("Order/o-1"), MESSAGE),
            Allowed,
        ),
        (
            "ShopClientPolicy",
            "marks the message it queued for an order",
            Request::item("UpdateItem", &mailbox("Order/o-1"), &["dsh", "dk"]),
            Allowed,
        ),
        (
            "ShopClientPolicy",
            "reads an order's state",
            Request::item("GetItem", "Order/o-1", &["st"]),
            Allowed,
        ),
        (
            "ShopClientPolicy",
            "reads the reply to its own ask of an order",
            Request::item("GetItem", &reply("Order/o-1", REQUESTER), &["rep"]),
            Allowed,
        ),
        (
            "ShopClientPolicy",
            "reads an order's bookkeeping (its last batch's replies, to other askers too)",
            Request::item("GetItem", "Order/o-1", &["meta"]),
            GapUntilV2,
        ),
        (
            "ShopClientPolicy",
            "reads the key layout the table records",
            Request::item("GetItem", "~table", &[]),
            Allowed,
        ),
        (
            "ShopClientPolicy",
            "wakes the order function",
            invoke("order-function"),
            Allowed,
        ),
        (
            "ShopClientPolicy",
            "queues a message to a warehouse",
            Request::item("PutItem", &mailbox("Warehouse/w-1"), MESSAGE),
            Denied,
        ),
        (
            "ShopClientPolicy",
            "reads a warehouse's state",
            Request::item("GetItem", "Warehouse/w-1", &["st"]),
            Denied,
        ),
        (
            "ShopClientPolicy",
            "reads the reply to its own ask of a wallet",
            Request::item("GetItem", &reply("Wallet/w-1", REQUESTER), &["rep"]),
            Denied,
        ),
        (
            "ShopClientPolicy",
            "wakes the warehouse function",
            invoke("warehouse-function"),
            Denied,
        ),
        (
            "ShopClientPolicy",
            "overwrites an order's state record",
            Request::item("PutItem", "Order/o-1", STATE),
            GapInV1,
        ),
        (
            "ShopClientPolicy",
            "records another key layout in the table",
            Request::item("PutItem", "~table", &["kl"]),
            Denied,
        ),
        // Operators (`OperatorPolicy`): the whole table, every function of the stack.
        (
            "OperatorPolicy",
            "scans the table",
            Request::on("dynamodb:Scan", TABLE),
            Allowed,
        ),
        (
            "OperatorPolicy",
            "redrives a dead letter",
            Request::item("PutItem", &mailbox("Order/o-1"), MESSAGE),
            Allowed,
        ),
        (
            "OperatorPolicy",
            "invokes a function of another stack",
            Request::on(
                "lambda:InvokeFunction",
                "arn:aws:lambda:us-east-1:123456789012:function:other-order-function",
            ),
            Denied,
        ),
    ];
    assert_rows(&template, &rows, layout);
}
