//! The Lambda function of `Counter` actors: `cargo lambda build --release --bin counter-function`.
fn main() -> Result<(), mqless::aws::LambdaError> {
    mqless::aws::serve::<mqless_examples::counter::Counter>()
}
