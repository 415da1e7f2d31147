//! `mqless`: list, inspect, message and repair the actors of an MQLess deployment.
//!
//! It reads the same environment as the functions and clients (`MQLESS_TABLE`,
//! `MQLESS_FUNCTIONS` / `MQLESS_FUNCTION_PREFIX`, the standard AWS settings), so it works
//! against AWS and against the local stack alike. It needs no Rust types: states,
//! messages and replies are shown as JSON decoded from MessagePack, and `send` encodes
//! JSON arguments into the wire format (docs/wire.md).

mod commands;
mod json;
mod output;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use output::Format;

/// List, inspect, message and repair the actors of an MQLess deployment.
///
/// Reads MQLESS_TABLE, MQLESS_FUNCTIONS (or MQLESS_FUNCTION_PREFIX) and the standard AWS
/// settings (region, credentials, AWS_ENDPOINT_URL...), as the functions do.
#[derive(Debug, Parser)]
#[command(name = "mqless", version, propagate_version = true)]
struct Cli {
    /// The DynamoDB table (default: $MQLESS_TABLE).
    #[arg(long, global = true)]
    table: Option<String>,
    /// How to print results.
    #[arg(long, global = true, value_enum, default_value = "table")]
    output: Format,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List, show and delete actors.
    #[command(subcommand)]
    Actors(ActorsCommand),
    /// Reset an actor's state to its type's default.
    #[command(subcommand)]
    State(StateCommand),
    /// Look at queued messages without running them.
    #[command(subcommand)]
    Mailbox(MailboxCommand),
    /// Send a message (a tell, or an ask with --ask) through the actor type's function.
    Send(SendArgs),
    /// List, show, redrive and discard dead letters.
    #[command(subcommand, name = "dead-letters")]
    DeadLetters(DeadLettersCommand),
    /// Wake what the due index holds now: scheduled messages that came due, actors whose
    /// wake-up failed (what the sweeper function does every minute).
    Sweep,
    /// Read every mailbox and wake every actor with a message due (a full scan: what the
    /// sweeper function does hourly, for wake-ups lost unseen).
    Audit,
    /// Check the deployment: the table, its index and TTL, and the functions.
    Doctor(DoctorArgs),
    /// Move a key layout v1 table's queued messages into v2's mailbox partitions, online
    /// (MQLESS_KEY_LAYOUT=v1-to-v2 for every function and client, and for this command;
    /// then deploy with v2). Resumable: run it again after any failure.
    Migrate(MigrateArgs),
    /// Create the table, or add what an existing one lacks.
    #[command(subcommand)]
    Table(TableCommand),
    /// Write an AWS SAM template for the functions `cargo lambda build` made: the table,
    /// one function per actor type, the sweeper on a schedule, and least-privilege IAM
    /// derived from what each actor sends to (each bootstrap is asked with
    /// --mqless-manifest). Deploy it with `sam deploy`.
    Template(TemplateArgs),
    /// Create a crate of your own: an actor, a program running it on the embedded
    /// runtime, its Lambda function and the sweeper's (feature `aws`), a test under
    /// injected faults, and how to deploy it.
    New(NewArgs),
    /// Run the local AWS stack for your crate: DynamoDB Local and the Lambda emulator
    /// serving its functions (installed once into a per-user cache), the table, a sweep
    /// every few seconds; prints the environment a client needs. Ctrl-C stops it.
    /// `mqless dev -- <command>` runs a command with that environment, then stops.
    Dev(DevArgs),
}

/// `migrate [--dry-run]`.
#[derive(Debug, Args)]
pub(crate) struct MigrateArgs {
    /// Count the v1 messages left to move; move nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
}

