//! The sweeper Lambda function: run it on a schedule (an EventBridge rule, every few
//! minutes) to wake actors whose messages lost their nudge.
//! `cargo lambda build --release --bin sweeper-function`.
fn main() -> Result<(), mqless::aws::LambdaError> {
    mqless::aws::serve_sweeper()
}
