//! Scheduled messages: a request sent with `send_after` / `send_at` is queued at once
//! under an id that carries its delivery time, so the mailbox keeps scheduled messages in
//! delivery order; drains stop before one that is not due, and its wake-up comes from a
//! timer (embedded) or the sweep (deployed). This module cancels them, and defines
//! recurring reminders, each fire of which schedules the next.

use std::time::Duration;

use crate::clock::millis;
use crate::error::Error;
use crate::id::{Address, MessageId};
use crate::store::Store;
pub use crate::wire::Missed;
use crate::wire::{Envelope, ReminderSpec};

/// A scheduled message closer than this to its delivery time is not cancelled: a drain
/// may already be running it.
pub const CANCEL_MARGIN: Duration = Duration::from_secs(1);

/// Which scheduled messages to cancel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheduled {
    /// The one with this id (what `send_after` returned).
    Id(MessageId),
    /// Every one sent with this name (`.named(..)`).
    Name(String),
}

/// Cancels the scheduled messages of `address` that `which` names: returns the ids of
/// those it removed, none when they already ran, were cancelled, or never were. Reads
/// the actor's mailbox (one `Query` per 1 MB on DynamoDB).
///
/// # Errors
/// [`Error::TooLateToCancel`] when one is due within [`CANCEL_MARGIN`] (nothing is
/// cancelled then), or a store failure.
pub(crate) async fn cancel(
    store: &dyn Store,
    address: &Address,
    which: &Scheduled,
    now: u64,
) -> Result<Vec<MessageId>, Error> {
    let limits = crate::codec::Limits::DEFAULT;
    let mut targets = Vec::new();
    for item in store.read_mailbox(address, usize::MAX).await? {
        let Ok(envelope) = Envelope::decode(&item.envelope, &limits) else {
            continue;
        };
        let Some(at) = envelope.at else {
            continue;
        };
        let named = match which {
            Scheduled::Id(id) => *id == item.id,
            Scheduled::Name(name) => envelope.name.as_deref() == Some(name.as_str()),
        };
        if named {
            if at <= now.saturating_add(millis(CANCEL_MARGIN)) {
                return Err(Error::TooLateToCancel {
                    message_id: item.id,
                    due_in_millis: at.saturating_sub(now),
                });
            }
            targets.push(item.id);
        }
    }
    let mut cancelled = Vec::new();
    for id in targets {
        if store.cancel(address, id).await? {
            cancelled.push(id);
        }
    }
    Ok(cancelled)
}

/// A recurring reminder: `request.remind(name, Reminder::every(period))` makes the
/// request's message fire every `period`, starting one period from now (or at
/// [`Reminder::first_at`]), until [`Reminder::until`] or until cancelled, with fires
/// missed while nothing ran handled as [`Missed`] says. Each fire is a scheduled message
/// that, when handled, schedules the next in the same commit: reminders survive
/// redeploys and crashes like any queued message. Registering a name again replaces the
/// reminder of that name.
///
/// ```
/// use std::time::Duration;
/// use mqless_runtime::schedule::{Missed, Reminder};
/// let hourly = Reminder::every(Duration::from_secs(3600)).missed(Missed::Skip);
/// # let _ = hourly;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reminder {
    pub(crate) period: Duration,
    pub(crate) first: First,
    pub(crate) until: Option<std::time::SystemTime>,
    pub(crate) missed: Missed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum First {
    AfterPeriod,
    After(Duration),
    At(std::time::SystemTime),
}

/// The shortest reminder period: shorter ones would keep an actor busy firing.
pub const MIN_REMINDER_PERIOD: Duration = Duration::from_secs(1);

impl Reminder {
    /// Fires every `period` (at least [`MIN_REMINDER_PERIOD`]), first one period from now.
    #[must_use]
    pub fn every(period: Duration) -> Self {
        Self {
            period,
            first: First::AfterPeriod,
            until: None,
            missed: Missed::default(),
        }
    }

    /// The first fire `delay` from now.
    #[must_use]
    pub fn first_after(mut self, delay: Duration) -> Self {
        self.first = First::After(delay);
        self
    }

    /// The first fire at `at`.
    #[must_use]
    pub fn first_at(mut self, at: std::time::SystemTime) -> Self {
        self.first = First::At(at);
        self
    }

    /// No fire after `end`.
    #[must_use]
    pub fn until(mut self, end: std::time::SystemTime) -> Self {
        self.until = Some(end);
        self
    }

    /// What to do with fires missed while nothing ran (default [`Missed::FireOnce`]).
    #[must_use]
    pub fn missed(mut self, missed: Missed) -> Self {
        self.missed = missed;
        self
    }

    /// The reminder as its fires carry it, registered now, and its first fire time.
    ///
    /// # Errors
    /// [`Error::InvalidReminder`] for a period under [`MIN_REMINDER_PERIOD`] or a
    /// `CatchUp` of 0.
    pub(crate) fn spec(&self, now: u64) -> Result<(ReminderSpec, u64), Error> {
        if self.period < MIN_REMINDER_PERIOD {
            return Err(Error::InvalidReminder(format!(
                "a period of {:?} is under the minimum of {MIN_REMINDER_PERIOD:?}",
                self.period
            )));
        }
        if self.missed == (Missed::CatchUp { max: 0 }) {
            return Err(Error::InvalidReminder(
                "`Missed::CatchUp { max: 0 }` would never run: use `Missed::Skip`".into(),
            ));
        }
        let epoch =
            |t: std::time::SystemTime| t.duration_since(std::time::UNIX_EPOCH).map_or(0, millis);
        let first = match self.first {
            First::AfterPeriod => now.saturating_add(millis(self.period)),
            First::After(delay) => now.saturating_add(millis(delay)),
            First::At(at) => epoch(at),
        };
        let spec = ReminderSpec {
            period: millis(self.period),
            until: self.until.map(epoch),
            missed: self.missed,
            registration: MessageId::generate(now, None),
            caught_up: 0,
            chained: false,
        };
        Ok((spec, first))
    }
}

/// A reminder as listed by `Actors::reminders`: its next fire, as queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderInfo {
    /// Its name.
    pub name: String,
    /// When it fires next, in milliseconds since the Unix epoch.
    pub next_fire_millis: u64,
    /// The id of that fire's message.
    pub next_fire: MessageId,
    /// Milliseconds between fires.
    pub period_millis: u64,
    /// No fire after this (milliseconds since the Unix epoch).
    pub until_millis: Option<u64>,
    /// What it does about missed fires.
    pub missed: Missed,
}
