//! Listing and retiring actors: the sparse, keys-only `actors` index on the `#state`
//! record's actor type, and the lease-guarded reset and delete of an actor.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{DeleteRequest, ReturnConsumedCapacity, ReturnValue, WriteRequest};

use super::errors;
use super::schema::{
    n, s, state_key, Item, ACTOR_INDEX, ACTOR_TYPE, DEAD_LETTER, LEASE_SK, MESSAGE, REPLY, STATE_SK,
};
use super::DynamoStore;
use crate::error::StoreError;
use crate::id::{ActorType, Address};
use crate::store::Retired;

/// The lease is free at `:now`: released (absent) or expired.
const LEASE_FREE: &str = "(attribute_not_exists(#lease) OR #lease <= :now)";

impl DynamoStore {
    pub(super) async fn list_actors_of(
        &self,
        actor_type: &ActorType,
        after: Option<&Address>,
        limit: usize,
    ) -> Result<Vec<Address>, StoreError> {
        let mut listed = Vec::new();
        let mut start = after.map(|after| {
            HashMap::from([
                (ACTOR_TYPE.to_owned(), s(actor_type.as_str())),
                ("pk".to_owned(), s(after.to_string())),
                ("sk".to_owned(), s(STATE_SK)),
            ])
        });
        while listed.len() < limit {
            let want = i32::try_from(limit - listed.len()).unwrap_or(i32::MAX);
            let out = self.counted(
                self.client
                    .query()
                    .table_name(&*self.table)
                    .index_name(ACTOR_INDEX)
                    .key_condition_expression("#ty = :ty")
                    .expression_attribute_names("#ty", ACTOR_TYPE)
                    .expression_attribute_values(":ty", s(actor_type.as_str()))
                    .limit(want)
                    .set_exclusive_start_key(start)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .await,
            )?;
            for item in out.items() {
                match item.get("pk").and_then(|pk| pk.as_s().ok()) {
                    Some(pk) => match Address::parse(pk) {
                        Ok(address) => listed.push(address),
                        Err(error) => {
                            tracing::warn!(pk, %error, "the actor index holds a key that is not `Type/id`; skipped");
                        }
                    },
                    None => return Err(super::schema::corrupt("pk")),
                }
            }
            start = out.last_evaluated_key().cloned();
            if start.is_none() {
                break;
            }
        }
        Ok(listed)
    }

    pub(super) async fn reset_state_of(
        &self,
        address: &Address,
        now: u64,
    ) -> Result<Retired, StoreError> {
        if self.leased(address, now).await? {
            return Ok(Retired::Busy);
        }
        let result = self
            .client
            .update_item()
            .table_name(&*self.table)
            .set_key(Some(state_key(address)))
            .update_expression("REMOVE st SET ver = ver + :one")
            .condition_expression(format!("attribute_exists(pk) AND {LEASE_FREE}"))
            .expression_attribute_names("#lease", "lease")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", n(now))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        if self.counted_if(result)?.is_some() {
            return Ok(Retired::Done);
        }
        Ok(match self.get(state_key(address)).await? {
            None => Retired::Missing,
            Some(_) => Retired::Busy,
        })
    }

    pub(super) async fn delete_actor_of(
        &self,
        address: &Address,
        now: u64,
    ) -> Result<Retired, StoreError> {
        // The state record first, under the lease: a drain that started before cannot
        // commit after it (its condition needs the version it read), one that starts
        // after finds a fresh actor.
        if self.leased(address, now).await? {
            return Ok(Retired::Busy);
        }
        let result = self
            .client
            .delete_item()
            .table_name(&*self.table)
            .set_key(Some(state_key(address)))
            .condition_expression(LEASE_FREE)
            .expression_attribute_names("#lease", "lease")
            .expression_attribute_values(":now", n(now))
            .return_values(ReturnValue::AllOld)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        let Some(deleted) = self.counted_if(result)? else {
            return Ok(Retired::Busy);
        };
        let had_state = deleted.attributes().is_some_and(|a| !a.is_empty());
        let mut rest = Vec::new();
        let own = address.to_string();
        let mut parts = vec![
            (own.clone(), LEASE_SK),
            (own.clone(), REPLY),
            (own, DEAD_LETTER),
        ];
        // Both mailboxes in the transitional layout (v1's partition is `own`: its
        // messages are read apart, as `m#` is their prefix).
        parts.extend(
            self.layout
                .mailboxes(address)
                .into_iter()
                .map(|m| (m, MESSAGE)),
        );
        for (pk, prefix) in parts {
            let keys = self.query_prefix(&pk, prefix, usize::MAX, |item| Some(key_of(item)));
            rest.extend(keys.await?);
        }
        if !had_state && rest.is_empty() {
            return Ok(Retired::Missing);
        }
        let requests = rest
            .into_iter()
            .map(|key| {
                DeleteRequest::builder()
                    .set_key(Some(key))
                    .build()
                    .map(|delete| WriteRequest::builder().delete_request(delete).build())
                    .map_err(errors::build_error)
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.batch_write(requests).await?;
        Ok(Retired::Done)
    }
}

impl DynamoStore {
    /// Whether a drain holds the lease of `address` at `now`, as its lease item says (a
    /// lease held on the state record, the conditions of the writes above check).
    async fn leased(&self, address: &Address, now: u64) -> Result<bool, StoreError> {
        let items = self.read_items(address).await?;
        Ok(items
            .effective()
            .is_some_and(|record| record.lease_expires_at > now))
    }
}

fn key_of(item: &Item) -> Item {
    item.iter()
        .filter(|(name, _)| *name == "pk" || *name == "sk")
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}
