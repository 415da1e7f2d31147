//! `mqless dev`: the local AWS stack for a crate of one's own. Installs DynamoDB Local and
//! cargo-lambda once into a per-user cache (see [`install`]), starts them on free loopback
//! ports, creates the table, builds the crate's functions and serves them with reload on
//! change (`cargo lambda watch`), runs the sweep on a short period, prints the
//! environment a client needs, keeps each run's logs apart, and stops everything on
//! Ctrl-C. `mqless dev -- <command>` runs a command with that environment and stops the
//! stack after it, with the command's exit code. `scripts/local-aws` and `scripts/test`
//! start this repository's stack through it.

mod functions;
mod install;
mod services;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use crate::commands::package;
use crate::DevArgs;
use services::{free_port, Service};

/// Variables the stack sets for the functions, the command and clients, in order.
type Environment = Vec<(&'static str, String)>;

/// Runs the stack (see the module's docs); `table`: the `--table` flag.
pub(crate) async fn run(args: DevArgs, table: Option<String>) -> Result<ExitCode, String> {
    let package = args
        .package
        .canonicalize()
        .map_err(|error| format!("--package {}: {error}", args.package.display()))?;
    if !package.join("Cargo.toml").is_file() {
        return Err(format!(
            "{} has no Cargo.toml: run `mqless dev` in your crate's folder, or pass --package",
            package.display()
        ));
    }
    let manifest = package::read(&package)?;
    let cache = install::cache_dir()?;
    let installed = install::install(&cache)?;
    let logs = run_folder(&cache)?;

    let dynamodb_port = free_port()?;
    let mut dynamodb = start_dynamodb(&installed, dynamodb_port, &logs)?;
    dynamodb.wait_for_port(dynamodb_port, Duration::from_secs(60))?;
    let mut environment: Environment = vec![
        // Any credentials do for both emulators (DynamoDB Local wants letters and digits).
        ("AWS_ACCESS_KEY_ID", "mqlessdev".into()),
        ("AWS_SECRET_ACCESS_KEY", "mqlessdev".into()),
        ("AWS_REGION", "us-east-1".into()),
        (
            "AWS_ENDPOINT_URL_DYNAMODB",
            format!("http://127.0.0.1:{dynamodb_port}"),
        ),
        ("MQLESS_TABLE", table.unwrap_or_else(|| "mqless-dev".into())),
    ];
    let (layout, chosen_by) = package::choose_layout(args.key_layout, Some(&manifest))?;
    eprintln!("mqless dev: key layout {layout}, {chosen_by}");
    environment.push((mqless_runtime::aws::KeyLayout::VARIABLE, layout.to_string()));
    if layout.apart() && !args.aws_services {
        // Asks name who asks; without moto no STS answers here, and nothing checks IAM.
        let asker = std::env::var(mqless_runtime::aws::CallerIdentity::VARIABLE)
            .unwrap_or_else(|_| "mqless-dev".into());
        environment.push((mqless_runtime::aws::CallerIdentity::VARIABLE, asker));
    }
    for name in ["AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"] {
        std::env::remove_var(name);
    }
    export(&environment);

    let mut moto = if args.aws_services {
        Some(start_moto(&cache, &installed, &logs, &mut environment)?)
    } else {
        None
    };
    export(&environment);

    let functions = functions::discover(&package, &manifest, &args.feature, &args.bins)?;
    let lambda_port = free_port()?;
    let lambda_log = logs.join("lambda.log");
    environment.extend([
        (
            "AWS_ENDPOINT_URL_LAMBDA",
            format!("http://127.0.0.1:{lambda_port}"),
        ),
        ("MQLESS_FUNCTIONS", functions.names.clone()),
        ("MQLESS_DEV_LAMBDA_LOG", lambda_log.display().to_string()),
    ]);
    export(&environment);
    create_table().await?;
    let mut lambda = start_emulator(
        &installed,
        &package,
        &args.feature,
        lambda_port,
        &lambda_log,
    )?;
    lambda.wait_for_port(lambda_port, Duration::from_secs(300))?;

    print_environment(&environment, &logs, functions.sweeper.as_deref(), &args)?;
    let sweeper = (args.sweep_every > 0).then(|| tokio::spawn(sweep_every(args.sweep_every)));
    let code = if args.command.is_empty() {
        eprintln!("mqless dev: running; Ctrl-C stops it");
        stop_signal().await;
        ExitCode::SUCCESS
    } else {
        run_command(&args.command).await?
    };
    if let Some(sweeper) = sweeper {
        sweeper.abort();
    }
    lambda.stop();
    if let Some(moto) = moto.as_mut() {
        moto.stop();
    }
    dynamodb.stop();
    Ok(code)
}

/// moto's server on a free port, for SQS, SNS, EventBridge, Scheduler and Kinesis (not
/// DynamoDB: DynamoDB Local stays the table, and serves DynamoDB Streams itself); adds
/// their endpoints to `environment`.
fn start_moto(
    cache: &Path,
    installed: &install::Installed,
    logs: &Path,
    environment: &mut Environment,
) -> Result<Service, String> {
    let server = install::install_moto(cache, installed)?;
    let port = free_port()?;
    let mut command = Command::new(server);
    command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    let mut moto = Service::start("moto's server", command, &logs.join("moto.log"))?;
    moto.wait_for_port(port, Duration::from_secs(60))?;
    let endpoint = format!("http://127.0.0.1:{port}");
    for name in [
        "AWS_ENDPOINT_URL_SQS",
        "AWS_ENDPOINT_URL_SNS",
        "AWS_ENDPOINT_URL_EVENTBRIDGE",
        "AWS_ENDPOINT_URL_SCHEDULER",
        "AWS_ENDPOINT_URL_KINESIS",
        // Who a client is (`GetCallerIdentity`), which key layout v2's asks name.
        "AWS_ENDPOINT_URL_STS",
    ] {
        environment.push((name, endpoint.clone()));
    }
    Ok(moto)
}

/// This run's folder for logs: `<cache>/runs/<ms since the epoch>-<pid>`.
fn run_folder(cache: &Path) -> Result<PathBuf, String> {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis());
    let dir = cache
        .join("runs")
        .join(format!("{millis}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    Ok(dir)
}

fn start_dynamodb(
    installed: &install::Installed,
    port: u16,
    logs: &Path,
) -> Result<Service, String> {
    let mut command = Command::new("java");
    command
        .current_dir(&installed.dynamodb_jar_dir)
        .env("DDB_LOCAL_TELEMETRY", "0")
        .args([
            "-Xmx512m",
            // The JIT's first tier only: a local stack serves minutes of small requests,
            // for which the optimizing tier costs more CPU than it saves (a DynamoDB
            // fault suite's third alone: 63 s of CPU with it, 44 s without, and no slower).
            "-XX:TieredStopAtLevel=1",
            "-Djava.library.path=./DynamoDBLocal_lib",
            "-jar",
            "DynamoDBLocal.jar",
        ])
        // Shared: clients and handlers with different credentials see the same tables.
        .args([
            "-inMemory",
            "-sharedDb",
            "-disableTelemetry",
            "-port",
            &port.to_string(),
        ]);
    Service::start("DynamoDB Local", command, &logs.join("dynamodb.log"))
}

fn start_emulator(
    installed: &install::Installed,
    package: &Path,
    feature: &str,
    port: u16,
    log: &Path,
) -> Result<Service, String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![installed.venv_bin.clone()];
    paths.extend(std::env::split_paths(&path));
    let path = std::env::join_paths(paths).map_err(|e| e.to_string())?;
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command
        .current_dir(package)
        .env("PATH", path)
        .args(["lambda", "watch", "--features", feature])
        .args([
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
            &port.to_string(),
        ]);
    Service::start("cargo lambda watch", command, log)
}

/// Sets `environment` in this process: the services, the command and the SDK clients
/// here read it.
fn export(environment: &Environment) {
    for (name, value) in environment {
        // Edition 2021: `set_var` is safe; nothing else here reads the environment while
        // it is written.
        std::env::set_var(name, value);
    }
}

async fn create_table() -> Result<(), String> {
    let environment = mqless_runtime::aws::Environment::load()
        .await
        .map_err(|error| error.to_string())?;
    environment
        .store()
        .create_table()
        .await
        .map_err(|error| format!("could not create the table on DynamoDB Local: {error}"))
}

fn print_environment(
    environment: &Environment,
    logs: &Path,
    sweeper: Option<&str>,
    args: &DevArgs,
) -> Result<(), String> {
    let exports: String = environment
        .iter()
        .map(|(name, value)| format!("export {name}={value}\n"))
        .collect();
    if let Some(file) = &args.env_file {
        std::fs::write(file, &exports).map_err(|e| format!("write {}: {e}", file.display()))?;
    }
    let sweep = if args.sweep_every == 0 {
        "off".to_owned()
    } else {
        format!("every {} s, in this process", args.sweep_every)
    };
    let moto = match value(environment, "AWS_ENDPOINT_URL_SQS") {
        "" => String::new(),
        endpoint => format!(", moto (SQS, SNS, EventBridge, Scheduler, Kinesis) at {endpoint}"),
    };
    eprintln!(
        "mqless dev: DynamoDB Local at {dynamodb}, the Lambda emulator at {lambda}{moto}\n  functions: {functions}{sweeper}\n  sweep: {sweep}\n  logs: {logs}\nThe environment a client needs:\n{exports}",
        dynamodb = value(environment, "AWS_ENDPOINT_URL_DYNAMODB"),
        lambda = value(environment, "AWS_ENDPOINT_URL_LAMBDA"),
        functions = value(environment, "MQLESS_FUNCTIONS"),
        sweeper = sweeper.map(|bin| format!(" (sweeper: {bin})")).unwrap_or_default(),
        logs = logs.display(),
    );
    Ok(())
}

fn value<'e>(environment: &'e Environment, name: &str) -> &'e str {
    environment
        .iter()
        .find(|(key, _)| *key == name)
        .map_or("", |(_, value)| value.as_str())
}

