//! What a crate's `Cargo.toml` tells MQLess's commands: its package, as `cargo metadata`
//! reads it, and the key layout its table uses, `[package.metadata.mqless] key-layout`,
//! which `mqless new` writes (`v2`) and `mqless dev` and `mqless template` follow unless
//! `--key-layout` or `MQLESS_KEY_LAYOUT` says otherwise.

use std::path::Path;
use std::process::{Command, Stdio};

use mqless_runtime::aws::KeyLayout;
use serde_json::Value as Json;

/// The package whose `Cargo.toml` is in `dir`, as `cargo metadata` describes it.
pub(crate) fn read(dir: &Path) -> Result<Json, String> {
    find(dir)?.ok_or_else(|| format!("{} is not a package's folder", dir.display()))
}

/// The package whose `Cargo.toml` is in `dir`, if there is one (no `Cargo.toml`, or a
/// workspace's without a package, is none; a `Cargo.toml` cargo cannot read is an
/// error).
pub(crate) fn find(dir: &Path) -> Result<Option<Json>, String> {
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Ok(None);
    }
    let out = Command::new(cargo())
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(dir)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|error| format!("could not run cargo metadata: {error}"))?;
    if !out.status.success() {
        return Err(format!("cargo metadata failed in {}", dir.display()));
    }
    let metadata: Json = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    let manifest = manifest.canonicalize().unwrap_or(manifest);
    Ok(metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|package| {
            package["manifest_path"]
                .as_str()
                .is_some_and(|path| Path::new(path) == manifest)
        })
        .cloned())
}

/// The key layout that `package` declares for its table, if it declares one.
pub(crate) fn declared_layout(package: &Json) -> Result<Option<KeyLayout>, String> {
    let declared = &package["metadata"]["mqless"]["key-layout"];
    if declared.is_null() {
        return Ok(None);
    }
    let manifest = package["manifest_path"].as_str().unwrap_or("Cargo.toml");
    let name = declared.as_str().ok_or_else(|| {
        format!("{manifest}: [package.metadata.mqless] key-layout is a string (\"v1\" or \"v2\")")
    })?;
    name.parse()
        .map(Some)
        .map_err(|reason| format!("{manifest}: [package.metadata.mqless] key-layout: {reason}"))
}

/// The key layout a command uses, and a phrase that says what chose it: `flag` (`--key-layout`), else
/// `MQLESS_KEY_LAYOUT`, else what `package` declares, else v1 (a table made before
/// layouts were declared).
pub(crate) fn choose_layout(
    flag: Option<KeyLayout>,
    package: Option<&Json>,
) -> Result<(KeyLayout, &'static str), String> {
    if let Some(layout) = flag {
        return Ok((layout, "set by --key-layout"));
    }
    if std::env::var_os(KeyLayout::VARIABLE).is_some_and(|value| !value.is_empty()) {
        let layout = KeyLayout::from_env().map_err(|e| e.to_string())?;
        return Ok((layout, "set by MQLESS_KEY_LAYOUT"));
    }
    if let Some(layout) = package.map(declared_layout).transpose()?.flatten() {
        return Ok((layout, "as Cargo.toml declares ([package.metadata.mqless])"));
    }
    Ok((
        KeyLayout::default(),
        "the default for a stack that declares none (kept for stacks made before v2); a new stack should declare v2, `[package.metadata.mqless] key-layout = \"v2\"` in Cargo.toml, or pass --key-layout v2, so that IAM keeps senders out of the actors' records",
    ))
}

/// The cargo that runs this command (`CARGO`, as cargo sets it), else `cargo`.
pub(crate) fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(metadata: Json) -> Json {
        serde_json::json!({"manifest_path": "/app/Cargo.toml", "metadata": metadata})
    }

    #[test]
    fn a_package_declares_its_layout_in_its_metadata() {
        let v2 = package(serde_json::json!({"mqless": {"key-layout": "v2"}}));
        assert_eq!(declared_layout(&v2), Ok(Some(KeyLayout::V2)));
        assert_eq!(declared_layout(&package(Json::Null)), Ok(None));
        let other = package(serde_json::json!({"docs": {"rs": true}}));
        assert_eq!(declared_layout(&other), Ok(None));
        let wrong = package(serde_json::json!({"mqless": {"key-layout": "v3"}}));
        let error = declared_layout(&wrong).unwrap_err();
        assert!(
            error.starts_with("/app/Cargo.toml: [package.metadata.mqless] key-layout"),
            "{error}"
        );
        let number = package(serde_json::json!({"mqless": {"key-layout": 2}}));
        assert!(declared_layout(&number)
            .unwrap_err()
            .contains("is a string"));
    }

    #[test]
    fn the_flag_then_the_variable_then_the_crate_choose_the_layout() {
        let v2 = package(serde_json::json!({"mqless": {"key-layout": "v2"}}));
        assert_eq!(
            choose_layout(Some(KeyLayout::V1), Some(&v2)),
            Ok((KeyLayout::V1, "set by --key-layout"))
        );
        // The variable is read only when set; the tests of this binary leave it unset.
        if std::env::var_os(KeyLayout::VARIABLE).is_none() {
            assert_eq!(choose_layout(None, Some(&v2)).unwrap().0, KeyLayout::V2);
            assert_eq!(choose_layout(None, None).unwrap().0, KeyLayout::V1);
        }
    }
}
