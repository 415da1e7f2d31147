//! What a built function binary says about itself: run with `--mqless-manifest` (see
//! `mqless_runtime::aws::manifest`), it prints its actor type and whom it sends to.
//! `template` derives the deploy template from the answers, and `dev` the functions it
//! serves.

use std::path::Path;
use std::process::Command;

use mqless_runtime::aws::manifest::{Manifest, MANIFEST_FLAG};

/// The manifest of the function binary at `bootstrap`.
pub(crate) fn ask_manifest(bootstrap: &Path) -> Result<Manifest, String> {
    let output = Command::new(bootstrap)
        .arg(MANIFEST_FLAG)
        // Nothing it reads at start-up should change what it says about itself.
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .map_err(|e| {
            format!(
                "cannot run {} ({e}); was it built for another architecture? Build on (or for) this machine to generate the template",
                bootstrap.display()
            )
        })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.trim()).map_err(|_| {
        format!(
            "{} printed no MQLess manifest: is it an MQLess function (`mqless::aws::serve::<T>()` or `serve_sweeper()`) built with this version?",
            bootstrap.display()
        )
    })
}
