//! `.query()`: a `&self` method run in the caller's process on the actor's committed
//! state, read with one strongly consistent `GetItem`; no mailbox, no lease, no write,
//! no Lambda invoke. It sees the committed state, not the messages still queued.

use std::marker::PhantomData;
use std::sync::Arc;

use super::{Actor, Context, Outbox, Outcome};
use crate::codec::{self, Limits};
use crate::error::{describe_panic, Error};
use crate::id::{Address, MessageId};
use crate::store::StateRecord;

/// Marks a request whose method takes `&self`: it can be `.query()`-ed. The generated
/// client returns `Request<'_, R, E, ReadOnly<Actor>>` for such methods.
pub struct ReadOnly<A>(PhantomData<fn() -> A>);

/// Marks a request whose method takes `&mut self` (the default).
pub struct Mutating;

/// Request kinds that `.query()` accepts: those of `&self` methods.
#[diagnostic::on_unimplemented(
    message = "`.query()` runs only methods that take `&self`",
    label = "this method takes `&mut self`: it changes the state, so it must go through the mailbox",
    note = "use `.call()` for its return value, or `.send()`"
)]
pub trait Queryable {
    /// The actor type whose method the request names.
    type Actor: Actor;
}

impl<A: Actor> Queryable for ReadOnly<A> {
    type Actor = A;
}

/// Runs the method encoded in `body` on the committed `record` of `address`.
///
/// # Errors
/// [`Error::Quarantined`], a state or message that does not decode, or
/// [`Error::QueryPanicked`].
pub(crate) async fn run<A: Actor>(
    address: Address,
    record: Option<StateRecord>,
    body: &[u8],
    now_millis: u64,
    limits: Limits,
) -> Result<Outcome, Error> {
    let record = record.unwrap_or_default();
    if let Some(quarantine) = record.quarantine {
        return Err(Error::Quarantined {
            address: address.to_string(),
            reason: quarantine.reason,
            since: quarantine.since,
        });
    }
    let mut state: A = match record.live_state(now_millis) {
        Some(bytes) => codec::decode(bytes, "actor state", usize::MAX, limits.max_depth)?,
        None => A::default(),
    };
    let message: A::Message =
        codec::decode(body, "message", limits.max_message_bytes, limits.max_depth)?;
    let outbox = Arc::new(Outbox::for_query(now_millis, limits));
    let id = MessageId::generate(now_millis, None);
    let address = Arc::new(address);
    let mut ctx = Context::new(Arc::clone(&address), id, true, outbox);
    match crate::actor::dispatch::dispatch(&mut state, message, &mut ctx).await {
        Ok(outcome) => Ok(outcome?),
        Err(panic) => Err(Error::QueryPanicked {
            address: address.to_string(),
            panic: describe_panic(panic.as_ref()),
        }),
    }
}
