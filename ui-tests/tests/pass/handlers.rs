//! Every supported handler shape.
use mqless::{Context, Never};
use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
pub struct Shapes {
    value: i64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Refused;

#[mqless::actor(name = "shapes-v2")]
impl Shapes {
    pub fn sync_mut(&mut self, by: i64) -> i64 {
        self.value += by;
        self.value
    }

    pub fn sync_ref(&self) -> i64 {
        self.value
    }

    pub fn unit(&mut self) {}

    pub async fn async_mut(&mut self, mut by: i64, _unused: String) -> Result<i64, Refused> {
        by += 1;
        self.value += by;
        Ok(self.value)
    }

    pub async fn with_context(&self, ctx: &mut Context, note: Option<String>) -> (String, Option<String>) {
        (ctx.id().to_string(), note)
    }

    #[handler(name = "renamed")]
    pub fn wire_renamed(&self, ctx: &Context) -> u64 {
        ctx.now_millis()
    }

    #[handler]
    pub fn marked(&self) {}

    /// A `pub` helper that is not a message: its arguments need not be serde.
    #[handler(skip)]
    pub fn helper(&self, scale: &i64) -> i64 {
        self.value * scale
    }

    fn private_helper(&self) -> i64 {
        self.value
    }
}

async fn use_client(client: ShapesClient) {
    let _: Result<i64, mqless::AskError<Never>> = client.sync_mut(1).call().await;
    let _: Result<i64, mqless::AskError<Refused>> = client.async_mut(1, String::new()).call().await;
    let _: Result<mqless::MessageId, mqless::Error> = client.with_context(None).send().await;
    let _ = client.wire_renamed().timeout(std::time::Duration::from_secs(1)).idempotency_key("k");
    let _ = client.id();
    let _ = Shapes::default().private_helper();
    let _ = Shapes::default().helper(&2);
    let _ = format!("{:?}", ShapesMessage::SyncMut { by: 1 });
}

fn main() {
    assert_eq!(<Shapes as mqless::Actor>::TYPE_NAME, "shapes-v2");
    let _ = use_client;
}
