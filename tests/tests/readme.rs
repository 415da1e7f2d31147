//! The README's and the guide's code, as a new user would use it: the blocks marked
//! `<!-- readme-test: <path> -->` in `README.md` and `docs/guide/*.md` (in that order,
//! the guide's pages by name) are written into a fresh crate outside this workspace
//! (the `mqless` git dependency pointed at this checkout), which must build, print what
//! the README says, and pass its tests. Offline, with this workspace's `Cargo.lock`, so
//! it resolves the same versions without the network.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mqless_tests::fresh_crate::cargo;

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

/// The README, then every page of the guide by name, as one text.
fn documents(workspace: &Path) -> String {
    let mut pages: Vec<PathBuf> = std::fs::read_dir(workspace.join("docs/guide"))
        .expect("docs/guide")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    let mut text = std::fs::read_to_string(workspace.join("README.md")).unwrap();
    for page in pages {
        text.push('\n');
        text.push_str(&std::fs::read_to_string(page).unwrap());
    }
    text
}

#[test]
fn the_readme_quickstart_and_testing_example_build_and_run_in_a_fresh_crate() {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned();
    let files = marked_blocks(&documents(&workspace));
    for path in [
        "Cargo.toml",
        "src/main.rs",
        "tests/faults.rs",
        "tests/group.rs",
        "tests/two_types.rs",
        "tests/clock.rs",
        "tests/shutdown.rs",
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
