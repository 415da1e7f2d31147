//! Pattern semantics, as a table of event x pattern -> match, with EventBridge's tricky
//! cases: arrays, missing fields, numbers, anything-but, exists, `$or`.

use super::*;

const ORDER: &str = r#"{
    "type": "order.placed",
    "order_id": "o-17",
    "total": 250,
    "weight": 1.5,
    "currency": "EUR",
    "tags": ["gift", "express"],
    "customer": {"id": "c-9", "tier": "gold", "country": "DE"},
    "coupon": null
}"#;

/// (pattern, whether it matches `ORDER`)
const TABLE: &[(&str, bool)] = &[
    // Exact values; any value in the list matches.
    (r#"{"type": ["order.placed"]}"#, true),
    (r#"{"type": ["order.paid", "order.placed"]}"#, true),
    (r#"{"type": ["order.paid"]}"#, false),
    // Every field named must match.
    (r#"{"type": ["order.placed"], "currency": ["USD"]}"#, false),
    // Nested fields.
    (r#"{"customer": {"tier": ["gold"]}}"#, true),
    (r#"{"customer": {"tier": ["silver"]}}"#, false),
    // An array in the event matches if any element does.
    (r#"{"tags": ["express"]}"#, true),
    (r#"{"tags": ["fragile"]}"#, false),
    // A field the event lacks never matches a value.
    (r#"{"discount": [10]}"#, false),
    // Numbers compare as numbers: 250 is 250.0.
    (r#"{"total": [250.0]}"#, true),
    (r#"{"total": [{"numeric": [">=", 100, "<", 500]}]}"#, true),
    (r#"{"total": [{"numeric": [">", 250]}]}"#, false),
    (r#"{"weight": [{"numeric": ["<=", 1.5]}]}"#, true),
    // A string is not a number.
    (r#"{"order_id": [{"numeric": [">", 0]}]}"#, false),
    // Strings: prefix, suffix, wildcard, case.
    (r#"{"type": [{"prefix": "order."}]}"#, true),
    (r#"{"type": [{"suffix": ".paid"}]}"#, false),
    (r#"{"order_id": [{"wildcard": "o-*7"}]}"#, true),
    (r#"{"currency": [{"equals-ignore-case": "eur"}]}"#, true),
    // anything-but: any value but those; a missing field does not match.
    (r#"{"currency": [{"anything-but": ["USD", "GBP"]}]}"#, true),
    (r#"{"currency": [{"anything-but": ["EUR"]}]}"#, false),
    (r#"{"discount": [{"anything-but": ["x"]}]}"#, false),
    // exists: presence, whatever the value (even null).
    (r#"{"customer": {"id": [{"exists": true}]}}"#, true),
    (r#"{"discount": [{"exists": false}]}"#, true),
    (r#"{"order_id": [{"exists": false}]}"#, false),
    (r#"{"coupon": [null]}"#, true),
    // $or between sets of fields, beside fields that must match too.
    (
        r#"{"type": ["order.placed"], "$or": [{"total": [{"numeric": [">", 1000]}]}, {"customer": {"tier": ["gold"]}}]}"#,
        true,
    ),
    (
        r#"{"$or": [{"currency": ["USD"]}, {"customer": {"country": ["FR", "IT"]}}]}"#,
        false,
    ),
    (
        r#"{"customer": {"$or": [{"tier": ["platinum"]}, {"country": ["DE"]}]}}"#,
        true,
    ),
];

#[test]
fn events_match_as_in_eventbridge() {
    let event = ORDER.as_bytes();
    for (pattern, expected) in TABLE {
        let parsed = Pattern::parse(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
        assert_eq!(parsed.matches(event).unwrap(), *expected, "{pattern}");
    }
}

#[test]
fn one_matcher_matches_every_pattern_in_one_pass() {
    let mut matcher = Matcher::new();
    for (index, (pattern, _)) in TABLE.iter().enumerate() {
        matcher
            .add(index, &Pattern::parse(pattern).unwrap())
            .unwrap();
    }
    let mut matched = matcher.matches(ORDER.as_bytes()).unwrap();
    matched.sort_unstable();
    let expected: Vec<usize> = (0..TABLE.len()).filter(|&i| TABLE[i].1).collect();
    assert_eq!(matched, expected);
}

#[test]
fn bad_patterns_say_what_is_wrong() {
    for (pattern, says) in [
        ("status = placed", "not JSON"),
        (r#"["placed"]"#, "JSON object"),
        ("{}", "empty pattern"),
        (r#"{"status": "placed"}"#, "must be array"),
        (r#"{"total": [{"numeric": [">>", 1]}]}"#, "numeric"),
        (r#"{"status": [{"sounds-like": "placed"}]}"#, "sounds-like"),
        (r#"{"$or": [{"a": [1]}]}"#, "two or more"),
        (r#"{"$or": {"a": [1]}}"#, "list of patterns"),
        (
            r#"{"a": [1], "$or": [{"a": [2]}, {"b": [3]}]}"#,
            "both inside and beside",
        ),
        (r#"{"customer": {}}"#, "empty object"),
    ] {
        let error = Pattern::parse(pattern).unwrap_err().to_string();
        assert!(error.contains(says), "{pattern}: {error}");
    }
}

#[test]
fn or_combinations_are_bounded() {
    let or = |field: &str| {
        let branches: Vec<String> = (0..11)
            .map(|i| format!(r#"{{"{field}": [{i}]}}"#))
            .collect();
        format!(r#""$or": [{}]"#, branches.join(","))
    };
    let three = format!(
        r#"{{"a": {{{}}}, "b": {{{}}}, "c": {{{}}}}}"#,
        or("x"),
        or("y"),
        or("z")
    );
    let error = Pattern::parse(&three).unwrap_err().to_string();
    assert!(error.contains("more than 1000 alternatives"), "{error}");
}

#[test]
fn events_that_are_not_json_are_refused() {
    let pattern = Pattern::parse(r#"{"a": [1]}"#).unwrap();
    assert!(pattern.matches(b"not json").is_err());
}

#[test]
fn field_paths_reach_nested_fields() {
    let event: Value = serde_json::from_str(ORDER).unwrap();
    assert_eq!(field(&event, "customer.id"), Some(&Value::from("c-9")));
    assert_eq!(field(&event, "order_id"), Some(&Value::from("o-17")));
    assert_eq!(field(&event, "customer.missing"), None);
    assert_eq!(field(&event, "total.deeper"), None);
    assert!(check_field_path("customer.id").is_ok());
    for bad in ["", ".id", "customer.", "a..b"] {
        assert!(check_field_path(bad).is_err(), "{bad}");
    }
}