/// `dev [-- <command>...]`.
#[derive(Debug, Args)]
struct DevArgs {
    /// The package whose functions to serve.
    #[arg(long, default_value = ".")]
    package: std::path::PathBuf,
    /// The cargo feature the function binaries need.
    #[arg(long, default_value = "aws")]
    feature: String,
    /// Serve only these binaries (comma-separated; default: every binary that needs the
    /// feature).
    #[arg(long, value_delimiter = ',')]
    bins: Vec<String>,
    /// Sweep every this many seconds (0: never), as the deployed sweeper does each minute.
    #[arg(long, default_value_t = 5)]
    sweep_every: u64,
    /// Also write the environment (`export NAME=value` lines) to this file.
    #[arg(long)]
    env_file: Option<std::path::PathBuf>,
    /// The table's key layout (`v1`, or `v2`: mailboxes in partitions of their own), set
    /// for the functions, the sweep and the environment printed for clients (default:
    /// what `MQLESS_KEY_LAYOUT` says, else what the crate declares in its Cargo.toml,
    /// `[package.metadata.mqless] key-layout`, else `v1`).
    #[arg(long, value_name = "LAYOUT")]
    key_layout: Option<mqless_runtime::aws::KeyLayout>,
    /// Also serve SQS, SNS, EventBridge, Scheduler and Kinesis (moto's server, from PyPI,
    /// installed once into the cache), for code that emits to them or tests that read
    /// them; the SDKs find it through `AWS_ENDPOINT_URL_SQS` and the like.
    #[arg(long)]
    aws_services: bool,
    /// The command to run with the stack (after `--`); the stack stops when it ends.
    #[arg(last = true)]
    command: Vec<String>,
}

/// `new <name>`.
#[derive(Debug, Args)]
struct NewArgs {
    /// The crate's name (and its directory's).
    name: String,
    /// Create it in this directory.
    #[arg(long, default_value = ".")]
    dir: std::path::PathBuf,
    /// Depend on the `mqless` crate in this directory (default: the checkout this
    /// command was built from, if it is still there; else the git repository).
    #[arg(long, conflicts_with = "git")]
    path: Option<std::path::PathBuf>,
    /// Depend on MQLess from this git repository.
    #[arg(long)]
    git: Option<String>,
}

/// `template`.
#[derive(Debug, Clone, Args)]
struct TemplateArgs {
    /// Where `cargo lambda build` put the functions (one `<bin>/bootstrap` each).
    #[arg(long, default_value = "target/lambda")]
    functions: std::path::PathBuf,
    /// Write the template here (default: standard output).
    #[arg(long)]
    out: Option<std::path::PathBuf>,
    /// The functions' architecture, as built (`cargo lambda build --arm64` for arm64).
    #[arg(long, value_enum, default_value = "x86-64")]
    arch: Arch,
    /// An EventBridge bus whose events the events function publishes to their topics
    /// (a rule per bus; repeat for several, `default` for the account's default bus).
    #[arg(long = "event-bus", value_name = "NAME")]
    event_buses: Vec<String>,
    /// The table's key layout: `v1`, or `v2` (mailboxes in partitions of their own, so
    /// that senders' policies reach no actor's record). Set for every function
    /// (`MQLESS_KEY_LAYOUT`); clients and the mqless command take it from the stack's
    /// `KeyLayout` output. Default: what `MQLESS_KEY_LAYOUT` says, else what the crate
    /// in this folder declares (`[package.metadata.mqless] key-layout` in its
    /// Cargo.toml, which `mqless new` sets to `v2`), else `v1`.
    #[arg(long, value_name = "LAYOUT")]
    key_layout: Option<mqless_runtime::aws::KeyLayout>,
    /// A client policy of its own, `NAME=Type,Type`: what attaches it may queue into,
    /// ask, read and wake the actors of those types only (in key layout v2; in v1 it may
    /// write anything in their partitions). Output as `<NAME>ClientPolicyArn`; repeat for
    /// several. `ClientPolicy` grants every type of the stack.
    #[arg(long = "client", value_name = "NAME=TYPES")]
    clients: Vec<String>,
}

impl TemplateArgs {
    /// The table's key layout (`template::run` chooses it when the flag is not given).
    fn layout(&self) -> mqless_runtime::aws::KeyLayout {
        self.key_layout.unwrap_or_default()
    }
}

/// A Lambda architecture.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Arch {
    /// `x86_64`.
    #[value(name = "x86-64")]
    X86_64,
    /// `arm64` (Graviton).
    Arm64,
}

impl Arch {
    fn as_str(self) -> &'static str {
        match self {
            Self::X86_64 => "x86_64",
            Self::Arm64 => "arm64",
        }
    }
}

