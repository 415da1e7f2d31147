//! Request-reply between actors (`reply_to`) on any store, with drains driven by hand on a
//! manual clock: replies come back typed to the asker's method, exactly once, whatever
//! the asker did meanwhile; a silent callee times out and its late reply is dropped.

use std::sync::Arc;
use std::time::Duration;

use mqless::reply::Reply;
use mqless::store::Store;
use mqless::testing::{ManualClock, RecordingInvoker};
use mqless::{ActorId, Context, Embedded, RuntimeError};
use serde::{Deserialize, Serialize};

/// The callee: reads a temperature, refuses when overheated, or panics.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Sensor {
    celsius: f64,
}

#[mqless::actor]
impl Sensor {
    /// Sets the temperature.
    pub fn set(&mut self, celsius: f64) {
        self.celsius = celsius;
    }

    /// The temperature, or an error above 100 °C.
    pub fn read(&self) -> Result<f64, String> {
        if self.celsius > 100.0 {
            Err(format!("overheated at {}", self.celsius))
        } else {
            Ok(self.celsius)
        }
    }

    /// Always panics (and is dead-lettered after its attempts).
    pub fn explode(&self) -> f64 {
        panic!("the sensor exploded")
    }
}

/// The asker: asks sensors and logs what comes back to its reply methods.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Poller {
    log: Vec<String>,
    edits: u32,
}

#[mqless::actor]
impl Poller {
    /// Asks `sensor` for its reading; the reply goes to `reading`.
    pub async fn poll(
        &mut self,
        sensor: String,
        timeout_ms: u64,
        ctx: &mut Context,
    ) -> Result<(), RuntimeError> {
        let me = ctx.actor::<Poller>(ctx.id().as_str())?;
        ctx.actor::<Sensor>(sensor.as_str())?
            .read()
            .reply_to(|reading| me.reading(sensor, reading))
            .timeout(Duration::from_millis(timeout_ms))
            .send()
            .await?;
        Ok(())
    }

    /// Asks `sensor` to explode; the dead-letter notice goes to `exploded`.
    pub async fn detonate(
        &mut self,
        sensor: String,
        ctx: &mut Context,
    ) -> Result<(), RuntimeError> {
        let me = ctx.actor::<Poller>(ctx.id().as_str())?;
        ctx.actor::<Sensor>(sensor.as_str())?
            .explode()
            .reply_to(|outcome| me.exploded(sensor, outcome))
            .send()
            .await?;
        Ok(())
    }

    /// Asks, but names another poller's method for the reply: refused.
    pub async fn misroute(
        &mut self,
        sensor: String,
        ctx: &mut Context,
    ) -> Result<(), RuntimeError> {
        let other = ctx.actor::<Poller>("someone-else")?;
        ctx.actor::<Sensor>(sensor.as_str())?
            .read()
            .reply_to(|reading| other.reading(sensor, reading))
            .send()
            .await?;
        Ok(())
    }

    /// A reading came back.
    pub fn reading(&mut self, sensor: String, reading: Reply<f64, String>) {
        self.log.push(format!("{sensor}: {reading:?}"));
    }

    /// An explosion's outcome came back.
    pub fn exploded(&mut self, sensor: String, outcome: Reply<f64>) {
        let outcome = match outcome {
            Reply::DeadLettered(reason) => format!("dead-lettered ({reason})"),
            other => format!("{other:?}"),
        };
        self.log.push(format!("{sensor}: {outcome}"));
    }

    /// Changes the state between the ask and its reply.
    pub fn edit(&mut self) {
        self.edits += 1;
    }

    /// What came back, in order, and the edits.
    pub fn log(&self) -> (Vec<String>, u32) {
        (self.log.clone(), self.edits)
    }
}

/// A runtime over `store` at `clock`, with drains driven by hand.
pub fn runtime(store: Arc<dyn Store>, clock: Arc<ManualClock>) -> Embedded {
    let runtime = Embedded::builder()
        .store(store)
        .clock(clock)
        .manual_drains(Arc::new(RecordingInvoker::new()))
        .build();
    runtime.register::<Sensor>().unwrap();
    runtime.register::<Poller>().unwrap();
    runtime
}