/// Sweeps in a row that may fail before the sweeps stop: a failure that keeps coming
/// (the table deleted, DynamoDB Local gone) is said once, not every few seconds forever.
const SWEEP_FAILURES: u32 = 3;

/// Wakes what the due index holds every `seconds`, as the deployed sweeper does.
async fn sweep_every(seconds: u64) {
    let environment = match mqless_runtime::aws::Environment::load().await {
        Ok(environment) => environment,
        Err(error) => {
            eprintln!("mqless dev: no sweeps ({error}); run `mqless sweep` by hand");
            return;
        }
    };
    let operator = environment.remote().operator();
    let mut failures = 0;
    loop {
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        match operator.sweep().await {
            Ok(_) => failures = 0,
            Err(error) => {
                failures += 1;
                eprintln!("mqless dev: the sweep failed: {error}");
                if failures >= SWEEP_FAILURES {
                    eprintln!("mqless dev: {SWEEP_FAILURES} sweeps in a row failed; no more sweeps in this run (`mqless sweep` runs one by hand)");
                    return;
                }
            }
        }
    }
}

/// Resolves on Ctrl-C, or when this process is told to end (SIGTERM, SIGHUP): the
/// services run in process groups of their own, so nothing else stops them.
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut terminate), Ok(mut hangup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
        _ = hangup.recv() => {}
    }
}

/// Runs `command` with the stack's environment; its exit code (Ctrl-C, SIGTERM or
/// SIGHUP stop it).
async fn run_command(command: &[String]) -> Result<ExitCode, String> {
    let mut child = tokio::process::Command::new(&command[0])
        .args(&command[1..])
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| format!("could not run `{}`: {error}", command.join(" ")))?;
    let status = tokio::select! {
        status = child.wait() => status.map_err(|error| error.to_string())?,
        () = stop_signal() => {
            let _ = child.kill().await;
            return Ok(ExitCode::from(130));
        }
    };
    Ok(status.code().map_or(ExitCode::FAILURE, |code| {
        ExitCode::from(u8::try_from(code).unwrap_or(1))
    }))
}
