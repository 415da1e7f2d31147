//! Writes the Rust blocks of the README and the guide (`docs/guide/*.md`) that the readme
//! test does not build (those without a `<!-- readme-test: <path> -->` mark) into
//! `$OUT_DIR/guide_blocks.rs`, each in a module of its own, which `src/lib.rs` compiles
//! in its tests: a block that stops compiling against the workspace fails `cargo test`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let root = manifest.parent().expect("the workspace").to_owned();
    let guide = root.join("docs").join("guide");
    println!("cargo::rerun-if-changed={}", guide.display());
    let mut documents = vec![root.join("README.md")];
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&guide)
        .expect("docs/guide")
        .map(|entry| entry.expect("a page").path())
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    documents.extend(pages);
    let mut out = String::new();
    for document in &documents {
        println!("cargo::rerun-if-changed={}", document.display());
        let text = std::fs::read_to_string(document).expect("a document");
        write_blocks(&mut out, &root, document, &text);
    }
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"));
    std::fs::write(out_dir.join("guide_blocks.rs"), out).expect("write guide_blocks.rs");
}

/// Appends `text`'s unmarked Rust blocks to `out`, one module each, named after the
/// document and the line the block starts on.
fn write_blocks(out: &mut String, root: &Path, document: &Path, text: &str) {
    let name = document
        .strip_prefix(root)
        .unwrap_or(document)
        .display()
        .to_string();
    let stem: String = name
        .trim_end_matches(".md")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let lines: Vec<&str> = text.lines().collect();
    let mut at = 0;
    while at < lines.len() {
        if lines[at].trim_end() != "```rust" {
            at += 1;
            continue;
        }
        let marked = at > 0 && lines[at - 1].starts_with("<!-- readme-test:");
        let body = at + 1;
        let end = (body..lines.len())
            .find(|&i| lines[i].starts_with("```"))
            .unwrap_or_else(|| panic!("{name}, line {}: a Rust block that never ends", at + 1));
        if !marked {
            let _ = writeln!(out, "/// {name}, line {}.", at + 1);
            let _ = writeln!(
                out,
                "#[allow(warnings, clippy::all, clippy::pedantic)]\nmod {stem}_line_{} {{",
                at + 1
            );
            for line in &lines[body..end] {
                let _ = writeln!(out, "{line}");
            }
            let _ = writeln!(out, "}}\n");
        }
        at = end + 1;
    }
}
