//! Event patterns: which events a subscription receives, in the grammar of
//! [EventBridge event patterns](https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html).
//!
//! A pattern is a JSON object naming the fields an event must have; each field lists
//! the values it may take (any one matches), as literals or as filters: `prefix`,
//! `suffix`, `wildcard`, `anything-but`, `numeric` ranges, `exists`,
//! `equals-ignore-case`, and `$or` between alternative sets of fields. Matching is done
//! by [quamina](https://docs.rs/quamina), the automaton-based matcher written for
//! EventBridge-style patterns; this crate adds `$or` (expanded into alternatives before
//! they reach quamina) and validation with messages that say what to fix.
//!
//! ```
//! use mqless_pattern::{Matcher, Pattern};
//!
//! let big_orders = Pattern::parse(r#"{"total": [{"numeric": [">=", 100]}], "status": ["placed"]}"#)?;
//! let mut matcher = Matcher::new();
//! matcher.add("audit", &big_orders)?;
//! let event = br#"{"order_id": "o-1", "status": "placed", "total": 250}"#;
//! assert_eq!(matcher.matches(event)?, vec!["audit"]);
//! # Ok::<(), mqless_pattern::PatternError>(())
//! ```

use std::fmt;
use std::hash::Hash;

use serde_json::{Map, Value};

/// How many alternatives `$or` may expand a pattern into (EventBridge's limit on a
/// pattern's combinations is 1,000 too).
pub const MAX_ALTERNATIVES: usize = 1000;
/// The longest pattern accepted, in bytes (EventBridge's limit is 2,048 for a rule's
/// pattern; subscriptions are stored with every message they route, so they stay small).
pub const MAX_PATTERN_BYTES: usize = 4096;

/// A pattern that is not valid, or an event that is not a JSON object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError(String);

impl PatternError {
    fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PatternError {}

/// A validated event pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    source: String,
    /// The pattern without `$or`: each alternative is a quamina pattern, and the pattern
    /// matches when any does.
    alternatives: Vec<String>,
}

impl Pattern {
    /// Parses and validates `text`.
    ///
    /// # Errors
    /// A [`PatternError`] saying what is wrong: not JSON, not an object, empty, a field
    /// whose values are not in an array, an unknown or malformed filter, a `$or` that is
    /// not a list of two or more objects, or too many alternatives.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        if text.len() > MAX_PATTERN_BYTES {
            return Err(PatternError::new(format!(
                "the pattern is {} bytes, over the {MAX_PATTERN_BYTES}-byte limit",
                text.len()
            )));
        }
        let value: Value = serde_json::from_str(text)
            .map_err(|error| PatternError::new(format!("the pattern is not JSON: {error}")))?;
        let Value::Object(object) = value else {
            return Err(PatternError::new(
                "a pattern is a JSON object of fields, like {\"status\": [\"placed\"]}",
            ));
        };
        if object.is_empty() {
            return Err(PatternError::new(
                "an empty pattern matches nothing (as in EventBridge); leave the pattern out to receive every event",
            ));
        }
        let alternatives = expand(&object)?
            .into_iter()
            .map(|alternative| Value::Object(alternative).to_string())
            .collect::<Vec<_>>();
        // quamina judges the filters: it is the matcher that will run them.
        let mut check = quamina::Quamina::<usize>::new();
        for alternative in &alternatives {
            check.add_pattern(0, alternative).map_err(refused)?;
        }
        Ok(Self {
            source: text.to_owned(),
            alternatives,
        })
    }

    /// The pattern as it was written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether `event` (JSON) matches. To match many patterns, add them to one
    /// [`Matcher`]: it matches them all in one pass.
    ///
    /// # Errors
    /// When `event` is not a JSON object.
    pub fn matches(&self, event: &[u8]) -> Result<bool, PatternError> {
        let mut matcher = Matcher::new();
        matcher.add((), self)?;
        Ok(!matcher.matches(event)?.is_empty())
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Many patterns, each under a key, matched against an event in one pass.
pub struct Matcher<X: Clone + Eq + Hash + Send + Sync> {
    quamina: quamina::Quamina<X>,
}

impl<X: Clone + Eq + Hash + Send + Sync> fmt::Debug for Matcher<X> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Matcher")
            .field("patterns", &self.quamina.pattern_count())
            .finish()
    }
}

impl<X: Clone + Eq + Hash + Send + Sync> Default for Matcher<X> {
    fn default() -> Self {
        Self::new()
    }
}

impl<X: Clone + Eq + Hash + Send + Sync> Matcher<X> {
    /// A matcher with no patterns.
    #[must_use]
    pub fn new() -> Self {
        Self {
            quamina: quamina::Quamina::new(),
        }
    }

