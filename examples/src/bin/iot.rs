//! A device group queries its devices without blocking: each answer, or its timeout,
//! comes back to the group's `reading` method (see `examples/src/iot.rs`).
//!
//! ```text
//! cargo run -p mqless-examples --bin iot                                          # embedded
//! scripts/local-aws cargo run -p mqless-examples --features aws --bin iot -- --dynamodb
//! ```
//!
//! `--dynamodb` keeps mailboxes and state in the DynamoDB table `MQLESS_TABLE` (created
//! if missing), with the handlers in this process.

use std::time::Duration;

use mqless_examples::iot::{self, Device, DeviceGroup, Reading};

type AnyError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), AnyError> {
    let runtime = mqless_examples::runtime_from_args("iot").await?;
    runtime.register::<Device>()?.register::<DeviceGroup>()?;
    let timeout = Duration::from_millis(500);
    println!("a group of 25 devices, queried with a {timeout:?} timeout; device 0 answers late, device 1 has no reading");
    let result = iot::run(&runtime, "group", 25, timeout).await?;
    for (device, reading) in result.readings.iter().take(4) {
        println!("  {device}: {reading:?}");
    }
    println!("  ... {} devices in all", result.readings.len());
    let timed_out = result
        .readings
        .values()
        .filter(|r| **r == Reading::TimedOut)
        .count();
    let celsius = result
        .readings
        .values()
        .filter(|r| matches!(r, Reading::Celsius(_)))
        .count();
    println!(
        "query {}: {celsius} answered, {timed_out} timed out, complete: {}",
        result.query, result.complete
    );
    if result.complete && timed_out == 1 && celsius == 23 {
        Ok(())
    } else {
        Err("check FAILED: expected 23 readings and 1 timeout".into())
    }
}
