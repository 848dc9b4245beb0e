//! The add-a-resource workflow, as the README walks a user through it: a
//! schema file for a new group added to a copy of api-defs, `cargo build`,
//! the server serving it to kubectl, and the generated Rust type used from a
//! user's crate. The README's own example file and commands are what is run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::harness::{Server, kubectl_bins, run_with_timeout};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The README's example schema file and Widget manifest.
fn readme_examples() -> (String, String) {
    let readme = std::fs::read_to_string(workspace().join("README.md")).expect("README.md");
    let section = readme
        .split("## Adding a resource")
        .nth(1)
        .expect("README has an 'Adding a resource' section");
    let blocks: Vec<String> = section
        .split("```")
        .skip(1)
        .step_by(2)
        .map(|b| {
            let body = b.split_once('\n').map(|(_, rest)| rest).unwrap_or("");
            // The README indents its code under list items.
            body.lines()
                .map(|l| l.strip_prefix("   ").unwrap_or(l))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect();
    let schema = blocks
        .iter()
        .find(|b| b.starts_with("openapi:"))
        .expect("the schema example")
        .clone();
    let commands = blocks
        .iter()
        .find(|b| b.contains("kubectl apply -f -"))
        .expect("the kubectl example");
    let manifest = commands
        .split("<<'YAML'\n")
        .nth(1)
        .and_then(|m| m.split("\nYAML").next())
        .expect("the Widget manifest")
        .to_string();
    (schema, manifest)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read api-defs") {
        let entry = entry.expect("entry");
        let dest = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).expect("copy");
        }
    }
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    // A target directory of its own: the workspace's binary stays untouched
    // while other tests run it.
    c.env(
        "CARGO_TARGET_DIR",
        workspace().join("target").join("workflow"),
    );
    c
}

const BUILD_TIMEOUT: Duration = Duration::from_secs(900);