async fn drain_poller(runtime: &Embedded, id: &str) {
    let host = runtime.host::<Poller>().unwrap();
    host.drain(&ActorId::new(id).unwrap()).await.unwrap();
}

async fn drain_sensor(runtime: &Embedded, id: &str) {
    let host = runtime.host::<Sensor>().unwrap();
    host.drain(&ActorId::new(id).unwrap()).await.unwrap();
}

/// Three asks answered Ok, Err and dead-lettered, with the asker's state changed before
/// the replies: each reply method runs once, typed; the timeouts are deleted with the
/// replies, so nothing is left to wake the asker.
pub async fn replies_come_back_typed_once(store: Arc<dyn Store>, base: u64) {
    let clock = Arc::new(ManualClock::new(base));
    let runtime = runtime(store.clone(), clock.clone());
    for (id, celsius) in [("s1", 21.5), ("s2", 150.0)] {
        let sensor = runtime.client::<Sensor>(id).unwrap();
        sensor.set(celsius).send().await.unwrap();
        drain_sensor(&runtime, id).await;
    }
    let poller = runtime.client::<Poller>("p").unwrap();
    poller.poll("s1".into(), 5_000).send().await.unwrap();
    poller.poll("s2".into(), 5_000).send().await.unwrap();
    poller.detonate("s3".into()).send().await.unwrap();
    drain_poller(&runtime, "p").await;
    poller.edit().send().await.unwrap();
    drain_poller(&runtime, "p").await;
    for id in ["s1", "s2", "s3"] {
        drain_sensor(&runtime, id).await;
    }
    drain_poller(&runtime, "p").await;
    let expected = vec![
        "s1: Ok(21.5)".to_owned(),
        "s2: Err(\"overheated at 150\")".to_owned(),
        "s3: dead-lettered (handler panicked: the sensor exploded)".to_owned(),
    ];
    assert_eq!(poller.log().query().await.unwrap(), (expected.clone(), 1));
    let poller_address = mqless::id::Address::parse("Poller/p").unwrap();
    assert!(
        store
            .read_mailbox(&poller_address, 100)
            .await
            .unwrap()
            .is_empty(),
        "the replies deleted their timeouts"
    );
    clock.advance(Duration::from_secs(60));
    let pending = runtime.sweep().await.unwrap().pending;
    assert!(
        pending.is_empty(),
        "nothing is due, yet {pending:?} is pending"
    );
    drain_poller(&runtime, "p").await;
    assert_eq!(poller.log().query().await.unwrap(), (expected, 1));
    assert!(crate::dead_letters::<Poller>(&runtime, "p")
        .await
        .is_empty());
}

/// A callee that does not answer in time: the asker's method gets `TimedOut` at the
/// timeout, and the reply that comes later is dropped.
pub async fn a_silent_callee_times_out(store: Arc<dyn Store>, base: u64) {
    let clock = Arc::new(ManualClock::new(base));
    let runtime = runtime(store, clock.clone());
    let poller = runtime.client::<Poller>("p").unwrap();
    poller.poll("quiet".into(), 5_000).send().await.unwrap();
    drain_poller(&runtime, "p").await;
    clock.advance(Duration::from_millis(4_999));
    drain_poller(&runtime, "p").await;
    assert_eq!(poller.log().query().await.unwrap().0, Vec::<String>::new());
    clock.advance(Duration::from_millis(1));
    let pending = runtime.sweep().await.unwrap().pending;
    let poller_address = mqless::id::Address::parse("Poller/p").unwrap();
    assert!(
        pending.contains(&poller_address),
        "the timeout wakes the asker: {pending:?}"
    );
    drain_poller(&runtime, "p").await;
    let timed_out = vec!["quiet: TimedOut".to_owned()];
    assert_eq!(poller.log().query().await.unwrap().0, timed_out);
    drain_sensor(&runtime, "quiet").await;
    drain_poller(&runtime, "p").await;
    assert_eq!(
        poller.log().query().await.unwrap().0,
        timed_out,
        "late reply dropped"
    );
}

