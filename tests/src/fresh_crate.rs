//! Crates outside this workspace, built as a user builds them: the README's and the
//! guide's code (`tests/readme.rs`), and what `mqless new` writes (the CLI's tests).

use std::path::Path;
use std::process::Command;

/// `cargo <subcommand> --offline --quiet <rest>` in `dir`, into `target`; its standard
/// output, or a panic with both outputs.
///
/// # Panics
/// When cargo cannot run or fails.
pub fn cargo(dir: &Path, target: &Path, args: &[&str]) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let (subcommand, rest) = args.split_first().expect("a cargo subcommand");
    let out = Command::new(cargo)
        .arg(subcommand)
        .args(["--offline", "--quiet"])
        .args(rest)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .output()
        .expect("run cargo");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "`cargo {}` in {} failed:\n{stdout}\n{}",
        args.join(" "),
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
