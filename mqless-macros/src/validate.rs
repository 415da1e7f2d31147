//! Stage 2: check every rule on the parsed [`ActorDef`], collecting all violations. Each
//! message states the rule and the fix, on the offending token.

use std::collections::HashMap;

use syn::Type;

use crate::errors::Errors;
use crate::parse::{ActorDef, ArgKind, Handler, Output, Receiver};

/// Inherent methods and trait methods of the generated client that a handler must not
/// shadow.
const CLIENT_ITEMS: &[&str] = &["id", "address", "clone", "clone_from", "fmt"];

/// Checks every rule, collecting every violation into `errors`.
pub(crate) fn validate(def: &ActorDef, errors: &mut Errors) {
    validate_block(def, errors);
    validate_subscriptions(def, errors);
    for handler in &def.handlers {
        validate_handler(handler, errors);
    }
    validate_message_names(def, errors);
}

/// The impl block and `#[actor(..)]`: an inherent, non-generic impl of a plain type with
/// valid options, at least one message, and attributes only where they apply.
fn validate_block(def: &ActorDef, errors: &mut Errors) {
    let item = &def.item;
    if let Some((_, path, _)) = &item.trait_ {
        errors.spanned(
            path,
            "`#[actor]` needs an inherent impl block, not a trait impl: put the handler methods in `impl MyActor { .. }`",
        );
    }
    if let Some(unsafety) = &item.unsafety {
        errors.spanned(
            unsafety,
            "`#[actor]` impl blocks cannot be `unsafe`; remove `unsafe`",
        );
    }
    let generic = !item.generics.params.is_empty() || item.generics.where_clause.is_some();
    if generic {
        errors.spanned(
            &item.generics,
            "an actor type cannot be generic: its messages and its store key need one concrete type; implement a concrete type",
        );
    }
    // A generic impl has a generic self type too: one error is enough.
    if def.actor_ident().is_none() && !generic {
        errors.spanned(&item.self_ty, "`#[actor]` needs a plain type name as the actor (`impl Counter { .. }`), without generic arguments");
    }
    if let Some(ttl) = &def.idle_ttl {
        if let Err(reason) = idle_ttl_seconds(&ttl.value()) {
            errors.spanned(ttl, format!("invalid `idle_ttl`: {reason}"));
        }
    }
    for channel in &def.emits_to {
        if let Err(reason) = check_channel_name(&channel.value()) {
            errors.spanned(
                channel,
                format!("invalid channel name: {reason}; the deployment maps each channel name to an SNS topic, SQS queue or EventBridge bus"),
            );
        }
    }
    if let Some(name) = &def.name {
        if let Err(reason) = check_actor_name(&name.value()) {
            errors.spanned(
                name,
                format!(
                    "invalid actor name: {reason}; use 1 to 64 ASCII letters, digits, `-` or `_`"
                ),
            );
        }
    }
    for ident in &def.private_with_handler_attr {
        errors.spanned(
            ident,
            format!("`#[handler]` is only for `pub` methods (each `pub` method becomes a message); make `{ident}` `pub` or remove the attribute"),
        );
    }
    for (attr, method) in &def.subscribe_on_non_message {
        errors.spanned(
            attr,
            format!("`#[subscribe]` is only for message methods (`pub`, without `#[handler(skip)]`): events arrive as messages; make `{method}` a message or remove the attribute"),
        );
    }
    for name in &def.skipped_but_named {
        errors.spanned(
            name,
            "`#[handler(skip)]` marks a `pub` method that is not a message, so it has no wire name; remove `name = ..` or `skip`",
        );
    }
    // Trait methods have no `pub`; the trait-impl error already says what to do.
    if def.handlers.is_empty() && item.trait_.is_none() {
        errors.spanned(
            &item.self_ty,
            "`#[actor]` found no message in this impl block; make at least one method `pub` (without `#[handler(skip)]`): each `pub` method becomes a message of the actor",
        );
    }
}

