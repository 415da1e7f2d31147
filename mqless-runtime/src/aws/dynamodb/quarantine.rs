//! Quarantining an actor whose own record fails on every drain, and lifting it: both
//! conditional updates of the `#state` record (and of its key in the `quarantined`
//! index), as `store::record` defines them.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;

use super::schema::{n, LIFT_TOKEN};
use super::transitions::Expressions;
use super::DynamoStore;
use crate::error::StoreError;
use crate::id::{random_u64, Address};
use crate::store::record::{ItemKind, Transition};
use crate::store::{Lift, QuarantineRecord};

impl DynamoStore {
    pub(super) async fn quarantine_record(
        &self,
        address: &Address,
        epoch: u64,
        quarantine: &QuarantineRecord,
    ) -> Result<bool, StoreError> {
        let transition = Transition::quarantine(epoch, quarantine);
        let result = self.transition(address, &transition).send().await;
        Ok(self.counted_if(result)?.is_some())
    }

    pub(super) async fn lift_quarantine_of(
        &self,
        address: &Address,
        lift: &Lift,
    ) -> Result<bool, StoreError> {
        // A random token per lift: when its answer is lost and the SDK retries, the
        // retry finds the quarantine gone and must still count the lift as done.
        let token = random_u64();
        let mut expressions = Expressions::of(address, &Transition::lift(lift));
        expressions.also_set(LIFT_TOKEN, n(token));
        let result = self
            .update_record(address, ItemKind::State, &expressions)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let current = |error: &UpdateItemError| match error {
            UpdateItemError::ConditionalCheckFailedException(failed) => failed.item().cloned(),
            _ => None,
        };
        Ok(match self.conditional_or_current(result, current)? {
            Ok(_) => true,
            // This very lift: it landed, its answer was lost, and the retry found
            // the quarantine lifted.
            Err(Some(item)) => item.get(LIFT_TOKEN) == Some(&n(token)),
            Err(None) => false,
        })
    }
}
