//! Mailbox items that MQLess did not write and cannot read (a sort key that is not a
//! message id, an envelope that is not binary): moved out of the mailbox into the
//! actor's dead letters, kind `malformed`, with the reason and the item's attributes
//! (`raw`), so that the actor is not woken for them in every sweep.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::schema::{b, dead_letter_key, n, s, Item};
use super::DynamoStore;
use crate::error::StoreError;
use crate::id::{Address, MessageId};
use crate::store::DeadLetterKind;

impl DynamoStore {
    /// Moves the malformed mailbox `item` of `address` to its dead letters; logs what
    /// happened. A reader without the permission to (a client) leaves it, as before.
    pub(super) async fn retire_malformed(&self, address: &Address, item: Item, reason: &str) {
        let sk = item.get("sk").cloned();
        match self.move_to_dead_letters(address, item, reason).await {
            Ok(()) => {
                tracing::warn!(actor = %address, ?sk, %reason, "a malformed mailbox item was moved to the dead letters")
            }
            Err(error) => {
                tracing::warn!(actor = %address, ?sk, %reason, %error, "a malformed mailbox item is skipped: it could not be moved to the dead letters; delete or rewrite it by hand")
            }
        }
    }

    async fn move_to_dead_letters(
        &self,
        address: &Address,
        mut item: Item,
        reason: &str,
    ) -> Result<(), StoreError> {
        let key: HashMap<String, AttributeValue> = ["pk", "sk"]
            .iter()
            .filter_map(|name| Some(((*name).to_owned(), item.get(*name)?.clone())))
            .collect();
        let now = crate::clock::Clock::now_millis(&crate::clock::SystemClock);
        let mut letter = dead_letter_key(address, MessageId::generate(now, None));
        let envelope = match item.remove("env") {
            Some(AttributeValue::B(envelope)) => envelope.into_inner(),
            Some(other) => {
                // Kept as it was, with the other attributes.
                item.insert("env".into(), other);
                Vec::new()
            }
            None => Vec::new(),
        };
        item.remove("pk");
        letter.insert("env".into(), b(&envelope));
        letter.insert(
            "err".into(),
            s(format!(
                "a mailbox item MQLess cannot read ({reason}): moved out of the mailbox; its attributes are kept in `raw`"
            )),
        );
        letter.insert("att".into(), n(0));
        letter.insert("at".into(), n(now));
        letter.insert("kind".into(), s(DeadLetterKind::Malformed.as_str()));
        letter.insert("raw".into(), AttributeValue::M(item));
        // `false`: someone moved or deleted it meanwhile; nothing to do.
        self.move_item(key, letter).await.map(drop)
    }
}
