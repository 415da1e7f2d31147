//! The events function of the order-events example: runs the topics (fanning events
//! out to the subscribers' mailboxes) and publishes SQS, SNS-over-SQS, EventBridge,
//! Kinesis (the payment service's stream `payments`) and DynamoDB Streams events into
//! them. Map it with `MQLESS_FUNCTIONS=mqless-topic=events-function,...`.

use mqless::aws::{serve_events, LambdaError, Subscribers};
use mqless_examples::order_events::{Mailer, OrderDesk, Stock};

fn main() -> Result<(), LambdaError> {
    serve_events(
        Subscribers::new()
            .with::<OrderDesk>()
            .with::<Stock>()
            .with::<Mailer>(),
    )
}
