//! The table's schema: key layout, attribute names and types, and the conversions
//! between items and the store's records.
//!
//! | `pk` | `sk` | attributes |
//! |---|---|---|
//! | `type/id` | `#lease` | `ep` (the lease's epoch), `lease` (expiry, ms), `stl` (stalled leases), `own` (owner token), `ttl` (a day past the lease: DynamoDB's TTL deletes it) |
//! | `type/id` | `#state` | `ty` (actor type: the key of the `actors` index), `ver`, `ep` (fencing epoch), `lease` (expiry, ms), `stl` (stalled leases), `own` (owner token), `st` (state), `meta` (last batch), `qr`, `qat` and `qix` (quarantine reason and time, and the key of the `quarantined` index, when quarantined), `lft` (token of the last lift), `dsh` and `dk` (due index, when marked) |
//! | `type/id` | `m#<message id>` | `env` (envelope); `dsh` and `dk` (due index) when it is scheduled |
//! | `type/id` | `r#<message id>` | `rep` (reply), `ttl` (seconds; DynamoDB's TTL deletes it for free) |
//! | `type/id` | `d#<message id>` | `env`, `err`, `att`, `at`, `kind` (`failed` or `rejected`) |
//!
//! Message ids sort as text in time order, so a strongly consistent `Query` on
//! `begins_with(sk, "m#")` reads the mailbox in order.
//!
//! Where the `m#` items live is the table's [`KeyLayout`]: in the actor's partition
//! (`V1`), or in a partition of their own, `m/type/id` (`V2`), which IAM can grant to
//! senders without granting the actor's record.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::error::{StoreError, StoreErrorKind};
use crate::id::{Address, MessageId};
use crate::store::{due, MailboxItem, QuarantineRecord, QueuedHead, StateRecord};

/// The sort key of an actor's state record.
pub(super) const STATE_SK: &str = "#state";
/// The sort key of an actor's lease item (protocol v2): sorts before [`STATE_SK`], so one
/// `Query` of the `#` prefix reads both.
pub(super) const LEASE_SK: &str = "#lease";
/// Sort-key prefix of queued messages.
pub(super) const MESSAGE: &str = "m#";
/// Sort-key prefix of replies.
pub(super) const REPLY: &str = "r#";
/// Sort-key prefix of dead letters.
pub(super) const DEAD_LETTER: &str = "d#";

/// Attribute of `#state`: the actor's type (String), the partition key of the
/// [`ACTOR_INDEX`]. Written by every commit with the same value, so only an actor's first
/// commit writes the index.
pub(super) const ACTOR_TYPE: &str = "ty";
/// The sparse, keys-only global secondary index that lists the actors of a type: only
/// `#state` records carry its partition key (`ty`, the actor's type); its sort key is `pk`.
pub const ACTOR_INDEX: &str = "actors";

/// Attribute of scheduled messages and marked `#state` records: the shard of the
/// [`DUE_INDEX`] (String, two digits; see [`crate::store::due::shard_of`]).
pub(super) const DUE_SHARD: &str = "dsh";
/// Attribute of scheduled messages and marked `#state` records: the sort key of the
/// [`DUE_INDEX`] (String; see [`crate::store::due::entry_key`]).
pub(super) const DUE_KEY: &str = "dk";
/// The sparse, keys-only global secondary index a sweep reads (see
/// [`crate::store::due`]): partition key `dsh` (the shard), sort key `dk`. Immediate
/// messages and unmarked records are not in it.
pub const DUE_INDEX: &str = "due";
/// Attribute of quarantined `#state` records: the partition key of the
/// [`QUARANTINE_INDEX`] (always [`QUARANTINED`]).
pub(super) const QUARANTINE_KEY: &str = "qix";
/// The value of [`QUARANTINE_KEY`].
pub(super) const QUARANTINED: &str = "q";
/// The sparse global secondary index of quarantined actors: partition key
/// `qix` (always `q`), sort key `pk`, with the reason and time projected. Quarantines are
/// rare, so one partition holds them all.
pub const QUARANTINE_INDEX: &str = "quarantined";

/// The table's time-to-live attribute (Number, **seconds** since the Unix epoch): on
/// replies, and on the `#state` record and dead letters of actor types with an idle time
/// to live.
pub(super) const TTL: &str = "ttl";
/// What a caller outside an actor reads of its `#state` record
/// (`Store::load_committed_state`): the state and what says whether it is live (its
/// expiry, a quarantine), never the bookkeeping (`meta`, which holds the last batch's
/// replies, to other askers too). In key layout v2 `ClientPolicy` may read these only.
pub const COMMITTED_STATE_ATTRIBUTES: [&str; 8] =
    ["pk", "sk", "ver", "ep", "st", "ttl", "qr", "qat"];
