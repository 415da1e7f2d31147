// One mistake in a block is reported once: the fallback expansion keeps `Counter` an
// actor, so registering it, making its client and sending to it add no "not an actor".
use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[mqless::actor]
impl Counter {
    pub fn consume(self) {}

    pub fn get(&self) -> i64 {
        self.value
    }
}

#[derive(Default, Serialize, Deserialize)]
pub struct Visitor;

#[mqless::actor]
impl Visitor {
    pub fn visit(&mut self, ctx: &mut mqless::Context) -> Result<(), mqless::RuntimeError> {
        let _counter = ctx.actor::<Counter>("visits")?;
        Ok(())
    }
}

fn main() -> Result<(), mqless::Error> {
    let runtime = mqless::Embedded::new();
    runtime.register::<Counter>()?.register::<Visitor>()?;
    let _client = runtime.client::<Counter>("visits")?;
    Ok(())
}
