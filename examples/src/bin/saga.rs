//! An order saga: reserve, charge, confirm; compensate a refused step, and cancel and
//! refund an order whose payment does not answer in time (see `examples/src/saga.rs`).
//!
//! ```text
//! cargo run -p mqless-examples --bin saga                                          # embedded
//! scripts/local-aws cargo run -p mqless-examples --features aws --bin saga -- --dynamodb
//! ```
//!
//! `--dynamodb` keeps mailboxes and state in the DynamoDB table `MQLESS_TABLE` (created
//! if missing), with the handlers in this process.

use std::time::Duration;

use mqless_examples::saga::{self, Order, OrderStatus, Wallet, Warehouse};

type AnyError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), AnyError> {
    let runtime = mqless_examples::runtime_from_args("saga").await?;
    runtime
        .register::<Order>()?
        .register::<Warehouse>()?
        .register::<Wallet>()?;
    let timeout = Duration::from_millis(500);
    println!("four orders of lamps (5 in stock, 100 each), payment timeout {timeout:?}");
    let report = saga::run(&runtime, "shop", timeout).await?;
    for (order, status, history) in &report.orders {
        println!("{order}: {status:?}\n    {}", history.join(" -> "));
    }
    println!(
        "stock: {} in stock, {} reserved; wallets: rich {}, poor {}, slow {}",
        report.stock.0, report.stock.1, report.balances[0], report.balances[1], report.balances[2]
    );
    let confirmed = report
        .orders
        .iter()
        .filter(|(_, s, _)| *s == OrderStatus::Confirmed)
        .count();
    if confirmed == 1 && report.stock == (3, 2) && report.balances == [900, 10, 1000] {
        println!("check: one order confirmed, every other one compensated");
        Ok(())
    } else {
        Err("check FAILED: the saga did not compensate".into())
    }
}
