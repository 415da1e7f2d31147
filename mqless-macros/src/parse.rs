//! Stage 1: read the item and the attributes into an [`ActorDef`]. Parsing records what
//! it finds (a receiver by value, a reference argument, ...) and leaves judging it to
//! `validate`; it only fails on attribute syntax it cannot read.

use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, FnArg, ImplItem, ItemImpl, LitStr, Meta, Pat, ReturnType, Token, Type};

use crate::errors::Errors;
use crate::sends::Sends;

/// Options of `#[actor(..)]`.
pub(crate) const ACTOR_OPTIONS: &str =
    "`name = \"..\"` (the actor type name), `sends_to(TypeA, TypeB)` (actor types it sends to from outside this block), `emits_to(\"shipping\")` (channels it emits to other than by `ctx.emit(\"literal\", ..)` in this block), `idle_ttl = \"30d\"` (its state expires after that long without a message) and `crate = \"..\"` (the path of the mqless crate)";
/// Options of `#[subscribe(..)]`.
pub(crate) const SUBSCRIBE_OPTIONS: &str =
    "`topic = \"..\"` (required), `pattern = r#\"{..}\"#` (an EventBridge event pattern; without one, every event of the topic) and `route = \"field.path\"` (the event field holding the id of the actor that receives it; without it, actors subscribe one by one with `ctx.subscribe`)";
/// Options of `#[handler(..)]`.
pub(crate) const HANDLER_OPTIONS: &str =
    "`name = \"..\"` (the message's wire name) and `skip` (a `pub` method that is not a message)";

/// One `#[actor]` impl block.
pub(crate) struct ActorDef {
    /// The impl block as the user wrote it, minus our `#[handler]` attributes.
    pub(crate) item: ItemImpl,
    /// `#[actor(name = "..")]`.
    pub(crate) name: Option<LitStr>,
    /// `#[actor(crate = "..")]`, default `::mqless`.
    pub(crate) krate: syn::Path,
    pub(crate) handlers: Vec<Handler>,
    /// Methods that carry `#[handler]` but are not `pub`.
    pub(crate) private_with_handler_attr: Vec<syn::Ident>,
    /// `#[subscribe]` attributes on methods that are not messages (private or skipped).
    pub(crate) subscribe_on_non_message: Vec<(Attribute, syn::Ident)>,
    /// `name = ".."` literals on methods that also say `skip`.
    pub(crate) skipped_but_named: Vec<LitStr>,
    /// `#[actor(idle_ttl = "30d")]`: how long its state lives without a message.
    pub(crate) idle_ttl: Option<LitStr>,
    /// The actor types it sends to: `ctx.actor::<T>` calls in the block's bodies, and
    /// `#[actor(sends_to(..))]` for sends made elsewhere (helper functions).
    pub(crate) sends_to: Vec<Type>,
    /// The channels it emits to: `ctx.emit("..", ..)` calls with a literal channel in the
    /// block's bodies, and `#[actor(emits_to(..))]` for the others.
    pub(crate) emits_to: Vec<LitStr>,
    /// Whether a body asks with `.reply_to(..)`: the types it asks reply into its mailbox.
    pub(crate) asks_with_reply_to: bool,
    /// Whether a body publishes or (un)subscribes: it sends to topics.
    pub(crate) uses_topics: bool,
}

/// One `pub` method: a message variant, a dispatch arm and a client method.
pub(crate) struct Handler {
    pub(crate) sig: syn::Signature,
    /// The `#[doc]` attributes, copied to the variant and the client method.
    pub(crate) docs: Vec<Attribute>,
    /// The wire name and the token that set it (the method name or the `name` literal).
    pub(crate) wire_name: String,
    pub(crate) wire_name_span: Span,
    pub(crate) receiver: Receiver,
    pub(crate) args: Vec<Arg>,
    pub(crate) output: Output,
    /// Its `#[subscribe(..)]` attributes: the topics whose events call it.
    pub(crate) subscriptions: Vec<Subscribe>,
}

/// One `#[subscribe(topic = .., pattern = .., route = ..)]` on a handler.
pub(crate) struct Subscribe {
    /// The attribute, for errors about it as a whole.
    pub(crate) attr: Attribute,
    pub(crate) topic: Option<LitStr>,
    pub(crate) pattern: Option<LitStr>,
    pub(crate) route: Option<LitStr>,
}

pub(crate) enum Receiver {
    Ref,
    Mut,
    /// `self`, `mut self`, or `self: Box<Self>` and other typed receivers.
    ByValue(Span),
    /// No receiver: an associated function.
    None,
}

