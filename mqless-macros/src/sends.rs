//! Part of stage 1: the send targets and the channels a block names in its bodies, so the
//! deploy template grants each function exactly the actor types it sends to and the
//! channels it emits to.

use syn::{ItemImpl, Type};

/// What the block's bodies send: the `T` of every `.actor::<T>(..)` call, whether any
/// calls `.reply_to(..)`, whether any publishes or (un)subscribes (sends to topics), and
/// the literal channel of every `.emit(..)`. Calls inside other macros' arguments are not
/// seen: such sends are named with `sends_to(..)`, such channels with `emits_to(..)`
/// (the runtime refuses sends to types, and emissions to channels, not listed).
#[derive(Default)]
pub(crate) struct Sends {
    types: Vec<Type>,
    /// Whether any body calls `.reply_to(..)`.
    pub(crate) reply_to: bool,
    /// Whether any body publishes or (un)subscribes.
    pub(crate) topics: bool,
    /// The channel of every `.emit("channel", ..)` call whose channel is a literal.
    channels: Vec<syn::LitStr>,
}

impl<'ast> syn::visit::Visit<'ast> for Sends {
    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        if call.method == "actor" {
            if let Some(turbofish) = &call.turbofish {
                if let [syn::GenericArgument::Type(ty)] =
                    turbofish.args.iter().collect::<Vec<_>>()[..]
                {
                    self.types.push(ty.clone());
                }
            }
        }
        if call.method == "emit" {
            if let Some(syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(channel),
                ..
            })) = call.args.first()
            {
                self.channels.push(channel.clone());
            }
        }
        if call.method == "reply_to" {
            self.reply_to = true;
        }
        if ["publish", "subscribe", "unsubscribe"]
            .iter()
            .any(|m| call.method == m)
        {
            self.topics = true;
        }
        syn::visit::visit_expr_method_call(self, call);
    }
}

impl Sends {
    /// Visits every body of `item` and adds each `T` of `.actor::<T>(..)` to `sends_to`
    /// (the types `#[actor(sends_to(..))]` named), once.
    /// Likewise adds each literal channel of `.emit("..", ..)` to `emits_to` (the
    /// channels `#[actor(emits_to(..))]` named), once.
    pub(crate) fn of(
        item: &ItemImpl,
        sends_to: &mut Vec<Type>,
        emits_to: &mut Vec<syn::LitStr>,
    ) -> Self {
        let mut sends = Sends::default();
        syn::visit::visit_item_impl(&mut sends, item);
        for found in std::mem::take(&mut sends.channels) {
            if !emits_to.iter().any(|c| c.value() == found.value()) {
                emits_to.push(found);
            }
        }
        for found in std::mem::take(&mut sends.types) {
            let key = quote::ToTokens::to_token_stream(&found).to_string();
            if !sends_to
                .iter()
                .any(|t| quote::ToTokens::to_token_stream(t).to_string() == key)
            {
                sends_to.push(found);
            }
        }
        sends
    }
}