/// What a caller outside an actor reads of its queued messages (`Store::mailbox_head`,
/// and a sender settling a put whose answer was lost): their keys and due times, never
/// their envelopes, which hold other clients' requests. In key layout v2 `ClientPolicy`
/// may read these only.
pub const QUEUED_KEY_ATTRIBUTES: [&str; 3] = ["pk", "sk", DUE_KEY];
/// The attributes of a dead letter (`d#`), all a client reads of one.
pub const DEAD_LETTER_ATTRIBUTES: [&str; 7] = ["pk", "sk", "env", "err", "att", "at", "kind"];

/// Attribute of `#state`: the token of the lease's last owner (Number).
pub(super) const OWNER: &str = "own";
/// Attribute of `#state`: present (Number 1) when a wake-up found the lease held since
/// the last commit, which removes it (see `Store::knock`).
pub(super) const KNOCKED: &str = "kn";
/// Attribute of `#state`: the token of the last lifted quarantine's lift (Number).
pub(super) const LIFT_TOKEN: &str = "lft";
/// Attribute of `#state`: why the actor is quarantined (String).
pub(super) const QUARANTINE_REASON: &str = "qr";
/// Attribute of `#state`: since when (Number, ms).
pub(super) const QUARANTINE_SINCE: &str = "qat";

pub use super::layout::{KeyLayout, MAILBOX_PARTITION, REPLY_PARTITION, SUBSCRIPTION_PARTITION};

/// An item, as the SDK holds it.
pub(super) type Item = HashMap<String, AttributeValue>;

pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(super) fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(super) fn b(value: &[u8]) -> AttributeValue {
    AttributeValue::B(Blob::new(value))
}

/// The key of one of the table's own items (the sweep's cursor, the layout record):
/// a partition key that is no address.
pub(super) fn table_item_key(pk: &str, sk: &str) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

fn key(address: &Address, sk: impl Into<String>) -> Item {
    HashMap::from([
        ("pk".to_owned(), s(address.to_string())),
        ("sk".to_owned(), s(sk)),
    ])
}

/// The key of queued message `id` of `address`, in `layout` (where it is queued).
pub(super) fn message_key(layout: KeyLayout, address: &Address, id: MessageId) -> Item {
    message_key_in(&layout.mailbox_partition(address), id)
}

/// The key of queued message `id` in the mailbox partition `mailbox`.
pub(super) fn message_key_in(mailbox: &str, id: MessageId) -> Item {
    HashMap::from([
        ("pk".to_owned(), s(mailbox)),
        ("sk".to_owned(), s(format!("{MESSAGE}{id}"))),
    ])
}

/// The item of message `item` queued for `address`, in `layout`, in the due index if it
/// is scheduled.
pub(super) fn queued_message(layout: KeyLayout, address: &Address, item: &MailboxItem) -> Item {
    let mut message = message_key(layout, address, item.id);
    message.insert("env".into(), b(&item.envelope));
    if let Some(at) = due::scheduled_at(item.id, &item.envelope) {
        let sort_key = format!("{MESSAGE}{}", item.id);
        index_due(&mut message, address, &sort_key, at);
    }
    message
}

/// Puts `item` (of `address`, with sort key `sort_key`) in the due index at `at`.
pub(super) fn index_due(item: &mut Item, address: &Address, sort_key: &str, at: u64) {
    item.insert(DUE_SHARD.into(), due_shard(address));
    item.insert(DUE_KEY.into(), s(due::entry_key(at, address, sort_key)));
}

/// The [`DUE_SHARD`] value of `address`.
pub(super) fn due_shard(address: &Address) -> AttributeValue {
    s(format!("{:02}", due::shard_of(address)))
}

/// The key of the reply to message `id`, asked by `asker`, in `layout`.
pub(super) fn reply_key(
    layout: KeyLayout,
    address: &Address,
    id: MessageId,
    asker: Option<&str>,
) -> Item {
    HashMap::from([
        ("pk".to_owned(), s(layout.reply_partition(address, asker))),
        ("sk".to_owned(), s(format!("{REPLY}{id}"))),
    ])
}

/// The key of dead letter `id`.
pub(super) fn dead_letter_key(address: &Address, id: MessageId) -> Item {
    key(address, format!("{DEAD_LETTER}{id}"))
}

/// The key of the actor's `#state` record.
pub(super) fn state_key(address: &Address) -> Item {
    key(address, STATE_SK)
}

/// The key of the actor's `#lease` item.
pub(super) fn lease_key(address: &Address) -> Item {
    key(address, LEASE_SK)
}

pub(super) fn get_u64(item: &Item, name: &str) -> Result<u64, StoreError> {
    match item.get(name) {
        None => Ok(0),
        Some(AttributeValue::N(v)) => v.parse().map_err(|_| corrupt(name)),
        Some(_) => Err(corrupt(name)),
    }
}

