//! Least-privilege IAM for the template, from the functions' manifests: an actor's
//! function may read and write its own type's partitions, put mailbox items (and nothing
//! else) into the mailboxes of the types it sends to or whose asks it answers, and
//! invoke only those types' functions and its own. In key layout v2 mailboxes are
//! partitions of their own (`m/Type/id`), so "put into a mailbox" no longer reaches the
//! actor's record, replies or dead letters; and so are the replies to clients
//! (`r/Type/id/<asker>`), which only the actor's function writes and only the asker (its
//! IAM `aws:userid`) reads; and so are each subscriber type's subscriptions to a topic
//! (`t/<topic>/Type`), which only that type's function writes and the events function
//! reads.

use std::collections::BTreeSet;

use mqless_runtime::aws::dynamodb::schema::{
    COMMITTED_STATE_ATTRIBUTES, DEAD_LETTER_ATTRIBUTES, QUEUED_KEY_ATTRIBUTES,
};
use mqless_runtime::aws::KeyLayout;
use serde_json::{json, Value as Json};

use super::Function;

/// The actor functions, by type, and the table's key layout.
pub(super) struct Directory<'a> {
    actors: Vec<&'a Function>,
    layout: KeyLayout,
}

impl<'a> Directory<'a> {
    pub(super) fn new(actors: &[&'a Function], layout: KeyLayout) -> Self {
        Self {
            actors: actors.to_vec(),
            layout,
        }
    }

    /// `dynamodb:LeadingKeys` patterns of the mailboxes of `types`.
    fn mailbox_keys(&self, types: &BTreeSet<&str>) -> Json {
        if self.layout.apart() {
            Json::Array(types.iter().map(|t| json!(format!("m/{t}/*"))).collect())
        } else {
            leading_keys(types)
        }
    }

    pub(super) fn types(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.actors
            .iter()
            .filter_map(|f| f.manifest.actor_type.as_deref())
    }

    fn function_of(&self, actor_type: &str) -> Option<&'a Function> {
        self.actors
            .iter()
            .copied()
            .find(|f| f.manifest.actor_type.as_deref() == Some(actor_type))
    }

    /// `MQLESS_FUNCTIONS`: every actor type and its function's name.
    pub(super) fn functions_variable(&self) -> Json {
        let entries: Vec<String> = self
            .actors
            .iter()
            .filter_map(|f| {
                let actor_type = f.manifest.actor_type.as_deref()?;
                Some(format!("{actor_type}=${{AWS::StackName}}-{}", f.bin))
            })
            .collect();
        json!({"Fn::Sub": entries.join(",")})
    }

    fn arn(function: &Function) -> Json {
        json!({"Fn::Sub": format!(
            "arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:${{AWS::AccountId}}:function:${{AWS::StackName}}-{}",
            function.bin
        )})
    }

    fn every_arn(&self) -> Vec<Json> {
        self.actors.iter().map(|f| Self::arn(f)).collect()
    }

    /// The types whose mailboxes `actor_type`'s handlers write: the ones it sends to, and
    /// the askers whose `reply_to` asks it answers. `None`: every type (an actor without
    /// a recorded list).
    fn writes_to(&self, actor_type: &str) -> Result<BTreeSet<&str>, String> {
        let function = self
            .function_of(actor_type)
            .ok_or_else(|| format!("no function runs `{actor_type}`"))?;
        let mut targets: BTreeSet<&str> = match &function.manifest.sends_to {
            Some(sends_to) => sends_to.iter().map(String::as_str).collect(),
            None => self.types().collect(),
        };
        // Topics never answer `reply_to` asks: a publisher that asks other types gets
        // no grant into its mailbox from the events function.
        let answers_asks = actor_type != mqless_runtime::events::TOPIC_TYPE;
        for asker in self.actors.iter().filter(|_| answers_asks) {
            let asks_us = asker
                .manifest
                .sends_to
                .as_ref()
                .is_some_and(|to| to.iter().any(|t| t == actor_type));
            if asker.manifest.asks_with_reply_to && asks_us {
                targets.extend(asker.manifest.actor_type.as_deref());
            }
        }
        targets.remove(actor_type);
        if let Some(missing) = targets.iter().find(|t| self.function_of(t).is_none()) {
            return Err(format!(
                "`{actor_type}` sends to `{missing}`, but no built function runs `{missing}`: build its function too (`cargo lambda build --release --bin <its function>`), then generate again"
            ));
        }
        Ok(targets)
    }
}

