//! The order saga as events (see `examples/src/order_events.rs`): actors publish what
//! happened and subscribe by pattern; a failed payment releases the stock it reserved.
//!
//! ```text
//! cargo run -p mqless-examples --bin order-events                                          # embedded
//! scripts/local-aws cargo run -p mqless-examples --features aws --bin order-events -- --dynamodb
//! ```

use mqless_examples::order_events::{self, Status};

type AnyError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), AnyError> {
    let runtime = mqless_examples::runtime_from_args("order-events").await?;
    order_events::register(&runtime)?;
    println!("5 lamps in stock; ann has 500, bob 50; three orders");
    let outcome = order_events::run(&runtime).await?;
    for (order, status) in &outcome.orders {
        println!("{order}: {status:?}");
    }
    println!(
        "lamps: {} available, {} reserved; purses: ann {}, bob {}; ann was told: {:?}",
        outcome.lamps.0,
        outcome.lamps.1,
        outcome.balances[0],
        outcome.balances[1],
        outcome.ann_was_told
    );
    println!(
        "emitted to the shipping channel: order.confirmed for {:?}",
        outcome.shipped
    );
    let expected = [
        Status::Confirmed,
        Status::Cancelled("bob cannot pay 100".into()),
        Status::Cancelled("only 3 lamp in stock".into()),
    ];
    let statuses: Vec<Status> = outcome.orders.into_iter().map(|(_, s)| s).collect();
    if statuses == expected
        && outcome.lamps == (3, 2)
        && outcome.balances == [300, 50]
        && outcome.shipped == ["o-1"]
    {
        println!("check: o-1 confirmed, o-2 compensated (stock released), o-3 refused");
        Ok(())
    } else {
        Err("check FAILED: the saga did not end as expected".into())
    }
}
