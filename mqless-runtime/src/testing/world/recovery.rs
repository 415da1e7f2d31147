//! How a [`FaultWorld`] recovers once the faults stop: sweeps, drains, the workload's
//! repairs, and each dead letter by the fate the workload gives it, until every mailbox
//! is empty; the audit when the sweep finds nothing while messages wait.

use std::collections::BTreeSet;

use super::{DrainEnded, DrainTarget, FaultWorld};
use crate::clock::Clock;
use crate::error::Error;
use crate::id::Address;
use crate::store::{DeadLetter, Store};

/// Recovery rounds before a seed is declared stuck.
const MAX_RECOVERY_ROUNDS: usize = 60;

/// What [`FaultWorld::recover_with`] does with a dead letter it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LetterFate {
    /// Move it back into the mailbox, after what is queued.
    Redrive,
    /// Drop it.
    Discard,
    /// Leave it: it is the outcome the check expects.
    Keep,
}

/// The fate of a dead letter by default: redriven if the stall rule made it (drains were
/// killed again and again with it next, which only the injected faults did), kept
/// otherwise.
#[must_use]
pub fn redrive_stalled(_: &Address, letter: &DeadLetter) -> LetterFate {
    if letter.error.contains(crate::mailbox::STALLED) {
        LetterFate::Redrive
    } else {
        LetterFate::Keep
    }
}

impl<S: Store> FaultWorld<S> {
    /// Stops the faults and recovers as [`FaultWorld::recover_with`] does, redriving
    /// only what the stall rule dead-lettered ([`redrive_stalled`]): every other dead
    /// letter stays, for the check.
    ///
    /// # Errors
    /// As [`FaultWorld::recover_with`].
    pub async fn recover(&mut self) -> Result<(), String> {
        let fate = |address: &Address, letter: &DeadLetter| Ok(redrive_stalled(address, letter));
        self.recover_with(fate, async |_: &mut Self| Ok(false))
            .await
    }

    /// Stops the faults, then sweeps, drains and settles dead letters until every
    /// mailbox is empty. Each round: the clock passes the lease, the sweep (on the
    /// first host's clock) wakes what is due, the woken actors are drained on the first
    /// host, `repair` runs (fix what the workload broke, such as a quarantined actor;
    /// it says whether it changed anything), and each dead letter of a touched actor
    /// meets its `fate`. When the sweep finds nothing while messages wait, the audit
    /// runs (see [`FaultWorld::explain_audits`]).
    ///
    /// # Errors
    /// What `repair` or `fate` returned, a drain that fails with no fault injected, an
    /// audit finding an actor no lost wake-up explains, or mailboxes still holding
    /// messages after 60 rounds.
    pub async fn recover_with<F, R>(&mut self, mut fate: F, mut repair: R) -> Result<(), String>
    where
        F: FnMut(&Address, &DeadLetter) -> Result<LetterFate, String>,
        R: AsyncFnMut(&mut Self) -> Result<bool, String>,
    {
        self.rig.store.stop_random_faults();
        self.rig.nudges.stop_random_faults();
        self.rig.emitter.stop_random_faults();
        self.rig.nudges.deliver_delayed().await;
        for _ in 0..MAX_RECOVERY_ROUNDS {
            self.pass_the_lease();
            let swept = self.hosts[0].sweep().await.map_err(|e| e.to_string())?;
            let woken = self.take_woken();
            // A sweep whose nudges failed found something: the next round sweeps again
            // (a refused wake-up is seen, not lost), before the audit is asked.
            let idle = swept.nudged == 0 && swept.failed.is_empty() && woken.is_empty();
            for address in woken {
                let target = DrainTarget {
                    host: 0,
                    address,
                    kill_after: None,
                };
                for (address, end) in self.race(vec![target]).await {
                    match end {
                        DrainEnded::Failed(error) => {
                            return Err(format!(
                                "a drain of {address} failed with no fault injected: {error}"
                            ));
                        }
                        // Killed as hung (on a poison message, or a slow machine): its
                        // invocation is retried, as Lambda retries one that timed out.
                        DrainEnded::Killed | DrainEnded::Hung => self.retries.push(address),
                        DrainEnded::Done(_) | DrainEnded::NoHost => {}
                    }
                }
            }
            let repaired = repair(self).await?;
            let settled = self.settle_dead_letters(&mut fate).await?;
            let pending = self.pending().await?;
            if !repaired && settled == 0 && pending.is_empty() {
                return Ok(());
            }
            if idle && !repaired && settled == 0 {
                self.audit(&pending).await?;
            }
        }
        Err(format!(
            "mailboxes still hold messages after {MAX_RECOVERY_ROUNDS} recovery rounds: {:?}",
            self.pending().await?
        ))
    }

    /// The dead letters of every touched actor, each by its fate; how many were moved.
    async fn settle_dead_letters<F>(&mut self, fate: &mut F) -> Result<u64, String>
    where
        F: FnMut(&Address, &DeadLetter) -> Result<LetterFate, String>,
    {
        let mut settled = 0;
        for address in &self.touched {
            let letters = self.clients.dead_letters_at(address.clone());
            for letter in letters.list().await.map_err(|e| e.to_string())? {
                match fate(address, &letter)? {
                    LetterFate::Keep => continue,
                    LetterFate::Redrive => {
                        letters
                            .redrive(letter.id)
                            .await
                            .map_err(|e| e.to_string())?;
                        if letter.error.contains(crate::mailbox::STALLED) {
                            self.report.redriven += 1;
                        }
                    }
                    // Not found: a discard that landed and whose answer was lost.
                    LetterFate::Discard => match letters.discard(letter.id).await {
                        Ok(()) | Err(Error::DeadLetterNotFound { .. }) => {}
                        Err(error) => return Err(error.to_string()),
                    },
                }
                settled += 1;
            }
        }
        Ok(settled)
    }

    /// The registered actors with messages due now.
    async fn pending(&self) -> Result<Vec<Address>, String> {
        let now = self.rig.clock.now_millis();
        let pending = self
            .rig
            .store
            .inner
            .pending_actors(now)
            .await
            .map_err(|e| e.to_string())?;
        Ok(pending
            .into_iter()
            .filter(|address| self.types.contains(address.actor_type()))
            .collect())
    }

    /// Runs the audit, since the sweep found nothing while `pending` actors hold due
    /// messages; with [`FaultWorld::explain_audits`], each must be explained by a wake-up
    /// lost where nobody saw it fail.
    async fn audit(&mut self, pending: &[Address]) -> Result<(), String> {
        if self.explain_audits {
            let explained: BTreeSet<Address> = self
                .rig
                .nudges
                .dropped_for()
                .into_iter()
                .chain(self.rig.store.unmarked())
                .collect();
            if let Some(missed) = pending.iter().find(|a| !explained.contains(*a)) {
                let store = &self.rig.store;
                let calls = if store.traces_calls() {
                    format!(
                        "; its last store calls, oldest first:\n  {}",
                        store.calls_of(missed).join("\n  ")
                    )
                } else {
                    format!(
                        "; run it again with {}=1 to see its last store calls",
                        super::super::faults::TRACE_VARIABLE
                    )
                };
                return Err(format!(
                    "the sweep missed {missed}, which holds a due message though no wake-up of it was lost unseen: the due index should have had it{calls}"
                ));
            }
        }
        let audit = self.hosts[0].audit().await.map_err(|e| e.to_string())?;
        self.report.audited += u64::try_from(audit.nudged).unwrap_or(u64::MAX);
        Ok(())
    }
}
