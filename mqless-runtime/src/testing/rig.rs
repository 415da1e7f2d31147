//! [`FaultyRig`]: the shared parts of a fault scenario, from which each simulated process
//! (a client, a host) is built.

use std::sync::Arc;

use super::faults::FaultyStore;
use super::faulty_emitter::FaultyEmitter;
use super::faulty_invoker::{FaultyInvoker, SkewedClock};
use crate::clock::ManualClock;
use crate::embedded::Embedded;
use crate::invoke::RecordingInvoker;
use crate::mailbox::DrainConfig;
use crate::store::memory::MemoryStore;
use crate::store::Store;

/// One faulty store, one manual clock, and wake-ups that go through a faulty invoker to a
/// recorder (nobody drains on their own: the test drives drains). Each
/// [`FaultyRig::process`] is a runtime over them, with its own clock skew.
pub struct FaultyRig<S = MemoryStore> {
    /// The store every process shares; arm its faults with
    /// [`FaultyStore::random_faults`].
    pub store: Arc<FaultyStore<S>>,
    /// The true time; processes see it through a [`SkewedClock`].
    pub clock: ManualClock,
    /// Where wake-ups end up: take them with [`RecordingInvoker::take_nudges`].
    pub recorder: Arc<RecordingInvoker>,
    /// The faulty invoker in front of the recorder.
    pub nudges: Arc<FaultyInvoker>,
    /// What every process emits to channels goes through it: read what the channels
    /// took with [`FaultyEmitter::delivered`].
    pub emitter: Arc<FaultyEmitter>,
    /// The drain settings of every process.
    pub config: DrainConfig,
}

impl<S: Store> FaultyRig<S> {
    /// A rig over `inner`, no faults armed, the clock at 2027-01-15.
    pub fn new(inner: S, config: DrainConfig) -> Self {
        let recorder = Arc::new(RecordingInvoker::new());
        Self {
            store: Arc::new(FaultyStore::over(inner)),
            clock: ManualClock::new(1_800_000_000_000),
            nudges: Arc::new(FaultyInvoker::new(recorder.clone())),
            emitter: Arc::new(FaultyEmitter::new()),
            recorder,
            config,
        }
    }

    /// A process: a runtime over the shared store whose clock is `offset_millis` off the
    /// true time and whose sends wake through the faulty invoker. Register actor types
    /// on it; take hosts from it with [`Embedded::host`].
    #[must_use]
    pub fn process(&self, offset_millis: i64) -> Embedded {
        Embedded::builder()
            .store(self.store.clone())
            .clock(Arc::new(SkewedClock {
                base: self.clock.clone(),
                offset_millis,
            }))
            .config(self.config.clone())
            .manual_drains(self.nudges.clone())
            .emitter(self.emitter.clone())
            .build()
    }
}
