//! A sweep of everyday kubectl commands against kapi, with both kubectls
//! (see `kubectl.rs`): describe, the `get` output options, delete and wait
//! variants, label/annotate/replace, discovery and raw paths. Each scenario
//! works in a namespace of its own per binary and asserts on what kubectl
//! prints, as it prints it against kube-apiserver.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{
    Server, assert_contains, for_each_kubectl_in_namespace as for_each_kubectl, into_json,
    kubectl_bins, parse_table, testdata,
};

fn headers(table: &str) -> Vec<&str> {
    table
        .lines()
        .next()
        .unwrap_or("")
        .split("  ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

fn core_event(ns: &str, name: &str, target: (&str, &str, &str)) -> String {
    let (kind, obj, uid) = target;
    format!(
        "apiVersion: v1\nkind: Event\nmetadata: {{name: {name}, namespace: {ns}}}\n\
         involvedObject: {{apiVersion: v1, kind: {kind}, name: {obj}, namespace: {ns}, uid: \"{uid}\"}}\n\
         reason: Synced\nmessage: {obj} synced\ntype: Normal\ncount: 3\n\
         firstTimestamp: \"2026-01-01T00:00:00Z\"\nlastTimestamp: \"2026-01-01T00:01:00Z\"\n\
         source: {{component: sweeper}}\n"
    )
}

#[test]
fn describe_builtin_kinds_with_events() {
    for_each_kubectl("describe", |server, k, ns| {
        k.run(&["create", "cm", "app", "-n", ns, "--from-literal=color=blue"])
            .ok();
        k.run(&[
            "create",
            "secret",
            "generic",
            "pw",
            "-n",
            ns,
            "--from-literal=p=xyz",
        ])
        .ok();
        k.run(&["create", "sa", "robot", "-n", ns]).ok();
        k.apply_yaml(server, "lease",
            &format!(
                "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {{name: lock, namespace: {ns}}}\n\
                 spec: {{holderIdentity: me, leaseDurationSeconds: 15}}\n"
            ),
        );
        let uid = k.json(&["get", "cm", "app", "-n", ns])["metadata"]["uid"]
            .as_str()
            .expect("uid")
            .to_string();
        k.apply_yaml(
            server,
            "ev",
            &core_event(ns, "app.1", ("ConfigMap", "app", &uid)),
        );

        // describe finds the event by involvedObject.{name,namespace,kind,uid}.
        let out = k.run(&["describe", "cm", "app", "-n", ns]);
        let text = out.ok();
        assert_contains(text, "Name:         app", "describe cm");
        assert_contains(text, "color:\n----\nblue", "describe cm data");
        assert_contains(text, "Events:\n  Type    Reason  Age", "describe cm events");
        assert_contains(text, "Normal  Synced", "describe cm event row");
        assert_contains(text, "(x3 over", "describe cm event count");
        assert_contains(text, "sweeper  app synced", "describe cm event source");

        let text = k
            .run(&["describe", "secret", "pw", "-n", ns])
            .ok()
            .to_string();
        assert_contains(&text, "p:  3 bytes", "describe secret");
        assert!(
            !text.contains("xyz"),
            "describe shows no secret value:\n{text}"
        );

        let text = k
            .run(&["describe", "sa", "robot", "-n", ns])
            .ok()
            .to_string();
        assert_contains(&text, "Name:                robot", "describe sa");
        assert_contains(&text, "Events:              <none>", "describe sa");

        // Upstream Leases, ConfigMaps, Namespaces carry no metadata.generation.
        let text = k
            .run(&["describe", "lease", "lock", "-n", ns])
            .ok()
            .to_string();
        assert_contains(&text, "Holder Identity:         me", "describe lease");
        assert!(!text.contains("Generation"), "describe lease:\n{text}");
        let cm = k.json(&["get", "cm", "app", "-n", ns]);
        assert!(cm["metadata"].get("generation").is_none(), "{cm}");

        // A namespace is labelled with its name; describe shows it.
        let text = k.run(&["describe", "ns", ns]).ok().to_string();
        assert_contains(
            &text,
            &format!("kubernetes.io/metadata.name={ns}"),
            "describe ns",
        );
        assert_contains(&text, "Status:       Active", "describe ns");
        let namespace = k.json(&["get", "ns", ns]);
        assert!(
            namespace["metadata"].get("generation").is_none(),
            "{namespace}"
        );
        let sel = format!("kubernetes.io/metadata.name={ns}");
        let names = k
            .run(&["get", "ns", "-l", &sel, "-o", "name"])
            .ok()
            .to_string();
        assert_eq!(names.trim(), format!("namespace/{ns}"));
    });
}

#[test]
fn get_events_table_and_event_commands() {
    for_each_kubectl("events", |server, k, ns| {
        k.run(&["create", "cm", "app", "-n", ns]).ok();
        k.apply_yaml(
            server,
            "ev1",
            &core_event(ns, "app.1", ("ConfigMap", "app", "u-1")),
        );
        k.apply_yaml(server, "ev2",
            &format!(
                "apiVersion: v1\nkind: Event\nmetadata: {{name: lock.2, namespace: {ns}}}\n\
                 involvedObject: {{apiVersion: coordination.k8s.io/v1, kind: Lease, name: lock, namespace: {ns}}}\n\
                 reason: Renewed\nmessage: lease renewed\ntype: Warning\n\
                 eventTime: \"2026-01-01T00:02:00.000000Z\"\naction: Renew\n\
                 reportingComponent: locker\nreportingInstance: locker-0\n"
            ),
        );

        // Upstream's event printer: no NAME column, OBJECT is kind/name in lower case.
        let out = k.run(&["get", "events", "-n", ns]);
        let text = out.ok();
        assert_eq!(
            headers(text),
            ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
            "{text}"
        );
        let rows = parse_table(text);
        let objects: Vec<&str> = rows.iter().map(|r| r["OBJECT"].as_str()).collect();
        assert!(objects.contains(&"configmap/app"), "{text}");
        assert!(objects.contains(&"lease/lock"), "{text}");
        // An event of the new API has its eventTime as LAST SEEN.
        let lease_row = rows
            .iter()
            .find(|r| r["OBJECT"] == "lease/lock")
            .expect("row");
        assert!(
            lease_row["LAST SEEN"].ends_with('d') || lease_row["LAST SEEN"].ends_with('y'),
            "{text}"
        );

        let out = k.run(&["get", "events", "-n", ns, "-o", "wide"]);
        let text = out.ok();
        assert_eq!(
            headers(text),
            [
                "LAST SEEN",
                "TYPE",
                "REASON",
                "OBJECT",
                "SUBOBJECT",
                "SOURCE",
                "MESSAGE",
                "FIRST SEEN",
                "COUNT",
                "NAME"
            ],
            "{text}"
        );
        let rows = parse_table(text);
        let lease_row = rows.iter().find(|r| r["NAME"] == "lock.2").expect("row");
        assert_eq!(lease_row["SOURCE"], "locker, locker-0", "{text}");
        assert_eq!(lease_row["COUNT"], "1", "{text}");
        let cm_row = rows.iter().find(|r| r["NAME"] == "app.1").expect("row");
        assert_eq!(cm_row["SOURCE"], "sweeper", "{text}");
        assert_eq!(cm_row["COUNT"], "3", "{text}");

        let out = k.run(&[
            "get",
            "events",
            "-n",
            ns,
            "--field-selector",
            "involvedObject.name=app",
            "-o",
            "name",
        ]);
        assert_eq!(out.ok().trim(), "event/app.1");
        let out = k.run(&[
            "get",
            "events",
            "-n",
            ns,
            "--field-selector",
            "type=Warning",
            "-o",
            "name",
        ]);
        assert_eq!(out.ok().trim(), "event/lock.2");

        // The apiserver's event validation: an old-API event lives in its object's namespace.
        let file = server.write_file(
            &format!("bad-ev-{}.yaml", k.tag()),
            &format!(
                "apiVersion: v1\nkind: Event\nmetadata: {{name: bad, namespace: {ns}}}\n\
                 involvedObject: {{kind: ConfigMap, name: x, namespace: elsewhere}}\nreason: R\n"
            ),
        );
        let out = k.run(&["create", "-f", file.to_str().expect("utf-8 path")]);
        assert_contains(
            out.fails(),
            "Event \"bad\" is invalid: involvedObject.namespace: Invalid value: \"elsewhere\": does not match event.namespace",
            "event in another namespace",
        );
        let file = server.write_file(
            &format!("bad-lease-{}.yaml", k.tag()),
            &format!(
                "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {{name: bad, namespace: {ns}}}\n\
                 spec: {{leaseDurationSeconds: 0}}\n"
            ),
        );
        let out = k.run(&["create", "-f", file.to_str().expect("utf-8 path")]);
        assert_contains(
            out.fails(),
            "The Lease \"bad\" is invalid: spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
            "lease with a zero duration",
        );

        // `kubectl events` (client-side table).
        let out = k.run(&["events", "-n", ns, "--for", "cm/app"]);
        let text = out.ok();
        assert_contains(text, "ConfigMap/app", "kubectl events --for");
        assert!(!text.contains("Lease/lock"), "{text}");
        let out = k.run(&["events", "-n", ns, "--types=Warning"]);
        assert_contains(out.ok(), "Lease/lock", "kubectl events --types");
    });
}

#[test]
fn get_output_options() {
    for_each_kubectl("get", |server, k, ns| {
        for i in 0..7 {
            let name = format!("cm-{i}");
            k.run(&[
                "create",
                "cm",
                &name,
                "-n",
                ns,
                &format!("--from-literal=i={i}"),
            ])
            .ok();
            k.run(&["label", "cm", &name, "-n", ns, &format!("tier=t{}", i % 3)])
                .ok();
        }
        k.run(&[
            "create",
            "secret",
            "generic",
            "s",
            "-n",
            ns,
            "--from-literal=a=b",
        ])
        .ok();

        let out = k.run(&["get", "cm", "-n", ns, "-o", "wide"]);
        assert_eq!(headers(out.ok()), ["NAME", "DATA", "AGE"]);

        let out = k.run(&[
            "get",
            "cm",
            "-n",
            ns,
            "-l",
            "tier in (t1,t2)",
            "--show-labels",
            "-L",
            "tier",
        ]);
        let text = out.ok();
        assert_eq!(
            headers(text),
            ["NAME", "DATA", "AGE", "TIER", "LABELS"],
            "{text}"
        );
        let rows = parse_table(text);
        assert_eq!(rows.len(), 4, "{text}");
        assert!(
            rows.iter()
                .all(|r| r["TIER"] != "t0" && r["LABELS"] == format!("tier={}", r["TIER"])),
            "{text}"
        );

        let out = k.run(&[
            "get",
            "cm",
            "-n",
            ns,
            "--sort-by=.data.i",
            "-o",
            "name",
            "-l",
            "tier",
        ]);
        let names: Vec<&str> = out.ok().lines().collect();
        assert_eq!(names.len(), 7);
        assert_eq!(names[0], "configmap/cm-0");
        assert_eq!(names[6], "configmap/cm-6");

        let out = k.run(&[
            "get",
            "cm",
            "-n",
            ns,
            "-l",
            "tier=t0",
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ]);
        assert_eq!(out.ok(), "cm-0 cm-3 cm-6");

        let out = k.run(&[
            "get",
            "cm",
            "-n",
            ns,
            "-l",
            "tier",
            "--chunk-size=2",
            "-o",
            "custom-columns=N:.metadata.name,I:.data.i",
        ]);
        let rows = parse_table(out.ok());
        assert_eq!(rows.len(), 7, "{}", out.stdout);
        assert!(
            rows.iter().all(|r| r["N"] == format!("cm-{}", r["I"])),
            "{}",
            out.stdout
        );

        let out = k.run(&["get", "cm", "-n", ns, "--chunk-size=2", "-l", "tier"]);
        assert_eq!(parse_table(out.ok()).len(), 7, "{}", out.stdout);

        let out = k.run(&["get", "cm,secret", "-n", ns]);
        let text = out.ok();
        assert_contains(text, "configmap/cm-6", "get cm,secret");
        assert_contains(text, "secret/s", "get cm,secret");

        let out = k.run(&["get", "cm", "-A", "-l", "tier=t1"]);
        let rows = parse_table(out.ok());
        assert!(
            rows.iter()
                .any(|r| r["NAMESPACE"] == ns && r["NAME"] == "cm-1"),
            "{}",
            out.stdout
        );

        let out = k.run(&["get", "cm", "cm-1", "-n", ns, "-o", "yaml"]);
        assert_contains(out.ok(), "  i: \"1\"", "get -o yaml");

        // kapi serves no kind of the `all` category (pods, services, ...).
        let out = k.run(&["get", "all", "-n", ns]);
        assert_contains(
            out.fails(),
            "the server doesn't have a resource type \"all\"",
            "get all",
        );

        // A brief watch with event types, set up before the changes.
        let mut watch = k.spawn_watching(&[
            "get",
            "cm",
            "-n",
            ns,
            "-w",
            "--output-watch-events",
            "-l",
            "w=1",
            "--request-timeout=30s",
        ]);
        let _ = server;
        k.run(&["create", "cm", "watched", "-n", ns]).ok();
        k.run(&["label", "cm", "watched", "-n", ns, "w=1"]).ok();
        watch.wait_for_line(Duration::from_secs(20), |l| {
            l.starts_with("ADDED") && l.contains("watched")
        });
        k.run(&["delete", "cm", "watched", "-n", ns]).ok();
        watch.wait_for_line(Duration::from_secs(20), |l| {
            l.starts_with("DELETED") && l.contains("watched")
        });
    });
}

#[test]
fn delete_and_wait_variants() {
    for_each_kubectl("delete", |server, k, ns| {
        let create = |name: &str| k.run(&["create", "cm", name, "-n", ns]).ok().to_string();
        let gone = |name: &str| {
            let out = k.run(&["get", "cm", name, "-n", ns]);
            assert_contains(out.fails(), "(NotFound)", "get after delete");
        };
        for n in ["l1", "l2"] {
            create(n);
            k.run(&["label", "cm", n, "-n", ns, "del=yes"]).ok();
        }
        let out = k.run(&["delete", "cm", "-n", ns, "-l", "del=yes"]);
        assert_contains(out.ok(), "configmap \"l1\" deleted", "delete -l");
        gone("l2");

        // `--dry-run=server` sends dryRun in the DeleteOptions body: nothing goes.
        create("kept");
        let out = k.run(&["delete", "cm", "kept", "-n", ns, "--dry-run=server"]);
        assert_contains(out.ok(), "(server dry run)", "delete --dry-run=server");
        let out = k.run(&["delete", "cm", "--all", "-n", ns, "--dry-run=server"]);
        assert_contains(
            out.ok(),
            "(server dry run)",
            "delete --all --dry-run=server",
        );
        let kept = k.json(&["get", "cm", "kept", "-n", ns]);
        assert!(
            kept["metadata"].get("deletionTimestamp").is_none(),
            "{kept}"
        );

        create("now");
        k.run(&["delete", "cm", "now", "-n", ns, "--now"]).ok();
        gone("now");
        create("forced");
        let out = k.run(&[
            "delete",
            "cm",
            "forced",
            "-n",
            ns,
            "--grace-period=0",
            "--force",
        ]);
        assert_contains(
            out.ok(),
            "configmap \"forced\" force deleted",
            "delete --force",
        );
        assert_contains(
            &out.stderr,
            "Immediate deletion does not wait",
            "delete --force",
        );
        gone("forced");

        // With no garbage collector, every propagation policy deletes at once
        // (as if the collector found no dependents); nothing hangs on an
        // `orphan` or `foregroundDeletion` finalizer.
        for cascade in ["orphan", "foreground", "background"] {
            create(cascade);
            let out = k.run(&[
                "delete",
                "cm",
                cascade,
                "-n",
                ns,
                &format!("--cascade={cascade}"),
                "--timeout=20s",
            ]);
            assert_contains(
                out.ok(),
                &format!("configmap \"{cascade}\" deleted"),
                "delete --cascade",
            );
            gone(cascade);
        }

        // An object with a finalizer stays, marked for deletion.
        k.apply_yaml(server, "held",
            &format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: held, namespace: {ns}, finalizers: [example.com/hold]}}\n"
            ),
        );
        k.run(&["delete", "cm", "held", "-n", ns, "--wait=false"])
            .ok();
        let held = k.json(&["get", "cm", "held", "-n", ns]);
        assert!(held["metadata"]["deletionTimestamp"].is_string(), "{held}");
        // `wait --for=delete` ends when the finalizer is removed (once its
        // watch is set up).
        let mut waiter =
            k.spawn_watching(&["wait", "--for=delete", "cm/held", "-n", ns, "--timeout=30s"]);
        k.run(&[
            "patch",
            "cm",
            "held",
            "-n",
            ns,
            "--type=merge",
            "-p",
            "{\"metadata\":{\"finalizers\":null}}",
        ])
        .ok();
        waiter.wait_for_line(Duration::from_secs(30), |l| l.contains("condition met"));
        gone("held");

        create("w");
        let out = k.run(&[
            "wait",
            "--for=jsonpath={.metadata.name}=w",
            "cm/w",
            "-n",
            ns,
            "--timeout=10s",
        ]);
        assert_contains(out.ok(), "configmap/w condition met", "wait --for=jsonpath");
        create("a1");
        create("a2");
        let out = k.run(&["delete", "cm", "--all", "-n", ns]);
        assert_contains(out.ok(), "configmap \"a2\" deleted", "delete --all");
        let out = k.run(&["get", "cm", "-n", ns]);
        assert_contains(
            &out.stderr,
            &format!("No resources found in {ns} namespace."),
            "get after --all",
        );

        // The apiserver alone refuses both forms of the policy at once.
        create("both");
        let resp = server
            .http()
            .delete(server.at(&format!("/api/v1/namespaces/{ns}/configmaps/both")))
            .header("Content-Type", "application/json")
            .body(json!({"propagationPolicy": "Orphan", "orphanDependents": true}).to_string())
            .send()
            .expect("DELETE");
        let (status, body) = into_json(resp);
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(
            body["message"],
            "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Invalid value: \"Orphan\": orphanDependents and deletionPropagation cannot be both set",
            "{body}"
        );
    });
}