fn leading_keys(types: &BTreeSet<&str>) -> Json {
    Json::Array(types.iter().map(|t| json!(format!("{t}/*"))).collect())
}

/// The inline policy of `actor_type`'s function.
pub(super) fn actor_policies(directory: &Directory<'_>, actor_type: &str) -> Result<Json, String> {
    let own = BTreeSet::from([actor_type]);
    let others = directory.writes_to(actor_type)?;
    let mut own_keys = leading_keys(&own);
    if let (true, Some(keys)) = (directory.layout.apart(), own_keys.as_array_mut()) {
        // Its own mailboxes (read, consumed messages deleted, messages to itself), and
        // the replies it writes to its clients' asks.
        keys.extend(
            directory
                .mailbox_keys(&own)
                .as_array()
                .into_iter()
                .flatten()
                .cloned(),
        );
        keys.push(json!(format!("r/{actor_type}/*")));
    }
    let mut statements = vec![json!({
        "Sid": "OwnActors",
        "Effect": "Allow",
        "Action": [
            "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
            "dynamodb:Query", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem"
        ],
        "Resource": {"Fn::GetAtt": ["Table", "Arn"]},
        "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": own_keys}}
    })];
    let function = directory
        .function_of(actor_type)
        .ok_or_else(|| format!("no function runs `{actor_type}`"))?;
    if directory.layout.apart() {
        statements.extend(subscription_statements(function, actor_type));
    }
    let mut invokes = vec![Directory::arn(function)];
    if !others.is_empty() {
        statements.push(json!({
            "Sid": "MailboxesItSendsTo",
            "Effect": "Allow",
            "Action": "dynamodb:PutItem",
            "Resource": {"Fn::GetAtt": ["Table", "Arn"]},
            "Condition": {
                "ForAllValues:StringLike": {"dynamodb:LeadingKeys": directory.mailbox_keys(&others)},
                // `dsh` and `dk`: a scheduled message's entry in the due index.
                "ForAllValues:StringEquals": {"dynamodb:Attributes": ["pk", "sk", "env", "dsh", "dk"]}
            }
        }));
        statements.push(mark_unwoken(&directory.mailbox_keys(&others)));
        invokes.extend(
            others
                .iter()
                .filter_map(|t| directory.function_of(t))
                .map(Directory::arn),
        );
    }
    statements.push(json!({
        "Sid": "WakeActors",
        "Effect": "Allow",
        "Action": "lambda:InvokeFunction",
        "Resource": invokes
    }));
    Ok(json!([{"Version": "2012-10-17", "Statement": statements}]))
}