pub(crate) struct Arg {
    pub(crate) ty: Type,
    pub(crate) kind: ArgKind,
}

pub(crate) enum ArgKind {
    /// A named, owned argument: a message field.
    Field(syn::Ident),
    /// `&Context` or `&mut Context`: supplied by the runtime.
    Context { mutable: bool },
    /// A reference other than the context.
    Reference,
    /// `impl Trait`.
    ImplTrait,
    /// Any pattern other than a plain name.
    Pattern(Box<Pat>),
}

pub(crate) enum Output {
    /// A plain return type (`()` when there is none).
    Value(Box<Type>),
    /// `Result<T, E>`: `Err` rolls the state back.
    Result(Box<Type>, Box<Type>),
}

/// Parses the attribute arguments and the item. `Err` carries the item's tokens to emit
/// unchanged beside the error, so the IDE keeps working.
pub(crate) fn parse(
    attr: TokenStream,
    item: TokenStream,
    errors: &mut Errors,
) -> Result<ActorDef, TokenStream> {
    let mut item_impl = impl_block(item, errors)?;
    let mut options = actor_options(attr, errors);
    let methods = methods(&mut item_impl, errors);
    let sends = Sends::of(&item_impl, &mut options.sends_to, &mut options.emits_to);
    Ok(ActorDef {
        item: item_impl,
        name: options.name,
        krate: options.krate,
        handlers: methods.handlers,
        private_with_handler_attr: methods.private_with_handler_attr,
        subscribe_on_non_message: methods.subscribe_on_non_message,
        skipped_but_named: methods.skipped_but_named,
        idle_ttl: options.idle_ttl,
        sends_to: options.sends_to,
        emits_to: options.emits_to,
        asks_with_reply_to: sends.reply_to,
        uses_topics: sends.topics,
    })
}

/// The item `#[actor]` is on, which must be an impl block.
fn impl_block(item: TokenStream, errors: &mut Errors) -> Result<ItemImpl, TokenStream> {
    let parsed: syn::Item = match syn::parse2(item.clone()) {
        Ok(parsed) => parsed,
        Err(error) => {
            errors.push(error);
            return Err(item);
        }
    };
    match parsed {
        syn::Item::Impl(item_impl) => Ok(item_impl),
        other => {
            let what = match &other {
                syn::Item::Fn(_) => "a function",
                syn::Item::Struct(_) => "a struct",
                syn::Item::Enum(_) => "an enum",
                syn::Item::Trait(_) => "a trait",
                syn::Item::Mod(_) => "a module",
                _ => "another kind of item",
            };
            errors.spanned(
                &other,
                format!("`#[actor]` goes on an inherent impl block (`impl MyActor {{ .. }}`) whose methods become messages; found {what}"),
            );
            Err(item)
        }
    }
}

/// What `#[actor(..)]` says.
struct ActorOptions {
    name: Option<LitStr>,
    krate: syn::Path,
    sends_to: Vec<Type>,
    emits_to: Vec<LitStr>,
    idle_ttl: Option<LitStr>,
}

/// Reads `#[actor(..)]`'s options; an unknown or malformed one is an error.
fn actor_options(attr: TokenStream, errors: &mut Errors) -> ActorOptions {
    let mut name = None;
    let mut krate: syn::Path = syn::parse_quote!(::mqless);
    let mut sends_to = Vec::new();
    let mut emits_to = Vec::new();
    let mut idle_ttl = None;
    let options = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(attr);
    match options {
        Ok(options) => {
            for option in options {
                if let Meta::List(list) = &option {
                    if list.path.is_ident("sends_to") {
                        match list.parse_args_with(Punctuated::<Type, Token![,]>::parse_terminated) {
                            Ok(types) => sends_to.extend(types),
                            Err(_) => errors.spanned(
                                list,
                                "`sends_to` lists the actor types this actor sends to, like `sends_to(Warehouse, Wallet)`",
                            ),
                        }
                        continue;
                    }
                    if list.path.is_ident("emits_to") {
                        match list.parse_args_with(Punctuated::<LitStr, Token![,]>::parse_terminated) {
                            Ok(channels) => emits_to.extend(channels),
                            Err(_) => errors.spanned(
                                list,
                                "`emits_to` lists the channels this actor emits to, like `emits_to(\"shipping\", \"audit\")`",
                            ),
                        }
                        continue;
                    }
                }
                match option_value(&option) {
                    Some(("name", value)) => name = Some(value),
                    Some(("idle_ttl", value)) => idle_ttl = Some(value),
                    Some(("crate", value)) => match value.parse::<syn::Path>() {
                        Ok(path) => krate = path,
                        Err(_) => {
                            errors.spanned(&value, "`crate` must be a path such as \"::mqless\"")
                        }
                    },
                    _ => errors.spanned(
                        &option,
                        format!("unknown `#[actor]` option; the valid options are {ACTOR_OPTIONS}"),
                    ),
                }
            }
        }
        Err(error) => errors.push(error),
    }
    ActorOptions {
        name,
        krate,
        sends_to,
        emits_to,
        idle_ttl,
    }
}