#[test]
fn label_annotate_replace_force() {
    for_each_kubectl("label", |server, k, ns| {
        k.run(&["create", "cm", "app", "-n", ns, "--from-literal=k=v"])
            .ok();
        k.run(&["label", "cm", "app", "-n", ns, "tier=a"]).ok();
        let out = k.run(&["label", "cm", "app", "-n", ns, "tier=b"]);
        assert_contains(
            out.fails(),
            "'tier' already has a value (a), and --overwrite is false",
            "label",
        );
        let out = k.run(&["label", "cm", "app", "-n", ns, "tier=b", "--overwrite"]);
        assert_contains(out.ok(), "configmap/app labeled", "label --overwrite");
        let out = k.run(&["label", "cm", "app", "-n", ns, "tier-"]);
        assert_contains(out.ok(), "configmap/app unlabeled", "label key-");
        let cm = k.json(&["get", "cm", "app", "-n", ns]);
        assert!(cm["metadata"]["labels"].get("tier").is_none(), "{cm}");

        k.run(&["annotate", "cm", "app", "-n", ns, "note=1"]).ok();
        let out = k.run(&["annotate", "cm", "app", "-n", ns, "note=2"]);
        assert_contains(out.fails(), "'note' already has a value (1)", "annotate");
        k.run(&["annotate", "cm", "app", "-n", ns, "note=2", "--overwrite"])
            .ok();
        let cm = k.json(&["get", "cm", "app", "-n", ns]);
        assert_eq!(cm["metadata"]["annotations"]["note"], "2", "{cm}");

        // `apply --prune` needs an allowlist: kubectl's default one names
        // Endpoints, Pods, Services... which kapi does not serve.
        let dir = server.files_dir().join(format!("prune-{}", k.tag()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        for n in ["p1", "p2"] {
            std::fs::write(
                dir.join(format!("{n}.yaml")),
                format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {n}, namespace: {ns}, labels: {{app: pr}}}}\n"),
            )
            .expect("write");
        }
        let dir_arg = dir.to_str().expect("utf-8 path");
        k.run(&["apply", "-f", dir_arg]).ok();
        std::fs::remove_file(dir.join("p2.yaml")).expect("rm");
        let out = k.run(&[
            "apply",
            "-n",
            ns,
            "-f",
            dir_arg,
            "-l",
            "app=pr",
            "--prune",
            "--prune-allowlist=core/v1/ConfigMap",
        ]);
        assert_contains(out.ok(), "configmap/p2 pruned", "apply --prune");
        let out = k.run(&["apply", "-n", ns, "-f", dir_arg, "-l", "app=pr", "--prune"]);
        assert_contains(
            out.fails(),
            "no matches for kind \"Endpoints\"",
            "apply --prune without allowlist",
        );

        let yaml = k
            .run(&["get", "cm", "app", "-n", ns, "-o", "yaml"])
            .ok()
            .to_string();
        let file = server.write_file(
            &format!("replace-{}.yaml", k.tag()),
            &yaml.replace("k: v", "k: w"),
        );
        let out = k.run(&[
            "replace",
            "--force",
            "-f",
            file.to_str().expect("utf-8 path"),
        ]);
        let text = out.ok();
        assert_contains(text, "configmap \"app\" deleted", "replace --force");
        assert_contains(text, "configmap/app replaced", "replace --force");
        let new = k.json(&["get", "cm", "app", "-n", ns]);
        assert_eq!(new["data"]["k"], "w", "{new}");
        assert_ne!(
            new["metadata"]["uid"], cm["metadata"]["uid"],
            "a new object"
        );
    });
}

