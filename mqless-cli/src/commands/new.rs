//! `mqless new <name>`: a crate of one's own, ready to run, test and deploy: an actor
//! (`src/lib.rs`), a program running it on the embedded runtime (`examples/counter.rs`),
//! its Lambda function and the sweeper's (`src/bin/`, feature `aws`: every binary is a
//! function, so `mqless template` takes all of `target/lambda`), a test on the testing
//! kit (`tests/`), and how to deploy it (`README.md`, through `mqless template`).

use std::path::{Path, PathBuf};

use crate::NewArgs;

/// The crate's files: where each goes, and its template (`{{name}}`, `{{crate}}`,
/// `{{mqless}}` and `{{mqless_testing}}` are filled in).
const FILES: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../../templates/new/Cargo.toml.tmpl"),
    ),
    (
        "README.md",
        include_str!("../../templates/new/README.md.tmpl"),
    ),
    (
        ".gitignore",
        include_str!("../../templates/new/gitignore.tmpl"),
    ),
    (
        "src/lib.rs",
        include_str!("../../templates/new/lib.rs.tmpl"),
    ),
    (
        "examples/counter.rs",
        include_str!("../../templates/new/example.rs.tmpl"),
    ),
    (
        "src/bin/counter-function.rs",
        include_str!("../../templates/new/counter-function.rs.tmpl"),
    ),
    (
        "src/bin/sweeper-function.rs",
        include_str!("../../templates/new/sweeper-function.rs.tmpl"),
    ),
    (
        "tests/counter.rs",
        include_str!("../../templates/new/tests.rs.tmpl"),
    ),
];

/// Where MQLess comes from when `--path` and `--git` are not given: the `mqless` crate
/// of the checkout this command was built from, if it is still there, else the
/// repository.
const BUILT_FROM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../mqless");
const REPOSITORY: &str = "https://github.com/mqless/mqless";

/// Creates the crate; what to do next, to print.
pub(crate) fn run(args: &NewArgs) -> Result<String, String> {
    let name = valid_name(&args.name)?;
    let dir = args.dir.join(name);
    if dir.exists() {
        return Err(format!(
            "{} exists already: choose another name, or remove it",
            dir.display()
        ));
    }
    let source = source(args)?;
    let values = [
        ("{{name}}", name.to_owned()),
        ("{{crate}}", name.replace('-', "_")),
        ("{{mqless}}", format!("{{ {source} }}")),
        (
            "{{mqless_testing}}",
            format!("{{ {source}, features = [\"testing\"] }}"),
        ),
    ];
    for (path, template) in FILES {
        let text = values
            .iter()
            .fold((*template).to_owned(), |text, (key, value)| {
                text.replace(key, value)
            });
        write(&dir.join(path), &text)?;
    }
    Ok(format!(
        "created {shown} (MQLess from {source})\n\n  cd {shown}\n  cargo run --example counter   # the counter on the embedded runtime\n  cargo test                    # its tests, under injected faults too\n\nDeploying: {shown}/README.md",
        shown = dir.display()
    ))
}

/// `name` if it can name a crate and its library: ASCII letters, digits, `-` and `_`,
/// starting with a letter.
fn valid_name(name: &str) -> Result<&str, String> {
    let starts_with_letter = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    let allowed = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if starts_with_letter && allowed && name.len() <= 64 {
        Ok(name)
    } else {
        Err(format!(
            "`{name}` cannot name a crate: use ASCII letters, digits, `-` and `_`, starting with a letter (like `orders`)"
        ))
    }
}

/// The `mqless` dependency's source, as a `Cargo.toml` inline table's first entries.
fn source(args: &NewArgs) -> Result<String, String> {
    if let Some(git) = &args.git {
        return Ok(format!("git = {:?}", git));
    }
    let path = match &args.path {
        Some(path) => path.clone(),
        None if Path::new(BUILT_FROM).join("Cargo.toml").is_file() => PathBuf::from(BUILT_FROM),
        None => return Ok(format!("git = {REPOSITORY:?}")),
    };
    let manifest = path.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).map_err(|error| {
        format!(
            "--path {}: no `mqless` crate there ({error}); point it at the `mqless` directory of an MQLess checkout",
            path.display()
        )
    })?;
    if !text.lines().any(|line| line.trim() == "name = \"mqless\"") {
        return Err(format!(
            "--path {}: its Cargo.toml is not the `mqless` crate's; point it at the `mqless` directory of an MQLess checkout",
            path.display()
        ));
    }
    let absolute = path.canonicalize().map_err(|error| error.to_string())?;
    Ok(format!("path = {:?}", absolute.display().to_string()))
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|error| format!("create {}: {error}", parent.display()))?;
    }
    std::fs::write(path, text).map_err(|error| format!("write {}: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_before_anything_is_written() {
        for name in ["orders", "my-app", "app_2"] {
            assert_eq!(valid_name(name), Ok(name));
        }
        for name in ["", "2fast", "my app", "../escape", "naïve"] {
            let error = valid_name(name).unwrap_err();
            assert!(error.contains("cannot name a crate"), "{name}: {error}");
        }
    }

    #[test]
    fn every_placeholder_is_filled() {
        for (path, template) in FILES {
            let filled = ["{{name}}", "{{crate}}", "{{mqless}}", "{{mqless_testing}}"]
                .iter()
                .fold((*template).to_owned(), |text, key| text.replace(key, "x"));
            assert!(
                !filled.contains("{{"),
                "{path} has a placeholder nobody fills"
            );
        }
    }
}
