//! The README's code, as a new user would use it: the blocks marked
//! `<!-- readme-test: <path> -->` are written into a fresh crate outside this workspace
//! (the `mqless` git dependency pointed at this checkout), which must build, print what
//! the README says, and pass its tests. Offline, with this workspace's `Cargo.lock`, so
//! it resolves the same versions without the network.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const MARK: &str = "<!-- readme-test: ";
const GIT_SOURCE: &str = "git = \"https://github.com/mqless/mqless\"";

/// The marked blocks, by path; blocks for the same path are joined.
fn marked_blocks(readme: &str) -> BTreeMap<String, String> {
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        let Some(path) = line.strip_prefix(MARK).and_then(|r| r.strip_suffix(" -->")) else {
            continue;
        };
        let fence = lines.next().expect("a code block follows the mark");
        assert!(fence.starts_with("```"), "a code block follows {line}");
        let file = files.entry(path.to_owned()).or_default();
        for line in lines.by_ref().take_while(|l| !l.starts_with("```")) {
            file.push_str(line);
            file.push('\n');
        }
        file.push('\n');
    }
    files
}

fn cargo(dir: &Path, target: &Path, args: &[&str]) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(args)
        .args(["--offline", "--quiet"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .output()
        .expect("run cargo");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "`cargo {}` in the README's crate failed:\n{stdout}\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn the_readme_quickstart_and_testing_example_build_and_run_in_a_fresh_crate() {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned();
    let readme = std::fs::read_to_string(workspace.join("README.md")).unwrap();
    let files = marked_blocks(&readme);
    for path in [
        "Cargo.toml",
        "src/main.rs",
        "tests/faults.rs",
        "tests/group.rs",
        "tests/two_types.rs",
    ] {
        assert!(files.contains_key(path), "the README marks a {path} block");
    }
    let dir = workspace.join("target").join("readme-crate");
    let _ = std::fs::remove_dir_all(dir.join("src"));
    let _ = std::fs::remove_dir_all(dir.join("tests"));
    let mqless = workspace.join("mqless");
    for (path, text) in &files {
        let text = if path == "Cargo.toml" {
            assert!(
                text.contains(GIT_SOURCE),
                "the README's Cargo.toml uses {GIT_SOURCE}"
            );
            let source = format!("path = {:?}", mqless.display().to_string());
            format!(
                "[package]\nname = \"visits\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n# Not part of the MQLess workspace.\n[workspace]\n\n{}",
                text.replace(GIT_SOURCE, &source)
            )
        } else {
            text.clone()
        };
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }
    std::fs::copy(workspace.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    let target = workspace.join("target").join("readme-crate-target");

    let printed = cargo(&dir, &target, &["run"]);
    assert_eq!(
        printed.trim(),
        "visits: 6",
        "what the README says `cargo run` prints"
    );
    cargo(&dir, &target, &["test"]);
}
