//! Misuse of `#[derive(Resource)]` fails to compile with an error at the
//! attribute, literal or token at fault (see `tests/ui/*.stderr`). To accept a
//! deliberate change of a message, run
//! `TRYBUILD=overwrite cargo test -p kapi-macros --test macros ui` and read the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