#[test]
fn custom_resources_categories_and_crd_columns() {
    let crds = testdata().join("crds/gateway-api");
    let example = testdata().join("examples/gateway-api/valid/basic-http.yaml");
    let example = example.to_str().expect("utf-8 path");
    let server = Server::start();
    for bin in kubectl_bins() {
        let k = server.kubectl(&bin);
        for f in ["gatewayclasses", "gateways", "httproutes"] {
            let file = crds.join(format!("gateway.networking.k8s.io_{f}.yaml"));
            k.run(&["apply", "-f", file.to_str().expect("utf-8 path")])
                .ok();
        }
        let out = k.run(&[
            "wait",
            "--for=condition=Established",
            "crd",
            "--all",
            "--timeout=30s",
        ]);
        assert_contains(out.ok(), "condition met", "wait Established");
        let out = k.run(&["apply", "-f", example]);
        assert!(
            out.status.success(),
            "apply of the example failed:\n{}\n{}",
            out.stdout,
            out.stderr
        );

        // Upstream's default table prints CREATED AT as a timestamp.
        let rows = parse_table(k.run(&["get", "crd"]).ok());
        assert_eq!(rows.len(), 3, "{rows:?}");
        for r in &rows {
            let at = &r["CREATED AT"];
            assert!(
                at.len() == 20 && at.ends_with('Z') && at.as_bytes()[10] == b'T',
                "CREATED AT {at:?} is not an RFC 3339 timestamp"
            );
        }

        let out = k.run(&["get", "gateway-api", "-A"]);
        let text = out.ok();
        assert_contains(
            text,
            "gatewayclass.gateway.networking.k8s.io/example",
            "get <category>",
        );
        assert_contains(
            text,
            "gateway.gateway.networking.k8s.io/my-gateway",
            "get <category>",
        );
        assert_contains(
            text,
            "httproute.gateway.networking.k8s.io/http-app-1",
            "get <category>",
        );

        let out = k.run(&["describe", "gateway", "my-gateway"]);
        let text = out.ok();
        assert_contains(text, "Kind:         Gateway", "describe CR");
        assert_contains(text, "Gateway Class Name:  example", "describe CR");

        let out = k.run(&["describe", "crd", "gateways.gateway.networking.k8s.io"]);
        assert_contains(
            out.ok(),
            "Type:                  Established",
            "describe crd",
        );

        let out = k.run(&[
            "get",
            "httproute",
            "http-app-1",
            "-o",
            "jsonpath={.spec.hostnames[0]}",
        ]);
        assert_eq!(out.ok(), "foo.com");
        let out = k.run(&[
            "wait",
            "--for=jsonpath={.spec.gatewayClassName}=example",
            "gateway/my-gateway",
            "--timeout=10s",
        ]);
        assert_contains(out.ok(), "condition met", "wait jsonpath on a CR");

        // A custom resource's generation goes up when its deletion starts.
        let held = format!("held-{}", k.tag());
        let file = server.write_file(
            &format!("{held}.yaml"),
            &format!(
                "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n\
                 metadata: {{name: {held}, namespace: default, finalizers: [example.com/hold]}}\n\
                 spec: {{gatewayClassName: example, listeners: [{{name: http, port: 80, protocol: HTTP}}]}}\n"
            ),
        );
        k.run(&["create", "-f", file.to_str().expect("utf-8 path")])
            .ok();
        k.run(&["delete", "gateway", &held, "--wait=false"]).ok();
        let gw = k.json(&["get", "gateway", &held]);
        assert_eq!(gw["metadata"]["generation"], 2, "{gw}");
        assert!(gw["metadata"]["deletionTimestamp"].is_string(), "{gw}");
        k.run(&[
            "patch",
            "gateway",
            &held,
            "--type=merge",
            "-p",
            "{\"metadata\":{\"finalizers\":null}}",
        ])
        .ok();
        let out = k.run(&[
            "wait",
            "--for=delete",
            &format!("gateway/{held}"),
            "--timeout=20s",
        ]);
        out.ok();

        let out = k.run(&["delete", "-f", example, "--wait"]);
        assert_contains(
            out.ok(),
            "gateway.gateway.networking.k8s.io \"my-gateway\" deleted",
            "delete -f",
        );
    }
}

