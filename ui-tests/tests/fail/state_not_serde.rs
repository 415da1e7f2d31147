#[derive(Default)]
pub struct Counter {
    value: i64,
}

#[mqless::actor]
impl Counter {
    pub fn get(&self) -> i64 {
        self.value
    }
}

fn main() {}
