//! The expansion names only `::mqless::__macro_support`, `::core` and `::std`: it compiles with
//! no prelude, under `missing_docs`, with the crate imported under another name, and with
//! names that shadow the prelude's.
#![no_implicit_prelude]
#![deny(missing_docs)]
#![warn(clippy::pedantic)]

extern crate mqless as renamed;
extern crate serde;
extern crate std;
extern crate tokio;

/// Shadows the prelude's `Option`, `Result`, `Ok` and `Box`, which generated code must
/// not rely on.
#[allow(dead_code)]
enum Option {}
#[allow(dead_code)]
struct Box;
#[allow(dead_code)]
enum Result {
    Ok,
}

/// An actor written without the prelude.
#[derive(::std::default::Default, serde::Serialize, serde::Deserialize)]
pub struct Hygienic {
    n: i64,
}

#[renamed::actor]
impl Hygienic {
    /// Adds.
    pub fn add(&mut self, n: i64) -> i64 {
        self.n += n;
        self.n
    }

    /// Reads the total.
    ///
    /// # Errors
    /// When the total is negative.
    #[allow(clippy::unused_async)] // async on purpose: the expansion must await it
    pub async fn read(
        &self,
        ctx: &renamed::Context,
    ) -> ::std::result::Result<i64, ::std::string::String> {
        let _ = ctx.id();
        if self.n < 0 {
            ::std::result::Result::Err(::std::string::ToString::to_string("negative"))
        } else {
            ::std::result::Result::Ok(self.n)
        }
    }
}

#[test]
fn expands_without_the_prelude() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let actors = renamed::Embedded::new();
        actors.register::<Hygienic>().unwrap();
        let client: HygienicClient = actors.client::<Hygienic>("h").unwrap();
        ::std::assert_eq!(client.add(2).call().await.unwrap(), 2);
        ::std::assert_eq!(client.read().call().await.unwrap(), 2);
    });
}