#[test]
fn discovery_raw_paths_and_tokens() {
    for_each_kubectl("disc", |_, k, ns| {
        let out = k.run(&["api-resources", "-o", "wide"]);
        let rows = parse_table(out.ok());
        let cm = rows
            .iter()
            .find(|r| r["NAME"] == "configmaps")
            .expect("configmaps row");
        assert_eq!(
            cm["VERBS"],
            "create,delete,deletecollection,get,list,patch,update,watch"
        );
        let ns_row = rows
            .iter()
            .find(|r| r["NAME"] == "namespaces")
            .expect("namespaces row");
        assert_eq!(ns_row["VERBS"], "create,delete,get,list,patch,update,watch");

        let out = k.run(&["api-resources", "--namespaced=false", "-o", "name"]);
        let names: Vec<&str> = out.ok().lines().collect();
        assert!(names.contains(&"namespaces"), "{names:?}");
        assert!(
            names.contains(&"customresourcedefinitions.apiextensions.k8s.io"),
            "{names:?}"
        );
        assert!(!names.contains(&"configmaps"), "{names:?}");

        for (path, want) in [("/healthz", "ok"), ("/livez", "ok"), ("/readyz", "ok")] {
            assert_eq!(k.run(&["get", "--raw", path]).ok().trim(), want, "{path}");
        }
        for path in [
            "/livez/ping",
            "/healthz/log",
            "/readyz/etcd",
            "/readyz/poststarthook/bootstrap-namespaces",
        ] {
            assert_eq!(k.run(&["get", "--raw", path]).ok().trim(), "ok", "{path}");
        }
        let out = k.run(&["get", "--raw", "/readyz?verbose&exclude=etcd"]);
        assert_contains(out.ok(), "[+]etcd excluded: ok\n", "/readyz?exclude=etcd");
        let out = k.run(&["get", "--raw", "/livez/nope"]);
        assert_contains(out.fails(), "(NotFound)", "/livez/nope");
        let out = k.run(&["get", "--raw", "/readyz?verbose"]);
        assert_contains(out.ok(), "readyz check passed", "/readyz?verbose");
        let v: Value =
            serde_json::from_str(k.run(&["get", "--raw", "/version"]).ok()).expect("JSON");
        assert_eq!(v["major"], "1", "{v}");

        let out = k.run(&["explain", "configmap", "--recursive"]);
        let text = out.ok();
        assert_contains(text, "KIND:       ConfigMap", "explain --recursive");
        assert_contains(
            text,
            "binaryData\t<map[string]string>",
            "explain --recursive",
        );

        let out = k.run(&[
            "config",
            "view",
            "-o",
            "jsonpath={.clusters[0].cluster.server}",
        ]);
        assert!(out.ok().starts_with("http://127.0.0.1:"), "{}", out.stdout);

        // No TokenRequest subresource: a 404, also for kubectl's protobuf body.
        k.run(&["create", "sa", "robot", "-n", ns]).ok();
        let out = k.run(&["create", "token", "robot", "-n", ns]);
        assert_contains(
            out.fails(),
            "the server could not find the requested resource",
            "create token",
        );
    });
}

