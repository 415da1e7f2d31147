//! `doctor`: checks a deployment and says what to fix.

use mqless_runtime::aws::payload::{Invocation, SweepResult};
use mqless_runtime::aws::KeyLayout;
use mqless_runtime::id::ActorType;
use serde_json::{json, Map};

use super::Context;
use crate::output::Printed;
use crate::DoctorArgs;

/// One check's outcome.
struct Check {
    what: String,
    ok: Option<bool>,
    detail: String,
}

impl Check {
    fn new(what: impl Into<String>, ok: Option<bool>, detail: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            ok,
            detail: detail.into(),
        }
    }
}

/// Every check, and whether all that ran passed.
pub(super) async fn run(context: &Context, args: DoctorArgs) -> (Printed, bool) {
    let mut checks = table_checks(context).await;
    checks.extend(function_checks(context).await);
    let sweeper = args
        .sweeper
        .or_else(|| std::env::var("MQLESS_SWEEPER_FUNCTION").ok());
    checks.push(sweeper_check(context, sweeper).await);
    let healthy = checks.iter().all(|c| c.ok != Some(false));
    let rows = checks
        .into_iter()
        .map(|check| {
            let mut row = Map::new();
            let status = match check.ok {
                Some(true) => "ok",
                Some(false) => "FAIL",
                None => "skipped",
            };
            row.insert("check".into(), json!(check.what));
            row.insert("status".into(), json!(status));
            row.insert("detail".into(), json!(check.detail));
            row
        })
        .collect();
    let printed = Printed::Rows {
        columns: vec!["check", "status", "detail"],
        rows,
    };
    (printed, healthy)
}

async fn table_checks(context: &Context) -> Vec<Check> {
    let store = context.environment.store();
    let table = store.table().to_owned();
    let what = format!("table {table}");
    let missing = match store.missing_indexes().await {
        Ok(missing) => missing,
        Err(error) => {
            return vec![Check::new(
                what,
                Some(false),
                format!(
                "{error} (create it with the generated template, or `DynamoStore::create_table`)"
            ),
            )]
        }
    };
    let mut checks = vec![Check::new(what, Some(true), "exists")];
    for (index, reads) in [
        ("actors", "`actors list` reads it"),
        ("due", "sweeps read it to find what is due"),
        (
            "quarantined",
            "listing quarantined actors and sweeps read it",
        ),
    ] {
        let present = !missing.contains(&index);
        checks.push(Check::new(
            format!("{index} index"),
            Some(present),
            if present {
                format!("present: {reads}")
            } else {
                format!("missing, though {reads}; `mqless table create` (`DynamoStore::create_table`) on the existing table adds the missing indexes, one at a time")
            },
        ));
    }
    let ttl = store.ttl_enabled().await;
    checks.push(match ttl {
        Ok(true) => Check::new("time to live", Some(true), "enabled on `ttl`"),
        Ok(false) => Check::new(
            "time to live",
            Some(false),
            format!("off: replies never expire; enable TTL on attribute `ttl` (aws dynamodb update-time-to-live --table-name {table} --time-to-live-specification Enabled=true,AttributeName=ttl)"),
        ),
        Err(error) => Check::new("time to live", Some(false), error.to_string()),
    });
    checks.push(match store.recorded_key_layout().await {
        Ok(recorded) => layout_check(recorded, context.environment.key_layout()),
        Err(error) => Check::new("key layout", Some(false), error.to_string()),
    });
    checks
}

/// Whether this command's key layout (`running`, as every process of the deployment
/// should have it) agrees with the one the table records.
fn layout_check(recorded: Option<KeyLayout>, running: KeyLayout) -> Check {
    use KeyLayout::{V1ToV2, V1, V2};
    let (ok, detail) = match (recorded, running) {
        (Some(recorded), running) if recorded == running => {
            (true, format!("{running}, as the table records"))
        }
        (None, V1) => (true, "v1: the table records none (made before tables recorded their layout, or by a template), and processes not told one use v1".to_owned()),
        (None, running) => (true, format!("{running} here, but the table records none, so a process without MQLESS_KEY_LAYOUT uses v1: set it to {running} for every function and client (the template's KeyLayout output); the stack's sweeper records its layout when it starts, or run `mqless table create --key-layout {running}`")),
        (Some(V1), V1ToV2) => (true, "v1-to-v2: moving from the v1 the table records; run `mqless migrate` until it finds nothing".to_owned()),
        (Some(V2), V1ToV2) => (true, "v1-to-v2 here, and the table records v2 (nothing was left to move): deploy every function and client with v2".to_owned()),
        (Some(recorded), running) => (false, format!("this command runs {running} (MQLESS_KEY_LAYOUT), but the table records {recorded}: every process of a table must share its layout, or its messages wait where no drain reads; set MQLESS_KEY_LAYOUT={recorded} (or unset it), or move the table with `mqless migrate`")),
    };
    Check::new("key layout", Some(ok), detail)
}

