//! A committed batch's follow-up writes: its replies, its failed messages moved to the
//! dead letters, the consumed messages deleted, and last the record's expiry when the
//! commit left it to the cleanup. A crash may stop it between any two requests; the
//! next owner repeats it from the committed bookkeeping, so every step must be safe to
//! repeat after any prefix of them.

use aws_sdk_dynamodb::types::{DeleteRequest, PutRequest, WriteRequest};

use super::schema::{
    b, dead_letter_key, get_bytes, message_key, message_key_in, n, reply_key, s, Item, TTL,
};
use super::{errors, DynamoStore};
use crate::error::StoreError;
use crate::id::{Address, MessageId};
use crate::store::record::Transition;
use crate::store::{Cleanup, DeadLetter, Failure};

impl DynamoStore {
    pub(super) async fn clean_up(
        &self,
        address: &Address,
        cleanup: Cleanup<'_>,
    ) -> Result<(), StoreError> {
        // Replies first: "no consumed message left" must imply "replies written".
        let ttl_seconds = cleanup.replies_expire_at / 1000;
        let mut replies = Vec::with_capacity(cleanup.replies.len());
        for reply in cleanup.replies {
            let mut item = reply_key(self.layout, address, reply.id, reply.asker.as_deref());
            item.insert("rep".into(), b(&reply.bytes));
            item.insert("ttl".into(), n(ttl_seconds));
            replies.push(put_request(item)?);
        }
        self.batch_write(replies).await?;
        for letter in cleanup.undeliverable {
            self.put_undeliverable(address, letter, &cleanup).await?;
        }
        for failure in cleanup.dead_letters {
            self.move_failed_message(address, failure, &cleanup).await?;
        }
        let consumed: Vec<MessageId> = cleanup
            .delete
            .iter()
            .filter(|id| !cleanup.dead_letters.iter().any(|f| f.id == **id)) // moved above
            .copied()
            .collect();
        // The transitional layout deletes under v1's key first, in a batch of its own:
        // `mqless migrate` moves a v1 message only while it is there, so once the v1
        // copy is gone no move can bring the message back after the v2 delete (the next
        // drain would skip it as consumed, but it would wait in the mailbox till then).
        if let Some(legacy) = self.layout.legacy_mailbox(address) {
            let keys = consumed.iter().map(|id| message_key_in(&legacy, *id));
            self.batch_write(delete_requests(keys)?).await?;
        }
        let keys = consumed
            .iter()
            .map(|id| message_key(self.layout, address, *id));
        self.batch_write(delete_requests(keys)?).await?;
        if let Some(expiry) = cleanup.expire_record {
            // A failed condition: a later commit decided the expiry.
            self.apply_if(address, &Transition::expire(expiry.version, expiry.at))
                .await?;
        }
        Ok(())
    }

    /// Writes the dead letter of a failed message and deletes the message, in one
    /// transaction conditioned on the message still being in the mailbox. A repeated
    /// cleanup then finds it gone and writes nothing: the letter, once discarded or
    /// redriven, stays so (two separate writes let a cleanup cut between them put it
    /// back, and a second redrive ran the message twice).
    async fn move_failed_message(
        &self,
        address: &Address,
        failure: &Failure,
        cleanup: &Cleanup<'_>,
    ) -> Result<(), StoreError> {
        // Rare, so one read per failure is fine (two in the transitional layout, whose
        // message may still be in v1's partition).
        let mut found = None;
        for mailbox in self.layout.mailboxes(address).iter().rev() {
            let key = message_key_in(mailbox, failure.id);
            if let Some(message) = self.get(key.clone()).await? {
                found = Some((key, message));
                break;
            }
        }
        let Some((key, message)) = found else {
            return Ok(()); // moved by an earlier run of this cleanup
        };
        let letter = letter_item(
            address,
            &DeadLetter {
                id: failure.id,
                envelope: get_bytes(&message, "env")?.unwrap_or_default(),
                error: failure.error.clone(),
                attempts: failure.attempts,
                dead_at: cleanup.now,
                kind: failure.kind,
            },
            cleanup.dead_letters_expire_at,
        );
        // `false`: the message was moved since the read (a racing run of this cleanup).
        self.move_item(key, letter).await.map(drop)
    }
}

impl DynamoStore {
    /// Writes the dead letter of a refused emission, unless one of its id exists (a
    /// repeat of this cleanup). One whose letter was discarded since is tried again by
    /// such a repeat, and written again only if its channel still refuses it.
    async fn put_undeliverable(
        &self,
        address: &Address,
        letter: &DeadLetter,
        cleanup: &Cleanup<'_>,
    ) -> Result<(), StoreError> {
        let item = letter_item(address, letter, cleanup.dead_letters_expire_at);
        // `false`: written by an earlier run of this cleanup.
        self.put_if_absent(item).await.map(drop)
    }
}

/// The `d#` item of `letter` (docs/wire.md, "Dead letters"), expiring at `expire_at`
/// (ms) for actor types with an idle time to live.
fn letter_item(
    address: &Address,
    letter: &DeadLetter,
    expire_at: Option<u64>,
) -> super::schema::Item {
    let mut item = dead_letter_key(address, letter.id);
    item.insert("env".into(), b(&letter.envelope));
    item.insert("err".into(), s(letter.error.clone()));
    item.insert("att".into(), n(u64::from(letter.attempts)));
    item.insert("at".into(), n(letter.dead_at));
    item.insert("kind".into(), s(letter.kind.as_str()));
    if let Some(at) = expire_at {
        item.insert(TTL.into(), n(at.div_ceil(1000)));
    }
    item
}

fn put_request(item: super::schema::Item) -> Result<WriteRequest, StoreError> {
    let put = PutRequest::builder()
        .set_item(Some(item))
        .build()
        .map_err(errors::build_error)?;
    Ok(WriteRequest::builder().put_request(put).build())
}

/// `DeleteItem` requests of a batch write, one per key.
fn delete_requests(keys: impl Iterator<Item = Item>) -> Result<Vec<WriteRequest>, StoreError> {
    keys.map(|key| {
        DeleteRequest::builder()
            .set_key(Some(key))
            .build()
            .map(|delete| WriteRequest::builder().delete_request(delete).build())
            .map_err(errors::build_error)
    })
    .collect()
}
