//! A table on its way from one key layout to another: some of the workload's sends come
//! from a process still in the old layout, and a migration runs now and then, racing the
//! round's drains, and once more as recovery begins.

use std::sync::Arc;

use mqless::store::{BoxFuture, Store};
use mqless::Embedded;

use mqless::testing::FaultWorld;

/// The old layout's side of a table being moved: `store`, a view of the world's table in
/// the old layout (its calls get no injected faults: it is another process), and
/// `migrate`, one run of the migration (its failures are its own to report: a migration
/// is run again).
#[derive(Clone)]
pub struct Legacy {
    /// The table, as a process in the old layout sees it.
    pub store: Arc<dyn Store>,
    /// One migration run: how many messages it moved.
    pub migrate: Arc<dyn Fn() -> BoxFuture<'static, u64> + Send + Sync>,
}

impl std::fmt::Debug for Legacy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Legacy { .. }")
    }
}

impl Legacy {
    /// A client process in the old layout, on the world's clock, whose wake-ups go
    /// through the world's faulty invoker like every other process's.
    pub(super) fn clients<S: Store>(&self, world: &FaultWorld<S>) -> Embedded {
        super::client_process(self.store.clone(), world)
    }
}
