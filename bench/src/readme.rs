//! The README's figures come from the bench. Each of its tables sits between
//! `<!-- bench: ARGS -->` and `<!-- /bench -->`: [`write()`] runs `mqless-bench ARGS` and
//! puts its table there, with the commit and date it was measured at; [`check`] runs
//! it again and fails, naming the figure and how far it moved, when a count (a column
//! of units or requests) differs from the README's. Times are never checked.
//!
//! After ARGS, `;` and a rule: `within N%` (the default is 1 %, as request units are
//! deterministic), `at most +N%` (scenarios whose batching depends on timing: a count
//! may fall, not rise), or `not checked: why` (times only, or minutes to run); then
//! optionally `, rows: PREFIX` to check only the rows whose first cell starts with
//! PREFIX (a baseline whose retries depend on timing is a time, not a count); such a
//! block's check runs the scenario with `--no-baseline`, so the rows it would not compare
//! are not measured either.

use std::fmt::Write as _;

use crate::{BenchError, Table};

const OPEN: &str = "<!-- bench:";
const CLOSE: &str = "<!-- /bench -->";

/// How a block's counts are compared with a new measurement.
#[derive(Debug, Clone, PartialEq)]
enum Rule {
    /// Within this fraction either way.
    Within(f64),
    /// At most this fraction above.
    AtMost(f64),
    /// Never run by the check.
    NotChecked,
}

/// One table of the README and the command that measures it.
#[derive(Debug)]
struct Block {
    args: Vec<String>,
    rule: Rule,
    /// Only rows whose first cell starts with this are checked.
    rows: Option<String>,
    /// Line indexes of the opening and closing markers.
    open: usize,
    close: usize,
}

fn blocks(readme: &str) -> Result<Vec<Block>, BenchError> {
    let lines: Vec<&str> = readme.lines().collect();
    let mut found = Vec::new();
    let mut at = 0;
    while at < lines.len() {
        let Some(marker) = lines[at].trim().strip_prefix(OPEN) else {
            at += 1;
            continue;
        };
        let marker = marker
            .strip_suffix("-->")
            .ok_or_else(|| format!("README line {}: a bench marker ends with -->", at + 1))?;
        let (args, rule) = marker.split_once(';').unwrap_or((marker, ""));
        let (rule, rows) = match rule.split_once(", rows:") {
            Some((rule, rows)) => (rule, Some(rows.trim().to_owned())),
            None => (rule, None),
        };
        let close = (at + 1..lines.len())
            .find(|&i| lines[i].trim() == CLOSE)
            .ok_or_else(|| format!("README line {}: no {CLOSE} after the marker", at + 1))?;
        found.push(Block {
            args: args.split_whitespace().map(String::from).collect(),
            rule: parse_rule(rule.trim()).map_err(|e| format!("README line {}: {e}", at + 1))?,
            rows,
            open: at,
            close,
        });
        at = close + 1;
    }
    Ok(found)
}

fn parse_rule(text: &str) -> Result<Rule, String> {
    let percent = |value: &str| {
        value
            .trim()
            .strip_suffix('%')
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map(|v| v / 100.0)
            .ok_or_else(|| format!("`{text}`: the tolerance is a percentage, like 5%"))
    };
    if text.is_empty() {
        Ok(Rule::Within(0.01))
    } else if let Some(value) = text.strip_prefix("within") {
        percent(value).map(Rule::Within)
    } else if let Some(value) = text.strip_prefix("at most +") {
        percent(value).map(Rule::AtMost)
    } else if text.starts_with("not checked:") {
        Ok(Rule::NotChecked)
    } else {
        Err(format!(
            "unknown rule `{text}`: use `within N%`, `at most +N%` or `not checked: why`"
        ))
    }
}

/// What a column holds: counts are checked, keys name a row, the rest (times) is free.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Column {
    Count,
    Key,
    Free,
}

fn column(header: &str) -> Column {
    let header = header.to_lowercase();
    let counted = ["units", "requests", "woken", "$"];
    let timed = ["ms", "lag", "p50", "p99", "time", "/s", "failed"];
    if timed.iter().any(|t| header.contains(t)) && !header.contains("units") {
        Column::Free
    } else if counted.iter().any(|c| header.contains(c)) {
        Column::Count
    } else {
        Column::Key
    }
}

/// The rows of the markdown table in `lines` (header first), cells trimmed.
fn parse_table(lines: &[&str]) -> Vec<Vec<String>> {
    lines
        .iter()
        .filter(|line| line.trim_start().starts_with('|'))
        .filter(|line| !line.contains("|---"))
        .map(|line| {
            line.trim()
                .trim_matches('|')
                .split('|')
                .map(|cell| cell.trim().to_owned())
                .collect()
        })
        .collect()
}