/// The block's methods, sorted: messages, and the attributes misplaced on the others.
#[derive(Default)]
struct Methods {
    handlers: Vec<Handler>,
    private_with_handler_attr: Vec<syn::Ident>,
    subscribe_on_non_message: Vec<(Attribute, syn::Ident)>,
    skipped_but_named: Vec<LitStr>,
}

/// Reads every method of the block, taking its `#[handler]` and `#[subscribe]` attributes
/// off (they are not real attributes).
fn methods(item_impl: &mut ItemImpl, errors: &mut Errors) -> Methods {
    let mut found = Methods::default();
    for impl_item in &mut item_impl.items {
        let ImplItem::Fn(method) = impl_item else {
            continue;
        };
        let handler_attrs: Vec<Attribute> = extract_attrs(&mut method.attrs, "handler");
        let subscribe_attrs: Vec<Attribute> = extract_attrs(&mut method.attrs, "subscribe");
        let not_a_message = |subscribe_on_non_message: &mut Vec<(Attribute, syn::Ident)>| {
            subscribe_on_non_message.extend(
                subscribe_attrs
                    .iter()
                    .map(|attr| (attr.clone(), method.sig.ident.clone())),
            );
        };
        if !matches!(method.vis, syn::Visibility::Public(_)) {
            if !handler_attrs.is_empty() {
                found
                    .private_with_handler_attr
                    .push(method.sig.ident.clone());
            }
            not_a_message(&mut found.subscribe_on_non_message);
            continue;
        }
        let mut options = HandlerOptions::default();
        for attr in &handler_attrs {
            parse_handler_attr(attr, &mut options, errors);
        }
        if options.skip {
            found.skipped_but_named.extend(options.name);
            not_a_message(&mut found.subscribe_on_non_message);
            continue;
        }
        let subscriptions = subscribe_attrs
            .into_iter()
            .filter_map(|attr| parse_subscribe_attr(attr, errors))
            .collect();
        let (wire_name, wire_name_span) = match &options.name {
            Some(name) => (name.value(), name.span()),
            None => (method.sig.ident.to_string(), method.sig.ident.span()),
        };
        found.handlers.push(Handler {
            docs: method
                .attrs
                .iter()
                .filter(|a| a.path().is_ident("doc"))
                .cloned()
                .collect(),
            wire_name,
            wire_name_span,
            receiver: receiver(&method.sig),
            args: method.sig.inputs.iter().filter_map(arg).collect(),
            output: output(&method.sig.output),
            sig: method.sig.clone(),
            subscriptions,
        });
    }
    found
}

/// What the `#[handler(..)]` attributes of one method say.
#[derive(Default)]
struct HandlerOptions {
    /// `name = ".."`: the wire name.
    name: Option<LitStr>,
    /// `skip`: a `pub` method that is not a message.
    skip: bool,
}

fn option_value(meta: &Meta) -> Option<(&'static str, LitStr)> {
    let Meta::NameValue(nv) = meta else {
        return None;
    };
    let syn::Expr::Lit(syn::ExprLit {
        lit: syn::Lit::Str(value),
        ..
    }) = &nv.value
    else {
        return None;
    };
    let key = if nv.path.is_ident("name") {
        "name"
    } else if nv.path.is_ident("crate") {
        "crate"
    } else if nv.path.is_ident("idle_ttl") {
        "idle_ttl"
    } else {
        return None;
    };
    Some((key, value.clone()))
}

/// Takes the `#[name(..)]` attributes out of `attrs`: they are ours, not the compiler's.
fn extract_attrs(attrs: &mut Vec<Attribute>, name: &str) -> Vec<Attribute> {
    let (ours, theirs) = std::mem::take(attrs)
        .into_iter()
        .partition(|a| a.path().is_ident(name));
    *attrs = theirs;
    ours
}