async fn function_checks(context: &Context) -> Vec<Check> {
    let functions = context.environment.functions();
    let named = functions.named();
    if named.is_empty() {
        let how = if functions.prefix().is_empty() {
            "each actor type's function is named as the type".to_owned()
        } else {
            format!(
                "each actor type's function is `{}<Type>`",
                functions.prefix()
            )
        };
        return vec![Check::new(
            "functions",
            None,
            format!("MQLESS_FUNCTIONS is not set ({how}); list them as `Type=function,...` for doctor to check each"),
        )];
    }
    let invoker = context.environment.invoker();
    let mut checks = Vec::new();
    for (actor_type, function) in named {
        checks.push(probe(&invoker, actor_type, function).await);
    }
    checks
}

/// Invokes `function` with an invocation every MQLess handler refuses (an empty actor
/// id): the refusal proves it exists and runs MQLess, and nothing is written.
async fn probe(
    invoker: &mqless_runtime::aws::LambdaInvoker,
    actor_type: &ActorType,
    function: &str,
) -> Check {
    let what = format!("function {function} ({actor_type})");
    let invocation = Invocation {
        actor: String::new(),
        actor_type: Some(actor_type.as_str().to_owned()),
        reply_to: None,
        hop: 0,
        send: None,
    };
    match invoker.invoke(actor_type, &invocation, true).await {
        // AWS names the error type; the emulator passes only its message on.
        Err(error)
            if error.message.contains("MQLess.InvalidInvocation")
                || error.message.contains("invalid invocation") =>
        {
            Check::new(what, Some(true), "answers as an MQLess handler")
        }
        Err(error) => Check::new(
            what,
            Some(false),
            format!("{} (deploy it, or fix MQLESS_FUNCTIONS)", error.message),
        ),
        Ok(_) => Check::new(
            what,
            Some(false),
            "accepted an invocation every MQLess handler refuses: is it an MQLess function?",
        ),
    }
}

async fn sweeper_check(context: &Context, sweeper: Option<String>) -> Check {
    let Some(function) = sweeper else {
        return Check::new(
            "sweeper",
            None,
            "not checked: pass --sweeper <function> or set MQLESS_SWEEPER_FUNCTION (without a sweeper on a schedule, scheduled messages and lost wake-ups wait for the next message)",
        );
    };
    let what = format!("sweeper {function}");
    let answer = context
        .environment
        .invoker()
        .invoke_function(&function, b"{}".to_vec(), true)
        .await;
    match answer.map(|body| serde_json::from_slice::<SweepResult>(&body)) {
        Ok(Ok(result)) => Check::new(
            what,
            Some(true),
            format!(
                "swept: {} actors had something due ({} due-index entries read)",
                result.pending, result.entries
            ),
        ),
        Ok(Err(_)) => Check::new(
            what,
            Some(false),
            "answered something that is not a sweep result: is it `serve_sweeper`?",
        ),
        Err(error) => Check::new(what, Some(false), error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_check_fails_only_where_the_processes_and_the_table_disagree() {
        use KeyLayout::{V1ToV2, V1, V2};
        let cases = [
            (Some(V2), V2, true),
            (Some(V1), V1, true),
            (None, V1, true),
            (None, V2, true),
            (Some(V1), V1ToV2, true),
            (Some(V2), V1ToV2, true),
            (Some(V2), V1, false),
            (Some(V1), V2, false),
            (Some(V1ToV2), V2, false),
        ];
        for (recorded, running, ok) in cases {
            let check = layout_check(recorded, running);
            assert_eq!(
                check.ok,
                Some(ok),
                "{recorded:?} {running}: {}",
                check.detail
            );
            if !ok {
                assert!(
                    check.detail.contains("MQLESS_KEY_LAYOUT"),
                    "{}",
                    check.detail
                );
            }
        }
        assert!(layout_check(None, V2).detail.contains("uses v1"));
    }
}
