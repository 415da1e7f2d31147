//! A handler's panic is caught, retried and dead-lettered, and logged as one line per
//! attempt through `tracing`: it does not also reach the process's panic hook (which
//! prints a backtrace per attempt). Panics outside handlers still do. Its own test
//! binary, as panic hooks are global to the process.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use mqless::Embedded;
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Brittle;

#[mqless::actor]
impl Brittle {
    pub fn crash(&mut self) {
        panic!("boom");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_panics_skip_the_panic_hook_and_other_panics_reach_it() {
    let hook_calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&hook_calls);
    std::panic::set_hook(Box::new(move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
    }));

    let runtime = Embedded::new();
    runtime.register::<Brittle>().unwrap();
    let brittle = runtime.client::<Brittle>("b").unwrap();
    brittle.crash().send().await.unwrap();
    runtime.settle().await;
    let letters = mqless_tests::dead_letters::<Brittle>(&runtime, "b").await;
    assert_eq!(letters.len(), 1, "three attempts, then a dead letter");
    assert_eq!(letters[0].attempts, 3);
    assert_eq!(
        hook_calls.load(Ordering::SeqCst),
        0,
        "no handler panic reached the hook"
    );

    let outside = std::panic::catch_unwind(|| panic!("not in a handler"));
    assert!(outside.is_err());
    assert_eq!(
        hook_calls.load(Ordering::SeqCst),
        1,
        "a panic outside handlers reaches the hook"
    );
}
