//! The `#[actor]` attribute of MQLess. Use it through `mqless::actor`; its documentation
//! lives there.
//!
//! Three stages, one file each: `parse` reads the impl block into a `parse::ActorDef`,
//! `validate` checks every rule and collects all errors, `expand` writes the message
//! enum, the dispatch, and the client (or, when the block has errors, a fallback that
//! keeps the type an actor, so only the real mistakes are reported). `sends` is the
//! visitor that finds what a block sends to.

mod errors;
mod expand;
mod parse;
mod sends;
mod validate;

use proc_macro::TokenStream;

/// Turns an inherent impl block into an actor. See `mqless::actor`.
#[proc_macro_attribute]
pub fn actor(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::actor(attr.into(), item.into()).into()
}
