//! Stage 3: write the code. Everything generated names only `#krate::__macro_support`, `::core`
//! and `::std`, so it compiles under `#![no_implicit_prelude]`; behaviour lives in the
//! runtime, and each generated item is a declaration, one `match`, or one runtime call.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::errors::Errors;
use crate::parse::{self, ActorDef, ArgKind, Handler, Output, Receiver};
use crate::validate::{self, variant_name};

/// The whole macro: parse, validate, expand. On errors, emits the user's impl unchanged
/// beside them, with a fallback that keeps the type an actor, so only the real mistakes
/// are reported (not "not an actor" at every use of the type as well).
pub(crate) fn actor(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let def = match parse::parse(attr, item, &mut errors) {
        Ok(def) => def,
        Err(original) => {
            let errors = errors.into_compile_errors();
            return quote! { #original #errors };
        }
    };
    validate::validate(&def, &mut errors);
    let item = &def.item;
    match def.actor_ident() {
        Some(ident) if errors.is_empty() => {
            let generated = generate(&def, ident);
            quote! { #item #generated }
        }
        ident => {
            let fallback = ident.and_then(|ident| fallback(&def, ident));
            let errors = errors.into_compile_errors();
            quote! { #item #errors #fallback }
        }
    }
}

/// The names generated code uses for one actor.
struct Names {
    /// `#krate::__macro_support`.
    support: TokenStream,
    /// The actor type name (its store key prefix).
    type_name: String,
    message: syn::Ident,
    client: syn::Ident,
}

impl Names {
    fn of(def: &ActorDef, actor: &syn::Ident) -> Self {
        let krate = &def.krate;
        Self {
            support: quote!(#krate::__macro_support),
            type_name: def
                .name
                .as_ref()
                .map_or_else(|| actor.to_string(), syn::LitStr::value),
            message: format_ident!("{}Message", actor),
            client: format_ident!("{}Client", actor),
        }
    }
}

/// An `Actor` impl with no messages, for a block with errors: uses of the type elsewhere
/// (`register::<T>()`, `ctx.actor::<T>(..)`) compile, so the user sees the one real
/// mistake. Not generated for a generic impl (it could not name one type), and it names
/// no new item, so it cannot collide with the user's.
fn fallback(def: &ActorDef, actor: &syn::Ident) -> Option<TokenStream> {
    if !def.item.generics.params.is_empty() {
        return None;
    }
    let Names {
        support, type_name, ..
    } = Names::of(def, actor);
    let self_ty = &def.item.self_ty;
    Some(quote! {
        const _: () = {
            #[automatically_derived]
            impl #support::Actor for #self_ty {
                const TYPE_NAME: &'static str = #type_name;
                type Message = #support::Never;
                type Client = #support::Unexpanded;

                fn handle<'__mqless_a>(
                    &'__mqless_a mut self,
                    __mqless_message: #support::Never,
                    _: &'__mqless_a mut #support::Context,
                ) -> #support::BoxFuture<'__mqless_a, ::core::result::Result<#support::Outcome, #support::CodecError>> {
                    match __mqless_message {}
                }

                fn is_read_only(__mqless_message: &#support::Never) -> bool {
                    match *__mqless_message {}
                }
            }
        };
    })
}

/// Everything a valid block generates: the message enum, the client, and (in an
/// anonymous const, so they add no names) the type checks, `Debug`, and the impls.
fn generate(def: &ActorDef, actor: &syn::Ident) -> TokenStream {
    let names = Names::of(def, actor);
    let message_enum = message_enum(def, actor, &names);
    let client = client(def, actor, &names);
    let type_checks = type_checks(def, &names.support);
    let debug_impl = debug_impl(def, &names.message, &names.support);
    let actor_impl = actor_impl(def, &names);
    quote! {
        #message_enum
        #client
        const _: () = {
            #type_checks
            #debug_impl
            #actor_impl
        };
    }
}

/// `{Actor}Message`: one variant per message method, its fields the arguments.
fn message_enum(def: &ActorDef, actor: &syn::Ident, names: &Names) -> TokenStream {
    let Names {
        support, message, ..
    } = names;
    let serde_crate = format!("{}::serde", quote!(#support)).replace(' ', "");
    let message_doc = format!("The messages of [`{actor}`]: one variant per `pub` method, named after it in `PascalCase`, with named fields for its arguments. The wire format uses the method's name (or its `#[handler(name)]`) and the argument names. `Debug` prints each field that has `Debug`, and the type name of the others.");
    let variants = def.handlers.iter().map(|h| {
        let variant = variant_ident(h);
        let wire = &h.wire_name;
        let docs = if h.docs.is_empty() {
            let doc = format!(
                "The `{}` message: calls `{actor}::{}`.",
                h.wire_name, h.sig.ident
            );
            quote!(#[doc = #doc])
        } else {
            let docs = &h.docs;
            quote!(#(#docs)*)
        };
        let fields = fields(h).map(|(name, ty)| {
            let doc = format!("Argument `{name}`.");
            quote!(#[doc = #doc] #name: #ty)
        });
        quote! {
            #docs
            #[serde(rename = #wire)]
            #variant { #(#fields,)* }
        }
    });
    quote! {
        #[doc = #message_doc]
        #[derive(#support::serde::Serialize, #support::serde::Deserialize)]
        #[serde(crate = #serde_crate)]
        pub enum #message {
            #(#variants,)*
        }
    }
}

/// `{Actor}Client`: one method per message, each building a request.
fn client(def: &ActorDef, actor: &syn::Ident, names: &Names) -> TokenStream {
    let Names {
        support,
        message,
        client,
        ..
    } = names;
    let client_doc = format!("A typed client of one [`{actor}`] actor: each method builds a request to `.send()` (tell) or `.call()` (ask).");
    let client_methods = def
        .handlers
        .iter()
        .map(|h| client_method(h, &def.item.self_ty, message, support));
    quote! {
        #[doc = #client_doc]
        #[derive(::core::clone::Clone, ::core::fmt::Debug)]
        pub struct #client {
            __mqless_core: #support::ClientCore,
        }

        impl #client {
            /// The id of the actor this client talks to.
            #[must_use]
            pub fn id(&self) -> &#support::ActorId {
                self.__mqless_core.id()
            }

            #(#client_methods)*
        }

        #[automatically_derived]
        impl #support::ActorClient for #client {
            fn from_core(core: #support::ClientCore) -> Self {
                Self { __mqless_core: core }
            }
            fn core(&self) -> &#support::ClientCore {
                &self.__mqless_core
            }
        }
    }
}

