//! The actor's state during a lease: the live value handlers change, and its encoding
//! as of the last applied message (what a commit writes, and the rollback point).

use crate::actor::Actor;
use crate::codec::{self, Limits};
use crate::error::Error;

/// The actor's state during a lease, and its encoding as of the last applied message:
/// the bytes to commit, and the point to roll back to.
pub(super) struct WorkingState<A> {
    pub(super) state: A,
    pub(super) snapshot: Vec<u8>,
    /// The last message that changed the state stopped the actor (`Context::stop`): the
    /// commit makes the record expire at once.
    pub(super) stopped: bool,
}

impl<A: Actor> WorkingState<A> {
    /// The state committed as `bytes` (`None`: the actor's `Default`).
    pub(super) fn load(bytes: Option<Vec<u8>>, limits: &Limits) -> Result<Self, Error> {
        let snapshot = match bytes {
            Some(bytes) => bytes,
            None => codec::encode(&A::default(), "actor state", limits.max_state_bytes)?,
        };
        let state = restore(&snapshot, limits)?;
        Ok(Self {
            state,
            snapshot,
            stopped: false,
        })
    }

    /// The actor stopped: back to the default state, as the rollback point too.
    pub(super) fn stop(&mut self, limits: &Limits) -> Result<(), Error> {
        *self = Self::load(None, limits)?;
        self.stopped = true;
        Ok(())
    }

    /// The encoded state as of the last applied message.
    pub(super) fn snapshot(&self) -> &[u8] {
        &self.snapshot
    }

    /// Undoes the running message. A `&self` method cannot have changed anything, unless
    /// it panicked (interior mutability), so only then is its state restored.
    pub(super) fn roll_back(&mut self, read_only: bool, limits: &Limits) -> Result<(), Error> {
        if !read_only {
            self.state = restore(&self.snapshot, limits)?;
        }
        Ok(())
    }
}

fn restore<A: Actor>(snapshot: &[u8], limits: &Limits) -> Result<A, Error> {
    Ok(codec::decode(
        snapshot,
        "actor state",
        usize::MAX,
        limits.max_depth,
    )?)
}
