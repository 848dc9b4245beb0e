//! Snapshot tests of the generator: the small fixture tree under
//! `tests/fixtures/small/` is generated and every output file is compared with
//! its snapshot under `tests/snapshots/`. To accept a deliberate change, run
//! `INSTA_UPDATE=always cargo test -p kapi-codegen --test codegen snapshots`
//! (or `cargo insta review`) and read the diff.

use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name)
}

fn generate_small() -> kapi_codegen::Output {
    kapi_codegen::generate(&fixture("small")).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn small_fixture_files() {
    let out = generate_small();
    // A BTreeMap: the files come in a fixed order.
    let names: Vec<&str> = out.files.keys().map(String::as_str).collect();
    assert_eq!(names, ["api.rs", "example_com_v1.rs", "meta_v1.rs"]);
}

#[test]
fn small_fixture_snapshots() {
    let out = generate_small();
    // `tests/snapshots/snapshots__small__<file>.snap`, wherever this module sits.
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for (name, text) in &out.files {
            let snapshot = format!("snapshots__small__{}", name.trim_end_matches(".rs"));
            insta::assert_snapshot!(snapshot, text);
        }
    });
}

/// The generated code of the fixture is syntactically valid Rust. (It refers
/// to `crate::Resource`, `crate::IntOrString` and `crate::api::...`, which only
/// exist inside `kapi-generated`; the real `api-defs` output is type-checked
/// by building that crate.)
#[test]
fn small_fixture_parses_as_rust() {
    let out = generate_small();
    for (name, text) in &out.files {
        if let Err(e) = syn::parse_file(text) {
            panic!("{name} is not valid Rust: {e}\n{text}");
        }
    }
}

/// Spot checks of the fixture's tricky corners, so that a snapshot update that
/// loses one of them fails here as well.
#[test]
fn small_fixture_features() {
    let out = generate_small();
    let example = &out.files["example_com_v1.rs"];
    for needle in [
        // a field named `type` and one named `$ref`
        "rename = \"type\"",
        "pub type_: Option<String>",
        "rename = \"$ref\"",
        "pub ref_: Option<String>",
        // a map, an int-or-string and a preserve-unknown-fields field
        "pub labels: Option<std::collections::BTreeMap<String, String>>",
        "pub port: Option<crate::IntOrString>",
        "pub config: Option<serde_json::Value>",
        // an inline object gets a name of its own
        "pub struct WidgetSpecTemplate",
        "pub template: Option<crate::api::example_com::v1::WidgetSpecTemplate>",
        // direct recursion is boxed, recursion through a Vec is not
        "pub next: Option<Box<crate::api::example_com::v1::Node>>",
        "pub children: Option<Vec<crate::api::example_com::v1::Node>>",
        // required and defaulted fields are plain
        "pub replicas: i32",
        "pub metadata: crate::api::meta::v1::ObjectMeta",
        // the served kind derives Resource and gets a list type
        "crate::Resource",
        "status,",
        "pub struct WidgetList",
        // a non-object named schema
        "pub type Quantity = String",
    ] {
        assert!(
            example.contains(needle),
            "example_com_v1.rs lacks {needle:?}:\n{example}"
        );
    }
}
