//! The Lambda function of `Account` actors: `cargo lambda build --release --bin account-function`.
fn main() -> Result<(), mqless::aws::LambdaError> {
    mqless::aws::serve::<mqless_examples::bank::Account>()
}