/// A timeout dead-lettered without running (its commit refused; the stall rule takes
/// the same path) leaves its ask open to its reply or a redrive of the timeout, answered
/// once either way, but gives back the ask's slot: 1,001 such asks in a row do not
/// exhaust the actor's 1,000 open asks.
pub async fn a_dead_lettered_timeout_frees_its_slot_and_stays_answerable(base: u64) {
    let clock = Arc::new(ManualClock::new(base));
    let store = Arc::new(mqless::testing::FaultyStore::new());
    let runtime = runtime(store.clone(), clock.clone());
    let poller = runtime.client::<Poller>("p").unwrap();
    let letters = runtime.dead_letters::<Poller>("p").unwrap();
    // The timeout's commit is refused: the state as it is fits, one more line does not.
    let dead_letter_the_timeout = |sensor: String| {
        let (runtime, store, clock, poller) = (&runtime, &store, &clock, &poller);
        async move {
            poller.poll(sensor, 5_000).send().await.unwrap();
            drain_poller(runtime, "p").await;
            clock.advance(Duration::from_millis(5_000));
            let state = runtime.state::<Poller>("p").await.unwrap().unwrap();
            let size = mqless::wire::encode(&state, "state", usize::MAX)
                .unwrap()
                .len();
            store.refuse_states_over(Some(size + 4));
            drain_poller(runtime, "p").await;
            store.refuse_states_over(None);
        }
    };
    dead_letter_the_timeout("quiet".into()).await;
    assert_eq!(letters.list().await.unwrap().len(), 1, "the timeout");
    // Its late reply still answers the ask, once; a redrive of the timeout is dropped.
    drain_sensor(&runtime, "quiet").await;
    drain_poller(&runtime, "p").await;
    letters.redrive_all().await.unwrap();
    drain_poller(&runtime, "p").await;
    let answered = vec!["quiet: Ok(0.0)".to_owned()];
    assert_eq!(poller.log().query().await.unwrap().0, answered);
    // Without a reply, the redriven timeout answers it.
    dead_letter_the_timeout("mute".into()).await;
    letters.redrive_all().await.unwrap();
    drain_poller(&runtime, "p").await;
    let (log, _) = poller.log().query().await.unwrap();
    assert_eq!(log, ["quiet: Ok(0.0)", "mute: TimedOut"]);
    // Slots: many more asks whose timeouts are dead-lettered than may be open at once.
    for i in 0..1_001 {
        dead_letter_the_timeout(format!("s{i}")).await;
    }
    poller.poll("last".into(), 5_000).send().await.unwrap();
    drain_poller(&runtime, "p").await;
    let refused = letters
        .list()
        .await
        .unwrap()
        .into_iter()
        .filter(|letter| letter.error.contains("asks await their replies"))
        .count();
    assert_eq!(refused, 0, "the last ask was refused: no slot was free");
}

/// Asks that cannot work are refused with what to do: from outside a handler, and
/// replying to another actor's method.
pub async fn misuse_is_refused(store: Arc<dyn Store>, base: u64) {
    let clock = Arc::new(ManualClock::new(base));
    let runtime = runtime(store, clock);
    let sensor = runtime.client::<Sensor>("s1").unwrap();
    let poller = runtime.client::<Poller>("p").unwrap();
    let outside = sensor
        .read()
        .reply_to(|reading| poller.reading("s1".into(), reading))
        .send()
        .await;
    assert!(
        matches!(&outside, Err(mqless::Error::InvalidReplyTo(why)) if why.contains(".call()")),
        "{outside:?}"
    );
    poller.misroute("s1".into()).send().await.unwrap();
    drain_poller(&runtime, "p").await;
    let dead = crate::dead_letters::<Poller>(&runtime, "p").await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(
        dead[0].error.contains("asking actor itself"),
        "{}",
        dead[0].error
    );
}
