//! One module per command group; [`Context`] holds what they share: the environment
//! (table, functions, AWS clients) and the output format.

mod actors;
mod dead_letters;
mod dev;
mod doctor;
mod mailbox;
mod manifest;
mod new;
mod package;
mod send;
mod template;

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::process::ExitCode;

use mqless_runtime::aws::{Environment, FunctionNames, KeyLayout};
use mqless_runtime::id::{ActorId, ActorType, Address, MessageId};
use mqless_runtime::recovery::Operator;
use serde_json::json;

use crate::output::{Format, Printed};
use crate::{ActorArgs, Cli, Command, TableCommand};

/// What every command works with.
pub(crate) struct Context {
    environment: Environment,
    operator: Operator,
    format: Format,
}

impl Context {
    async fn load(table: Option<String>, format: Format) -> Result<Self, String> {
        let table = match table.or_else(|| std::env::var("MQLESS_TABLE").ok()) {
            Some(table) if !table.is_empty() => table,
            _ => return Err("no table: set MQLESS_TABLE or pass --table <name>".into()),
        };
        let functions = FunctionNames::from_env().map_err(|e| e.to_string())?;
        let sdk = mqless_runtime::aws::load_config().await;
        // Told, or what the table records (v2 when there is no table yet).
        let environment = Environment::new(sdk, table, functions)
            .with_configured_key_layout()
            .await
            .map_err(|e| e.to_string())?;
        let operator = environment.remote().operator();
        Ok(Self {
            environment,
            operator,
            format,
        })
    }

    fn print(&self, printed: &Printed) {
        print!("{}", printed.render(self.format));
    }
}

/// Runs the command; the exit code says whether it did what was asked (`doctor` fails
/// when it finds a problem).
pub(crate) async fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        // Needs no AWS environment: it reads the built functions.
        Command::Template(args) => {
            let said = template::run(&args)?;
            if !said.is_empty() {
                eprintln!("{said}");
            }
            Ok(ExitCode::SUCCESS)
        }
        // Makes the AWS environment it runs in.
        Command::Dev(args) => dev::run(args, cli.table).await,
        // Needs no AWS environment: it writes files.
        Command::New(args) => {
            println!("{}", new::run(&args)?);
            Ok(ExitCode::SUCCESS)
        }
        command => {
            let context = Context::load(cli.table, cli.output).await?;
            run_against(&context, command).await
        }
    }
}

