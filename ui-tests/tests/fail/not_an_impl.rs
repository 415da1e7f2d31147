#[mqless::actor]
pub fn increment(by: i64) -> i64 {
    by
}

fn main() {}
