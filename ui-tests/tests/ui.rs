//! Every diagnostic of `#[actor]`, pinned: `fail/<rule>.rs` with its `.stderr`, and
//! `pass/` cases that must compile. Regenerate snapshots with `TRYBUILD=overwrite`.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/fail/*.rs");
    cases.pass("tests/pass/*.rs");
}
