//! A model of IAM's policy evaluation, for the statements the template writes, so its
//! tests can ask "may this role make this request?" of the policies as written. Nothing
//! that runs here evaluates IAM for DynamoDB with conditions (moto's IAM mode ignores
//! them: `../shared/LOCAL-STACK.md`), so the rules the template relies on are modelled
//! as AWS documents them:
//!
//! - a request is allowed when a statement allows it and none denies it;
//! - a statement matches when its actions, its resources and every one of its condition
//!   operators match (values within an operator: any one);
//! - `ForAllValues:` holds when every value of the request's key matches one of the
//!   statement's values, and also when the request has no value for the key; an
//!   operator ending in `IfExists` holds too when the request has no value for it;
//! - `StringLike` takes `*` and `?`; actions match without regard to case;
//! - `dynamodb:LeadingKeys` is the request's partition key; `dynamodb:Attributes` the
//!   attribute names it writes or reads, its key attributes included; a read of a whole
//!   item names none and has `dynamodb:Select` `ALL_ATTRIBUTES` (AWS's example policy
//!   for attribute-level reads relies on that: `StringEqualsIfExists` on
//!   `dynamodb:Select` with `SPECIFIC_ATTRIBUTES`);
//! - the policy variable `${aws:userid}` in a condition's value is the requesting
//!   principal's user id ([`Request::by`]).
//!
//! Intrinsic functions are resolved for one stack (`app`, account `123456789012`,
//! `us-east-1`): `Fn::GetAtt Table.Arn`, `Fn::Sub` of pseudo parameters and the table's
//! ARN, and `Ref` of a parameter to a placeholder ARN.

use serde_json::Value as Json;

/// The stack's table, as `Fn::GetAtt: [Table, Arn]` resolves.
pub(super) const TABLE: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/app-Table";

/// A request: an action on a resource, with the condition keys IAM gives it.
#[derive(Debug, Clone)]
pub(super) struct Request {
    pub(super) action: String,
    pub(super) resource: String,
    pub(super) keys: Vec<(String, Vec<String>)>,
    /// The principal's `aws:userid`.
    pub(super) userid: String,
}

/// The user id of a request's principal unless [`Request::by`] says otherwise.
pub(super) const REQUESTER: &str = "AROAREQUESTER:session";

impl Request {
    /// A DynamoDB request on the table: `action` (`PutItem`) on the item of partition
    /// key `pk`, writing or reading `attributes` (the key attributes are added).
    pub(super) fn item(action: &str, pk: &str, attributes: &[&str]) -> Self {
        let mut names = vec!["pk".to_owned(), "sk".to_owned()];
        names.extend(attributes.iter().map(|a| (*a).to_owned()));
        Self {
            action: format!("dynamodb:{action}"),
            resource: TABLE.to_owned(),
            keys: vec![
                ("dynamodb:LeadingKeys".into(), vec![pk.to_owned()]),
                ("dynamodb:Attributes".into(), names),
            ],
            userid: REQUESTER.to_owned(),
        }
    }

    /// A read of the whole item (no `ProjectionExpression`): DynamoDB gives it no
    /// `dynamodb:Attributes`, and `dynamodb:Select` `ALL_ATTRIBUTES`.
    pub(super) fn whole_item(action: &str, pk: &str) -> Self {
        Self {
            action: format!("dynamodb:{action}"),
            resource: TABLE.to_owned(),
            keys: vec![
                ("dynamodb:LeadingKeys".into(), vec![pk.to_owned()]),
                ("dynamodb:Select".into(), vec!["ALL_ATTRIBUTES".to_owned()]),
            ],
            userid: REQUESTER.to_owned(),
        }
    }

    /// This request, made by the principal whose `aws:userid` is `userid`.
    pub(super) fn by(mut self, userid: &str) -> Self {
        userid.clone_into(&mut self.userid);
        self
    }

    /// A request on `resource` without condition keys (an index query, an invoke).
    pub(super) fn on(action: &str, resource: &str) -> Self {
        Self {
            action: action.to_owned(),
            resource: resource.to_owned(),
            keys: Vec::new(),
            userid: REQUESTER.to_owned(),
        }
    }
}

/// Whether the policy documents `policies` allow `request`.
pub(super) fn allows(policies: &[Json], request: &Request) -> bool {
    let statements: Vec<&Json> = policies
        .iter()
        .filter_map(|policy| policy["Statement"].as_array())
        .flatten()
        .collect();
    let matching = |effect: &str| {
        statements
            .iter()
            .any(|s| s["Effect"] == effect && matches(s, request))
    };
    !matching("Deny") && matching("Allow")
}

fn matches(statement: &Json, request: &Request) -> bool {
    let actions = strings(&statement["Action"]);
    let resources = strings(&statement["Resource"]);
    actions
        .iter()
        .any(|a| like(&a.to_lowercase(), &request.action.to_lowercase()))
        && resources.iter().any(|r| like(r, &request.resource))
        && statement["Condition"].as_object().is_none_or(|conditions| {
            conditions
                .iter()
                .all(|(operator, keys)| condition(operator, keys, request))
        })
}

