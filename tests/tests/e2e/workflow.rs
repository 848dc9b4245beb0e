//! The add-a-resource workflow, as api-defs/README.md walks a user through
//! it: a schema file for a new group added to a copy of api-defs, `cargo
//! build`, the server serving it to kubectl, and the generated Rust type used
//! from a user's crate. That README's own example file and commands are what
//! is run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::harness::{Server, kubectl_bins, run_with_timeout};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// api-defs/README.md's example schema file and Widget manifest.
fn readme_examples() -> (String, String) {
    let readme = std::fs::read_to_string(workspace().join("api-defs/README.md"))
        .expect("api-defs/README.md");
    let section = readme
        .split("## Adding a resource")
        .nth(1)
        .expect("api-defs/README.md has an 'Adding a resource' section");
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

/// Makes `to` a copy of `from`, writing only files whose content differs
/// (unchanged files keep their times, so a second run of the test rebuilds
/// nothing) and removing files `from` lacks, except those named in `keep`.
fn sync_dir(from: &Path, to: &Path, keep: &[&str]) {
    std::fs::create_dir_all(to).expect("mkdir");
    let mut wanted = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(from).expect("read api-defs") {
        let entry = entry.expect("entry");
        let dest = to.join(entry.file_name());
        wanted.insert(entry.file_name());
        if entry.path().is_dir() {
            sync_dir(&entry.path(), &dest, &[]);
        } else {
            write_if_changed(&dest, &std::fs::read(entry.path()).expect("read"));
        }
    }
    for entry in std::fs::read_dir(to).expect("read the copy") {
        let entry = entry.expect("entry");
        let name = entry.file_name();
        if !wanted.contains(&name) && !keep.iter().any(|k| name == *k) {
            let p = entry.path();
            if p.is_dir() {
                std::fs::remove_dir_all(&p).expect("remove a stale directory");
            } else {
                std::fs::remove_file(&p).expect("remove a stale file");
            }
        }
    }
}

fn write_if_changed(path: &Path, content: &[u8]) {
    if std::fs::read(path).ok().as_deref() != Some(content) {
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, content).expect("write");
    }
}

/// The target directory the tests were built in (`target/debug/deps/e2e-…`
/// is this process).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.ancestors()
        .nth(3)
        .expect("the test binary lives in <target>/<profile>/deps")
        .to_path_buf()
}

const BUILD_TIMEOUT: Duration = Duration::from_secs(900);

/// The user's side, in a directory of its own under the target directory
/// (the same place every run: a rerun with nothing changed builds nothing):
/// `api-defs/` (a copy of the project's with the README's schema file
/// added), a package building kapi's own `server/src/main.rs` as the binary
/// `workflow-kapi`, and `widget-client`, a crate that depends on
/// kapi-generated alone.
///
/// It builds into the workspace's target directory, with the workspace's
/// profile settings, so the dependencies already built for the workspace are
/// reused: only kapi-generated (from the new schema file), kapi-server and
/// the two binaries compile (and two small libraries). For that the
/// dependencies must be built with the same features as in `cargo build
/// --workspace --bins`, which unifies them over every member: the server
/// package depends on every member, as that build selects them all. Their
/// artifacts stay apart from the
/// workspace's: outside the workspace kapi's crates get the profile of
/// dependencies (`debug = false`), another hash; and the binaries have names
/// of their own, so `target/debug/kapi`, which other tests run meanwhile, is
/// never replaced.
struct UserWorkspace {
    root: PathBuf,
}