#[derive(Debug, Subcommand)]
enum TableCommand {
    /// Create the table (on demand, keys `pk`/`sk`, TTL on `ttl`, the `actors` index),
    /// wait until it is active and record its key layout in it, which every process not
    /// told one (MQLESS_KEY_LAYOUT) goes by; on an existing table, turn TTL on and add the
    /// index if they are missing, and leave a recorded layout as it is. Safe to run again.
    Create {
        /// The new table's key layout (default: what MQLESS_KEY_LAYOUT says, else `v2`:
        /// mailboxes and replies in partitions of their own, which IAM can isolate). On an
        /// existing table that records none (made by the template, or before MQLess
        /// recorded layouts), the layout its processes run, recorded for those not told.
        #[arg(long, value_name = "LAYOUT")]
        key_layout: Option<mqless_runtime::aws::KeyLayout>,
    },
}

/// An actor: its type and id.
#[derive(Debug, Clone, Args)]
struct ActorArgs {
    /// The actor type (the Rust type's name, as in `Counter`).
    actor_type: String,
    /// The actor id.
    id: String,
}

#[derive(Debug, Subcommand)]
enum ActorsCommand {
    /// List the actors of a type that have committed state, in id order, a page at a
    /// time (from the table's `actors` index: no scan).
    List {
        /// The actor type.
        actor_type: String,
        /// Actors per page.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Start after this id (the last id of the previous page).
        #[arg(long)]
        after: Option<String>,
        /// Every page, not just one.
        #[arg(long)]
        all: bool,
    },
    /// Show an actor: its state as JSON, version, lease, quarantine, queued messages,
    /// dead letters and last error.
    Show(ActorArgs),
    /// Delete an actor: its state, queued messages, replies and dead letters.
    Delete {
        #[command(flatten)]
        actor: ActorArgs,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
enum StateCommand {
    /// Reset an actor's state to its type's default; queued messages and dead letters
    /// stay.
    Reset {
        #[command(flatten)]
        actor: ActorArgs,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
enum MailboxCommand {
    /// The first queued messages of an actor, in the order it runs them.
    Peek {
        #[command(flatten)]
        actor: ActorArgs,
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
}

/// `send <Type> <id> <method> --json '{...}'`.
#[derive(Debug, Args)]
struct SendArgs {
    #[command(flatten)]
    actor: ActorArgs,
    /// The method (its wire name: the Rust name, or `#[handler(name = ..)]`).
    method: String,
    /// The method's named arguments as a JSON object, like '{"by": 5}'.
    #[arg(long, default_value = "{}")]
    json: String,
    /// Wait for the reply and print it.
    #[arg(long)]
    ask: bool,
    /// An idempotency key: a message with a key the actor consumed recently is skipped.
    #[arg(long)]
    key: Option<String>,
    /// A W3C traceparent (`00-<trace id>-<span id>-<flags>`): the message's span in the
    /// function's logs continues that trace.
    #[arg(long)]
    traceparent: Option<String>,
}

#[derive(Debug, Subcommand)]
enum DeadLettersCommand {
    /// The dead letters of one actor, or of every actor of a type.
    List {
        /// The actor type.
        actor_type: String,
        /// The actor id (default: every actor of the type).
        id: Option<String>,
    },
    /// One dead letter in full: its message as JSON, why it failed, when.
    Show {
        #[command(flatten)]
        actor: ActorArgs,
        /// The dead letter's message id.
        message: String,
    },
    /// Put dead letters back at the end of the mailbox and wake the actor.
    Redrive {
        /// The actor type.
        actor_type: String,
        /// The actor id (default: every actor of the type, with --all).
        id: Option<String>,
        /// One message id (default: all of the actor's dead letters, with --all).
        message: Option<String>,
        /// Redrive every dead letter of the actor, or of the type when no id is given.
        #[arg(long)]
        all: bool,
    },
    /// Delete a dead letter for good.
    Discard {
        #[command(flatten)]
        actor: ActorArgs,
        /// The dead letter's message id.
        message: String,
    },
}

/// `doctor`.
#[derive(Debug, Args)]
struct DoctorArgs {
    /// The sweeper function, to check it answers (default: $MQLESS_SWEEPER_FUNCTION).
    #[arg(long)]
    sweeper: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match commands::run(cli).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("mqless: {error}");
            ExitCode::FAILURE
        }
    }
}
