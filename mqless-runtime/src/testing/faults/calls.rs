//! Every [`Store`] call of a [`FaultyStore`], through its faults: most fail before or
//! after their effect (`faulty`), the commit can also be refused for size, and the due
//! index's pages lag, repeat and go stale.

use std::sync::atomic::Ordering;

use crate::error::{StoreError, StoreErrorKind};
use crate::id::{ActorType, Address, MessageId};
use crate::store::due::DueEntry;
use crate::store::{
    Acquired, Cleanup, Commit, CommitOutcome, DeadLetter, Lift, MailboxItem, QuarantineRecord,
    Retired, StateRecord, Store,
};
use crate::BoxFuture;

use super::{lock, take_one, FaultyStore};
use crate::testing::pause::PausePoint;

impl<S: Store> Store for FaultyStore<S> {
    fn enqueue<'a>(
        &'a self,
        to: &'a Address,
        item: &'a MailboxItem,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let queued = self.faulty(move || self.inner.enqueue(to, item)).await;
            self.traced(to, || format!("enqueue {} -> {queued:?}", item.id))
                .await;
            queued
        })
    }
    fn acquire<'a>(
        &'a self,
        a: &'a Address,
        now: u64,
        until: u64,
        owner: u64,
    ) -> BoxFuture<'a, Result<Acquired, StoreError>> {
        Box::pin(async move {
            if take_one(&self.lost_acquire_answers) {
                self.inner.acquire(a, now, until, owner).await?;
                return Err(StoreError::new(
                    StoreErrorKind::Unavailable,
                    "injected: the acquire was applied, its answer lost",
                ));
            }
            let acquired = self
                .faulty(move || self.inner.acquire(a, now, until, owner))
                .await;
            self.traced(a, || match &acquired {
                // The record it took is shown after it, as for every call.
                Ok(Acquired::Taken(_)) => format!("acquire at {now} -> taken"),
                Ok(held) => format!("acquire at {now} -> {held:?}"),
                Err(error) => format!("acquire at {now} -> {error}"),
            })
            .await;
            if matches!(acquired, Ok(Acquired::Taken(_))) {
                self.pauses.at(a, PausePoint::AfterAcquire).await;
            }
            acquired
        })
    }
    fn acquire_and_read<'a>(
        &'a self,
        a: &'a Address,
        now: u64,
        until: u64,
        owner: u64,
        limit: usize,
    ) -> BoxFuture<'a, Result<(Acquired, Vec<MailboxItem>), StoreError>> {
        Box::pin(async move {
            // Early: the record as the acquire's own read would find it, then the
            // mailbox, then the acquire (which reads again, and writes). The early read
            // stands only if no commit came between the two reads of the record: a
            // mailbox read from before a commit may hold messages its batch's
            // predecessor consumed, which no bookkeeping lists any more.
            let early = if self.read_early(a) {
                let version = self.inner.load_state(a).await?.map_or(0, |r| r.version);
                Some((version, self.read_mailbox(a, limit).await?))
            } else {
                None
            };
            let acquired = self.acquire(a, now, until, owner).await?;
            let items = match (&acquired, early) {
                (Acquired::Held { .. }, _) => Vec::new(),
                (Acquired::Taken(record), Some((version, read))) if record.version == version => {
                    self.note(a, || {
                        format!("the early read stands: {} messages", read.len())
                    });
                    read
                }
                (Acquired::Taken(_), _) => self.read_mailbox(a, limit).await?,
            };
            Ok((acquired, items))
        })
    }
    fn abandon<'a>(&'a self, a: &'a Address, owner: u64) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let abandoned = self.faulty(move || self.inner.abandon(a, owner)).await;
            self.traced(a, || format!("abandon -> {abandoned:?}")).await;
            abandoned
        })
    }
    fn read_mailbox<'a>(
        &'a self,
        a: &'a Address,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<MailboxItem>, StoreError>> {
        let fail = take_one(&self.failing_reads).then(|| {
            let kind = lock(&self.failing_read_kind).unwrap_or(StoreErrorKind::Unavailable);
            (kind, "injected read failure")
        });
        Box::pin(async move {
            let read = self
                .paused_then(a, PausePoint::BeforeRead, fail, move || {
                    self.inner.read_mailbox(a, limit)
                })
                .await;
            self.note(a, || match &read {
                Ok(items) => format!(
                    "read {limit} -> {:?}",
                    items.iter().map(|i| i.id.to_string()).collect::<Vec<_>>()
                ),
                Err(error) => format!("read {limit} -> {error}"),
            });
            read
        })
    }
    fn commit<'a>(
        &'a self,
        a: &'a Address,
        commit: &'a Commit,
    ) -> BoxFuture<'a, Result<CommitOutcome, StoreError>> {
        Box::pin(async move {
            lock(&self.recipients).extend(commit.outgoing.iter().map(|(to, _)| to.clone()));
            self.pauses.at(a, PausePoint::BeforeCommit).await;
            let limit = self.state_limit.load(Ordering::SeqCst);
            if limit > 0 && commit.state.len() > limit {
                lock(&self.injected).refused_commits += 1;
                return Err(StoreError::new(
                    StoreErrorKind::ItemTooLarge,
                    format!(
                        "injected: a state of {} bytes is over this store's {limit}-byte item limit",
                        commit.state.len()
                    ),
                ));
            }
            if commit.lease_expires_at == 0 {
                self.releasing().await?;
            }
            if take_one(&self.lost_commit_answers) {
                self.inner.commit(a, commit).await?;
                return Err(StoreError::new(
                    StoreErrorKind::Unavailable,
                    "injected: the commit was applied, its answer lost",
                ));
            }
            let outcome = self.faulty(move || self.inner.commit(a, commit)).await;
            self.traced(a, || {
                format!(
                    "commit on version {} (lease {}, mark {:?}, {} sends) -> {outcome:?}",
                    commit.expected_version,
                    commit.lease_expires_at,
                    commit.mark,
                    commit.outgoing.len()
                )
            })
            .await;
            outcome
        })
    }
    fn expire_stub<'a>(&'a self, a: &'a Address, at: u64) -> BoxFuture<'a, Result<(), StoreError>> {
        self.faulty(move || self.inner.expire_stub(a, at))
    }
    fn release<'a>(&'a self, a: &'a Address, epoch: u64) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.releasing().await?;
            let released = self.faulty(move || self.inner.release(a, epoch)).await;
            self.traced(a, || format!("release epoch {epoch} -> {released:?}"))
                .await;
            released
        })
    }
    fn unmark<'a>(&'a self, a: &'a Address, at: u64) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let unmarked = self.faulty(move || self.inner.unmark(a, at)).await;
            self.traced(a, || format!("unmark {at} -> {unmarked:?}"))
                .await;
            unmarked
        })
    }
    fn knock<'a>(
        &'a self,
        a: &'a Address,
        version: u64,
        mark: Option<u64>,
        at: u64,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let knocked = self
                .faulty(move || self.inner.knock(a, version, mark, at))
                .await;
            self.traced(a, || {
                format!("knock on version {version} mark {mark:?} at {at} -> {knocked:?}")
            })
            .await;
            knocked
        })
    }
    fn arm<'a>(&'a self, a: &'a Address, at: u64) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let armed = self.faulty(move || self.inner.arm(a, at)).await;
            self.traced(a, || format!("arm {at} -> {armed:?}")).await;
            // An error may have come after the write: only a record without a mark as
            // early counts as unmarked.
            let marked = self
                .inner
                .load_state(a)
                .await?
                .is_some_and(|record| record.mark.is_some_and(|mark| mark <= at));
            if !marked {
                self.record_unmarked(a);
            }
            armed
        })
    }
    fn mark_message<'a>(
        &'a self,
        a: &'a Address,
        id: MessageId,
        at: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let marked = self
                .faulty(move || self.inner.mark_message(a, id, at))
                .await;
            self.traced(a, || format!("mark message {id} at {at} -> {marked:?}"))
                .await;
            // An error may have come after the write, but the store has no cheap read of
            // one message's entry: a failed mark counts as unmarked (what the audit
            // finds is then explained a little more generously, never less).
            if marked.is_err() {
                self.record_unmarked(a);
            }
            marked
        })
    }
    fn due_page<'a>(
        &'a self,
        shard: u16,
        after: Option<&'a str>,
        now: u64,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<DueEntry>, StoreError>> {
        Box::pin(async move {
            let mut page = self
                .faulty(move || self.inner.due_page(shard, after, now, limit))
                .await?;
            self.disturb_due_page(shard, after, &mut page);
            Ok(page)
        })
    }
    fn sweep_cursor(&self) -> BoxFuture<'_, Result<Option<String>, StoreError>> {
        self.faulty(move || self.inner.sweep_cursor())
    }
    fn save_sweep_cursor<'a>(
        &'a self,
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.faulty(move || self.inner.save_sweep_cursor(cursor))
    }
    fn cleanup<'a>(
        &'a self,
        a: &'a Address,
        cleanup: Cleanup<'a>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let fail = take_one(&self.failing_cleanups)
            .then_some((StoreErrorKind::Unavailable, "injected crash before cleanup"));
        Box::pin(async move {
            let cleaned = self
                .paused_then(a, PausePoint::BeforeCleanup, fail, move || {
                    self.inner.cleanup(a, cleanup)
                })
                .await;
            self.note(a, || format!("cleanup -> {cleaned:?}"));
            cleaned
        })
    }
    fn get_reply<'a>(
        &'a self,
        a: &'a Address,
        id: MessageId,
        asker: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        self.inner.get_reply(a, id, asker)
    }
    fn load_state<'a>(
        &'a self,
        a: &'a Address,
    ) -> BoxFuture<'a, Result<Option<StateRecord>, StoreError>> {
        self.inner.load_state(a)
    }
    fn dead_letters<'a>(
        &'a self,
        a: &'a Address,
    ) -> BoxFuture<'a, Result<Vec<DeadLetter>, StoreError>> {
        self.inner.dead_letters(a)
    }
    fn redrive<'a>(
        &'a self,
        a: &'a Address,
        id: MessageId,
        new_id: MessageId,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.faulty(move || self.inner.redrive(a, id, new_id))
    }
    fn discard_dead_letter<'a>(
        &'a self,
        a: &'a Address,
        id: MessageId,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.faulty(move || self.inner.discard_dead_letter(a, id))
    }
    fn quarantine<'a>(
        &'a self,
        a: &'a Address,
        epoch: u64,
        quarantine: &'a QuarantineRecord,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.faulty(move || self.inner.quarantine(a, epoch, quarantine))
    }
    fn lift_quarantine<'a>(
        &'a self,
        a: &'a Address,
        lift: &'a Lift,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.inner.lift_quarantine(a, lift)
    }
    fn quarantined_actors(
        &self,
    ) -> BoxFuture<'_, Result<Vec<(Address, QuarantineRecord)>, StoreError>> {
        self.inner.quarantined_actors()
    }
    fn pending_actors(&self, now: u64) -> BoxFuture<'_, Result<Vec<Address>, StoreError>> {
        self.inner.pending_actors(now)
    }
    fn list_actors<'a>(
        &'a self,
        t: &'a ActorType,
        after: Option<&'a Address>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<Address>, StoreError>> {
        self.inner.list_actors(t, after, limit)
    }
    fn reset_state<'a>(
        &'a self,
        a: &'a Address,
        now: u64,
    ) -> BoxFuture<'a, Result<Retired, StoreError>> {
        self.inner.reset_state(a, now)
    }
    fn delete_actor<'a>(
        &'a self,
        a: &'a Address,
        now: u64,
    ) -> BoxFuture<'a, Result<Retired, StoreError>> {
        self.inner.delete_actor(a, now)
    }
    // A topic's handler reads and writes subscriptions; a failure there is its
    // message's `Err` (dead-lettered, redrivable), so they are passed through unfaulted:
    // the commits around them are where crashes are injected.
    fn subscriptions<'a>(
        &'a self,
        topic: &'a Address,
        subscriber_types: &'a [crate::id::ActorType],
        after: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<crate::store::SubscriptionPage, StoreError>> {
        self.inner
            .subscriptions(topic, subscriber_types, after, limit)
    }

    fn subscription_writers(&self) -> crate::store::SubscriptionWriters {
        self.inner.subscription_writers()
    }

    fn write_subscription<'a>(
        &'a self,
        topic: &'a Address,
        key: &'a str,
        record: Option<&'a crate::store::SubscriptionRecord>,
        by: MessageId,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.write_subscription(topic, key, record, by)
    }

    fn cancel<'a>(
        &'a self,
        a: &'a Address,
        id: MessageId,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.inner.cancel(a, id)
    }
}
