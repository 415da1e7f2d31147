//! The record's transitions (`crate::store::record`) as DynamoDB writes them: a guard
//! becomes a condition expression, changes an update expression, and a commit (whose
//! changes name every field) the item of a `Put`. Every write of the `#state` record and
//! of the `#lease` item goes through here, so it means what the memory store does.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::schema::{
    b, due_shard, index_due, lease_key, n, s, state_key, Item, ACTOR_TYPE, DUE_KEY, DUE_SHARD,
    KNOCKED, OWNER, QUARANTINED, QUARANTINE_KEY, QUARANTINE_REASON, QUARANTINE_SINCE, STATE_SK,
    TTL,
};
use crate::id::Address;
use crate::store::due;
use crate::store::record::{Change, Guard, ItemKind, Stalls, Transition};
use crate::store::StateRecord;

/// A transition's condition and update expressions, with the names and values they use.
pub(super) struct Expressions {
    condition: String,
    set: Vec<String>,
    remove: Vec<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expressions {
    /// The expressions of `transition` on its item of `address`.
    pub(super) fn of(address: &Address, transition: &Transition<'_>) -> Self {
        let mut expressions = Self::guard_only(address, transition.guard);
        for change in &transition.changes {
            expressions.change(address, change);
        }
        expressions
    }

    /// The condition of `guard` alone: for a `Put`, which writes the item instead of
    /// changes ([`record_item`]).
    pub(super) fn guard_only(address: &Address, guard: Guard) -> Self {
        let mut expressions = Self {
            condition: String::new(),
            set: Vec::new(),
            remove: Vec::new(),
            names: HashMap::new(),
            values: HashMap::new(),
        };
        expressions.condition = expressions.guard(address, guard);
        expressions
    }

    /// Also sets `attribute` to `value` (what only DynamoDB needs, such as a lift's
    /// token).
    pub(super) fn also_set(&mut self, attribute: &str, value: AttributeValue) {
        let name = self.name(attribute);
        let value = self.value(attribute, value);
        self.set.push(format!("{name} = {value}"));
    }

    pub(super) fn condition(&self) -> &str {
        &self.condition
    }

    pub(super) fn update(&self) -> String {
        let mut clauses = Vec::new();
        if !self.set.is_empty() {
            clauses.push(format!("SET {}", self.set.join(", ")));
        }
        if !self.remove.is_empty() {
            clauses.push(format!("REMOVE {}", self.remove.join(", ")));
        }
        clauses.join(" ")
    }

    /// The names the expressions use (DynamoDB refuses an empty map).
    pub(super) fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    /// The values the expressions use (DynamoDB refuses an empty map).
    pub(super) fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }

    /// `#attribute`, registered. Every attribute goes by a placeholder: `ttl` and
    /// others are reserved words.
    fn name(&mut self, attribute: &str) -> String {
        let placeholder = format!("#{attribute}");
        self.names.insert(placeholder.clone(), attribute.to_owned());
        placeholder
    }

