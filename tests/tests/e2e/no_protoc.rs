//! Building kapi must not need `protoc`: a machine with only cargo builds it.
//! The crates that run or ship `protoc` from a build script are the protobuf
//! code generators; none may be in the workspace's Cargo.lock, which lists
//! every crate any workspace member can build with (dev-dependencies and
//! optional features included). `k8s-pb`, which the tests use, ships its
//! Rust code pre-generated and has no build script. A crate calling `protoc`
//! from a build script of its own would not show here; the CI's test command
//! installs no `protoc`, so the build itself would fail there.

use std::path::Path;

/// Packages whose presence means a build step runs `protoc` (or builds it).
fn needs_protoc(name: &str) -> bool {
    matches!(
        name,
        "prost-build" | "tonic-build" | "tonic-prost-build" | "protobuf-src"
    ) || name.starts_with("protoc")
}

/// The `name = "…"` of every `[[package]]` of a Cargo.lock.
fn locked_packages(lock: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut in_package = false;
    for line in lock.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[[package]]";
        } else if in_package && let Some(name) = line.strip_prefix("name = ") {
            names.push(name.trim_matches('"'));
        }
    }
    names
}

#[test]
fn no_crate_in_the_build_needs_protoc() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    let lock = std::fs::read_to_string(&path).expect("the workspace's Cargo.lock");
    let names = locked_packages(&lock);
    // The parse saw the lock: kapi's own crates and the gRPC client are there.
    for expected in ["kapi-server", "kapi-tests", "tonic", "prost", "k8s-pb"] {
        assert!(names.contains(&expected), "{expected} not in {path:?}");
    }
    let offending: Vec<&str> = names.into_iter().filter(|n| needs_protoc(n)).collect();
    assert!(
        offending.is_empty(),
        "these crates need protoc at build time: {offending:?}"
    );
}

#[test]
fn the_check_recognises_protoc_users() {
    let lock = "version = 4\n\n[[package]]\nname = \"prost-build\"\nversion = \"0.14.6\"\ndependencies = [\n \"prost\",\n]\n\n[[package]]\nname = \"protoc-bin-vendored\"\n\n[metadata]\nname = \"x\"\n";
    let names = locked_packages(lock);
    assert_eq!(names, ["prost-build", "protoc-bin-vendored"]);
    assert!(names.iter().all(|n| needs_protoc(n)));
    assert!(!needs_protoc("prost") && !needs_protoc("tonic-prost"));
}
