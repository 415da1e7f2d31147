//! The Lambda function of the saga's `Order` actors: `cargo lambda build --release --bin order-function`.
fn main() -> Result<(), mqless::aws::LambdaError> {
    mqless::aws::serve::<mqless_examples::saga::Order>()
}