#[test]
fn add_a_resource_and_use_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let defs = tmp.path().join("api-defs");
    copy_dir(&workspace().join("api-defs"), &defs);
    let (schema, manifest) = readme_examples();
    std::fs::create_dir_all(defs.join("example.com")).expect("mkdir");
    std::fs::write(defs.join("example.com/v1.yaml"), &schema).expect("write schema");

    // cargo build, with the copy of api-defs.
    let mut build = cargo();
    build
        .current_dir(workspace())
        .env("KAPI_API_DEFS", &defs)
        .args(["build", "-p", "kapi-server", "--bin", "kapi"]);
    run_with_timeout(
        build,
        "cargo build -p kapi-server (with example.com/v1)".into(),
        BUILD_TIMEOUT,
    )
    .ok();
    let bin = workspace().join("target/workflow/debug/kapi");

    // Served, and usable from kubectl.
    let server = Server::start_with(&bin);
    let kubectl = server.kubectl(&kubectl_bins()[0]);
    let resources = kubectl
        .run(&["api-resources", "--api-group=example.com"])
        .ok()
        .to_string();
    assert!(
        resources.contains("widgets") && resources.contains("Widget"),
        "{resources}"
    );
    let file = server.write_file("widget.yaml", &manifest);
    kubectl
        .run(&["apply", "-f", file.to_str().expect("utf-8 path")])
        .ok();
    let table = kubectl.run(&["get", "widgets"]).ok().to_string();
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAME", "SIZE", "AGE"], "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.split_whitespace().take(2).eq(["w1", "3"])),
        "{table}"
    );

    // The status subresource: /status changes only status; the main resource ignores status.
    let (code, w) = server.get("/apis/example.com/v1/namespaces/default/widgets/w1");
    assert_eq!(code.as_u16(), 200, "{w}");
    let mut with_status = w.clone();
    with_status["status"] = serde_json::json!({"phase": "Ready"});
    with_status["spec"]["size"] = serde_json::json!(7);
    let (code, after) = server.put(
        "/apis/example.com/v1/namespaces/default/widgets/w1/status",
        &with_status,
    );
    assert_eq!(code.as_u16(), 200, "{after}");
    assert_eq!(after["status"]["phase"], "Ready", "{after}");
    assert_eq!(
        after["spec"]["size"], 3,
        "a status update must not change spec: {after}"
    );
    let mut main_update = after.clone();
    main_update["status"] = serde_json::json!({"phase": "Changed"});
    main_update["spec"]["size"] = serde_json::json!(5);
    let (code, after) = server.put(
        "/apis/example.com/v1/namespaces/default/widgets/w1",
        &main_update,
    );
    assert_eq!(code.as_u16(), 200, "{after}");
    assert_eq!(after["spec"]["size"], 5, "{after}");
    assert_eq!(
        after["status"]["phase"], "Ready",
        "the main resource must ignore status: {after}"
    );

    // A kind without protobuf field numbers stays JSON-only, as upstream's
    // custom resources: JSON when JSON is also accepted, 415 for a protobuf body.
    let w1 = server.at("/apis/example.com/v1/namespaces/default/widgets/w1");
    let r = server
        .http()
        .get(&w1)
        .header(
            "Accept",
            "application/vnd.kubernetes.protobuf, application/json",
        )
        .send()
        .expect("GET");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    let r = server
        .http()
        .post(server.at("/apis/example.com/v1/namespaces/default/widgets"))
        .header("Content-Type", "application/vnd.kubernetes.protobuf")
        .body(b"k8s\0".to_vec())
        .send()
        .expect("POST");
    assert_eq!(r.status().as_u16(), 415);

    // The generated Rust type, from a user's crate that depends on kapi-generated alone.
    let client = tmp.path().join("widget-client");
    std::fs::create_dir_all(client.join("src")).expect("mkdir");
    std::fs::write(
        client.join("Cargo.toml"),
        format!(
            "[package]\nname = \"widget-client\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\n[workspace]\n\n[dependencies]\nkapi-generated = {{ path = {:?} }}\nserde_json = \"1\"\n",
            workspace().join("generated").canonicalize().expect("generated dir")
        ),
    )
    .expect("write Cargo.toml");
    std::fs::copy(workspace().join("Cargo.lock"), client.join("Cargo.lock"))
        .expect("copy Cargo.lock");
    std::fs::write(
        client.join("src/main.rs"),
        r#"use kapi_generated::api::example_com::v1::{Widget, WidgetList, WidgetSpec};
use std::io::Read;

fn main() {
    if std::env::args().nth(1).as_deref() == Some("new") {
        let mut w = Widget::default();
        w.api_version = Some("example.com/v1".into());
        w.kind = Some("Widget".into());
        w.metadata.name = Some("w2".into());
        w.spec = Some(WidgetSpec { size: Some(11), color: Some("red".into()) });
        println!("{}", serde_json::to_string(&w).unwrap());
        return;
    }
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).unwrap();
    let list: WidgetList = serde_json::from_str(&input).expect("a WidgetList");
    for w in list.items {
        let spec = w.spec.unwrap_or_default();
        println!("{} {} {}", w.metadata.name.unwrap_or_default(), spec.size.unwrap_or(-1), spec.color.unwrap_or_default());
    }
}
"#,
    )
    .expect("write main.rs");
    let mut build = cargo();
    build
        .current_dir(&client)
        .env("KAPI_API_DEFS", &defs)
        .args(["build", "--offline", "--quiet"]);
    run_with_timeout(build, "cargo build (widget-client)".into(), BUILD_TIMEOUT).ok();
    let client_bin = workspace().join("target/workflow/debug/widget-client");

    let mut new = Command::new(&client_bin);
    new.arg("new");
    let new = run_with_timeout(new, "widget-client new".into(), Duration::from_secs(30));
    let new_file = server.write_file("w2.json", new.ok());
    kubectl
        .run(&["create", "-f", new_file.to_str().expect("utf-8 path")])
        .ok();
    let json = kubectl
        .run(&["get", "widgets", "-o", "json"])
        .ok()
        .to_string();
    let listed = json_through(&client_bin, &json);
    assert_eq!(
        listed.lines().collect::<Vec<_>>(),
        ["w1 5 blue", "w2 11 red"],
        "{listed}"
    );
}

fn json_through(bin: &Path, input: &str) -> String {
    use std::io::Write;
    let mut child = Command::new(bin)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn widget-client");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("widget-client");
    assert!(out.status.success(), "widget-client failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}
