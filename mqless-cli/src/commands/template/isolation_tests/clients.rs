//! The isolation rows of clients: what `ClientPolicy` (every type of the stack) and a
//! client policy of its own (`--client Shop=Order`) let a caller outside the actors do.

use super::*;

/// Clients (`ClientPolicy`): queue messages, read replies and state, wake.
pub(super) fn client_rows(keys: &Keys) -> Vec<Row<'static>> {
    use Expect::{Allowed, Denied, GapInV1, GapUntilV2};
    vec![
        (
            "ClientPolicy",
            "queues a message",
            Request::item("PutItem", &keys.mailbox("Order/o-1"), MESSAGE),
            Allowed,
        ),
        (
            "ClientPolicy",
            "reads the reply to its own ask",
            Request::item("GetItem", &keys.reply("Order/o-1", REQUESTER), &["rep"]),
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
            Request::item("Query", &keys.mailbox("Order/o-1"), &["dk"]),
            Allowed,
        ),
        (
            "ClientPolicy",
            "reads whether its message is queued",
            Request::item("GetItem", &keys.mailbox("Order/o-1"), &[]),
            Allowed,
        ),
        (
            "ClientPolicy",
            "reads the requests queued for an actor (other clients' too)",
            Request::whole_item("Query", &keys.mailbox("Order/o-1")),
            GapUntilV2,
        ),
        (
            "ClientPolicy",
            "reads a queued message's envelope",
            Request::item("GetItem", &keys.mailbox("Order/o-1"), &["env"]),
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
            Request::item("UpdateItem", &keys.mailbox("Order/o-1"), &["dsh", "dk"]),
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
            Request::item("PutItem", &keys.mailbox("Order/o-1"), STATE),
            GapInV1,
        ),
        (
            "ClientPolicy",
            "deletes a message",
            Request::item("DeleteItem", &keys.mailbox("Order/o-1"), &[]),
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
            Request::item(
                "GetItem",
                &keys.reply("Order/o-1", ANOTHER_CLIENT),
                &["rep"],
            ),
            GapInV1,
        ),
        (
            "ClientPolicy",
            "queries another caller's replies",
            Request::item("Query", &keys.reply("Order/o-1", ANOTHER_CLIENT), &[]),
            GapInV1,
        ),
        (
            "ClientPolicy",
            "writes a reply into its own reply partition",
            Request::item("PutItem", &keys.reply("Order/o-1", REQUESTER), &["rep"]),
            GapInV1,
        ),
    ]
}

/// A client granted one type (`--client Shop=Order`): that type's actors only.
pub(super) fn shop_client_rows(keys: &Keys) -> Vec<Row<'static>> {
    use Expect::{Allowed, Denied, GapInV1, GapUntilV2};
    vec![
        (
            "ShopClientPolicy",
            "queues a message to an order",
            Request::item("PutItem", &keys.mailbox("Order/o-1"), MESSAGE),
            Allowed,
        ),
        (
            "ShopClientPolicy",
            "marks the message it queued for an order",
            Request::item("UpdateItem", &keys.mailbox("Order/o-1"), &["dsh", "dk"]),
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
            Request::item("GetItem", &keys.reply("Order/o-1", REQUESTER), &["rep"]),
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
            Request::item("PutItem", &keys.mailbox("Warehouse/w-1"), MESSAGE),
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
            Request::item("GetItem", &keys.reply("Wallet/w-1", REQUESTER), &["rep"]),
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
    ]
}
