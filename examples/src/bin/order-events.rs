//! The order saga as events (see `examples/src/order_events.rs`): actors publish what
//! happened and subscribe by pattern; a payment service outside MQLess reports on its
//! stream; a declined payment releases the stock it reserved; confirmed orders go to
//! the shipping channel, refunds to the payment service's.
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
    println!("5 lamps in stock; the payment service settles ann's payments, declines bob's card; three orders");
    let outcome = order_events::run(&runtime).await?;
    for (order, status) in &outcome.orders {
        println!("{order}: {status:?}");
    }
    println!(
        "lamps: {} available, {} reserved; ann was told: {:?}",
        outcome.lamps.0, outcome.lamps.1, outcome.ann_was_told
    );
    println!(
        "emitted: order.confirmed to the shipping channel for {:?}, refund.requested to the refunds channel for {:?}",
        outcome.shipped, outcome.refunded
    );
    let expected = [
        Status::Confirmed,
        Status::Cancelled("bob's card was declined".into()),
        Status::Cancelled("only 3 lamp in stock".into()),
    ];
    let statuses: Vec<Status> = outcome.orders.into_iter().map(|(_, s)| s).collect();
    if statuses == expected
        && outcome.lamps == (3, 2)
        && outcome.shipped == ["o-1"]
        && outcome.refunded == ["o-3"]
    {
        println!("check: o-1 confirmed and shipped, o-2 compensated (stock released), o-3 refused and refunded");
        Ok(())
    } else {
        Err("check FAILED: the saga did not end as expected".into())
    }
}