/// The number a cell starts with (`1,000` and `9.5 s` read as 1000 and 9.5).
fn number(cell: &str) -> Option<f64> {
    let digits: String = cell
        .trim_start_matches(['$', '*'])
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ',')
        .filter(|c| *c != ',')
        .collect();
    digits.parse().ok()
}

/// The figures of `measured` that moved from the README's `readme` rows, beyond `rule`.
fn compare(block: &Block, readme: &[Vec<String>], measured: &Table) -> Vec<String> {
    let args = block.args.join(" ");
    let rule = &block.rule;
    let mut moved = Vec::new();
    let Some((header, rows)) = readme.split_first() else {
        return vec![format!("`{args}`: the README has no table for it")];
    };
    if *header != measured.header || rows.len() != measured.rows.len() {
        return vec![format!(
            "`{args}`: the table's shape changed ({} rows of {:?} in the README, {} of {:?} measured)",
            rows.len(),
            header,
            measured.rows.len(),
            measured.header
        )];
    }
    let checked = |row: &Vec<String>| {
        block
            .rows
            .as_ref()
            .is_none_or(|prefix| row.first().is_some_and(|cell| cell.starts_with(prefix)))
    };
    for (old, new) in rows
        .iter()
        .zip(&measured.rows)
        .filter(|(old, _)| checked(old))
    {
        let name: Vec<&str> = header
            .iter()
            .zip(new)
            .filter(|(h, _)| column(h) == Column::Key)
            .map(|(_, cell)| cell.as_str())
            .collect();
        for ((title, was), now) in header.iter().zip(old).zip(new) {
            match column(title) {
                Column::Free => {}
                Column::Key if was != now => moved.push(format!(
                    "`{args}`: row `{}` is now `{now}` where the README has `{was}`",
                    name.join(" / ")
                )),
                Column::Key => {}
                Column::Count => {
                    if let Some(change) = changed(rule, was, now) {
                        moved.push(format!(
                            "`{args}`, row `{}`, `{title}`: {now} measured, {was} in the README ({change})",
                            name.join(" / ")
                        ));
                    }
                }
            }
        }
    }
    moved
}

/// How a count moved, when it moved beyond `rule`.
fn changed(rule: &Rule, was: &str, now: &str) -> Option<String> {
    let (Some(was), Some(now)) = (number(was), number(now)) else {
        return (was != now).then(|| "not a number on one side".to_owned());
    };
    // Figures print with two decimals: half a hundredth is rounding.
    let slack = |fraction: f64| (was.abs() * fraction).max(0.005);
    let delta = now - was;
    let beyond = match rule {
        Rule::Within(fraction) => delta.abs() > slack(*fraction),
        Rule::AtMost(fraction) => delta > slack(*fraction),
        Rule::NotChecked => false,
    };
    let percent = if was == 0.0 { 0.0 } else { delta / was * 100.0 };
    beyond.then(|| format!("{delta:+.2}, {percent:+.1} %"))
}

fn wanted(block: &Block, only: &[String]) -> bool {
    only.is_empty() || only.iter().any(|name| block.args.first() == Some(name))
}

/// The documents whose tables the bench keeps, under the workspace `root`: the README,
/// then every page of the guide (`docs/guide/*.md`) by name.
///
/// # Errors
/// The guide's directory cannot be read.
pub fn documents(root: &std::path::Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut pages = Vec::new();
    for entry in std::fs::read_dir(root.join("docs").join("guide"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|extension| extension == "md") {
            pages.push(path);
        }
    }
    pages.sort();
    pages.insert(0, root.join("README.md"));
    Ok(pages)
}

/// Measures every checked table of `readme` again (those of the scenarios in `only`, if
/// any) and compares its counts; a report of what was checked.
///
/// # Errors
/// A scenario's error, or the list of figures that moved, with how to update them.
pub async fn check(readme: &str, only: &[String]) -> Result<String, BenchError> {
    let lines: Vec<&str> = readme.lines().collect();
    let mut report = String::new();
    let mut moved = Vec::new();
    for block in blocks(readme)? {
        let args = block.args.join(" ");
        if block.rule == Rule::NotChecked || !wanted(&block, only) {
            let _ = writeln!(report, "skipped  `{args}`");
            continue;
        }
        // A block that compares only some rows (MQLess's) lets the scenario skip its
        // baseline: a time, not a count, and most of the run.
        let mut run = block.args.clone();
        if block.rows.is_some() {
            run.push("--no-baseline".into());
        }
        let tables = crate::run(&run).await?;
        let table = tables
            .first()
            .ok_or_else(|| format!("`{args}` printed no table"))?;
        let found = compare(&block, &parse_table(&lines[block.open..block.close]), table);
        let _ = writeln!(
            report,
            "{}  `{args}`",
            if found.is_empty() {
                "same   "
            } else {
                "MOVED  "
            }
        );
        moved.extend(found);
    }
    if moved.is_empty() {
        Ok(report)
    } else {
        Err(format!(
            "{report}\nfigures moved:\n- {}\n\nIf the change is intended, say why in the commit and measure the README's tables again: scripts/local-aws cargo run --release -p mqless-bench -- readme --write <scenario>",
            moved.join("\n- ")
        )
        .into())
    }
}

