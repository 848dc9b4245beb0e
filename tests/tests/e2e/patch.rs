//! PATCH in its flavours with real clients: kubectl's client-side `apply`
//! (last-applied annotation + strategic merge patch), `patch --type`,
//! `diff` and `edit` with a scripted editor (both kubectl binaries), the
//! Python client's `patch_namespaced_config_map`, and the HTTP answers for
//! patches that do not apply.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{
    Server, assert_contains, assert_status, for_each_kubectl, into_json, run_python_checks,
};

/// A ConfigMap manifest in `default`.
fn configmap_yaml(name: &str, labels: &[(&str, &str)], data: &[(&str, &str)]) -> String {
    crate::harness::configmap_yaml("default", name, labels, data)
}

fn get_cm(server: &Server, name: &str) -> Value {
    let (status, cm) = server.get(&format!("/api/v1/namespaces/default/configmaps/{name}"));
    assert_eq!(status, StatusCode::OK, "get {name}: {cm}");
    cm
}

#[test]
fn client_side_apply_updates_and_prunes_fields() {
    for_each_kubectl(|server, k| {
        let name = format!("csa-{}", k.tag());
        let file = server.write_file(
            &format!("{name}.yaml"),
            &configmap_yaml(
                &name,
                &[("keep", "1"), ("drop", "1")],
                &[("a", "1"), ("b", "2")],
            ),
        );
        let path = file.to_str().expect("utf-8 path");
        let out = k.run(&["apply", "-f", path]);
        assert_contains(
            out.ok(),
            &format!("configmap/{name} created"),
            "first apply",
        );
        let rv1 = get_cm(server, &name)["metadata"]["resourceVersion"].clone();

        // Unchanged file: nothing to send, nothing changes.
        let out = k.run(&["apply", "-f", path]);
        assert_contains(
            out.ok(),
            &format!("configmap/{name} unchanged"),
            "second apply",
        );
        assert_eq!(get_cm(server, &name)["metadata"]["resourceVersion"], rv1);

        // A field changed by someone else is kept; a field removed from the file goes.
        server.put(&format!("/api/v1/namespaces/default/configmaps/{name}"), &{
            let mut cm = get_cm(server, &name);
            cm["data"]["other"] = json!("theirs");
            cm
        });
        server.write_file(
            &format!("{name}.yaml"),
            &configmap_yaml(&name, &[("keep", "1")], &[("a", "changed")]),
        );
        let out = k.run(&["apply", "-f", path]);
        assert_contains(
            out.ok(),
            &format!("configmap/{name} configured"),
            "third apply",
        );
        let cm = get_cm(server, &name);
        assert_eq!(
            cm["data"],
            json!({"a": "changed", "other": "theirs"}),
            "{cm}"
        );
        assert_eq!(cm["metadata"]["labels"], json!({"keep": "1"}), "{cm}");
        let last: Value = serde_json::from_str(
            cm["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
                .as_str()
                .unwrap_or_else(|| panic!("no last-applied annotation: {cm}")),
        )
        .expect("last-applied is JSON");
        assert_eq!(last["data"], json!({"a": "changed"}), "{last}");

        // And applying that again is a no-op.
        let rv = cm["metadata"]["resourceVersion"].clone();
        let out = k.run(&["apply", "-f", path]);
        assert_contains(out.ok(), "unchanged", "fourth apply");
        assert_eq!(get_cm(server, &name)["metadata"]["resourceVersion"], rv);
    });
}

#[test]
fn kubectl_patch_all_types() {
    for_each_kubectl(|server, k| {
        let name = format!("patched-{}", k.tag());
        server.create_configmap("default", &name, &[("a", "1")]);
        let out = k.run(&[
            "patch",
            "cm",
            &name,
            "-p",
            r#"{"data":{"s":"1"},"metadata":{"finalizers":["x/one"]}}"#,
        ]);
        assert_contains(out.ok(), &format!("configmap/{name} patched"), "strategic");
        // finalizers merge as a set under strategic merge patch.
        let out = k.run(&[
            "patch",
            "cm",
            &name,
            "--type=strategic",
            "-p",
            r#"{"metadata":{"finalizers":["x/two"]}}"#,
        ]);
        out.ok();
        let cm = get_cm(server, &name);
        let mut fins: Vec<String> = serde_json::from_value(cm["metadata"]["finalizers"].clone())
            .unwrap_or_else(|e| panic!("finalizers ({e}): {cm}"));
        fins.sort();
        assert_eq!(fins, ["x/one", "x/two"], "{cm}");

        let out = k.run(&[
            "patch",
            "cm",
            &name,
            "--type=merge",
            "-p",
            r#"{"data":{"m":"1","a":null},"metadata":{"finalizers":null}}"#,
        ]);
        out.ok();
        let out = k.run(&[
            "patch",
            "cm",
            &name,
            "--type=json",
            "-p",
            r#"[{"op":"add","path":"/data/j","value":"1"}]"#,
        ]);
        out.ok();
        let cm = get_cm(server, &name);
        assert_eq!(cm["data"], json!({"s": "1", "m": "1", "j": "1"}), "{cm}");
        assert!(cm["metadata"].get("finalizers").is_none(), "{cm}");

        let out = k.run(&[
            "patch",
            "cm",
            &name,
            "--type=json",
            "-p",
            r#"[{"op":"test","path":"/data/j","value":"2"}]"#,
        ]);
        let err = out.fails();
        assert_contains(err, "Invalid", "failing json patch test");
        let out = k.run(&[
            "patch",
            "cm",
            &name,
            "-p",
            r#"{"metadata":{"labels":{"$patch":"bogus"}}}"#,
        ]);
        out.fails();
    });
}

#[test]
fn kubectl_diff_shows_changes() {
    for_each_kubectl(|server, k| {
        let name = format!("diffed-{}", k.tag());
        let file = server.write_file(
            &format!("{name}.yaml"),
            &configmap_yaml(&name, &[], &[("a", "1")]),
        );
        let path = file.to_str().expect("utf-8 path");
        k.run(&["apply", "-f", path]).ok();
        let out = k.run(&["diff", "-f", path]);
        assert!(
            out.status.success(),
            "diff of an unchanged object exits 0: {out:?}"
        );
        server.write_file(
            &format!("{name}.yaml"),
            &configmap_yaml(&name, &[], &[("a", "2")]),
        );
        let out = k.run(&["diff", "-f", path]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "diff with changes exits 1: {out:?}"
        );
        assert_contains(&out.stdout, "+  a: \"2\"", "diff output");
        assert_contains(&out.stdout, "-  a: \"1\"", "diff output");
        // diff is a dry run: nothing stored.
        assert_eq!(get_cm(server, &name)["data"]["a"], "1");
    });
}

#[test]
fn kubectl_edit_with_scripted_editor() {
    for_each_kubectl(|server, k| {
        let name = format!("edited-{}", k.tag());
        server.create_configmap("default", &name, &[("a", "before")]);
        let editor = server.write_file(
            "editor.sh",
            "#!/bin/sh\nsed -i 's/a: before/a: after/' \"$1\"\n",
        );
        let mut perms = std::fs::metadata(&editor).expect("editor").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&editor, perms).expect("chmod editor");
        let ed = editor.to_str().expect("utf-8 path");
        let out = k.run_with_env(
            &["edit", "cm", &name],
            &[("EDITOR", ed), ("KUBE_EDITOR", ed)],
        );
        assert_contains(out.ok(), &format!("configmap/{name} edited"), "edit");
        assert_eq!(get_cm(server, &name)["data"]["a"], "after");
    });
}