impl UserWorkspace {
    fn create(schema: &str) -> UserWorkspace {
        let root = target_dir().join("workflow-user");
        let ws = workspace().canonicalize().expect("workspace dir");
        let defs = root.join("api-defs");
        sync_dir(&ws.join("api-defs"), &defs, &["example.com"]);
        write_if_changed(&defs.join("example.com/v1.yaml"), schema.as_bytes());
        let manifest = std::fs::read_to_string(ws.join("Cargo.toml")).expect("Cargo.toml");
        let profiles = manifest
            .find("[profile.")
            .map(|i| &manifest[i..])
            .expect("the workspace's profile settings");
        assert!(
            !profiles.contains("[workspace"),
            "the profiles end the workspace's Cargo.toml"
        );
        write_if_changed(
            &root.join("Cargo.toml"),
            format!(
                "[workspace]\nresolver = \"3\"\nmembers = [\"server\", \"widget-client\"]\n\n{profiles}"
            )
            .as_bytes(),
        );
        // Every member (kapi-server among them), then main.rs's own
        // dependencies as the workspace declares them.
        let members = manifest
            .lines()
            .find_map(|l| l.strip_prefix("members = "))
            .expect("the workspace's members");
        let mut deps: Vec<String> = members
            .trim_matches(|c| c == '[' || c == ']')
            .split(',')
            .map(|m| m.trim().trim_matches('"'))
            .filter(|m| !m.is_empty())
            .map(|dir| {
                let toml = std::fs::read_to_string(ws.join(dir).join("Cargo.toml"))
                    .expect("a member's Cargo.toml");
                let name = toml
                    .lines()
                    .find_map(|l| l.strip_prefix("name = "))
                    .expect("the member's name")
                    .trim_matches('"');
                format!("{name} = {{ path = {:?} }}", ws.join(dir))
            })
            .collect();
        for name in ["tokio", "clap", "tracing", "tracing-subscriber"] {
            let line = manifest
                .lines()
                .find(|l| l.starts_with(&format!("{name} = ")))
                .unwrap_or_else(|| panic!("{name} in the workspace's dependencies"));
            deps.push(line.to_string());
        }
        write_if_changed(
            &root.join("server/Cargo.toml"),
            format!(
                "[package]\nname = \"workflow-kapi\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\n\
                 [[bin]]\nname = \"workflow-kapi\"\npath = {:?}\n\n\
                 [dependencies]\n{}\n",
                ws.join("server/src/main.rs"),
                deps.join("\n")
            )
            .as_bytes(),
        );
        write_if_changed(
            &root.join("widget-client/Cargo.toml"),
            format!(
                "[package]\nname = \"widget-client\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\n\
                 [dependencies]\nkapi-generated = {{ path = {:?} }}\nserde_json = \"1\"\n",
                ws.join("generated")
            )
            .as_bytes(),
        );
        write_if_changed(
            &root.join("widget-client/src/main.rs"),
            WIDGET_CLIENT.as_bytes(),
        );
        // The workspace's versions, so that its built dependencies fit.
        write_if_changed(
            &root.join("Cargo.lock"),
            &std::fs::read(ws.join("Cargo.lock")).expect("Cargo.lock"),
        );
        UserWorkspace { root }
    }

    /// `cargo build` of both, offline (every dependency is in the lock file
    /// and already fetched for the workspace).
    fn build(&self) {
        let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        build
            .current_dir(&self.root)
            .env("CARGO_TARGET_DIR", target_dir())
            .env("KAPI_API_DEFS", self.root.join("api-defs"))
            .args(["build", "--offline"]);
        let kapi = crate::harness::kapi_bin();
        let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        let before = modified(&kapi);
        let out = run_with_timeout(
            build,
            "cargo build (workflow-kapi and widget-client, with example.com/v1)".into(),
            BUILD_TIMEOUT,
        );
        out.ok();
        // What it compiled (shown if the test fails).
        eprintln!("{}", out.stderr);
        assert_eq!(
            modified(&kapi),
            before,
            "the build replaced {}, which other tests run",
            kapi.display()
        );
    }

    fn bin(&self, name: &str) -> PathBuf {
        target_dir().join("debug").join(name)
    }
}

const WIDGET_CLIENT: &str = r#"use kapi_generated::api::example_com::v1::{Widget, WidgetList, WidgetSpec};
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
"#;

#[test]
fn add_a_resource_and_use_it() {
    let (schema, manifest) = readme_examples();
    // cargo build, with the schema file added to (a copy of) api-defs.
    let user = UserWorkspace::create(&schema);
    user.build();
    let bin = user.bin("workflow-kapi");

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
    let client_bin = user.bin("widget-client");
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