/// Trait-bound checks of the state and of every type that travels, each carrying the
/// span of the user's type, so "not serializable" points at that type rather than at
/// the macro.
fn type_checks(def: &ActorDef, support: &TokenStream) -> TokenStream {
    let self_ty = &def.item.self_ty;
    let state_check = quote_spanned!(self_ty.span()=> #support::assert_state::<#self_ty>(););
    let wire_checks = def.handlers.iter().flat_map(|h| {
        let returned = match &h.output {
            Output::Value(ty) => vec![(**ty).clone()],
            Output::Result(ok, err) => vec![(**ok).clone(), (**err).clone()],
        };
        fields(h)
            .map(|(_, ty)| ty.clone())
            .chain(returned)
            .collect::<Vec<_>>()
    });
    let wire_checks =
        wire_checks.map(|ty| quote_spanned!(ty.span()=> #support::assert_wire::<#ty>();));
    quote! {
        #state_check
        #(#wire_checks)*
    }
}

/// `impl Actor`: the constants the runtime and the deploy template read, and the
/// dispatch (one `match`).
fn actor_impl(def: &ActorDef, names: &Names) -> TokenStream {
    let Names {
        support,
        type_name,
        message,
        client,
    } = names;
    let self_ty = &def.item.self_ty;
    let arms = def
        .handlers
        .iter()
        .map(|h| dispatch_arm(h, message, support));
    let read_only_arms = def.handlers.iter().map(|h| {
        let variant = variant_ident(h);
        let read_only = matches!(h.receiver, Receiver::Ref);
        quote!(#message::#variant { .. } => #read_only)
    });
    let sends_to = &def.sends_to;
    // Publishing and subscribing are sends to topics' actors.
    let topic_type = if def.uses_topics {
        quote!(#support::TOPIC_TYPE)
    } else {
        quote!()
    };
    let emits_to = &def.emits_to;
    let asks_with_reply_to = def.asks_with_reply_to;
    let idle_ttl = idle_ttl(def);
    let subscriptions = subscriptions(def, support);
    quote! {
        #[automatically_derived]
        impl #support::Actor for #self_ty {
            const TYPE_NAME: &'static str = #type_name;
            const SENDS_TO: ::core::option::Option<&'static [&'static str]> =
                ::core::option::Option::Some(&[#(<#sends_to as #support::Actor>::TYPE_NAME,)* #topic_type]);
            const EMITS_TO: ::core::option::Option<&'static [&'static str]> =
                ::core::option::Option::Some(&[#(#emits_to),*]);
            const ASKS_WITH_REPLY_TO: bool = #asks_with_reply_to;
            const IDLE_TTL: ::core::option::Option<::core::time::Duration> = #idle_ttl;
            const SUBSCRIPTIONS: &'static [#support::Subscription] = &[#(#subscriptions),*];
            type Message = #message;
            type Client = #client;

            fn handle<'__mqless_a>(
                &'__mqless_a mut self,
                __mqless_message: #message,
                __mqless_ctx: &'__mqless_a mut #support::Context,
            ) -> #support::BoxFuture<'__mqless_a, ::core::result::Result<#support::Outcome, #support::CodecError>> {
                ::std::boxed::Box::pin(async move {
                    match __mqless_message {
                        #(#arms)*
                    }
                })
            }

            fn is_read_only(__mqless_message: &#message) -> bool {
                match __mqless_message {
                    #(#read_only_arms,)*
                }
            }
        }
    }
}

/// `IDLE_TTL`'s value (validated already: an invalid one stopped expansion).
fn idle_ttl(def: &ActorDef) -> TokenStream {
    match def
        .idle_ttl
        .as_ref()
        .and_then(|ttl| validate::idle_ttl_seconds(&ttl.value()).ok())
    {
        Some(seconds) => {
            quote!(::core::option::Option::Some(::core::time::Duration::from_secs(#seconds)))
        }
        None => quote!(::core::option::Option::None),
    }
}

/// `SUBSCRIPTIONS`' items: one per `#[subscribe]`.
fn subscriptions<'a>(
    def: &'a ActorDef,
    support: &'a TokenStream,
) -> impl Iterator<Item = TokenStream> + 'a {
    def.handlers.iter().flat_map(move |h| {
        let method = &h.wire_name;
        let argument = fields(h).next().map(|(name, _)| name.to_string());
        h.subscriptions.iter().map(move |s| {
            let topic = s.topic.as_ref().map(syn::LitStr::value);
            let pattern = optional_str(s.pattern.as_ref());
            let route = optional_str(s.route.as_ref());
            quote! {
                #support::Subscription {
                    topic: #topic,
                    method: #method,
                    argument: #argument,
                    pattern: #pattern,
                    route: #route,
                }
            }
        })
    })
}

/// `Some("..")` or `None`, as a `&'static str` option.
fn optional_str(value: Option<&syn::LitStr>) -> TokenStream {
    match value {
        Some(value) => quote!(::core::option::Option::Some(#value)),
        None => quote!(::core::option::Option::None),
    }
}

/// `Debug` for the message enum, so operators can print a dead letter: each field shows
/// its own `Debug` where its type has one, and its type's name where not (autoref
/// specialization in `__macro_support`, which works because the enum is never generic).
fn debug_impl(def: &ActorDef, message: &syn::Ident, private: &TokenStream) -> TokenStream {
    let arms = def.handlers.iter().map(|h| {
        let variant = variant_ident(h);
        let variant_name = variant.to_string();
        let names: Vec<_> = fields(h).map(|(name, _)| name).collect();
        let labels = names.iter().map(ToString::to_string);
        quote! {
            #message::#variant { #(#names),* } => __mqless_f
                .debug_struct(#variant_name)
                #(.field(#labels, &(&#private::DebugField(#names)).__mqless_debug()))*
                .finish()
        }
    });
    quote! {
        #[automatically_derived]
        impl ::core::fmt::Debug for #message {
            #[allow(clippy::needless_borrow)]
            fn fmt(&self, __mqless_f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                #[allow(unused_imports)]
                use #private::{DebugViaDebug as _, DebugViaName as _};
                match self {
                    #(#arms,)*
                }
            }
        }
    }
}

fn variant_ident(handler: &Handler) -> syn::Ident {
    syn::Ident::new(&variant_name(&handler.sig.ident), handler.sig.ident.span())
}

/// The message fields of a handler: its named arguments, in order.
fn fields(handler: &Handler) -> impl Iterator<Item = (&syn::Ident, &syn::Type)> {
    handler.args.iter().filter_map(|arg| match &arg.kind {
        ArgKind::Field(name) => Some((name, &arg.ty)),
        _ => None,
    })
}

fn dispatch_arm(handler: &Handler, message: &syn::Ident, private: &TokenStream) -> TokenStream {
    let variant = variant_ident(handler);
    let method = &handler.sig.ident;
    let names = fields(handler).map(|(name, _)| name);
    let call_args = handler.args.iter().map(|arg| match &arg.kind {
        ArgKind::Field(name) => quote!(#name),
        ArgKind::Context { mutable: true } => quote!(&mut *__mqless_ctx),
        ArgKind::Context { mutable: false } => quote!(&*__mqless_ctx),
        // Rejected by `validate`; never expanded.
        ArgKind::Reference | ArgKind::ImplTrait | ArgKind::Pattern(_) => quote!(),
    });
    let call = if handler.sig.asyncness.is_some() {
        quote!(self.#method(#(#call_args),*).await)
    } else {
        quote!(self.#method(#(#call_args),*))
    };
    let outcome = match handler.output {
        Output::Value(_) => quote!(#private::value_outcome(&__mqless_value, __mqless_ctx)),
        // A tell's error is kept as a `Rejected` dead letter, rendered with its `Debug`
        // where it has one (the same autoref specialization as the message's `Debug`).
        Output::Result(..) => quote!(#private::result_outcome(
            &__mqless_value,
            __mqless_ctx,
            |__mqless_error| {
                #[allow(unused_imports)]
                use #private::{DebugViaDebug as _, DebugViaName as _};
                ::std::format!("{:?}", (&#private::DebugField(__mqless_error)).__mqless_debug())
            },
        )),
    };
    quote! {
        #message::#variant { #(#names),* } => {
            let __mqless_value = #call;
            #outcome
        }
    }
}

fn client_method(
    handler: &Handler,
    self_ty: &syn::Type,
    message: &syn::Ident,
    private: &TokenStream,
) -> TokenStream {
    let variant = variant_ident(handler);
    let method = &handler.sig.ident;
    let docs = &handler.docs;
    let params = fields(handler).map(|(name, ty)| quote!(#name: #ty));
    let names = fields(handler).map(|(name, _)| name);
    let (ok, err) = match &handler.output {
        Output::Value(ty) => (quote!(#ty), quote!(#private::Never)),
        Output::Result(ok, err) => (quote!(#ok), quote!(#err)),
    };
    let message_value = quote!(&#message::#variant { #(#names),* });
    // A `&self` method can also be `.query()`-ed: run here on the committed state.
    if matches!(handler.receiver, Receiver::Ref) {
        let doc = format!(
            "Builds the `{}` message; `.send()` it, `.call()` it for the method's return value, or `.query()` it to run it here on the committed state, without the mailbox.",
            handler.wire_name
        );
        return quote! {
            #(#docs)*
            #[doc = ""]
            #[doc = #doc]
            pub fn #method(&self, #(#params),*) -> #private::Request<'_, #ok, #err, #private::ReadOnly<#self_ty>> {
                self.__mqless_core.read_request::<#self_ty, _, _, _>(#message_value)
            }
        };
    }
    let doc = format!(
        "Builds the `{}` message; `.send()` it, or `.call()` it for the method's return value.",
        handler.wire_name
    );
    quote! {
        #(#docs)*
        #[doc = ""]
        #[doc = #doc]
        pub fn #method(&self, #(#params),*) -> #private::Request<'_, #ok, #err> {
            self.__mqless_core.request(#message_value)
        }
    }
}