    /// `:key`, registered with `value`.
    fn value(&mut self, key: &str, value: AttributeValue) -> String {
        let placeholder = format!(":{key}");
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    fn guard(&mut self, address: &Address, guard: Guard) -> String {
        match guard {
            Guard::Unchanged(None) => "attribute_not_exists(pk)".to_owned(),
            Guard::Unchanged(Some(epoch)) | Guard::Epoch(epoch) => {
                format!("{} = {}", self.name("ep"), self.value("ep", n(epoch)))
            }
            Guard::OwnedBy(owner) => format!(
                "{own} = {owner} AND {lease} > {zero} AND {stl} > {zero}",
                own = self.name(OWNER),
                owner = self.value("owner", n(owner)),
                lease = self.name("lease"),
                zero = self.value("zero", n(0)),
                stl = self.name("stl"),
            ),
            // A first commit finds no record (acquires write only the lease item), or
            // one an arm or a quarantine created, without a version.
            Guard::Version(0) => format!(
                "attribute_not_exists({ver}) OR {ver} = {zero}",
                ver = self.name("ver"),
                zero = self.value("ver", n(0))
            ),
            Guard::Version(version) => {
                format!("{} = {}", self.name("ver"), self.value("ver", n(version)))
            }
            Guard::EpochAtMost(epoch) => format!(
                "attribute_not_exists({ep}) OR {ep} <= {epoch}",
                ep = self.name("ep"),
                epoch = self.value("ep", n(epoch)),
            ),
            Guard::Unused => format!(
                "attribute_exists(pk) AND (attribute_not_exists({ver}) OR {ver} = {zero}) AND attribute_not_exists({lease})",
                ver = self.name("ver"),
                zero = self.value("zero", n(0)),
                lease = self.name("lease"),
            ),
            Guard::QuarantinedSince(since) => format!(
                "{} = {}",
                self.name(QUARANTINE_SINCE),
                self.value("since", n(since))
            ),
            Guard::MarkLaterThan(at) => {
                let dk = self.name(DUE_KEY);
                let key = self.value("at", s(due::entry_key(at, address, STATE_SK)));
                format!("attribute_not_exists({dk}) OR {dk} > {key}")
            }
            Guard::MarkIs(at) => {
                let dk = self.name(DUE_KEY);
                let key = self.value("at", s(due::entry_key(at, address, STATE_SK)));
                format!("{dk} = {key}")
            }
            Guard::VersionAndMark(version, mark) => {
                let version = self.guard(address, Guard::Version(version));
                let dk = self.name(DUE_KEY);
                let mark = match mark {
                    Some(at) => {
                        let key = self.value("mark", s(due::entry_key(at, address, STATE_SK)));
                        format!("{dk} = {key}")
                    }
                    None => format!("attribute_not_exists({dk})"),
                };
                format!("({version}) AND {mark}")
            }
        }
    }

    fn change(&mut self, address: &Address, change: &Change<'_>) {
        match *change {
            Change::Epoch(epoch) => self.set_number("ep", epoch),
            Change::BumpVersion => {
                let (ver, zero, one) = (
                    self.name("ver"),
                    self.value("zero", n(0)),
                    self.value("one", n(1)),
                );
                self.set
                    .push(format!("{ver} = if_not_exists({ver}, {zero}) + {one}"));
            }
            Change::Version(version) => self.set_number("ver", version),
            Change::Lease(at) => self.set_or_remove("lease", (at != 0).then(|| n(at))),
            Change::Stalls(Stalls::OneFewer) => {
                let (stl, one) = (self.name("stl"), self.value("one", n(1)));
                self.set.push(format!("{stl} = {stl} - {one}"));
            }
            Change::Stalls(Stalls::Exactly(count)) => {
                self.set_or_remove("stl", (count != 0).then(|| n(count.into())));
            }
            Change::Owner(owner) => self.set_or_remove(OWNER, (owner != 0).then(|| n(owner))),
            Change::State(bytes) => self.set_or_remove("st", bytes.map(b)),
            Change::Meta(bytes) => self.set_or_remove("meta", bytes.map(b)),
            Change::ExpiresAt(at) => self.set_or_remove(TTL, at.map(ttl_seconds)),
            Change::Mark(at) => {
                let key = at.map(|at| s(due::entry_key(at, address, STATE_SK)));
                self.set_or_remove(DUE_SHARD, at.map(|_| due_shard(address)));
                self.set_or_remove(DUE_KEY, key);
            }
            Change::Quarantine(quarantine) => {
                self.set_or_remove(QUARANTINE_REASON, quarantine.map(|q| s(q.reason.clone())));
                self.set_or_remove(QUARANTINE_SINCE, quarantine.map(|q| n(q.since)));
                self.set_or_remove(QUARANTINE_KEY, quarantine.map(|_| s(QUARANTINED)));
            }
            Change::Knocked(knocked) => self.set_or_remove(KNOCKED, knocked.then(|| n(1))),
        }
    }

    fn set_number(&mut self, attribute: &str, value: u64) {
        self.set_or_remove(attribute, Some(n(value)));
    }

    fn set_or_remove(&mut self, attribute: &str, value: Option<AttributeValue>) {
        let name = self.name(attribute);
        match value {
            Some(value) => {
                let value = self.value(&format!("new_{attribute}"), value);
                self.set.push(format!("{name} = {value}"));
            }
            None => self.remove.push(name),
        }
    }
}

/// The item of a `Put` that writes `record` whole for `address` (a commit: see
/// `Transition::written_record`). Absent attributes read as 0 or none, so a released
/// record leaves out the lease, the stall count and the owner: a smaller item, so a
/// typical one costs one write unit.
pub(super) fn record_item(address: &Address, record: &StateRecord) -> Item {
    let mut item = state_key(address);
    // The key of the `actors` index: only an actor's first commit adds an index entry.
    item.insert(ACTOR_TYPE.into(), s(address.actor_type().as_str()));
    item.insert("ver".into(), n(record.version));
    item.insert("ep".into(), n(record.epoch));
    for (attribute, value) in [
        ("lease", record.lease_expires_at),
        ("stl", record.stalled_leases.into()),
        (OWNER, record.owner),
    ] {
        if value != 0 {
            item.insert(attribute.into(), n(value));
        }
    }
    if let Some(state) = &record.state {
        item.insert("st".into(), b(state));
    }
    if let Some(meta) = &record.meta {
        item.insert("meta".into(), b(meta));
    }
    if let Some(at) = record.expires_at {
        item.insert(TTL.into(), ttl_seconds(at));
    }
    if let Some(at) = record.mark {
        index_due(&mut item, address, STATE_SK, at);
    }
    if record.knocked {
        item.insert(KNOCKED.into(), n(1));
    }
    if let Some(quarantine) = &record.quarantine {
        item.insert(QUARANTINE_REASON.into(), s(quarantine.reason.clone()));
        item.insert(QUARANTINE_SINCE.into(), n(quarantine.since));
        item.insert(QUARANTINE_KEY.into(), s(QUARANTINED));
    }
    item
}

/// DynamoDB's TTL attribute: seconds, rounded up so nothing expires early.
fn ttl_seconds(at_millis: u64) -> AttributeValue {
    n(at_millis.div_ceil(1000))
}

impl super::DynamoStore {
    /// An `UpdateItem` that applies `transition` to its item of `address` (send it, and
    /// count it).
    pub(super) fn transition(
        &self,
        address: &Address,
        transition: &Transition<'_>,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.update_record(
            address,
            transition.item,
            &Expressions::of(address, transition),
        )
    }

    /// An `UpdateItem` of `address`'s item of kind `item` that writes `expressions`
    /// (send it, and count it).
    pub(super) fn update_record(
        &self,
        address: &Address,
        item: ItemKind,
        expressions: &Expressions,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        let key = match item {
            ItemKind::Lease => lease_key(address),
            ItemKind::State => state_key(address),
        };
        self.client
            .update_item()
            .table_name(&*self.table)
            .set_key(Some(key))
            .condition_expression(expressions.condition())
            .update_expression(expressions.update())
            .set_expression_attribute_names(expressions.names())
            .set_expression_attribute_values(expressions.values())
            .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
    }
}
