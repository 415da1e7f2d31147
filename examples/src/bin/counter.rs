//! The quickstart: one counter actor on the embedded runtime.
//!
//! `cargo run -p mqless-examples --bin counter`

use mqless_examples::counter::Counter;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = mqless::Embedded::new();
    runtime.register::<Counter>()?;
    let counter = runtime.client::<Counter>("visits")?;

    let id = counter.increment(5).send().await?;
    println!("sent increment(5) as message {id}");
    let value = counter.increment(1).call().await?;
    println!("increment(1) replied {value}");
    println!("get() replied {}", counter.get().call().await?);
    Ok(())
}