#[test]
fn secret_string_data_and_immutable_configmaps() {
    for_each_kubectl("data", |server, k, ns| {
        k.apply_yaml(
            server,
            "sd",
            &format!(
                "apiVersion: v1\nkind: Secret\nmetadata: {{name: sd, namespace: {ns}}}\n\
                 stringData: {{user: admin}}\ndata: {{pw: cHc=}}\n"
            ),
        );
        let s = k.json(&["get", "secret", "sd", "-n", ns]);
        assert_eq!(s["data"], json!({"pw": "cHc=", "user": "YWRtaW4="}), "{s}");
        assert!(
            s.get("stringData").is_none(),
            "stringData is never stored: {s}"
        );
        let text = k
            .run(&["describe", "secret", "sd", "-n", ns])
            .ok()
            .to_string();
        assert_contains(&text, "user:  5 bytes", "describe secret");

        k.apply_yaml(
            server,
            "imm",
            &format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: imm, namespace: {ns}}}\n\
                 data: {{a: b}}\nimmutable: true\n"
            ),
        );
        let out = k.run(&[
            "patch",
            "cm",
            "imm",
            "-n",
            ns,
            "-p",
            r#"{"data":{"a":"c"}}"#,
        ]);
        assert_contains(
            out.fails(),
            "The ConfigMap \"imm\" is invalid: data: Forbidden: field is immutable when `immutable` is set",
            "patch of an immutable ConfigMap",
        );
        let out = k.run(&[
            "patch",
            "cm",
            "imm",
            "-n",
            ns,
            "-p",
            r#"{"immutable":false}"#,
        ]);
        assert_contains(
            out.fails(),
            "immutable: Forbidden: field is immutable when `immutable` is set",
            "unsetting immutable",
        );
        let out = k.run(&["label", "cm", "imm", "-n", ns, "x=y"]);
        assert_contains(out.ok(), "configmap/imm labeled", "metadata stays mutable");

        // Keys are validated by the server too (kubectl checks them only in `create cm`).
        let (status, body) = server.post(
            &format!("/api/v1/namespaces/{ns}/configmaps"),
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bad"}, "data": {"a b": "c"}}),
        );
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["details"]["causes"][0]["field"], "data[a b]", "{body}");
    });
}
