//! `mqless new`, as a user runs it: the crate it creates builds offline in a directory of
//! its own, its example prints what its README says, and its tests pass. (The Lambda
//! functions, feature `aws`, are built and templated by `scripts/test`'s release step.)
// A failed step should stop the test with its message, as `assert!` does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_owned()
}

fn mqless(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mqless"))
        .args(args)
        .output()
        .expect("run mqless")
}

/// `cargo <args>` in the new crate `dir`, offline, into the target directory the readme
/// test uses (the same dependencies, built once).
fn cargo(dir: &Path, args: &[&str]) -> String {
    let target = workspace().join("target").join("readme-crate-target");
    mqless_tests::fresh_crate::cargo(dir, &target, args)
}

#[test]
fn a_new_crate_runs_and_passes_its_tests() {
    // Outside the workspace, as a user's crate is (inside, cargo would take it for a
    // member of this workspace).
    let parent = std::env::temp_dir().join(format!("mqless-new-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&parent);
    std::fs::create_dir_all(&parent).unwrap();
    let dir = parent.to_str().unwrap();

    let created = mqless(&["new", "shop-floor", "--dir", dir]);
    let said = String::from_utf8_lossy(&created.stdout);
    assert!(
        created.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let app = parent.join("shop-floor");
    assert!(
        said.contains("cargo test"),
        "it says what to run next: {said}"
    );
    for file in [
        "Cargo.toml",
        "README.md",
        ".gitignore",
        "src/lib.rs",
        "examples/counter.rs",
        "src/bin/counter-function.rs",
        "src/bin/sweeper-function.rs",
        "tests/counter.rs",
    ] {
        assert!(app.join(file).is_file(), "it writes {file}");
    }
    let manifest = std::fs::read_to_string(app.join("Cargo.toml")).unwrap();
    let checkout = workspace().join("mqless").canonicalize().unwrap();
    assert!(
        manifest.contains(&format!("path = {:?}", checkout.display().to_string())),
        "built from a checkout, it depends on that checkout's mqless:\n{manifest}"
    );
    assert!(
        manifest.contains("[package.metadata.mqless]\nkey-layout = \"v2\""),
        "a new crate's table is in key layout v2, which mqless dev and template follow:\n{manifest}"
    );
    // The workspace's versions, so that it resolves offline here.
    std::fs::copy(workspace().join("Cargo.lock"), app.join("Cargo.lock")).unwrap();

    assert_eq!(
        cargo(&app, &["run", "--example", "counter"]).trim(),
        "visits: 6"
    );
    let tested = cargo(&app, &["test", "--", "--test-threads", "2"]);
    assert!(!tested.contains("FAILED"), "{tested}");

    // Refused, with the reason, and nothing written.
    let again = mqless(&["new", "shop-floor", "--dir", dir]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
    let bad = mqless(&["new", "9lives", "--dir", dir]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("cannot name a crate"));
    assert!(!parent.join("9lives").exists());
    let elsewhere = mqless(&["new", "other", "--dir", dir, "--path", "/nonexistent"]);
    assert!(String::from_utf8_lossy(&elsewhere.stderr).contains("no `mqless` crate there"));
    assert!(!parent.join("other").exists());
    let _ = std::fs::remove_dir_all(&parent);
}
