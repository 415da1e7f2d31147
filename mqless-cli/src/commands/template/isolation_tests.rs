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

mod clients;
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
    let mut arguments = args();
    arguments.key_layout = Some(layout);
    // A client that sends to orders only (`ShopClientPolicy`).
    arguments.clients = vec!["Shop=Order".into()];
    let template = template(&saga(), &arguments).unwrap();
    let keys = Keys { layout };
    let mut rows = function_rows(&keys);
    rows.extend(sweeper_rows(&keys));
    rows.extend(clients::client_rows(&keys));
    rows.extend(clients::shop_client_rows(&keys));
    rows.extend(operator_rows(&keys));
    assert_rows(&template, &rows, layout);
}

/// Where the rows' items are, in one key layout.
struct Keys {
    layout: KeyLayout,
}

impl Keys {
    /// The partition of an actor's mailbox.
    fn mailbox(&self, address: &str) -> String {
        self.layout
            .mailbox_partition(&Address::parse(address).unwrap())
    }

    /// The partition of the reply to an ask that client `asker` made of `address`.
    fn reply(&self, address: &str, asker: &str) -> String {
        self.layout
            .reply_partition(&Address::parse(address).unwrap(), Some(asker))
    }
}

/// An index of the table.
fn index(name: &str) -> String {
    format!("{TABLE}/index/{name}")
}

/// The `aws:userid` of a client other than [`REQUESTER`].
const ANOTHER_CLIENT: &str = "AIDAANOTHERCLIENT";

/// An actor's function and its own actors; its sends and its replies.
fn function_rows(keys: &Keys) -> Vec<Row<'static>> {
    use Expect::{Allowed, Denied, GapInV1};
    vec![
        (
            "OrderFunction",
            "writes its own state",
            Request::item("PutItem", "Order/o-1", STATE),
            Allowed,
        ),
        (
            "OrderFunction",
            "reads its own mailbox",
            Request::item("Query", &keys.mailbox("Order/o-1"), &[]),
            Allowed,
        ),
        (
            "OrderFunction",
            "deletes its consumed messages",
            Request::item("DeleteItem", &keys.mailbox("Order/o-1"), &[]),
            Allowed,
        ),
        (
            "OrderFunction",
            "queues a message to itself (a reminder, a continued fan-out)",
            Request::item("PutItem", &keys.mailbox("Order/o-1"), &["env", "dsh", "dk"]),
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
            Request::item(
                "PutItem",
                &keys.reply("Order/o-1", REQUESTER),
                &["rep", "ttl"],
            ),
            Allowed,
        ),
        // Sends: a message into the mailboxes of the types it sends to, nothing else.
        (
            "OrderFunction",
            "sends to a Warehouse",
            Request::item("PutItem", &keys.mailbox("Warehouse/w-1"), MESSAGE),
            Allowed,
        ),
        (
            "OrderFunction",
            "schedules a message to a Wallet",
            Request::item(
                "PutItem",
                &keys.mailbox("Wallet/w-1"),
                &["env", "dsh", "dk"],
            ),
            Allowed,
        ),
        (
            "OrderFunction",
            "marks the message it queued for a Warehouse it could not wake",
            Request::item("UpdateItem", &keys.mailbox("Warehouse/w-1"), &["dsh", "dk"]),
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
            Request::item("DeleteItem", &keys.mailbox("Warehouse/w-1"), &[]),
            Denied,
        ),
        (
            "OrderFunction",
            "sends to a type it never sends to",
            Request::item("PutItem", &keys.mailbox("Account/a-1"), MESSAGE),
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
            Request::item("PutItem", &keys.mailbox("Order/o-1"), MESSAGE),
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
            Request::item(
                "PutItem",
                &keys.reply("Order/o-1", REQUESTER),
                &["rep", "ttl"],
            ),
            Denied,
        ),
        (
            "WalletFunction",
            "sends to a Warehouse (it never does)",
            Request::item("PutItem", &keys.mailbox("Warehouse/w-1"), MESSAGE),
            Denied,
        ),
    ]
}

/// The sweeper: the indexes, its cursor, the audit's scan, wake-ups.
fn sweeper_rows(keys: &Keys) -> Vec<Row<'static>> {
    use Expect::{Allowed, Denied};
    vec![
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
            Request::item("PutItem", &keys.mailbox("Order/o-1"), MESSAGE),
            Denied,
        ),
        (
            "SweeperFunction",
            "reads an actor's state",
            Request::item("GetItem", "Order/o-1", &[]),
            Denied,
        ),
    ]
}

/// Operators (`OperatorPolicy`): the whole table, every function of the stack.
fn operator_rows(keys: &Keys) -> Vec<Row<'static>> {
    use Expect::{Allowed, Denied};
    vec![
        (
            "OperatorPolicy",
            "scans the table",
            Request::on("dynamodb:Scan", TABLE),
            Allowed,
        ),
        (
            "OperatorPolicy",
            "redrives a dead letter",
            Request::item("PutItem", &keys.mailbox("Order/o-1"), MESSAGE),
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
    ]
}
