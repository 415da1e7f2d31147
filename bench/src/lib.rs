//! Benchmark scenarios: each checks the final state first, then reports MQLess beside the
//! baseline measured in the same run. `src/main.rs` is the command line; `tests/` runs
//! every scenario at tiny sizes so they cannot rot, and checks the cost targets.
//!
//! - [`cost`]: DynamoDB request units per message, beside one transaction per message;
//! - [`contention`]: many writers on one entity, beside optimistic read-modify-write;
//! - [`embedded`]: in-process tells and asks, beside kameo;
//! - `e2e` (feature `aws`): asks through the Lambda emulator;
//! - [`saga`]: an order saga, every actor one message per drain;
//! - [`timers`]: scheduled-message lag and asks between actors, beside immediate sends;
//! - [`fan_out`]: one event to N subscribers, beside one send per subscriber;
//! - [`sweep`]: one sweep's cost and time as idle actors pile up, beside the full scan;
//! - [`emit`]: what an emission to SQS (moto) adds to a message, beside none.
//!
//! [`run`] is the command line's scenario runner; [`readme`] keeps the README's tables
//! what the scenarios measure.

mod command;
mod contention;
mod cost;
mod dynamodb;
mod e2e;
mod embedded;
mod emit;
mod fanout;
pub mod readme;
mod report;
mod saga;
mod sweep;
mod timers;

pub use command::{run, USAGE};
pub use contention::contention;
pub use cost::{cost, measure_cost, CostRow};
pub use dynamodb::Notebook;
pub use e2e::end_to_end;
pub use embedded::{embedded, Get, Increment, KameoCounter};
pub use emit::{emit, Dispatch};
pub use fanout::{fan_out, Follower};
pub use report::{Percentiles, Table};
pub use saga::{saga, SagaOrder, SagaPayment, SagaStock};
pub use sweep::sweep;
pub use timers::{timers, Clocked};

/// Any error of a scenario.
pub type BenchError = Box<dyn std::error::Error + Send + Sync>;

/// On-demand prices in us-east-1, dollars per million.
pub const PRICE_WRITE_UNITS: f64 = 0.625;
/// Dollars per million read units.
pub const PRICE_READ_UNITS: f64 = 0.125;
/// Dollars per million Lambda requests.
pub const PRICE_LAMBDA_REQUESTS: f64 = 0.20;
