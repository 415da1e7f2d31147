//! `--client NAME=Type,...`: a client policy of its own for one kind of client, which may
//! queue into, ask, read and wake the actors of those types only. `ClientPolicy` grants
//! every type of the stack; a client that sends to some of them gets only what it needs.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value as Json};

use super::iam::{self, Directory};

/// One `--client` flag, checked against the stack's actor types.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct ClientGrant<'a> {
    /// The policy's name: its resource is `<name>ClientPolicy`, its output
    /// `<name>ClientPolicyArn`.
    name: &'a str,
    /// The actor types it may send to.
    types: BTreeSet<&'a str>,
}

/// Parses the `--client` flags: each `NAME=Type,Type`, a name of ASCII letters and
/// digits that starts with a letter (a CloudFormation logical id), used once, and types
/// the stack runs.
pub(super) fn parse<'a>(
    flags: &'a [String],
    directory: &Directory<'_>,
) -> Result<Vec<ClientGrant<'a>>, String> {
    let known: BTreeSet<&str> = directory.types().collect();
    let mut grants: Vec<ClientGrant<'a>> = Vec::new();
    for flag in flags {
        let usage = format!(
            "--client {flag:?}: write NAME=Type[,Type...], for example --client Shop=Order,Wallet"
        );
        let (name, types) = flag.split_once('=').ok_or_else(|| usage.clone())?;
        let named = name.len() <= 64
            && name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name.chars().all(|c| c.is_ascii_alphanumeric());
        if !named {
            return Err(format!("{usage}; NAME is 1 to 64 ASCII letters and digits, starting with a letter (it names the policy, `<NAME>ClientPolicy`)"));
        }
        if grants.iter().any(|grant| grant.name == name) {
            return Err(format!(
                "--client {name}=...: given twice; one flag per client, listing all its types"
            ));
        }
        let types: BTreeSet<&str> = types.split(',').map(str::trim).collect();
        if let Some(unknown) = types.iter().find(|t| !known.contains(*t)) {
            let known: Vec<&str> = known.iter().copied().collect();
            return Err(format!(
                "--client {flag:?}: no function of this stack runs `{unknown}` (its types: {})",
                known.join(", ")
            ));
        }
        grants.push(ClientGrant { name, types });
    }
    Ok(grants)
}

/// The policies of `grants`, by logical id.
pub(super) fn resources(
    grants: &[ClientGrant<'_>],
    directory: &Directory<'_>,
) -> Map<String, Json> {
    grants
        .iter()
        .map(|grant| {
            let types: Vec<&str> = grant.types.iter().copied().collect();
            let description = format!(
                "Send to the MQLess actors {} of this stack",
                types.join(", ")
            );
            (
                format!("{}ClientPolicy", grant.name),
                iam::client_policy(directory, &grant.types, &description),
            )
        })
        .collect()
}

/// The outputs that name `grants`' policies.
pub(super) fn outputs(grants: &[ClientGrant<'_>]) -> Map<String, Json> {
    grants
        .iter()
        .map(|grant| {
            let types: Vec<&str> = grant.types.iter().copied().collect();
            (
                format!("{}ClientPolicyArn", grant.name),
                json!({
                    "Description": format!("Attach to what sends to {} only", types.join(", ")),
                    "Value": {"Ref": format!("{}ClientPolicy", grant.name)}
                }),
            )
        })
        .collect()
}
