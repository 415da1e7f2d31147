//! The sweep, which wakes the actors the due index (see [`crate::store::due`]) says are
//! due, and the audit, which finds by a full scan what the index cannot know of.
//!
//! A sweep reads the index's shards merged in key order (oldest due first), skips
//! quarantined actors (they are listed, not woken), and nudges the rest a bounded number
//! at a time, each actor once. A sweep that reaches its deadline saves where it stopped;
//! the next one continues from there to the end, then wraps around to the start, so no
//! actor waits behind others for more than one pass. It writes nothing else: a sweep
//! killed at any point leaves the index as it was, and the next sweep finds the same
//! entries.

use std::collections::{HashSet, VecDeque};
use std::time::Instant;

use futures_util::future::join_all;

use super::SweepReport;
use crate::error::Error;
use crate::id::Address;
use crate::invoke::Invoker;
use crate::store::due::{DueEntry, SHARDS};
use crate::store::Store;

/// Entries read per shard and page.
const PAGE: usize = 200;

/// How a sweep runs.
#[derive(Debug, Clone, Copy)]
pub struct SweepOptions {
    /// Nudges in flight at once.
    pub concurrency: usize,
    /// When to stop, saving a cursor for the next sweep; `None`: run to the end.
    pub deadline: Option<Instant>,
}

impl Default for SweepOptions {
    fn default() -> Self {
        Self {
            concurrency: 64,
            deadline: None,
        }
    }
}

/// The index's shards merged into one sequence in key order, each shard read a page at
/// a time as it runs out.
struct Merged<'s> {
    store: &'s dyn Store,
    now: u64,
    shards: Vec<Shard>,
}

struct Shard {
    index: u16,
    buffer: VecDeque<DueEntry>,
    after: Option<String>,
    exhausted: bool,
}

impl<'s> Merged<'s> {
    fn new(store: &'s dyn Store, now: u64, after: Option<&str>) -> Self {
        let shards = (0..SHARDS)
            .map(|index| Shard {
                index,
                buffer: VecDeque::new(),
                after: after.map(str::to_owned),
                exhausted: false,
            })
            .collect();
        Self { store, now, shards }
    }

    /// The next entry in key order, or `None` at the end.
    async fn next(&mut self) -> Result<Option<DueEntry>, Error> {
        let (store, now) = (self.store, self.now);
        let refills = self
            .shards
            .iter_mut()
            .filter(|shard| shard.buffer.is_empty() && !shard.exhausted)
            .map(|shard| async move {
                let page = store
                    .due_page(shard.index, shard.after.as_deref(), now, PAGE)
                    .await?;
                shard.exhausted = page.len() < PAGE;
                if let Some(last) = page.last() {
                    shard.after = Some(last.key.clone());
                }
                shard.buffer.extend(page);
                Ok::<_, Error>(())
            });
        for refilled in join_all(refills).await {
            refilled?;
        }
        let first = self
            .shards
            .iter_mut()
            .filter(|shard| !shard.buffer.is_empty())
            .min_by(|a, b| a.buffer[0].key.cmp(&b.buffer[0].key));
        Ok(first.and_then(|shard| shard.buffer.pop_front()))
    }
}

/// Wakes every actor that the due index holds an entry for at `now` (ms since the Unix
/// epoch): scheduled messages that came due, and marked actors (a wake-up that failed,
/// a lease whose owner may have crashed). See the module docs for the order, the cursor
/// and what is skipped.
///
/// # Errors
/// A store failure while reading the index; the nudges sent until then stand, and the
/// next sweep starts where this one's saved cursor (if any) says.
pub async fn sweep_with(
    store: &dyn Store,
    invoker: &dyn Invoker,
    now: u64,
    options: SweepOptions,
) -> Result<SweepReport, Error> {
    let quarantined = quarantined(store).await?;
    let cursor = store.sweep_cursor().await?;
    let mut report = SweepReport::default();
    let mut woken = HashSet::new();
    // From the cursor to the end, then from the start up to the cursor.
    let mut passes: Vec<(Option<String>, Option<String>)> = vec![(cursor.clone(), None)];
    if cursor.is_some() {
        passes.push((None, cursor.clone()));
    }
    let concurrency = options.concurrency.max(1);
    for (from, until) in &passes {
        let mut merged = Merged::new(store, now, from.as_deref());
        let mut reached = from.clone();
        loop {
            if options.deadline.is_some_and(|d| Instant::now() >= d) {
                store.save_sweep_cursor(reached.as_deref()).await?;
                report.complete = false;
                return Ok(report);
            }
            let mut chunk = Vec::new();
            let mut last = None;
            while chunk.len() < concurrency {
                let Some(entry) = merged.next().await? else {
                    break;
                };
                if until.as_ref().is_some_and(|until| entry.key > *until) {
                    break;
                }
                report.entries += 1;
                last = Some(entry.key);
                if quarantined.contains(&entry.address) {
                    if !report.quarantined.contains(&entry.address) {
                        report.quarantined.push(entry.address);
                    }
                } else if woken.insert(entry.address.clone()) {
                    chunk.push(entry.address);
                }
            }
            let Some(last) = last else {
                break;
            };
            nudge_all(invoker, &chunk, &mut report).await;
            report.pending.extend(chunk);
            reached = Some(last);
        }
    }
    if cursor.is_some() {
        store.save_sweep_cursor(None).await?;
    }
    report.complete = true;
    Ok(report)
}

/// The quarantined actors: listed by a sweep or an audit, never woken.
async fn quarantined(store: &dyn Store) -> Result<HashSet<Address>, Error> {
    Ok(store
        .quarantined_actors()
        .await?
        .into_iter()
        .map(|(address, _)| address)
        .collect())
}

/// Nudges `actors` at once, counting each outcome in `report`.
async fn nudge_all(invoker: &dyn Invoker, actors: &[Address], report: &mut SweepReport) {
    let outcomes = join_all(actors.iter().map(|address| invoker.nudge(address))).await;
    for (address, outcome) in actors.iter().zip(outcomes) {
        match outcome {
            Ok(()) => report.nudged += 1,
            Err(error) => report.failed.push((address.clone(), error)),
        }
    }
}

/// Wakes every actor in `store` with a queued message due at `now`, found by reading
/// the whole store (on DynamoDB a `Scan`, billed for every byte stored): what the due
/// index cannot know of, messages whose wake-up was lost where nobody saw it fail (an
/// accepted invoke that Lambda later dropped, a client that crashed between its write
/// and its nudge). Run it rarely; the generated template runs it hourly. Quarantined
/// actors are listed, not woken.
///
/// # Errors
/// A store failure while listing the actors.
pub async fn audit(
    store: &dyn Store,
    invoker: &dyn Invoker,
    now: u64,
) -> Result<SweepReport, Error> {
    let quarantined = quarantined(store).await?;
    let mut report = SweepReport::default();
    let (skipped, pending): (Vec<Address>, Vec<Address>) = store
        .pending_actors(now)
        .await?
        .into_iter()
        .partition(|address| quarantined.contains(address));
    report.entries = pending.len() + skipped.len();
    report.quarantined = skipped;
    for chunk in pending.chunks(SweepOptions::default().concurrency) {
        nudge_all(invoker, chunk, &mut report).await;
    }
    report.pending = pending;
    report.complete = true;
    Ok(report)
}
