//! The processes `mqless dev` runs (DynamoDB Local, the Lambda emulator): each in a process
//! group of its own, its output in a log of this run, stopped with everything it started.

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free port on the loopback interface (the system's pick, released for the service).
pub(super) fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .map_err(|error| format!("no free port on 127.0.0.1: {error}"))?;
    listener
        .local_addr()
        .map(|address| address.port())
        .map_err(|error| error.to_string())
}

/// A running service.
pub(super) struct Service {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Service {
    /// Starts `command` as `name`, its output into `log`.
    pub(super) fn start(
        name: &'static str,
        mut command: Command,
        log: &Path,
    ) -> Result<Self, String> {
        let file = File::create(log).map_err(|e| format!("create {}: {e}", log.display()))?;
        let err = file.try_clone().map_err(|e| e.to_string())?;
        let child = command
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            // Its own group: stopping it stops what it started (cargo lambda's builds).
            .process_group(0)
            .spawn()
            .map_err(|error| format!("could not start {name}: {error}"))?;
        Ok(Self {
            name,
            child,
            log: log.to_owned(),
        })
    }

    /// Waits until the service answers on `port`, at most `limit`.
    pub(super) fn wait_for_port(&mut self, port: u16, limit: Duration) -> Result<(), String> {
        let started = Instant::now();
        loop {
            let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
            if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "{} exited ({status}) before answering on port {port}; its log ({}) ends with:\n{}",
                    self.name,
                    self.log.display(),
                    tail(&self.log)
                ));
            }
            if started.elapsed() > limit {
                return Err(format!(
                    "{} did not answer on port {port} within {} s; see {}",
                    self.name,
                    limit.as_secs(),
                    self.log.display()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the service and everything in its process group.
    pub(super) fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let group = format!("-{}", self.child.id());
        let signal = |name: &str| {
            let _ = Command::new("kill")
                .args([name, "--", &group])
                .stderr(Stdio::null())
                .status();
        };
        signal("-TERM");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        signal("-KILL");
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The last lines of a log.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}
