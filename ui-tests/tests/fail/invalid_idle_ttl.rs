use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
pub struct Session;

#[mqless::actor(idle_ttl = "30 days")]
impl Session {
    pub fn touch(&mut self) {}
}

#[derive(Default, Serialize, Deserialize)]
pub struct Blink;

#[mqless::actor(idle_ttl = "5m")]
impl Blink {
    pub fn touch(&mut self) {}
}

fn main() {}
