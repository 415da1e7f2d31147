//! Which binaries of the package are MQLess functions, and which actor type each runs:
//! its binaries that need the functions' feature are built and asked for their manifest
//! (as `mqless template` asks), so `MQLESS_FUNCTIONS` comes from the code.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value as Json;

use crate::commands::manifest::ask_manifest;
use crate::commands::package::cargo;

/// The package's functions.
pub(super) struct Functions {
    /// `Type=binary,...`: what `MQLESS_FUNCTIONS` says.
    pub(super) names: String,
    /// The sweeper's binary, if the package has one.
    pub(super) sweeper: Option<String>,
}

/// Builds the binaries of `package` (in `dir`) that need `feature` (or just `only`) and
/// reads their manifests.
pub(super) fn discover(
    dir: &Path,
    package: &Json,
    feature: &str,
    only: &[String],
) -> Result<Functions, String> {
    let bins = if only.is_empty() {
        function_bins(package, feature)
    } else {
        only.to_vec()
    };
    if bins.is_empty() {
        return Err(format!(
            "{} has no binary that needs feature `{feature}`: a function is a binary with `required-features = [\"{feature}\"]` whose main is `mqless::aws::serve::<T>()` (see `mqless new`)",
            dir.display()
        ));
    }
    let mut names = Vec::new();
    let mut sweeper = None;
    for (bin, executable) in build(dir, feature, &bins)? {
        let manifest = ask_manifest(&executable)?;
        if manifest.sweeper {
            sweeper = Some(bin);
        } else if let Some(actor_type) = manifest.actor_type {
            names.push(format!("{actor_type}={bin}"));
        }
    }
    names.sort();
    Ok(Functions {
        names: names.join(","),
        sweeper,
    })
}

/// The package's binaries whose `required-features` include `feature`.
fn function_bins(package: &Json, feature: &str) -> Vec<String> {
    let mut bins: Vec<String> = package["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|target| {
            target["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "bin"))
        })
        .filter(|target| {
            target["required-features"]
                .as_array()
                .is_some_and(|features| features.iter().any(|f| f == feature))
        })
        .filter_map(|target| target["name"].as_str().map(str::to_owned))
        .collect();
    bins.sort();
    bins
}

/// Builds `bins` (debug, as the emulator does) and returns each with its executable.
fn build(dir: &Path, feature: &str, bins: &[String]) -> Result<Vec<(String, PathBuf)>, String> {
    eprintln!("mqless dev: building {}", bins.join(", "));
    let mut command = Command::new(cargo());
    command
        .args([
            "build",
            "--message-format=json-render-diagnostics",
            "--features",
            feature,
        ])
        .current_dir(dir)
        .stderr(Stdio::inherit());
    for bin in bins {
        command.args(["--bin", bin]);
    }
    let out = command
        .output()
        .map_err(|error| format!("could not run cargo build: {error}"))?;
    if !out.status.success() {
        return Err(format!(
            "could not build the functions {} in {}",
            bins.join(", "),
            dir.display()
        ));
    }
    let mut built = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(message) = serde_json::from_str::<Json>(line) else {
            continue;
        };
        let name = message["target"]["name"].as_str().unwrap_or_default();
        if let (Some(executable), true) = (
            message["executable"].as_str(),
            bins.iter().any(|bin| bin == name),
        ) {
            built.push((name.to_owned(), PathBuf::from(executable)));
        }
    }
    Ok(built)
}