/// One condition operator's block: every key in it must hold.
fn condition(operator: &str, keys: &Json, request: &Request) -> bool {
    // `...IfExists`: holds as well when the request has no value for the key.
    let (operator, if_exists) = match operator.strip_suffix("IfExists") {
        Some(operator) => (operator, true),
        None => (operator, false),
    };
    let (for_all, test) = match operator.split_once(':') {
        Some(("ForAllValues", test)) => (true, test),
        Some(("ForAnyValue", test)) => (false, test),
        _ => (false, operator),
    };
    let compare = |pattern: &str, value: &str| match test {
        "StringEquals" => pattern.replace("${aws:userid}", &request.userid) == value,
        "StringLike" => like(&pattern.replace("${aws:userid}", &request.userid), value),
        other => panic!("the policy model does not know the operator {other}: add it"),
    };
    keys.as_object().is_some_and(|keys| {
        keys.iter().all(|(key, patterns)| {
            let patterns = strings(patterns);
            let values: &[String] = request
                .keys
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map_or(&[], |(_, v)| v);
            if if_exists && values.is_empty() {
                return true;
            }
            let one = |value: &String| patterns.iter().any(|p| compare(p, value));
            if for_all {
                values.iter().all(one)
            } else {
                values.iter().any(one)
            }
        })
    })
}

/// A statement's `Action` or `Resource` (or a condition's values): one or a list, each
/// resolved for the stack.
fn strings(value: &Json) -> Vec<String> {
    match value {
        Json::Array(items) => items.iter().map(resolve).collect(),
        Json::Null => Vec::new(),
        one => vec![resolve(one)],
    }
}

fn resolve(value: &Json) -> String {
    if let Some(text) = value.as_str() {
        return text.to_owned();
    }
    if value["Fn::GetAtt"] == serde_json::json!(["Table", "Arn"]) {
        return TABLE.to_owned();
    }
    if let Some(text) = value["Fn::Sub"].as_str() {
        return text
            .replace("${Table.Arn}", TABLE)
            .replace("${AWS::Partition}", "aws")
            .replace("${AWS::Region}", "us-east-1")
            .replace("${AWS::AccountId}", "123456789012")
            .replace("${AWS::StackName}", "app");
    }
    if let Some(parameter) = value["Ref"].as_str() {
        return format!("arn:aws:parameter:::{parameter}");
    }
    panic!("the policy model cannot resolve {value}: add it")
}

/// IAM's `StringLike`: `*` any run of characters, `?` any one.
fn like(pattern: &str, value: &str) -> bool {
    let (pattern, value): (Vec<char>, Vec<char>) =
        (pattern.chars().collect(), value.chars().collect());
    // Longest-match-free wildcard matching, iterative with one backtrack point.
    let (mut p, mut v, mut star, mut mark) = (0, 0, None, 0);
    while v < value.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == value[v]) {
            p += 1;
            v += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some(p);
            mark = v;
            p += 1;
        } else if let Some(s) = star {
            p = s + 1;
            mark += 1;
            v = mark;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_like_takes_stars_and_question_marks() {
        assert!(like("Order/*", "Order/o-1"));
        assert!(like("*", ""));
        assert!(like("a?c*", "abcdef"));
        assert!(!like("Order/*", "Orders/o-1"));
        assert!(!like("a?c", "ac"));
        assert!(like("*-function", "app-order-function"));
    }

    #[test]
    fn for_all_values_holds_without_values_and_denies_any_stranger() {
        let policy = serde_json::json!({"Statement": [{
            "Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": "*",
            "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["Order/*"]}}
        }]});
        let put = |pk: &str| Request::item("PutItem", pk, &[]);
        assert!(allows(std::slice::from_ref(&policy), &put("Order/o-1")));
        assert!(!allows(std::slice::from_ref(&policy), &put("Wallet/w-1")));
        let without_keys = Request::on("dynamodb:PutItem", TABLE);
        assert!(
            allows(std::slice::from_ref(&policy), &without_keys),
            "IAM's documented edge"
        );
        let deny = serde_json::json!({"Statement": [{
            "Effect": "Deny", "Action": "dynamodb:*", "Resource": "*"
        }]});
        assert!(!allows(&[policy, deny], &put("Order/o-1")), "a deny wins");
    }

    #[test]
    fn the_userid_variable_is_the_requesters() {
        let policy = serde_json::json!({"Statement": [{
            "Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*",
            "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["r/*/${aws:userid}"]}}
        }]});
        let get = |pk: &str| Request::item("GetItem", pk, &[]);
        let policies = std::slice::from_ref(&policy);
        assert!(allows(
            policies,
            &get("r/Order/o-1/AIDAALICE").by("AIDAALICE")
        ));
        assert!(!allows(
            policies,
            &get("r/Order/o-1/AIDAALICE").by("AIDABOB")
        ));
        assert!(
            !allows(policies, &get("r/Order/o-1/AIDAALICE")),
            "anyone else"
        );
    }
}