/// One message method: its signature can travel as a message and come back as a reply.
fn validate_handler(handler: &Handler, errors: &mut Errors) {
    let sig = &handler.sig;
    let name = &sig.ident;
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.spanned(
            &sig.generics,
            format!("handler `{name}` cannot be generic: its arguments become fields of the message enum, which needs concrete types"),
        );
    }
    if let Some(unsafety) = &sig.unsafety {
        errors.spanned(unsafety, format!("handler `{name}` cannot be `unsafe`: a message calls it, and no caller can uphold its contract"));
    }
    match handler.receiver {
        Receiver::Ref | Receiver::Mut => {}
        Receiver::ByValue(span) => errors.push(syn::Error::new(
            span,
            format!("`#[actor]` methods must take `&self` or `&mut self`; `{name}` takes `self` by value: take the actor by reference"),
        )),
        Receiver::None => errors.spanned(
            name,
            format!("`#[actor]` methods must take `&self` or `&mut self`; `{name}` has no receiver: make it private or move it to another `impl` block"),
        ),
    }
    let mut contexts = 0;
    for arg in &handler.args {
        match &arg.kind {
            ArgKind::Field(_) => {}
            ArgKind::Context { .. } => {
                contexts += 1;
                if contexts > 1 {
                    errors.spanned(&arg.ty, format!("`{name}` takes the context twice; take one `&mut Context`"));
                }
            }
            ArgKind::Reference => errors.spanned(
                &arg.ty,
                format!("arguments of `{name}` cannot be references: they travel in a message, so they must be owned (`String` for `&str`, `Vec<T>` for `&[T]`); only `&Context` / `&mut Context` is passed by reference"),
            ),
            ArgKind::ImplTrait => errors.spanned(
                &arg.ty,
                format!("arguments of `{name}` cannot be `impl Trait`: they become fields of the message enum, which needs a concrete type"),
            ),
            ArgKind::Pattern(pat) => errors.spanned(
                pat,
                format!("arguments of `{name}` must be plain names (`amount: u64`), because each name becomes a message field; destructure inside the method"),
            ),
        }
    }
    let returned: Vec<&Type> = match &handler.output {
        Output::Value(ty) => vec![&**ty],
        Output::Result(ok, err) => vec![&**ok, &**err],
    };
    for ty in returned {
        match ty {
            Type::Reference(_) => {
                errors.spanned(ty, format!("`{name}` must return owned data: the return value is sent back as a message"));
            }
            Type::ImplTrait(_) => {
                errors.spanned(ty, format!("`{name}` cannot return `impl Trait`: the reply needs a concrete, serializable type"));
            }
            _ => {}
        }
    }
    if CLIENT_ITEMS.contains(&name.to_string().as_str()) {
        errors.spanned(
            name,
            format!("a handler cannot be called `{name}`: the generated client already has `{name}`; rename the method and keep the wire name with `#[handler(name = \"{name}\")]`"),
        );
    }
}

/// Wire names and enum variants are unique within the block.
fn validate_message_names(def: &ActorDef, errors: &mut Errors) {
    let mut wire_names: HashMap<&str, &syn::Ident> = HashMap::new();
    let mut variants: HashMap<String, &syn::Ident> = HashMap::new();
    for handler in &def.handlers {
        let name = &handler.sig.ident;
        if handler.wire_name.is_empty() {
            errors.push(syn::Error::new(
                handler.wire_name_span,
                "a message name cannot be empty",
            ));
        } else if let Some(first) = wire_names.insert(&handler.wire_name, name) {
            errors.push(syn::Error::new(
                handler.wire_name_span,
                format!(
                    "message name `{}` is used by both `{first}` and `{name}`; message names must be unique: rename one with `#[handler(name = \"..\")]`",
                    handler.wire_name
                ),
            ));
        }
        if let Some(first) = variants.insert(variant_name(name), name) {
            errors.spanned(
                name,
                format!(
                    "`{first}` and `{name}` both become the message variant `{}`; rename one",
                    variant_name(name)
                ),
            );
        }
    }
}