pub(super) fn get_bytes(item: &Item, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
    match item.get(name) {
        None => Ok(None),
        Some(AttributeValue::B(v)) => Ok(Some(v.clone().into_inner())),
        Some(_) => Err(corrupt(name)),
    }
}

pub(super) fn get_sk_id(item: &Item, prefix: &str) -> Result<MessageId, StoreError> {
    let sk = item
        .get("sk")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| corrupt("sk"))?;
    let id = sk.strip_prefix(prefix).ok_or_else(|| corrupt("sk"))?;
    MessageId::parse(id).map_err(|_| corrupt("sk"))
}

/// A mailbox item as MQLess writes it, or why this one is not: a sort key that is not
/// `m#` and a canonical id (26 upper-case Crockford characters: a lower-case id would
/// run, then never be deleted under its canonical key), or an envelope that is not Binary.
pub(super) fn mailbox_item(item: &Item) -> Result<MailboxItem, String> {
    let id = queued_id(item)?;
    match item.get("env") {
        Some(AttributeValue::B(envelope)) => Ok(MailboxItem {
            id,
            envelope: envelope.clone().into_inner(),
        }),
        Some(_) => Err("attribute `env` is not Binary".into()),
        None => Err("attribute `env` is missing".into()),
    }
}

/// A queued message read by its [`QUEUED_KEY_ATTRIBUTES`]; `None` for an item that is
/// not one (a drain retires it).
pub(super) fn queued_head(item: &Item) -> Option<QueuedHead> {
    let id = queued_id(item).ok()?;
    let due_at = match item.get(DUE_KEY) {
        Some(AttributeValue::S(key)) => due::due_of(key),
        _ => None,
    };
    Some(QueuedHead { id, due_at })
}

/// The id in a queued message's sort key, which must be `m#<id>` with the id canonical.
fn queued_id(item: &Item) -> Result<MessageId, String> {
    let sk = match item.get("sk") {
        Some(AttributeValue::S(sk)) => sk,
        _ => return Err("the sort key is not a string".into()),
    };
    let text = sk
        .strip_prefix(MESSAGE)
        .ok_or_else(|| format!("sort key {sk:?} is not `{MESSAGE}<id>`"))?;
    let id = MessageId::parse(text).map_err(|e| e.to_string())?;
    if id.to_string() != text {
        return Err(format!(
            "message id {text:?} is not canonical (expected {id}: upper case)"
        ));
    }
    Ok(id)
}

pub(super) fn corrupt(attribute: &str) -> StoreError {
    StoreError::new(
        StoreErrorKind::Other,
        format!("attribute `{attribute}` has an unexpected type; was the table written by something other than MQLess?"),
    )
}

/// The `#state` record in `item`. A wrong-typed `st` or `meta` (written past MQLess) is
/// reported as [`StateRecord::damage`], so the owner quarantines the actor instead of
/// failing on it at every wake-up.
pub(super) fn record_from(item: &Item) -> Result<StateRecord, StoreError> {
    let mut damage = Vec::new();
    let mut bytes = |name: &str| {
        get_bytes(item, name).unwrap_or_else(|_| {
            damage.push(format!("attribute `{name}` is not Binary"));
            None
        })
    };
    let state = bytes("st");
    let meta = bytes("meta");
    let quarantine = match (item.get(QUARANTINE_REASON), item.get(QUARANTINE_SINCE)) {
        (Some(AttributeValue::S(reason)), _) => Some(QuarantineRecord {
            reason: reason.clone(),
            since: get_u64(item, QUARANTINE_SINCE).unwrap_or(0),
        }),
        _ => None,
    };
    Ok(StateRecord {
        version: get_u64(item, "ver")?,
        epoch: get_u64(item, "ep")?,
        // A lease or stall count written past MQLess that is not a number reads as none:
        // it would otherwise keep the actor busy for ever; the next commit rewrites it.
        lease_expires_at: get_u64(item, "lease").unwrap_or(0),
        stalled_leases: u32::try_from(get_u64(item, "stl").unwrap_or(0)).unwrap_or(u32::MAX),
        owner: get_u64(item, OWNER).unwrap_or(0),
        state,
        meta,
        quarantine,
        damage: (!damage.is_empty()).then(|| damage.join("; ")),
        expires_at: match get_u64(item, TTL) {
            Ok(0) | Err(_) => None,
            Ok(seconds) => Some(seconds.saturating_mul(1000)),
        },
        mark: item
            .get(DUE_KEY)
            .and_then(|v| v.as_s().ok())
            .and_then(|key| due::due_of(key)),
        knocked: item.contains_key(KNOCKED),
    })
}
