//! DynamoDB's limits, which every store enforces on a commit, so the embedded runtime
//! fails where DynamoDB would.

use super::Commit;
use crate::error::StoreError;
use crate::id::Address;

/// DynamoDB's item size limit, which every store enforces on the `#state` record (state
/// and bookkeeping), so the embedded runtime fails where DynamoDB would.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;
/// DynamoDB's limit on a transaction's total size: a commit with outgoing messages.
pub const MAX_TRANSACTION_BYTES: usize = 4 * 1024 * 1024;
/// DynamoDB's limit on the items of one transaction: a commit's state record and its
/// outgoing messages.
pub const MAX_TRANSACTION_ITEMS: usize = 100;
/// Bytes a stored item carries besides its payload (keys, attribute names, numbers), as
/// the stores estimate it.
pub const ITEM_OVERHEAD_BYTES: usize = 128;

/// Checks a commit against DynamoDB's limits: the `#state` record under
/// [`MAX_ITEM_BYTES`], and with outgoing messages the transaction under
/// [`MAX_TRANSACTION_BYTES`] and [`MAX_TRANSACTION_ITEMS`].
///
/// # Errors
/// [`StoreErrorKind::ItemTooLarge`](crate::error::StoreErrorKind::ItemTooLarge) naming
/// the limit.
pub fn check_commit_size(address: &Address, commit: &Commit) -> Result<(), StoreError> {
    let record = commit.state.len() + commit.meta.len() + ITEM_OVERHEAD_BYTES;
    if record > MAX_ITEM_BYTES {
        return Err(StoreError::new(
            crate::error::StoreErrorKind::ItemTooLarge,
            format!("the state record of {address} would be {record} bytes, over DynamoDB's {MAX_ITEM_BYTES}-byte item limit; keep the state smaller (lower `Limits::max_state_bytes`)"),
        ));
    }
    if !commit.outgoing.is_empty() || commit.continued.is_some() || !commit.subscriptions.is_empty()
    {
        let items = commit.outgoing.len()
            + usize::from(commit.continued.is_some())
            + commit.subscriptions.len()
            + 1;
        if items > MAX_TRANSACTION_ITEMS {
            return Err(StoreError::new(
                crate::error::StoreErrorKind::ItemTooLarge,
                format!("the commit of {address} with {} outgoing messages would be a transaction of {items} items, over DynamoDB's {MAX_TRANSACTION_ITEMS}-item transaction limit", commit.outgoing.len()),
            ));
        }
        let total: usize = record
            + commit
                .outgoing
                .iter()
                .map(|(_, item)| item)
                .chain(&commit.continued)
                .map(|item| item.envelope.len() + ITEM_OVERHEAD_BYTES)
                .sum::<usize>()
            + commit
                .subscriptions
                .iter()
                .map(super::SubscriptionChange::bytes)
                .sum::<usize>();
        if total > MAX_TRANSACTION_BYTES {
            return Err(StoreError::new(
                crate::error::StoreErrorKind::ItemTooLarge,
                format!("the commit of {address} with {} outgoing messages would be a {total}-byte transaction, over DynamoDB's {MAX_TRANSACTION_BYTES}-byte transaction limit", commit.outgoing.len()),
            ));
        }
    }
    Ok(())
}