async fn run_against(context: &Context, command: Command) -> Result<ExitCode, String> {
    let printed = match command {
        Command::Actors(command) => actors::run(context, command).await?,
        Command::State(command) => actors::run_state(context, command).await?,
        Command::Mailbox(command) => mailbox::run(context, command).await?,
        Command::Send(args) => send::run(context, args).await?,
        Command::DeadLetters(command) => dead_letters::run(context, command).await?,
        Command::Migrate(args) => migrate(context, args.dry_run).await?,
        Command::Sweep => sweep(context, false).await?,
        Command::Audit => sweep(context, true).await?,
        Command::Table(TableCommand::Create { key_layout }) => {
            create_table(context, key_layout).await?
        }
        Command::Template(_) => return Err("`template` reads no table".into()),
        Command::New(_) => return Err("`new` reads no table".into()),
        Command::Dev(_) => return Err("`dev` makes its own table".into()),
        Command::Doctor(args) => {
            let (printed, healthy) = doctor::run(context, args).await;
            context.print(&printed);
            return Ok(if healthy {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
    };
    context.print(&printed);
    Ok(ExitCode::SUCCESS)
}

/// Creates the table in `key_layout` (else the context's), or completes an existing one;
/// says which layout the table records. An existing table that records none (made before
/// tables recorded their layout, or by the template) records `key_layout` when the flag
/// names one: the operator says what its processes run.
async fn create_table(context: &Context, key_layout: Option<KeyLayout>) -> Result<Printed, String> {
    let chosen = key_layout.unwrap_or(context.environment.key_layout());
    let store = context.environment.store().with_key_layout(chosen);
    store.create_table().await.map_err(|e| e.to_string())?;
    let mut recorded = store
        .recorded_key_layout()
        .await
        .map_err(|e| e.to_string())?;
    let layout = match (recorded, key_layout) {
        (Some(layout), _) if layout == chosen => {
            format!("key layout {layout}, recorded in the table")
        }
        (Some(layout), _) => format!(
            "it was there already and records key layout {layout} (not {chosen}: a table's layout changes only by `mqless migrate`)"
        ),
        (None, Some(told)) => {
            store
                .record_key_layout(told)
                .await
                .map_err(|e| e.to_string())?;
            recorded = Some(told);
            format!("it was there already and recorded no key layout; it now records {told}, which every process not told one (MQLESS_KEY_LAYOUT) goes by")
        }
        (None, None) => "it was there already and records no key layout, so processes not told one (MQLESS_KEY_LAYOUT) use v1; `--key-layout` records the one its processes run".to_owned(),
    };
    Ok(Printed::Said(
        format!("table {} is ready; {layout}", store.table()),
        json!({"table": store.table(), "ready": true, "key_layout": recorded.map(KeyLayout::as_str)}),
    ))
}

/// A v1 table's queued messages and subscriptions moved into v2's partitions (or, dry,
/// counted).
async fn migrate(context: &Context, dry_run: bool) -> Result<Printed, String> {
    let store = context.environment.store();
    let migration = store
        .migrate_mailboxes(dry_run)
        .await
        .map_err(|e| e.to_string())?;
    let messages = migration.found - migration.subscriptions;
    let text = if dry_run {
        format!(
            "{messages} queued messages and {} subscriptions are in key layout v1's partitions: `mqless migrate` (with MQLESS_KEY_LAYOUT=v1-to-v2 everywhere) moves them",
            migration.subscriptions
        )
    } else if migration.found == 0 {
        // Every process runs `v1-to-v2` by now: those started without the variable later
        // read v2 from the table.
        store
            .record_key_layout(KeyLayout::V2)
            .await
            .map_err(|e| e.to_string())?;
        "no queued message or subscription is left in key layout v1's partitions, and the table now records v2: deploy every function and client with MQLESS_KEY_LAYOUT=v2 (or without it, to go by the table)".into()
    } else {
        format!(
            "moved {} queued messages and subscriptions into key layout v2's partitions ({} were consumed, moved or rewritten meanwhile); run `mqless migrate --dry-run` until it finds none, then deploy with MQLESS_KEY_LAYOUT=v2",
            migration.moved, migration.settled
        )
    };
    Ok(Printed::Said(
        text,
        json!({"found": migration.found, "subscriptions": migration.subscriptions, "moved": migration.moved, "settled": migration.settled, "dry_run": dry_run}),
    ))
}

/// A sweep of the due index, or (`audit`) of every mailbox.
async fn sweep(context: &Context, audit: bool) -> Result<Printed, String> {
    let report = if audit {
        context.operator.audit().await
    } else {
        context.operator.sweep().await
    }
    .map_err(|e| e.to_string())?;
    let failed: Vec<_> = report
        .failed
        .iter()
        .map(|(address, error)| json!({"actor": address.to_string(), "error": error.to_string()}))
        .collect();
    let mut text = format!(
        "{} actors had something due; woke {}",
        report.pending.len(),
        report.nudged
    );
    for address in &report.quarantined {
        text += &format!("\n{address} is quarantined: listed, not woken (`Actors::quarantine`)");
    }
    for (address, error) in &report.failed {
        text += &format!("\nwaking {address} failed: {error}");
    }
    let quarantined: Vec<String> = report.quarantined.iter().map(ToString::to_string).collect();
    Ok(Printed::Said(
        text,
        json!({"pending": report.pending.len(), "nudged": report.nudged, "failed": failed, "quarantined": quarantined}),
    ))
}

/// The address of `<Type> <id>`, validated as the runtime validates it.
fn address(actor_type: &str, id: &str) -> Result<Address, String> {
    let actor_type = ActorType::new(actor_type).map_err(|e| e.to_string())?;
    let id = ActorId::new(id).map_err(|e| e.to_string())?;
    Ok(Address::new(actor_type, id))
}

fn address_of(actor: &ActorArgs) -> Result<Address, String> {
    address(&actor.actor_type, &actor.id)
}

fn actor_type(name: &str) -> Result<ActorType, String> {
    ActorType::new(name).map_err(|e| e.to_string())
}

fn message_id(text: &str) -> Result<MessageId, String> {
    MessageId::parse(text).map_err(|e| format!("{text:?} is not a message id: {e}"))
}

/// Asks the person at the terminal to type `expected` to go on; `--yes` skips it, and
/// without a terminal it refuses rather than guess.
fn confirm(question: &str, expected: &str, yes: bool) -> Result<(), String> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(format!(
            "{question}: refusing without --yes, as stdin is not a terminal"
        ));
    }
    eprint!("{question}\nType {expected:?} to confirm: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| format!("could not read the confirmation: {e}"))?;
    if answer.trim() == expected {
        Ok(())
    } else {
        Err("not confirmed; nothing changed".into())
    }
}

/// Every actor of `actor_type`, paging through the index, with a progress line.
async fn every_actor(context: &Context, actor_type: &ActorType) -> Result<Vec<Address>, String> {
    let mut all: Vec<Address> = Vec::new();
    let mut progress = crate::output::Progress::new("listing actors", None);
    loop {
        let page = context
            .operator
            .list(actor_type, all.last(), 1000)
            .await
            .map_err(|e| e.to_string())?;
        progress.advance(page.len());
        let done = page.len() < 1000;
        all.extend(page);
        if done {
            return Ok(all);
        }
    }
}
