//! The Lambda function of the order-events example's `Mailer` actors, which receive
//! `order.confirmed` events routed by buyer.

fn main() -> Result<(), mqless::aws::LambdaError> {
    mqless::aws::serve::<mqless_examples::order_events::Mailer>()
}
