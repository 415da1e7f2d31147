//! The Lambda function of the saga's `Warehouse` actors: `cargo lambda build --release --bin warehouse-function`.
fn main() -> Result<(), mqless::aws::LambdaError> {
    mqless::aws::serve::<mqless_examples::saga::Warehouse>()
}