/// `readme` with the tables of every block (of the scenarios in `only`, if any)
/// measured again, each with the commit and date.
///
/// # Errors
/// A scenario's error.
pub async fn write(readme: &str, only: &[String]) -> Result<String, BenchError> {
    let lines: Vec<&str> = readme.lines().collect();
    let stamp = measured_at();
    let mut out = Vec::new();
    let mut copied = 0;
    for block in blocks(readme)? {
        if !wanted(&block, only) {
            continue;
        }
        out.extend(lines[copied..=block.open].iter().map(|l| (*l).to_owned()));
        let args = block.args.join(" ");
        for table in crate::run(&block.args).await? {
            out.push(format!("*{}*", table.title));
            out.push(String::new());
            out.extend(table.markdown().lines().map(String::from));
            out.push(String::new());
            out.push(format!("<sub>Measured at {stamp}: `scripts/local-aws cargo run --release -p mqless-bench -- {args}`.</sub>"));
        }
        copied = block.close;
    }
    out.extend(lines[copied..].iter().map(|l| (*l).to_owned()));
    Ok(out.join("\n") + "\n")
}

/// The commit (with `+changes` when the tree differs from it) and today's date.
fn measured_at() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let commit =
        git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "an unknown commit".into());
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400);
    format!(
        "commit {commit}{} on {}",
        if dirty { " with changes" } else { "" },
        civil_date(days)
    )
}

/// `YYYY-MM-DD` of a day counted from 1970-01-01 (Howard Hinnant's algorithm).
fn civil_date(days: u64) -> String {
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const README: &str = "intro\n<!-- bench: saga --orders 2 -->\n*title*\n\n| design | write units/msg | p50 |\n|---|---|---|\n| MQLess | 7.84 | 3 ms |\n<!-- /bench -->\n<!-- bench: timers; at most +10%, rows: MQLess -->\n<!-- /bench -->\n<!-- bench: sweep; not checked: minutes -->\n<!-- /bench -->\n";

    fn measured(units: &str, name: &str) -> Table {
        Table {
            title: "t".into(),
            header: ["design", "write units/msg", "p50"]
                .map(String::from)
                .to_vec(),
            rows: vec![[name, units, "9 ms"].map(String::from).to_vec()],
        }
    }

    #[test]
    fn markers_give_the_command_and_the_rule() {
        let found = blocks(README).unwrap();
        assert_eq!(found[0].args, ["saga", "--orders", "2"]);
        assert_eq!(found[0].rule, Rule::Within(0.01));
        assert_eq!(found[1].rule, Rule::AtMost(0.10));
        assert_eq!(found[1].rows.as_deref(), Some("MQLess"));
        assert_eq!(found[2].rule, Rule::NotChecked);
        assert!(blocks("<!-- bench: saga; about 5% -->\n<!-- /bench -->")
            .unwrap_err()
            .to_string()
            .contains("unknown rule"));
        assert!(blocks("<!-- bench: saga -->\n")
            .unwrap_err()
            .to_string()
            .contains("no <!-- /bench -->"));
    }

    #[test]
    fn a_count_that_moves_is_named_with_how_far_and_times_are_free() {
        let lines: Vec<&str> = README.lines().collect();
        let table = parse_table(&lines[1..7]);
        let mut block = blocks(README).unwrap().remove(0);
        assert!(compare(&block, &table, &measured("7.84", "MQLess")).is_empty());
        let moved = compare(&block, &table, &measured("7.92", "MQLess"));
        assert_eq!(moved.len(), 1, "{moved:?}");
        assert!(
            moved[0]
                .contains("`write units/msg`: 7.92 measured, 7.84 in the README (+0.08, +1.0 %)"),
            "{}",
            moved[0]
        );
        let renamed = compare(&block, &table, &measured("7.84", "Other"));
        assert!(renamed[0].contains("row `Other`"), "{renamed:?}");
        block.rows = Some("baseline".into());
        assert!(compare(&block, &table, &measured("9.99", "MQLess")).is_empty());
    }

    #[test]
    fn at_most_lets_a_count_fall_not_rise() {
        let rule = Rule::AtMost(0.10);
        assert_eq!(changed(&rule, "2.00", "1.50"), None);
        assert_eq!(changed(&rule, "2.00", "2.15"), None);
        assert!(changed(&rule, "2.00", "2.30").is_some());
        assert!(changed(&Rule::Within(0.01), "2.00", "1.50").is_some());
        assert_eq!(number("1,000"), Some(1000.0));
        assert_eq!(number("$2.33"), Some(2.33));
    }

    #[test]
    fn dates_are_civil() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(20_792), "2026-12-05");
    }
}