/// Reads `#[subscribe(topic = "..", pattern = "..", route = "..")]`; `None` (with an
/// error) when it cannot be read at all.
fn parse_subscribe_attr(attr: Attribute, errors: &mut Errors) -> Option<Subscribe> {
    let Meta::List(list) = &attr.meta else {
        errors.spanned(
            &attr,
            format!("`#[subscribe]` needs options in parentheses: {SUBSCRIBE_OPTIONS}"),
        );
        return None;
    };
    let options = match list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated) {
        Ok(options) => options,
        Err(error) => {
            errors.push(error);
            return None;
        }
    };
    let mut subscribe = Subscribe {
        attr: attr.clone(),
        topic: None,
        pattern: None,
        route: None,
    };
    for option in options {
        let value = match &option {
            Meta::NameValue(syn::MetaNameValue {
                value:
                    syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(value),
                        ..
                    }),
                ..
            }) => Some(value.clone()),
            _ => None,
        };
        let slot = match option
            .path()
            .get_ident()
            .map(ToString::to_string)
            .as_deref()
        {
            Some("topic") => &mut subscribe.topic,
            Some("pattern") => &mut subscribe.pattern,
            Some("route") => &mut subscribe.route,
            _ => {
                errors.spanned(
                    &option,
                    format!(
                        "unknown `#[subscribe]` option; the valid options are {SUBSCRIBE_OPTIONS}"
                    ),
                );
                continue;
            }
        };
        match value {
            Some(value) => *slot = Some(value),
            None => errors.spanned(
                &option,
                "`#[subscribe]` options take a string literal, like `topic = \"orders\"`",
            ),
        }
    }
    Some(subscribe)
}

fn parse_handler_attr(attr: &Attribute, found: &mut HandlerOptions, errors: &mut Errors) {
    let options = match &attr.meta {
        Meta::List(list) => match list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated) {
            Ok(options) => options,
            Err(error) => return errors.push(error),
        },
        // A bare `#[handler]` only marks the method.
        Meta::Path(_) => return,
        Meta::NameValue(_) => {
            return errors.spanned(attr, format!("`#[handler]` takes options in parentheses; the valid options are {HANDLER_OPTIONS}"))
        }
    };
    for option in options {
        if matches!(&option, Meta::Path(path) if path.is_ident("skip")) {
            found.skip = true;
            continue;
        }
        match option_value(&option) {
            Some(("name", value)) => found.name = Some(value),
            _ => errors.spanned(
                &option,
                format!("unknown `#[handler]` option; the valid options are {HANDLER_OPTIONS}"),
            ),
        }
    }
}

fn receiver(sig: &syn::Signature) -> Receiver {
    match sig.receiver() {
        None => Receiver::None,
        Some(r) if r.reference.is_some() && r.colon_token.is_none() => {
            if r.mutability.is_some() {
                Receiver::Mut
            } else {
                Receiver::Ref
            }
        }
        Some(r) => Receiver::ByValue(r.span()),
    }
}

fn arg(input: &FnArg) -> Option<Arg> {
    let FnArg::Typed(typed) = input else {
        return None;
    };
    let ty = (*typed.ty).clone();
    let kind = match &ty {
        Type::Reference(reference) if is_context(&reference.elem) => ArgKind::Context {
            mutable: reference.mutability.is_some(),
        },
        Type::Reference(_) => ArgKind::Reference,
        Type::ImplTrait(_) => ArgKind::ImplTrait,
        _ => match &*typed.pat {
            Pat::Ident(ident) if ident.by_ref.is_none() && ident.subpat.is_none() => {
                ArgKind::Field(ident.ident.clone())
            }
            other => ArgKind::Pattern(Box::new(other.clone())),
        },
    };
    Some(Arg { ty, kind })
}

/// `Context` or a path ending in `Context` (`mqless::Context`).
fn is_context(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.qself.is_none() && p.path.segments.last().is_some_and(|s| s.ident == "Context" && s.arguments.is_none()))
}

fn output(output: &ReturnType) -> Output {
    let ty = match output {
        ReturnType::Default => return Output::Value(Box::new(syn::parse_quote!(()))),
        ReturnType::Type(_, ty) => (**ty).clone(),
    };
    // `Result<T, E>` by name, with both parameters: a one-parameter alias such as
    // `anyhow::Result<T>` is a plain value, and then must be serializable itself.
    if let Type::Path(path) = &ty {
        if let Some(last) = path.path.segments.last() {
            if last.ident == "Result" {
                if let syn::PathArguments::AngleBracketed(args) = &last.arguments {
                    let types: Vec<&Type> = args
                        .args
                        .iter()
                        .filter_map(|a| match a {
                            syn::GenericArgument::Type(t) => Some(t),
                            _ => None,
                        })
                        .collect();
                    if let [ok, err] = types.as_slice() {
                        return Output::Result(Box::new((*ok).clone()), Box::new((*err).clone()));
                    }
                }
            }
        }
    }
    Output::Value(Box::new(ty))
}
