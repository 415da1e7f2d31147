//! The actor's record as two items, `#lease` and `#state` (see `store::record`): reading
//! both in one `Query`, and the writes of the lease item (acquire, release, abandon).

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;

use super::schema::{n, record_from, Item, LEASE_SK, OWNER, STATE_SK};
use super::DynamoStore;
use crate::error::StoreError;
use crate::id::Address;
use crate::store::record::{self, Transition};
use crate::store::{Acquired, MailboxItem, StateRecord, Store as _};

/// How many times an acquire reads again after another acquirer's write came between
/// its read and its own: each such race has a winner, which holds the lease.
const ACQUIRE_RACES: usize = 3;

/// An actor's two items as stored (`None`: missing).
pub(super) struct Items {
    pub(super) lease: Option<StateRecord>,
    pub(super) state: Option<StateRecord>,
}

impl Items {
    /// The record as the protocol sees it.
    pub(super) fn effective(&self) -> Option<StateRecord> {
        record::effective(self.lease.as_ref(), self.state.as_ref())
    }
}

impl DynamoStore {
    /// Both items of `address`, strongly consistent, in one `Query` of the `#` prefix
    /// (`#lease` sorts before `#state`; nothing else of an actor starts with `#`).
    pub(super) async fn read_items(&self, address: &Address) -> Result<Items, StoreError> {
        let found: Vec<(String, Item)> = self
            .query_prefix(&address.to_string(), "#", 2, |item| {
                let sk = item.get("sk")?.as_s().ok()?.clone();
                Some((sk, item.clone()))
            })
            .await?;
        let mut items = Items {
            lease: None,
            state: None,
        };
        for (sk, item) in found {
            match sk.as_str() {
                LEASE_SK => items.lease = Some(record_from(&item)?),
                STATE_SK => items.state = Some(record_from(&item)?),
                _ => {}
            }
        }
        Ok(items)
    }

    /// Takes the lease (see `Store::acquire`): reads both items, and writes the lease
    /// item if it is still as read. A write that fails its condition either landed
    /// already (its answer was lost and the SDK retried it: the item names our owner
    /// token) or lost a race with another acquirer: read again. With `read`, also reads
    /// that many messages of the mailbox, beside the write (see
    /// `Store::acquire_and_read`).
    pub(super) async fn acquire_lease(
        &self,
        address: &Address,
        now: u64,
        lease_expires_at: u64,
        owner: u64,
        read: Option<usize>,
    ) -> Result<(Acquired, Vec<MailboxItem>), StoreError> {
        let mut items = self.read_items(address).await?;
        for _ in 0..ACQUIRE_RACES {
            let (lease, state) = (items.lease.as_ref(), items.state.as_ref());
            let Some(transition) = Transition::acquire(lease, state, now, lease_expires_at, owner)
            else {
                return Ok((record::held(lease, state), Vec::new()));
            };
            let write = self
                .transition(address, &transition)
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send();
            let mailbox = async {
                match read {
                    Some(limit) => self.read_mailbox(address, limit).await.map(Some),
                    None => Ok(None),
                }
            };
            let (result, mailbox) = tokio::join!(write, mailbox);
            let current = |error: &UpdateItemError| match error {
                UpdateItemError::ConditionalCheckFailedException(failed) => failed.item().cloned(),
                _ => None,
            };
            match self.conditional_or_current(result, current)? {
                Ok(_) => {
                    transition.apply(&mut items.lease);
                }
                Err(Some(found)) if found.get(OWNER) == Some(&n(owner)) => {
                    items.lease = Some(record_from(&found)?);
                }
                Err(_) => {
                    items = self.read_items(address).await?;
                    continue;
                }
            };
            // Taken: a failed read now is the caller's to handle (it abandons the lease).
            let taken = Acquired::Taken(items.effective().unwrap_or_default());
            return Ok((taken, mailbox?.unwrap_or_default()));
        }
        let (lease, state) = (items.lease.as_ref(), items.state.as_ref());
        Ok((record::held(lease, state), Vec::new()))
    }

    /// Applies `transition`, a write the protocol makes without needing to know whether
    /// its guard held (a release, an abandon, an unmark, a stub's expiry): a failed
    /// condition means somebody else's write made it moot.
    pub(super) async fn apply_if(
        &self,
        address: &Address,
        transition: &Transition<'_>,
    ) -> Result<(), StoreError> {
        let result = self.transition(address, transition).send().await;
        self.counted_if(result).map(drop)
    }
}
