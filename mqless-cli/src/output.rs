//! How results are printed: aligned tables for people, JSON for scripts (`--output`),
//! and a progress line on stderr for long runs when stderr is a terminal.

use std::io::{IsTerminal as _, Write as _};

use serde_json::Value as Json;

/// `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// Aligned columns (the default).
    Table,
    /// One JSON document.
    Json,
}

/// A command's result: rows of named columns (a list) or named fields (one thing).
#[derive(Debug, Clone)]
pub(crate) enum Printed {
    /// Rows under `columns`; each row's JSON object has the same keys.
    Rows {
        columns: Vec<&'static str>,
        rows: Vec<serde_json::Map<String, Json>>,
    },
    /// Fields of one record, in order.
    Record(Vec<(&'static str, Json)>),
    /// A sentence (for people) with the same facts as JSON (for scripts).
    Said(String, Json),
}

impl Printed {
    /// Renders `self` as `format`.
    pub(crate) fn render(&self, format: Format) -> String {
        match format {
            Format::Json => {
                let json = match self {
                    Self::Rows { rows, .. } => {
                        Json::Array(rows.iter().cloned().map(Json::Object).collect())
                    }
                    Self::Record(fields) => Json::Object(
                        fields
                            .iter()
                            .map(|(name, value)| ((*name).to_owned(), value.clone()))
                            .collect(),
                    ),
                    Self::Said(_, json) => json.clone(),
                };
                serde_json::to_string_pretty(&json).unwrap_or_default() + "\n"
            }
            Format::Table => match self {
                Self::Rows { columns, rows } => table(columns, rows),
                Self::Record(fields) => record(fields),
                Self::Said(text, _) => format!("{text}\n"),
            },
        }
    }
}

fn table(columns: &[&'static str], rows: &[serde_json::Map<String, Json>]) -> String {
    if rows.is_empty() {
        return "(none)\n".into();
    }
    // The last column is left whole: it is where the long text (an error, a detail) is.
    let last = columns.len().saturating_sub(1);
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            columns
                .iter()
                .enumerate()
                .map(|(i, c)| cell(row.get(*c), if i == last { usize::MAX } else { 60 }))
                .collect()
        })
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain([c.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |values: Vec<String>| {
        let padded: Vec<String> = values
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_owned() + "\n"
    };
    let mut out = line(columns.iter().map(|c| c.to_uppercase()).collect());
    for row in cells {
        out += &line(row);
    }
    out
}

fn record(fields: &[(&'static str, Json)]) -> String {
    let width = fields.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (name, value) in fields {
        let text = match value {
            Json::Object(_) | Json::Array(_) => {
                serde_json::to_string_pretty(value).unwrap_or_default()
            }
            other => cell(Some(other), usize::MAX),
        };
        let indent = " ".repeat(width + 2);
        let text = text.replace('\n', &format!("\n{indent}"));
        out += &format!("{name:<width$}  {text}\n");
    }
    out
}

/// A value as a table cell: strings bare, `null` as `-`, the rest as compact JSON cut
/// to `max` characters.
fn cell(value: Option<&Json>, max: usize) -> String {
    let text = match value {
        None | Some(Json::Null) => "-".to_owned(),
        Some(Json::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    short(&text, max)
}

/// `text` cut to `max` characters, with `…` when cut.
pub(crate) fn short(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.replace('\n', " ");
    }
    let cut: String = text.chars().take(max - 1).collect();
    format!("{}…", cut.replace('\n', " "))
}

/// Milliseconds since the Unix epoch as UTC ISO 8601 (`2026-12-04T10:00:00.123Z`).
pub(crate) fn time(millis: u64) -> String {
    let (days, rest) = (millis / 86_400_000, millis % 86_400_000);
    let (year, month, day) = civil_from_days(i64::try_from(days).unwrap_or(i64::MAX));
    let (h, m, s, ms) = (
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1000 % 60,
        rest % 1000,
    );
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{ms:03}Z")
}

/// Days since 1970-01-01 as a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A progress line on stderr (`label: done/total`), drawn only when stderr is a
/// terminal, so pipes and logs stay clean.
pub(crate) struct Progress {
    label: &'static str,
    total: Option<usize>,
    done: usize,
    shown: bool,
}

impl Progress {
    pub(crate) fn new(label: &'static str, total: Option<usize>) -> Self {
        Self {
            label,
            total,
            done: 0,
            shown: std::io::stderr().is_terminal(),
        }
    }

    pub(crate) fn advance(&mut self, by: usize) {
        self.done += by;
        if !self.shown {
            return;
        }
        let line = match self.total {
            Some(total) => {
                let filled = (self.done * 30).checked_div(total).unwrap_or(30).min(30);
                format!(
                    "\r{} [{}{}] {}/{}",
                    self.label,
                    "#".repeat(filled),
                    " ".repeat(30 - filled),
                    self.done,
                    total
                )
            }
            None => format!("\r{}: {}", self.label, self.done),
        };
        let mut stderr = std::io::stderr();
        let _ = stderr.write_all(line.as_bytes());
        let _ = stderr.flush();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if self.shown && self.done > 0 {
            let _ = std::io::stderr().write_all(b"\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_iso_8601() {
        assert_eq!(time(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(time(1_800_000_000_001), "2027-01-15T08:00:00.001Z");
        assert_eq!(time(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn tables_align_and_json_keeps_every_field() {
        let mut row = serde_json::Map::new();
        row.insert("id".into(), Json::from("c1"));
        row.insert("version".into(), Json::from(3));
        let printed = Printed::Rows {
            columns: vec!["id", "version"],
            rows: vec![row],
        };
        assert_eq!(printed.render(Format::Table), "ID  VERSION\nc1  3\n");
        let json: Json = serde_json::from_str(&printed.render(Format::Json)).unwrap();
        assert_eq!(json, serde_json::json!([{"id": "c1", "version": 3}]));
    }
}
