//! Printing figures: tables, latency percentiles, prices.

use std::time::Duration;

use crate::BenchError;

/// A printable table.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// What the table measures.
    pub title: String,
    /// Column names.
    pub header: Vec<String>,
    /// Rows of cells.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// The table as markdown, without its title.
    #[must_use]
    pub fn markdown(&self) -> String {
        let mut text = format!("| {} |\n", self.header.join(" | "));
        text += &format!("|{}|\n", vec!["---"; self.header.len()].join("|"));
        for row in &self.rows {
            text += &format!("| {} |\n", row.join(" | "));
        }
        text
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "\n{}\n\n{}", self.title, self.markdown())
    }
}

/// A design target of `docs/design.md` beside the figure it bounds: `≤ 2.2: met`.
pub(crate) fn at_most(target: f64, figure: f64) -> String {
    let verdict = if figure <= target + 0.005 {
        "met"
    } else {
        "not met"
    };
    format!("≤ {target:?}: {verdict}")
}

pub(crate) fn cells<const N: usize>(values: [String; N]) -> Vec<String> {
    values.to_vec()
}

/// Latency percentiles.
#[derive(Debug, Clone, Copy)]
pub struct Percentiles {
    /// Median.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
}

pub(crate) fn percentiles(mut samples: Vec<Duration>) -> Percentiles {
    samples.sort_unstable();
    let at = |q: f64| {
        samples
            .get(((samples.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    Percentiles {
        p50: at(0.50),
        p99: at(0.99),
    }
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

pub(crate) fn ensure(condition: bool, what: impl Into<String>) -> Result<(), BenchError> {
    if condition {
        Ok(())
    } else {
        Err(format!("correctness check failed: {}", what.into()).into())
    }
}
