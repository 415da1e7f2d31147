//! Akka's IoT example, as actors that ask without blocking: a `DeviceGroup` asks each of
//! its `Device`s for a temperature with `reply_to`, and each answer (or its timeout) comes
//! back as a message to the group's `reading` method. A device slow to answer is reported
//! as timed out, and its late answer is dropped.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use mqless::prelude::*;
use serde::{Deserialize, Serialize};

/// A device's refusal: it has no reading yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("no temperature recorded yet")]
pub struct NoReading;

/// A temperature sensor.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Device {
    celsius: Option<f64>,
    /// How long it takes to answer (a device that is slow, or down for a while).
    answer_delay_ms: u64,
}

#[mqless::actor]
impl Device {
    /// Records a measurement.
    pub fn record(&mut self, celsius: f64) {
        self.celsius = Some(celsius);
    }

    /// Makes the device take this long to answer (0: at once).
    pub fn slow_down(&mut self, answer_delay_ms: u64) {
        self.answer_delay_ms = answer_delay_ms;
    }

    /// The last measurement.
    pub async fn temperature(&self) -> Result<f64, NoReading> {
        if self.answer_delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(self.answer_delay_ms)).await;
        }
        self.celsius.ok_or(NoReading)
    }
}

/// What a group query found for one device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Reading {
    /// The device answered with this temperature.
    Celsius(f64),
    /// The device has no reading yet.
    NoReading,
    /// The device did not answer within the query's timeout.
    TimedOut,
    /// The device failed to handle the question.
    Failed(String),
}

/// The latest query of a group: which devices answered what, so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QueryResult {
    /// The query's number (0: none yet).
    pub query: u64,
    /// Each device's reading; a device still missing has not answered nor timed out.
    pub readings: BTreeMap<String, Reading>,
    /// Every device has a reading (or timed out).
    pub complete: bool,
}

/// A group of devices that can be queried together.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct DeviceGroup {
    devices: BTreeSet<String>,
    /// The devices of the running query, and what each answered.
    latest: QueryResult,
    asked: usize,
}

/// Devices asked per message: each ask with `reply_to` costs two of a handler's 49 sends
/// (the question and its timeout), and the continuation is one more.
const DEVICES_PER_MESSAGE: usize = 20;

#[mqless::actor]
impl DeviceGroup {
    /// Adds a device to the group.
    pub fn join(&mut self, device: String) {
        self.devices.insert(device);
    }

    /// Starts a query of every device, answered within `timeout_ms`; returns its number.
    /// A query started while another runs replaces it: the older one's answers are
    /// dropped, as the query number in each reply tells them apart.
    pub async fn query(&mut self, timeout_ms: u64, ctx: &mut Context) -> Result<u64, RuntimeError> {
        self.latest = QueryResult {
            query: self.latest.query + 1,
            ..QueryResult::default()
        };
        self.asked = self.devices.len();
        self.ask_from(self.latest.query, 0, timeout_ms, ctx).await?;
        Ok(self.latest.query)
    }

    /// Asks the devices of query `query` from the `start`-th on, at most
    /// `DEVICES_PER_MESSAGE` of them, then hands the rest to a message to itself.
    pub async fn ask_from(
        &mut self,
        query: u64,
        start: usize,
        timeout_ms: u64,
        ctx: &mut Context,
    ) -> Result<(), RuntimeError> {
        if query != self.latest.query {
            return Ok(());
        }
        let me = ctx.actor::<DeviceGroup>(ctx.id().as_str())?;
        let devices: Vec<String> = self.devices.iter().skip(start).cloned().collect();
        for device in devices.iter().take(DEVICES_PER_MESSAGE) {
            ctx.actor::<Device>(device.as_str())?
                .temperature()
                .reply_to(|reply| me.reading(query, device.clone(), reply))
                .timeout(Duration::from_millis(timeout_ms))
                .send()
                .await?;
        }
        if devices.len() > DEVICES_PER_MESSAGE {
            me.ask_from(query, start + DEVICES_PER_MESSAGE, timeout_ms)
                .send()
                .await?;
        }
        Ok(())
    }

    /// A device's answer to query `query`, or its timeout.
    pub fn reading(&mut self, query: u64, device: String, reply: Reply<f64, NoReading>) {
        if query != self.latest.query {
            return; // an answer to a query since replaced
        }
        let reading = match reply {
            Reply::Ok(celsius) => Reading::Celsius(celsius),
            Reply::Err(NoReading) => Reading::NoReading,
            Reply::TimedOut => Reading::TimedOut,
            Reply::DeadLettered(reason) => Reading::Failed(reason),
            Reply::Duplicate => return,
        };
        self.latest.readings.insert(device, reading);
        self.latest.complete = self.latest.readings.len() == self.asked;
    }

    /// The latest query's result so far.
    pub fn result(&self) -> QueryResult {
        self.latest.clone()
    }
}

/// A group of `devices` devices on `actors` (the first one slow to answer, the second
/// without a reading), queried with `timeout`: returns the complete result.
///
/// # Errors
/// A failed send or query.
pub async fn run(
    actors: &impl Actors,
    group_id: &str,
    devices: usize,
    timeout: Duration,
) -> Result<QueryResult, Box<dyn std::error::Error + Send + Sync>> {
    let group = actors.client::<DeviceGroup>(group_id)?;
    for n in 0..devices {
        let id = format!("{group_id}-device-{n}");
        let device = actors.client::<Device>(id.as_str())?;
        match n {
            0 => device.slow_down(millis(timeout) * 3).send().await?,
            1 => device.slow_down(0).send().await?,
            _ => device.record(18.0 + n as f64 / 10.0).send().await?,
        };
        group.join(id).send().await?;
    }
    actors.settle().await?;
    group.query(millis(timeout)).send().await?;
    let started = std::time::Instant::now();
    loop {
        actors.settle().await?;
        let result = group.result().query().await?;
        if result.complete || started.elapsed() > timeout * 10 {
            return Ok(result);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