    /// Adds `pattern` under `key`.
    ///
    /// # Errors
    /// When the matcher refuses it (it was validated by [`Pattern::parse`], so only when
    /// the matcher runs out of its complexity budget).
    pub fn add(&mut self, key: X, pattern: &Pattern) -> Result<(), PatternError> {
        for alternative in &pattern.alternatives {
            self.quamina
                .add_pattern(key.clone(), alternative)
                .map_err(refused)?;
        }
        Ok(())
    }

    /// The keys whose patterns `event` (JSON) matches, each once.
    ///
    /// # Errors
    /// When `event` is not a JSON object.
    pub fn matches(&self, event: &[u8]) -> Result<Vec<X>, PatternError> {
        let mut keys = self
            .quamina
            .matches_for_event(event)
            .map_err(|error| PatternError::new(format!("the event cannot be matched: {error}")))?;
        let mut seen = Vec::with_capacity(keys.len());
        keys.retain(|key| {
            let new = !seen.contains(key);
            if new {
                seen.push(key.clone());
            }
            new
        });
        Ok(keys)
    }
}

/// quamina's reason for refusing a pattern, without its own "invalid pattern" prefix.
fn refused(error: quamina::QuaminaError) -> PatternError {
    match error {
        quamina::QuaminaError::InvalidPattern(reason) => PatternError::new(reason),
        other => PatternError::new(other.to_string()),
    }
}

/// The value at `path` (field names joined by `.`, such as `detail.order_id`) in
/// `event`, if every step is an object that has the field.
#[must_use]
pub fn field<'a>(event: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(event, |value, name| value.as_object()?.get(name))
}

/// Checks that `path` names a field: field names joined by `.`, none empty.
///
/// # Errors
/// Saying which part is empty.
pub fn check_field_path(path: &str) -> Result<(), PatternError> {
    if path.is_empty() || path.split('.').any(str::is_empty) {
        return Err(PatternError::new(format!(
            "{path:?} is not a field path: name the field, nested fields joined by `.` (like \"detail.order_id\")"
        )));
    }
    Ok(())
}

/// The pattern's alternatives without `$or`: for each `$or`, one alternative per
/// branch, merged with the fields beside it.
fn expand(object: &Map<String, Value>) -> Result<Vec<Map<String, Value>>, PatternError> {
    let mut alternatives = vec![Map::new()];
    for (name, value) in object {
        let branches: Vec<Map<String, Value>> = if name == "$or" {
            let Value::Array(branches) = value else {
                return Err(PatternError::new(
                    "`$or` takes a list of patterns, like {\"$or\": [{\"a\": [1]}, {\"b\": [2]}]}",
                ));
            };
            if branches.len() < 2 {
                return Err(PatternError::new(
                    "`$or` needs two or more patterns to choose from",
                ));
            }
            let mut expanded = Vec::new();
            for branch in branches {
                let Value::Object(branch) = branch else {
                    return Err(PatternError::new(
                        "each `$or` alternative is a pattern object, like {\"a\": [1]}",
                    ));
                };
                if branch.is_empty() {
                    return Err(PatternError::new("an `$or` alternative is empty"));
                }
                expanded.extend(expand(branch)?);
            }
            expanded
        } else if let Value::Object(nested) = value {
            if nested.is_empty() {
                return Err(PatternError::new(format!(
                    "field {name:?} holds an empty object; name the nested fields to match"
                )));
            }
            expand(nested)?
                .into_iter()
                .map(|inner| Map::from_iter([(name.clone(), Value::Object(inner))]))
                .collect()
        } else {
            // quamina checks that it is a list of values and filters.
            vec![Map::from_iter([(name.clone(), value.clone())])]
        };
        let mut combined = Vec::with_capacity(alternatives.len() * branches.len());
        for alternative in &alternatives {
            for branch in &branches {
                combined.push(merge(alternative.clone(), branch)?);
                if combined.len() > MAX_ALTERNATIVES {
                    return Err(PatternError::new(format!(
                        "the pattern's `$or`s combine into more than {MAX_ALTERNATIVES} alternatives; simplify it"
                    )));
                }
            }
        }
        alternatives = combined;
    }
    Ok(alternatives)
}

fn merge(
    mut into: Map<String, Value>,
    from: &Map<String, Value>,
) -> Result<Map<String, Value>, PatternError> {
    for (name, value) in from {
        match (into.remove(name), value) {
            (None, value) => {
                into.insert(name.clone(), value.clone());
            }
            (Some(Value::Object(existing)), Value::Object(nested)) => {
                into.insert(name.clone(), Value::Object(merge(existing, nested)?));
            }
            (Some(_), _) => {
                return Err(PatternError::new(format!(
                "field {name:?} is matched both inside and beside an `$or`; name it in one place"
            )))
            }
        }
    }
    Ok(into)
}

#[cfg(test)]
mod tests;
