//! Quarantining an actor whose own record fails on every drain, and lifting it: both
//! conditional updates of the `#state` record (and of its key in the `quarantined`
//! index).

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnConsumedCapacity, ReturnValuesOnConditionCheckFailure};

use super::schema::{
    b, n, s, state_key, DUE_KEY, DUE_SHARD, LIFT_TOKEN, QUARANTINED, QUARANTINE_KEY,
    QUARANTINE_REASON, QUARANTINE_SINCE, TTL,
};
use super::DynamoStore;
use crate::error::StoreError;
use crate::id::{random_u64, Address};
use crate::store::{Lift, QuarantineRecord, StateFix};

impl DynamoStore {
    pub(super) async fn quarantine_record(
        &self,
        address: &Address,
        epoch: u64,
        quarantine: &QuarantineRecord,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&*self.table)
            .set_key(Some(state_key(address)))
            // A quarantined actor waits for its operator, however long: no expiry.
            // Sweeps leave it alone: its mark goes, and they skip what it has queued.
            .update_expression(
                "SET lease = :zero, stl = :zero, #qr = :reason, #qat = :since, #qix = :q REMOVE #ttl, #dsh, #dk",
            )
            .condition_expression("ep = :ep")
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_names("#qix", QUARANTINE_KEY)
            .expression_attribute_names("#dsh", DUE_SHARD)
            .expression_attribute_names("#dk", DUE_KEY)
            .expression_attribute_values(":q", s(QUARANTINED))
            .expression_attribute_names("#qr", QUARANTINE_REASON)
            .expression_attribute_names("#qat", QUARANTINE_SINCE)
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":ep", n(epoch))
            .expression_attribute_values(":reason", s(quarantine.reason.clone()))
            .expression_attribute_values(":since", n(quarantine.since))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
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
        let mut set = vec!["ver = ver + :one", "#lft = :token"];
        let mut remove = vec!["#qr", "#qat", "#qix"];
        let mut request = self
            .client
            .update_item()
            .table_name(&*self.table)
            .set_key(Some(state_key(address)))
            .condition_expression("#qat = :since")
            .expression_attribute_names("#qix", QUARANTINE_KEY)
            .expression_attribute_names("#qr", QUARANTINE_REASON)
            .expression_attribute_names("#qat", QUARANTINE_SINCE)
            .expression_attribute_names("#lft", LIFT_TOKEN)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":token", n(token))
            .expression_attribute_values(":since", n(lift.since));
        match &lift.state {
            StateFix::Keep => {}
            StateFix::Replace(bytes) => {
                set.push("st = :st");
                request = request.expression_attribute_values(":st", b(bytes));
            }
            StateFix::Reset => remove.push("st"),
        }
        if lift.clear_bookkeeping {
            remove.push("meta");
        }
        let result = request
            .update_expression(format!(
                "SET {} REMOVE {}",
                set.join(", "),
                remove.join(", ")
            ))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
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