/// Where subscriptions are apart: an actor type's function writes its own
/// subscriptions (in its commits' transactions: put, delete), in its partition of each
/// topic it subscribes to one actor at a time; the events function reads every topic's.
fn subscription_statements(function: &Function, actor_type: &str) -> Option<Json> {
    if function.manifest.events {
        return Some(json!({
            "Sid": "ReadSubscriptions",
            "Effect": "Allow",
            "Action": ["dynamodb:Query", "dynamodb:GetItem"],
            "Resource": {"Fn::GetAtt": ["Table", "Arn"]},
            "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["t/*"]}}
        }));
    }
    let topics = &function.manifest.subscribes_to;
    if topics.is_empty() {
        return None;
    }
    let keys: Vec<Json> = topics
        .iter()
        .map(|topic| json!(format!("t/{topic}/{actor_type}")))
        .collect();
    Some(json!({
        "Sid": "OwnSubscriptions",
        "Effect": "Allow",
        "Action": ["dynamodb:PutItem", "dynamodb:DeleteItem"],
        "Resource": {"Fn::GetAtt": ["Table", "Arn"]},
        "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": keys}}
    }))
}

/// The sweeper's: read the due and quarantined indexes, keep its cursor, scan the table
/// for the audit, wake any actor.
pub(super) fn sweeper_policies(directory: &Directory<'_>) -> Json {
    json!([{"Version": "2012-10-17", "Statement": [
        {"Sid": "ReadDueIndex", "Effect": "Allow", "Action": "dynamodb:Query",
         "Resource": [
            {"Fn::Sub": "${Table.Arn}/index/due"},
            {"Fn::Sub": "${Table.Arn}/index/quarantined"}
         ]},
        {"Sid": "Cursor", "Effect": "Allow",
         "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"],
         "Resource": {"Fn::GetAtt": ["Table", "Arn"]},
         "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["~sweeper"]}}},
        // The stack's key layout, recorded once in a table that records none (a table
        // the template made: CloudFormation writes no items).
        {"Sid": "ReadKeyLayout", "Effect": "Allow", "Action": "dynamodb:GetItem",
         "Resource": {"Fn::GetAtt": ["Table", "Arn"]},
         "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [LAYOUT_RECORD]}}},
        {"Sid": "RecordKeyLayout", "Effect": "Allow", "Action": "dynamodb:PutItem",
         "Resource": {"Fn::GetAtt": ["Table", "Arn"]},
         "Condition": {"ForAllValues:StringEquals": {
            "dynamodb:LeadingKeys": [LAYOUT_RECORD],
            "dynamodb:Attributes": ["pk", "sk", "kl"]
         }}},
        {"Sid": "Audit", "Effect": "Allow", "Action": "dynamodb:Scan",
         "Resource": {"Fn::GetAtt": ["Table", "Arn"]}},
        {"Sid": "WakeActors", "Effect": "Allow", "Action": "lambda:InvokeFunction",
         "Resource": directory.every_arn()}
    ]}])
}

/// Marks a message queued for an actor whose wake-up failed, for the sweep: an update
/// of the mailbox item's due-index attributes, and of nothing else, in the partitions
/// `mailboxes` (in key layout v1 those are the actors' own partitions, records included).
fn mark_unwoken(mailboxes: &Json) -> Json {
    json!({
        "Sid": "MarkUnwoken",
        "Effect": "Allow",
        "Action": "dynamodb:UpdateItem",
        "Resource": {"Fn::GetAtt": ["Table", "Arn"]},
        "Condition": {
            "ForAllValues:StringLike": {"dynamodb:LeadingKeys": mailboxes},
            "ForAllValues:StringEquals": {"dynamodb:Attributes": ["pk", "sk", "dsh", "dk"]}
        }
    })
}

/// For what sends to the actors of `types` from outside (`Remote` clients, other
/// languages): queue messages, read replies and state, wake their functions, and read
/// the key layout the table records. In key layout v2 its writes reach those types'
/// mailboxes only (message attributes only); v1 cannot tell a mailbox item's key from
/// the actor's record's, so there it may write anything in those types' partitions.
pub(super) fn client_policy(
    directory: &Directory<'_>,
    types: &BTreeSet<&str>,
    description: &str,
) -> Json {
    let mailboxes = directory.mailbox_keys(types);
    let mut statements = if directory.layout.apart() {
        client_access_apart(types, &mailboxes, directory.layout == KeyLayout::V2)
    } else {
        vec![json!({"Sid": "Actors", "Effect": "Allow",
         "Action": ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Query"],
         "Resource": {"Fn::GetAtt": ["Table", "Arn"]},
         "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": leading_keys(types)}}})]
    };
    // What a client not told its layout reads when it starts; only operators write it.
    statements.push(json!({"Sid": "TableKeyLayout", "Effect": "Allow",
        "Action": "dynamodb:GetItem",
        "Resource": {"Fn::GetAtt": ["Table", "Arn"]},
        "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [LAYOUT_RECORD]}}}));
    statements.push(mark_unwoken(&mailboxes));
    let functions: Vec<Json> = types
        .iter()
        .filter_map(|t| directory.function_of(t))
        .map(Directory::arn)
        .collect();
    statements.push(json!({"Sid": "WakeActors", "Effect": "Allow",
        "Action": "lambda:InvokeFunction", "Resource": functions}));
    json!({
        "Type": "AWS::IAM::ManagedPolicy",
        "Properties": {
            "Description": description,
            "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}
        }
    })
}

/// The partition key of the key layout the table records (`mqless table create`), which
/// a client not told its layout reads.
const LAYOUT_RECORD: &str = "~table";

/// A client's table access where mailboxes and replies are apart (v2, and the way to
/// it): queue into the mailboxes of `types` (message attributes only), read those actors
/// and mailboxes, and read its own replies from them only.
fn client_access_apart(types: &BTreeSet<&str>, mailboxes: &Json, v2: bool) -> Vec<Json> {
    // The actors' records and dead letters, by the attributes a client reads of them
    // (never a record's bookkeeping, which holds its last batch's replies to anyone),
    // and the mailboxes; never a reply partition (`r/...`) but the client's own. On the
    // way to v2, the actors' partitions still hold v1's mailboxes, which clients of
    // earlier versions read whole (`Remote::settle`): their records too, then, as in v1.
    let records: Vec<Json> = types.iter().map(|t| json!(format!("{t}/*"))).collect();
    let mut attributes: Vec<&str> = COMMITTED_STATE_ATTRIBUTES.to_vec();
    attributes.extend(DEAD_LETTER_ATTRIBUTES);
    attributes.sort_unstable();
    attributes.dedup();
    let records_read = reads_of(&json!(records), v2.then_some(&attributes[..]));
    // The mailboxes by their messages' keys and due times (`Remote::settle`, a lost
    // put's settling read), never the envelopes: one client's queued request is not
    // another's to read.
    let mailboxes_read = reads_of(mailboxes, v2.then_some(&QUEUED_KEY_ATTRIBUTES[..]));
    // The asker is the last segment of a reply's partition key and holds no `/`, so
    // these match the replies to this principal's asks only.
    let replies: Vec<Json> = types
        .iter()
        .map(|t| json!(format!("r/{t}/*/${{aws:userid}}")))
        .collect();
    vec![
        json!({"Sid": "Mailboxes", "Effect": "Allow", "Action": "dynamodb:PutItem",
        "Resource": {"Fn::GetAtt": ["Table", "Arn"]},
        "Condition": {
           "ForAllValues:StringLike": {"dynamodb:LeadingKeys": mailboxes},
           "ForAllValues:StringEquals": {"dynamodb:Attributes": ["pk", "sk", "env", "dsh", "dk"]}
        }}),
        json!({"Sid": "ReadRecords", "Effect": "Allow",
         "Action": ["dynamodb:GetItem", "dynamodb:Query"],
         "Resource": {"Fn::GetAtt": ["Table", "Arn"]},
         "Condition": records_read}),
        json!({"Sid": "ReadMailboxes", "Effect": "Allow",
         "Action": ["dynamodb:GetItem", "dynamodb:Query"],
         "Resource": {"Fn::GetAtt": ["Table", "Arn"]},
         "Condition": mailboxes_read}),
        json!({"Sid": "OwnReplies", "Effect": "Allow", "Action": "dynamodb:GetItem",
         "Resource": {"Fn::GetAtt": ["Table", "Arn"]},
         "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": replies}}}),
    ]
}

/// The condition of reads of the partitions `keys` (`StringLike` patterns): of
/// `attributes` only when given (`dynamodb:Select`, where a request names it, must then
/// be `SPECIFIC_ATTRIBUTES`, as AWS documents, or a whole item would pass), else whole.
fn reads_of(keys: &Json, attributes: Option<&[&str]>) -> Json {
    match attributes {
        Some(attributes) => json!({
            "ForAllValues:StringLike": {"dynamodb:LeadingKeys": keys},
            "ForAllValues:StringEquals": {"dynamodb:Attributes": attributes},
            "StringEqualsIfExists": {"dynamodb:Select": "SPECIFIC_ATTRIBUTES"}
        }),
        None => json!({"ForAllValues:StringLike": {"dynamodb:LeadingKeys": keys}}),
    }
}

/// For whoever runs the `mqless` command: every operation on the table and its index,
/// and invoking the functions (send, redrive, doctor).
pub(super) fn operator_policy() -> Json {
    json!({
        "Type": "AWS::IAM::ManagedPolicy",
        "Properties": {
            "Description": "Operate the MQLess actors of this stack with the mqless command",
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Sid": "Table", "Effect": "Allow",
                 "Action": [
                    "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:Scan",
                    "dynamodb:BatchWriteItem", "dynamodb:DescribeTable",
                    "dynamodb:DescribeTimeToLive"
                 ],
                 "Resource": [
                    {"Fn::GetAtt": ["Table", "Arn"]},
                    {"Fn::Sub": "${Table.Arn}/index/actors"},
                    {"Fn::Sub": "${Table.Arn}/index/due"},
                    {"Fn::Sub": "${Table.Arn}/index/quarantined"}
                 ]},
                {"Sid": "Functions", "Effect": "Allow", "Action": "lambda:InvokeFunction",
                 "Resource": {"Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-*"}}
            ]}
        }
    })
}
