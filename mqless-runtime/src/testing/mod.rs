//! A testing kit for your own actors (feature `testing`, like tokio's `test-util`).
//!
//! MQLess promises that a message is applied exactly once, in order per sender, one at a
//! time, even when processes crash mid-drain, writes are ambiguous, DynamoDB throttles,
//! wake-ups are lost or duplicated and leases expire. Your actors' own invariants (money
//! is conserved, a counter equals the sum of its increments) should hold under the same
//! faults. This kit lets a test check that:
//!
//! - [`Scenario`] runs seeded fault scenarios against *your* actor type: it sends the
//!   messages your workload generates while injecting faults into every store call and
//!   wake-up, racing and killing drains, and expiring leases; then recovers (sweeps,
//!   redrives what the fault injection alone dead-lettered) and hands the final state of
//!   every actor to your check. A failing seed is printed, and [`Scenario::run_seed`]
//!   replays it.
//! - [`FaultWorld`] is what a scenario is built on, for workloads of several actor types
//!   or faults of your own: processes over one faulty store, drains raced and killed
//!   ([`FaultWorld::race`]), sweeps killed, and [`FaultWorld::recover`] (or `recover_with`, with your say on
//!   each dead letter). The project's own fault suites are written on it.
//! - [`FaultyStore`], [`FaultyInvoker`], [`FaultyEmitter`] and [`SkewedClock`] are the fault layer, for
//!   tests that arrange faults by hand, and [`FaultyRig`] puts them together into
//!   processes that share one faulty store; [`ManualClock`] moves time only when told, and
//!   [`RecordingInvoker`] wakes nobody, so a test drives drains itself
//!   (`Embedded::builder().manual_drains(..)`).
//! - `LostAnswers` (with feature `aws`) loses DynamoDB's answers below the AWS SDK:
//!   a write lands and the SDK retries it, which only a store that recognizes its own
//!   landed writes survives. `StaleReads` answers a query as if it ran before the
//!   writes that raced it: the race two acquirers of one new actor make, every time.
//! - [`Fixtures`] keeps the states and messages deployed versions wrote, and checks that
//!   the current code still decodes them: a breaking change to the state fails a test
//!   instead of quarantining actors after the deploy.
//!
//! The `mqless` facade's `testing` module has a runnable example.

mod faults;
mod faulty_emitter;
mod faulty_invoker;
mod fixtures;
#[cfg(feature = "aws")]
mod lost_answers;
mod pause;
mod rig;
mod scenario;
#[cfg(feature = "aws")]
mod stale_reads;
mod world;

pub use crate::clock::ManualClock;
pub use crate::invoke::RecordingInvoker;
pub use faults::{FaultyStore, Rng, StoreFaults};
pub use faulty_emitter::{EmitFaults, FaultyEmitter};
pub use faulty_invoker::{FaultyInvoker, NudgeFaults, SkewedClock};
pub use fixtures::{FixtureError, Fixtures};
#[cfg(feature = "aws")]
pub use lost_answers::LostAnswers;
pub use pause::{Pause, PausePoint};
pub use rig::FaultyRig;
pub use scenario::{Scenario, ScenarioEnd, ScenarioFailure, ScenarioReport};
#[cfg(feature = "aws")]
pub use stale_reads::StaleReads;
pub use world::{redrive_stalled, DrainEnded, DrainTarget, FaultWorld, LetterFate};