#[test]
fn patch_errors_over_http() {
    let server = Server::start_in_process();
    server.create_configmap("default", "errs", &[("a", "1")]);
    let url = server.at("/api/v1/namespaces/default/configmaps/errs");
    let send = |ct: &str, body: &str| {
        let r = server
            .http()
            .patch(&url)
            .header("Content-Type", ct)
            .body(body.to_string())
            .send()
            .expect("PATCH");
        into_json(r)
    };
    let (s, b) = send(
        "application/strategic-merge-patch+json",
        r#"{"data":{"$patch":"explode"}}"#,
    );
    assert_status(s, &b, 400, "BadRequest");
    let (s, b) = send("application/strategic-merge-patch+json", "[1]");
    assert_status(s, &b, 400, "BadRequest");
    let (s, b) = send(
        "application/json-patch+json",
        r#"[{"op":"remove","path":"/data/nope"}]"#,
    );
    assert_status(s, &b, 422, "Invalid");
    let (s, b) = send("text/plain", "{}");
    assert_status(s, &b, 415, "UnsupportedMediaType");
    // resourceVersion in a patch: a stale one is a precondition failure, a
    // null one (kubectl's three-way patch can send it) is unconditional.
    let (s, b) = send(
        "application/strategic-merge-patch+json",
        r#"{"metadata":{"resourceVersion":"1"},"data":{"c":"3"}}"#,
    );
    assert_status(s, &b, 409, "Conflict");
    let (s, b) = send(
        "application/strategic-merge-patch+json",
        r#"{"metadata":{"resourceVersion":null},"data":{"c":"3"}}"#,
    );
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"], json!({"a": "1", "c": "3"}));
    let (s, b) = send(
        "application/json-patch+json",
        r#"[{"op":"test","path":"/metadata/resourceVersion","value":"1"},{"op":"remove","path":"/data/c"}]"#,
    );
    assert_status(s, &b, 409, "Conflict");
    let current = get_cm(&server, "errs");
    let ops = json!([
        {"op": "test", "path": "/metadata/resourceVersion", "value": current["metadata"]["resourceVersion"]},
        {"op": "remove", "path": "/data/c"}
    ]);
    let (s, b) = send("application/json-patch+json", &ops.to_string());
    assert_eq!(s, StatusCode::OK, "{b}");
    // Strategic merge: dry run answers the patched object and stores nothing.
    let r = server
        .http()
        .patch(format!("{url}?dryRun=All"))
        .header("Content-Type", "application/strategic-merge-patch+json")
        .body(r#"{"data":{"b":"2"}}"#)
        .send()
        .expect("PATCH");
    let (s, b) = into_json(r);
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"], json!({"a": "1", "b": "2"}));
    assert_eq!(get_cm(&server, "errs")["data"], json!({"a": "1"}));
}

#[test]
fn python_patch_namespaced_config_map() {
    run_python_checks(&Server::start(), "patch_configmap.py");
}

fn managers(cm: &Value) -> Vec<(String, String)> {
    cm["metadata"]["managedFields"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|e| {
                    (
                        e["manager"].as_str().unwrap_or("").to_string(),
                        e["operation"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn server_side_apply_conflicts_and_force() {
    for_each_kubectl(|server, k| {
        let name = format!("ssa-{}", k.tag());
        let file = server.write_file(
            &format!("{name}.yaml"),
            &configmap_yaml(&name, &[], &[("k", "one"), ("mine", "1")]),
        );
        let path = file.to_str().expect("utf-8 path");
        let out = k.run(&["apply", "--server-side", "-f", path]);
        assert_contains(
            out.ok(),
            &format!("configmap/{name} serverside-applied"),
            "first SSA",
        );
        let cm = get_cm(server, &name);
        assert_eq!(
            managers(&cm),
            [("kubectl".to_string(), "Apply".to_string())],
            "{cm}"
        );
        assert_eq!(
            cm["metadata"]["managedFields"][0]["fieldsV1"],
            json!({"f:data": {"f:k": {}, "f:mine": {}}}),
            "{cm}"
        );
        // Applying the same file again changes nothing.
        let rv = cm["metadata"]["resourceVersion"].clone();
        k.run(&["apply", "--server-side", "-f", path]).ok();
        assert_eq!(get_cm(server, &name)["metadata"]["resourceVersion"], rv);

        // Another manager changing k conflicts.
        let other = server.write_file(
            &format!("{name}-other.yaml"),
            &configmap_yaml(&name, &[], &[("k", "two")]),
        );
        let other = other.to_str().expect("utf-8 path");
        let out = k.run(&[
            "apply",
            "--server-side",
            "--field-manager=other",
            "-f",
            other,
        ]);
        let err = out.fails();
        assert_contains(err, "conflict", "conflicting SSA");
        assert_contains(err, ".data.k", "conflicting SSA");
        assert_contains(err, "\"kubectl\"", "conflicting SSA");
        assert_eq!(get_cm(server, &name)["data"]["k"], "one");

        let out = k.run(&[
            "apply",
            "--server-side",
            "--field-manager=other",
            "--force-conflicts",
            "-f",
            other,
        ]);
        out.ok();
        let cm = get_cm(server, &name);
        assert_eq!(cm["data"], json!({"k": "two", "mine": "1"}), "{cm}");
        let fields: Vec<Value> = cm["metadata"]["managedFields"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let of = |m: &str| {
            fields
                .iter()
                .find(|e| e["manager"] == m)
                .map(|e| e["fieldsV1"].clone())
                .unwrap_or(Value::Null)
        };
        assert_eq!(of("kubectl"), json!({"f:data": {"f:mine": {}}}), "{cm}");
        assert_eq!(of("other"), json!({"f:data": {"f:k": {}}}), "{cm}");

        // kubectl stops applying `mine`: nobody else owns it, so it goes.
        server.write_file(&format!("{name}.yaml"), &configmap_yaml(&name, &[], &[]));
        k.run(&["apply", "--server-side", "-f", path]).ok();
        let cm = get_cm(server, &name);
        assert_eq!(cm["data"], json!({"k": "two"}), "{cm}");
    });
}

#[test]
fn client_side_then_server_side_apply_migrates() {
    for_each_kubectl(|server, k| {
        let name = format!("migrate-{}", k.tag());
        let file = server.write_file(
            &format!("{name}.yaml"),
            &configmap_yaml(&name, &[], &[("a", "1"), ("b", "2")]),
        );
        let path = file.to_str().expect("utf-8 path");
        k.run(&["apply", "-f", path]).ok();
        let cm = get_cm(server, &name);
        assert_eq!(
            managers(&cm),
            [(
                "kubectl-client-side-apply".to_string(),
                "Update".to_string()
            )],
            "{cm}"
        );
        // Server-side apply of a smaller file: kubectl migrates the client-side
        // manager's fields to itself first, so no conflict and `b` goes.
        server.write_file(
            &format!("{name}.yaml"),
            &configmap_yaml(&name, &[], &[("a", "1")]),
        );
        k.run(&["apply", "--server-side", "-f", path]).ok();
        let cm = get_cm(server, &name);
        assert_eq!(cm["data"], json!({"a": "1"}), "{cm}");
        assert!(
            managers(&cm).contains(&("kubectl".to_string(), "Apply".to_string())),
            "{cm}"
        );
    });
}

#[test]
fn updates_record_their_manager() {
    let server = Server::start_in_process();
    let (s, cm) = server.post(
        "/api/v1/namespaces/default/configmaps?fieldManager=creator",
        &crate::harness::configmap("default", "tracked", &[("a", "1")]),
    );
    assert_eq!(s, StatusCode::CREATED, "{cm}");
    assert_eq!(
        managers(&cm),
        [("creator".to_string(), "Update".to_string())]
    );
    // The data map was new: the creator owns it too (".").
    assert_eq!(
        cm["metadata"]["managedFields"][0]["fieldsV1"],
        json!({"f:data": {".": {}, "f:a": {}}})
    );
    // A merge patch without fieldManager: the User-Agent prefix names it.
    let r = server
        .http()
        .patch(server.at("/api/v1/namespaces/default/configmaps/tracked"))
        .header("Content-Type", "application/merge-patch+json")
        .header("User-Agent", "my-controller/1.2 (linux)")
        .body(r#"{"data":{"a":"2","b":"1"}}"#)
        .send()
        .expect("PATCH");
    let (s, cm) = into_json(r);
    assert_eq!(s, StatusCode::OK, "{cm}");
    // The creator lost `a` but still owns the map itself, as upstream's
    // field manager leaves it.
    assert_eq!(
        managers(&cm),
        [
            ("creator".to_string(), "Update".to_string()),
            ("my-controller".to_string(), "Update".to_string())
        ],
        "{cm}"
    );
    assert_eq!(
        cm["metadata"]["managedFields"][0]["fieldsV1"],
        json!({"f:data": {}}),
        "{cm}"
    );
    assert_eq!(
        cm["metadata"]["managedFields"][1]["fieldsV1"],
        json!({"f:data": {"f:a": {}, "f:b": {}}}),
        "{cm}"
    );

    // Apply without fieldManager is invalid; apply creates; force elsewhere is invalid.
    let apply = |query: &str, body: &str| {
        let r = server
            .http()
            .patch(server.at(&format!(
                "/api/v1/namespaces/default/configmaps/applied{query}"
            )))
            .header("Content-Type", "application/apply-patch+yaml")
            .body(body.to_string())
            .send()
            .expect("PATCH");
        into_json(r)
    };
    let body = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  x: \"1\"\n";
    let (s, b) = apply("", body);
    assert_status(s, &b, 422, "Invalid");
    assert_contains(
        b["message"].as_str().unwrap_or(""),
        "fieldManager: Required value",
        "no manager",
    );
    let (s, b) = apply("?fieldManager=ctl&dryRun=All", body);
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, _) = server.get("/api/v1/namespaces/default/configmaps/applied");
    assert_eq!(s, StatusCode::NOT_FOUND, "dry-run apply stored nothing");
    let (s, b) = apply("?fieldManager=ctl", body);
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(managers(&b), [("ctl".to_string(), "Apply".to_string())]);
    let (s, b) = apply("?fieldManager=ctl", body);
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = apply("?fieldManager=rival", &body.replace("\"1\"", "\"2\""));
    assert_status(s, &b, 409, "Conflict");
    assert_eq!(
        b["message"], "Apply failed with 1 conflict: conflict with \"ctl\": .data.x",
        "{b}"
    );
    assert_eq!(
        b["details"]["causes"][0]["reason"], "FieldManagerConflict",
        "{b}"
    );
    assert_eq!(b["details"]["causes"][0]["field"], ".data.x", "{b}");
    let r = server
        .http()
        .patch(server.at("/api/v1/namespaces/default/configmaps/applied?force=true"))
        .header("Content-Type", "application/merge-patch+json")
        .body("{}")
        .send()
        .expect("PATCH");
    let (s, b) = into_json(r);
    assert_status(s, &b, 422, "Invalid");
}

#[test]
fn apply_validate_strict_rejects_misspelt_field() {
    for_each_kubectl(|server, k| {
        let name = format!("strict-{}", k.tag());
        let file = server.write_file(
            &format!("{name}.yaml"),
            &format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: default\ndatta:\n  a: \"1\"\n"
            ),
        );
        let out = k.run(&[
            "apply",
            "--validate=strict",
            "-f",
            file.to_str().expect("utf-8 path"),
        ]);
        let err = out.fails();
        assert_contains(
            err,
            "strict decoding error: unknown field \"datta\"",
            "strict apply",
        );
        let (s, _) = server.get(&format!("/api/v1/namespaces/default/configmaps/{name}"));
        assert_eq!(s, StatusCode::NOT_FOUND, "nothing created");
    });
}

#[test]
fn duplicate_fields_by_field_validation() {
    let server = Server::start_in_process();
    let post = |query: &str, ct: &str, body: &str| {
        server
            .http()
            .post(server.at(&format!("/api/v1/namespaces/default/configmaps{query}")))
            .header("Content-Type", ct)
            .body(body.to_string())
            .send()
            .expect("POST")
    };
    let json_body = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup","name":"dup"},"data":{"a":"1","a":"2"}}"#;
    let (s, b) = into_json(post(
        "?fieldValidation=Strict",
        "application/json",
        json_body,
    ));
    assert_status(s, &b, 400, "BadRequest");
    assert_eq!(
        b["message"],
        "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: duplicate field \"metadata.name\", duplicate field \"data.a\"",
        "{b}"
    );
    let yaml_body =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dupy\ndata:\n  a: \"1\"\n  a: \"2\"\n";
    let (s, b) = into_json(post(
        "?fieldValidation=Strict",
        "application/yaml",
        yaml_body,
    ));
    assert_status(s, &b, 400, "BadRequest");
    assert_contains(
        b["message"].as_str().unwrap_or(""),
        "duplicate field \"data.a\"",
        "yaml strict",
    );

    // Warn (the default): created, last value wins, one Warning header per field.
    let r = post("", "application/yaml", yaml_body);
    let warnings: Vec<String> = r
        .headers()
        .get_all("warning")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect();
    let (s, b) = into_json(r);
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["data"]["a"], "2");
    assert_eq!(
        warnings,
        [r#"299 - "duplicate field \"data.a\"""#],
        "{warnings:?}"
    );
    // Ignore: no warning.
    let r = post(
        "?fieldValidation=Ignore",
        "application/json",
        &json_body.replace("\"dup\"", "\"dup2\""),
    );
    assert!(r.headers().get("warning").is_none());
    assert_eq!(r.status(), StatusCode::CREATED);
}

#[test]
fn kubectl_label_annotate_and_server_dry_run() {
    for_each_kubectl(|server, k| {
        let name = format!("marked-{}", k.tag());
        let file = server.write_file(
            &format!("{name}.yaml"),
            &configmap_yaml(&name, &[], &[("a", "1")]),
        );
        let path = file.to_str().expect("utf-8 path");
        let out = k.run(&["create", "--dry-run=server", "-f", path]);
        assert_contains(
            out.ok(),
            &format!("configmap/{name} created (server dry run)"),
            "dry run",
        );
        let (s, _) = server.get(&format!("/api/v1/namespaces/default/configmaps/{name}"));
        assert_eq!(s, StatusCode::NOT_FOUND, "dry-run create stored nothing");

        k.run(&["create", "-f", path]).ok();
        k.run(&["label", "cm", &name, "tier=web"]).ok();
        k.run(&["label", "cm", &name, "--overwrite", "tier=db"])
            .ok();
        k.run(&["annotate", "cm", &name, "note=hi"]).ok();
        let cm = get_cm(server, &name);
        assert_eq!(cm["metadata"]["labels"], json!({"tier": "db"}), "{cm}");
        assert_eq!(cm["metadata"]["annotations"]["note"], "hi", "{cm}");
        // Each command is recorded under its own field manager.
        let m = managers(&cm);
        for want in ["kubectl-create", "kubectl-label", "kubectl-annotate"] {
            assert!(
                m.contains(&(want.to_string(), "Update".to_string())),
                "{want} missing from {m:?}"
            );
        }
    });
}

fn service_account_yaml(name: &str, secrets: &[&str]) -> String {
    let mut s = format!(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {name}\n  namespace: default\nsecrets:\n"
    );
    for n in secrets {
        s.push_str(&format!("- name: {n}\n"));
    }
    s
}

#[test]
fn client_side_apply_merges_keyed_lists() {
    for_each_kubectl(|server, k| {
        let name = format!("sa-{}", k.tag());
        let file = server.write_file(
            &format!("{name}.yaml"),
            &service_account_yaml(&name, &["one", "two"]),
        );
        let path = file.to_str().expect("utf-8 path");
        k.run(&["apply", "-f", path]).ok();
        let url = format!("/api/v1/namespaces/default/serviceaccounts/{name}");
        // Someone else adds a secret; the file drops `one` and adds `three`.
        let (s, mut sa) = server.get(&url);
        assert_eq!(s, StatusCode::OK, "{sa}");
        if let Some(list) = sa["secrets"].as_array_mut() {
            list.push(json!({"name": "theirs"}));
        }
        let (s, sa) = server.put(&url, &sa);
        assert_eq!(s, StatusCode::OK, "{sa}");
        server.write_file(
            &format!("{name}.yaml"),
            &service_account_yaml(&name, &["two", "three"]),
        );
        let out = k.run(&["apply", "-f", path]);
        assert_contains(
            out.ok(),
            &format!("serviceaccount/{name} configured"),
            "second apply",
        );
        let (_, sa) = server.get(&url);
        let mut names: Vec<String> = sa["secrets"]
            .as_array()
            .map(|l| {
                l.iter()
                    .filter_map(|s| s["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        assert_eq!(names, ["theirs", "three", "two"], "{sa}");
        // Again: kubectl still sends `$setElementOrder` (the live list has an
        // item the file does not, so kubectl sees a different order, as with
        // kube-apiserver), but the server changes nothing.
        let rv = sa["metadata"]["resourceVersion"].clone();
        k.run(&["apply", "-f", path]).ok();
        let (_, again) = server.get(&url);
        assert_eq!(again["metadata"]["resourceVersion"], rv, "{again}");
    });
}
