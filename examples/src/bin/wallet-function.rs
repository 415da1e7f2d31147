//! The Lambda function of the saga's `Wallet` actors: `cargo lambda build --release --bin wallet-function`.
fn main() -> Result<(), mqless::aws::LambdaError> {
    mqless::aws::serve::<mqless_examples::saga::Wallet>()
}