/// `#[subscribe]`: a topic, a valid pattern and route, one event argument, and for each
/// topic at most one method that actors subscribe one by one (no `route`), which
/// `ctx.subscribe(topic)` then calls.
fn validate_subscriptions(def: &ActorDef, errors: &mut Errors) {
    let mut per_actor: HashMap<String, &syn::Ident> = HashMap::new();
    for handler in &def.handlers {
        let name = &handler.sig.ident;
        for subscribe in &handler.subscriptions {
            let fields = handler
                .args
                .iter()
                .filter(|arg| matches!(arg.kind, ArgKind::Field(_)))
                .count();
            if fields != 1 {
                errors.spanned(
                    &subscribe.attr,
                    format!("a `#[subscribe]` method takes the event as its one argument (and optionally `ctx: &mut Context`); `{name}` takes {fields}"),
                );
            }
            match &subscribe.topic {
                None => errors.spanned(
                    &subscribe.attr,
                    "`#[subscribe]` needs the topic: `topic = \"orders\"`",
                ),
                Some(topic) => {
                    if let Err(reason) = check_topic_name(&topic.value()) {
                        errors.spanned(topic, format!("invalid topic name: {reason}"));
                    }
                    if subscribe.route.is_none() {
                        if let Some(first) = per_actor.insert(topic.value(), name) {
                            errors.spanned(
                                topic,
                                format!("`{first}` already receives `{}` for actors that subscribe with `ctx.subscribe`; one method per topic may (give one a `route`)", topic.value()),
                            );
                        }
                    }
                }
            }
            if let Some(pattern) = &subscribe.pattern {
                if let Err(error) = mqless_pattern::Pattern::parse(&pattern.value()) {
                    errors.spanned(pattern, format!("invalid event pattern: {error}"));
                }
            }
            if let Some(route) = &subscribe.route {
                if let Err(error) = mqless_pattern::check_field_path(&route.value()) {
                    errors.spanned(route, format!("invalid `route`: {error}"));
                }
            }
        }
    }
}

/// The same rule as the runtime's `check_channel`, checked at compile time.
fn check_channel_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name.len() > 64 {
        Err("use 1 to 64 bytes")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
    {
        Err("use ASCII letters, digits, `-` and `_` only")
    } else {
        Ok(())
    }
}

/// The same rule as the runtime's `Topic::new`, checked at compile time.
fn check_topic_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name.len() > 128 {
        Err("use 1 to 128 bytes")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        Err("use ASCII letters, digits, `-`, `_` and `.` only")
    } else {
        Ok(())
    }
}

/// The enum variant of a method: `transfer_to` becomes `TransferTo`.
pub(crate) fn variant_name(method: &syn::Ident) -> String {
    let method = method.to_string();
    let method = method.strip_prefix("r#").unwrap_or(&method);
    method
        .split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

/// The same rule as the runtime's `ActorType::new`, checked at compile time.
fn check_actor_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        Err("it is empty")
    } else if name.len() > 64 {
        Err("it is longer than 64 bytes")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Err("it may only hold ASCII letters, digits, `-` and `_`")
    } else {
        Ok(())
    }
}

impl ActorDef {
    /// `Counter` in `impl Counter`, when the self type is such a plain name.
    pub(crate) fn actor_ident(&self) -> Option<&syn::Ident> {
        match &*self.item.self_ty {
            Type::Path(p) if p.qself.is_none() => {
                let last = p.path.segments.last()?;
                last.arguments.is_none().then_some(&last.ident)
            }
            _ => None,
        }
    }
}

/// The shortest idle time to live: well beyond a lease and an ask's timeout, so only
/// an actor that really went quiet expires.
const MIN_IDLE_TTL_SECONDS: u64 = 3600;

/// `idle_ttl` in seconds: a whole number and a unit, `m`, `h` or `d` (`"30d"`), at least
/// an hour.
pub(crate) fn idle_ttl_seconds(text: &str) -> Result<u64, String> {
    let expected = "write a whole number and a unit, `m`, `h` or `d`, like \"30d\" or \"12h\"";
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} has no number; {expected}"))?;
    let scale = match unit {
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{text:?} has no known unit; {expected}")),
    };
    let seconds = number
        .checked_mul(scale)
        .ok_or_else(|| format!("{text:?} is too long"))?;
    if seconds < MIN_IDLE_TTL_SECONDS {
        return Err(format!(
            "{text:?} is shorter than an hour; an actor expires only after that long without a message, so use \"1h\" or more"
        ));
    }
    Ok(seconds)
}
