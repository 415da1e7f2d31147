//! The Lambda function of the order-events example's `OrderDesk` actors.

fn main() -> Result<(), mqless::aws::LambdaError> {
    mqless::aws::serve::<mqless_examples::order_events::OrderDesk>()
}
