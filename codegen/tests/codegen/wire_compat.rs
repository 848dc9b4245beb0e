//! Wire compatibility of `api-defs` with Kubernetes' published OpenAPI v3
//! documents.
//!
//! Every schema in `api-defs` that upstream also publishes is compared with
//! upstream's: property names, `type`, `format`, `required` (as a set),
//! `enum`, `default`, `items`, `additionalProperties`, `$ref` targets (by
//! name), `allOf`/`oneOf`/`anyOf` structure and every `x-kubernetes-*`
//! extension. Descriptions and kapi's own `x-kapi-*` extensions are ignored.
//! All differences are collected and reported together.
//!
//! `x-kubernetes-group-version-kind` of shared types such as `DeleteOptions`
//! differs between upstream documents (each group's document adds its own
//! group); the reference value is the union over the documents of the groups
//! `api-defs` declares (plus the group-less root documents), compared as a set.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// Which upstream name prefix a file's short schema names map to. Files not
/// listed (apidiscovery.k8s.io/v2, user groups) are not compared.
const UPSTREAM_PREFIX: &[(&str, &str)] = &[
    ("core/v1.yaml", "io.k8s.api.core.v1."),
    ("coordination.k8s.io/v1.yaml", "io.k8s.api.coordination.v1."),
    ("autoscaling/v1.yaml", "io.k8s.api.autoscaling.v1."),
    (
        "authorization.k8s.io/v1.yaml",
        "io.k8s.api.authorization.v1.",
    ),
    (
        "authentication.k8s.io/v1.yaml",
        "io.k8s.api.authentication.v1.",
    ),
    (
        "apiextensions.k8s.io/v1.yaml",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.",
    ),
    (
        "meta.k8s.io/v1.yaml",
        "io.k8s.apimachinery.pkg.apis.meta.v1.",
    ),
];

/// Schemas whose upstream name does not follow their file's prefix.
const UPSTREAM_EXCEPTIONS: &[(&str, &str, &str)] = &[
    (
        "meta.k8s.io/v1.yaml",
        "RawExtension",
        "io.k8s.apimachinery.pkg.runtime.RawExtension",
    ),
    (
        "meta.k8s.io/v1.yaml",
        "IntOrString",
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
    ),
    (
        "meta.k8s.io/v1.yaml",
        "Quantity",
        "io.k8s.apimachinery.pkg.api.resource.Quantity",
    ),
    (
        "meta.k8s.io/v1.yaml",
        "Info",
        "io.k8s.apimachinery.pkg.version.Info",
    ),
];

/// Schemas in compared files that upstream does not publish in OpenAPI.
const NOT_PUBLISHED: &[(&str, &str)] = &[
    ("meta.k8s.io/v1.yaml", "GroupVersionKind"),
    ("meta.k8s.io/v1.yaml", "Table"),
    ("meta.k8s.io/v1.yaml", "TableColumnDefinition"),
    ("meta.k8s.io/v1.yaml", "TableRow"),
    ("meta.k8s.io/v1.yaml", "TableRowCondition"),
    ("meta.k8s.io/v1.yaml", "PartialObjectMetadata"),
    ("meta.k8s.io/v1.yaml", "PartialObjectMetadataList"),
];

/// Fewer compared schemas than this means something is miswired.
const MIN_COMPARED: usize = 40;

const GVK: &str = "x-kubernetes-group-version-kind";

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn api_defs_dir() -> PathBuf {
    manifest_dir().join("../api-defs")
}

fn upstream_dir() -> PathBuf {
    manifest_dir().join("../../shared/testdata/kubernetes-openapi/v3")
}

/// Every `api-defs/<group>/<version>.yaml`, keyed by `<group>/<version>.yaml`.
fn load_api_defs() -> BTreeMap<String, Value> {
    let root = api_defs_dir();
    let mut docs = BTreeMap::new();
    let groups = fs::read_dir(&root).unwrap_or_else(|e| panic!("reading {}: {e}", root.display()));
    for group in groups {
        let group = group.expect("directory entry").path();
        if !group.is_dir() {
            continue;
        }
        let files =
            fs::read_dir(&group).unwrap_or_else(|e| panic!("reading {}: {e}", group.display()));
        for file in files {
            let file = file.expect("directory entry").path();
            if file.extension().and_then(|e| e.to_str()) != Some("yaml") {
                continue;
            }
            let text = fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
            let value: Value = serde_yaml_ng::from_str(&text)
                .unwrap_or_else(|e| panic!("parsing {}: {e}", file.display()));
            docs.insert(rel_name(&root, &file), value);
        }
    }
    docs
}

fn rel_name(root: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(root).expect("file under root");
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// The (group, version) an upstream document describes, if it describes one:
/// `api__v1_openapi.json` is the core group, `apis__<g>__<v>_openapi.json`
/// is `<g>/<v>`. Root documents (`api_openapi.json`, `apis_openapi.json`,
/// `version_openapi.json`, `apis__<g>_openapi.json`) return `None`.
fn upstream_group_version(file_name: &str) -> Option<(String, String)> {
    let stem = file_name.strip_suffix("_openapi.json")?;
    if stem == "api__v1" {
        return Some((String::new(), "v1".to_owned()));
    }
    let rest = stem.strip_prefix("apis__")?;
    let (group, version) = rest.split_once("__")?;
    Some((group.to_owned(), version.to_owned()))
}

/// The group an api-defs file declares (`core` stands for "").
fn our_group_version(file: &str) -> Option<(String, String)> {
    let (group, version) = file.strip_suffix(".yaml")?.split_once('/')?;
    let group = if group == "core" { "" } else { group };
    Some((group.to_owned(), version.to_owned()))
}

struct Upstream {
    schemas: BTreeMap<String, Value>,
}

fn load_upstream(our_files: &BTreeSet<(String, String)>) -> Upstream {
    let dir = upstream_dir();
    let entries = fs::read_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "reading upstream OpenAPI documents in {}: {e}",
            dir.display()
        )
    });
    let mut names: Vec<String> = entries
        .map(|e| {
            e.expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.ends_with("_openapi.json"))
        .collect();
    names.sort();

    // Schemas from documents of our groups (and root documents) take
    // precedence; GVK lists are unioned over those documents only.
    let mut primary: BTreeMap<String, Value> = BTreeMap::new();
    let mut fallback: BTreeMap<String, Value> = BTreeMap::new();
    let mut gvks: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for name in &names {
        let path = dir.join(name);
        let text =
            fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let doc: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()));
        let relevant = match upstream_group_version(name) {
            None => true,
            Some(gv) => our_files.contains(&gv),
        };
        let Some(schemas) = doc
            .pointer("/components/schemas")
            .and_then(Value::as_object)
        else {
            continue;
        };
        for (full, schema) in schemas {
            if relevant {
                primary
                    .entry(full.clone())
                    .or_insert_with(|| schema.clone());
                if let Some(list) = schema.get(GVK).and_then(Value::as_array) {
                    let acc = gvks.entry(full.clone()).or_default();
                    for gvk in list {
                        if !acc.contains(gvk) {
                            acc.push(gvk.clone());
                        }
                    }
                }
            } else {
                fallback
                    .entry(full.clone())
                    .or_insert_with(|| schema.clone());
            }
        }
    }
    for (full, schema) in fallback {
        primary.entry(full).or_insert(schema);
    }
    for (full, list) in gvks {
        if let Some(Value::Object(schema)) = primary.get_mut(&full) {
            schema.insert(GVK.to_owned(), Value::Array(list));
        }
    }
    Upstream { schemas: primary }
}

/// The upstream full name for one of our schemas, if its file is compared.
fn upstream_name(file: &str, short: &str) -> Option<String> {
    if let Some((_, _, full)) = UPSTREAM_EXCEPTIONS
        .iter()
        .find(|(f, s, _)| *f == file && *s == short)
    {
        return Some((*full).to_owned());
    }
    UPSTREAM_PREFIX
        .iter()
        .find(|(f, _)| *f == file)
        .map(|(_, prefix)| format!("{prefix}{short}"))
}

/// The name a `$ref` points at: its last `/`- then `.`-separated segment.
fn ref_name(r: &str) -> &str {
    let last = r.rsplit('/').next().unwrap_or(r);
    last.rsplit('.').next().unwrap_or(last)
}

fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 160 {
        let mut end = 160;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &s[..end])
    } else {
        s
    }
}

struct Diffs {
    list: Vec<String>,
    checks: usize,
}

impl Diffs {
    fn push(&mut self, path: &str, ours: Option<&Value>, upstream: Option<&Value>) {
        let o = ours.map_or_else(|| "<absent>".to_owned(), show);
        let u = upstream.map_or_else(|| "<absent>".to_owned(), show);
        self.list.push(format!("{path}: ours {o}, upstream {u}"));
    }
}

fn ignored_key(key: &str) -> bool {
    key == "description" || key.starts_with("x-kapi-")
}

fn schema_keys(m: &Map<String, Value>) -> BTreeSet<&str> {
    m.keys()
        .map(String::as_str)
        .filter(|k| !ignored_key(k))
        .collect()
}

fn string_set(v: &Value) -> Option<BTreeSet<String>> {
    v.as_array()?
        .iter()
        .map(|x| x.as_str().map(str::to_owned))
        .collect()
}

fn sorted_values(v: &Value) -> Option<Vec<String>> {
    let mut out: Vec<String> = v.as_array()?.iter().map(Value::to_string).collect();
    out.sort();
    Some(out)
}

/// Compares two schemas (or, for `additionalProperties`, booleans).
fn compare(ours: &Value, up: &Value, path: &str, d: &mut Diffs) {
    let (Some(o), Some(u)) = (ours.as_object(), up.as_object()) else {
        d.checks += 1;
        if ours != up {
            d.push(path, Some(ours), Some(up));
        }
        return;
    };
    let keys: BTreeSet<&str> = schema_keys(o).union(&schema_keys(u)).copied().collect();
    for key in keys {
        let p = format!("{path}.{key}");
        d.checks += 1;
        let (ov, uv) = match (o.get(key), u.get(key)) {
            (Some(ov), Some(uv)) => (ov, uv),
            (ov, uv) => {
                d.push(&p, ov, uv);
                continue;
            }
        };
        match key {
            "properties" => compare_properties(ov, uv, &p, d),
            "items" | "additionalProperties" | "not" => compare(ov, uv, &p, d),
            "allOf" | "oneOf" | "anyOf" => match (ov.as_array(), uv.as_array()) {
                (Some(oa), Some(ua)) if oa.len() == ua.len() => {
                    for (i, (oi, ui)) in oa.iter().zip(ua).enumerate() {
                        compare(oi, ui, &format!("{p}[{i}]"), d);
                    }
                }
                _ => d.push(&p, Some(ov), Some(uv)),
            },
            "$ref" => match (ov.as_str(), uv.as_str()) {
                (Some(or), Some(ur)) if ref_name(or) == ref_name(ur) => {}
                _ => d.push(&p, Some(ov), Some(uv)),
            },
            "required" => {
                if string_set(ov).is_none() || string_set(ov) != string_set(uv) {
                    d.push(&p, Some(ov), Some(uv));
                }
            }
            GVK => {
                if sorted_values(ov).is_none() || sorted_values(ov) != sorted_values(uv) {
                    d.push(&p, Some(ov), Some(uv));
                }
            }
            _ => {
                if ov != uv {
                    d.push(&p, Some(ov), Some(uv));
                }
            }
        }
    }
}

fn compare_properties(ours: &Value, up: &Value, path: &str, d: &mut Diffs) {
    let (Some(o), Some(u)) = (ours.as_object(), up.as_object()) else {
        d.push(path, Some(ours), Some(up));
        return;
    };
    let names: BTreeSet<&String> = o.keys().chain(u.keys()).collect();
    for name in names {
        let p = format!("{path}.{name}");
        match (o.get(name), u.get(name)) {
            (Some(ov), Some(uv)) => compare(ov, uv, &p, d),
            (None, Some(_)) => d.list.push(format!("{p}: ours <absent>, upstream present")),
            (Some(_), None) => d.list.push(format!("{p}: ours present, upstream <absent>")),
            (None, None) => {}
        }
    }
}

#[test]
fn api_defs_match_upstream_openapi() {
    let ours = load_api_defs();
    let our_files: BTreeSet<(String, String)> =
        ours.keys().filter_map(|f| our_group_version(f)).collect();
    let upstream = load_upstream(&our_files);

    let mut d = Diffs {
        list: Vec::new(),
        checks: 0,
    };
    let mut compared = 0usize;
    let mut compared_names = Vec::new();
    for (file, doc) in &ours {
        let Some(schemas) = doc
            .pointer("/components/schemas")
            .and_then(Value::as_object)
        else {
            d.list.push(format!("{file}: no components.schemas"));
            continue;
        };
        for (short, schema) in schemas {
            let Some(full) = upstream_name(file, short) else {
                continue;
            };
            let Some(up) = upstream.schemas.get(&full) else {
                if !NOT_PUBLISHED.contains(&(file.as_str(), short.as_str())) {
                    d.list.push(format!(
                        "{file} {short}: upstream has no schema {full} (add it to NOT_PUBLISHED if intended)"
                    ));
                }
                continue;
            };
            compare(schema, up, &format!("{file} {short}"), &mut d);
            compared += 1;
            compared_names.push(format!("{file} {short}"));
        }
    }

    eprintln!(
        "wire_compat: compared {compared} schemas with upstream ({} checks)",
        d.checks
    );
    assert!(
        d.list.is_empty(),
        "{} difference(s) from upstream:\n  {}",
        d.list.len(),
        d.list.join("\n  ")
    );
    assert!(
        compared >= MIN_COMPARED,
        "only {compared} schemas compared with upstream (expected at least {MIN_COMPARED}): {compared_names:?}"
    );
}

/// Every `$ref` in api-defs points at a schema that exists.
#[test]
fn api_defs_refs_resolve() {
    let docs = load_api_defs();
    let mut bad = Vec::new();
    let mut count = 0usize;
    for (file, doc) in &docs {
        if let Some(schemas) = doc.pointer("/components/schemas") {
            check_refs(
                schemas,
                file,
                &docs,
                &format!("{file} components.schemas"),
                &mut bad,
                &mut count,
            );
        }
    }
    assert!(bad.is_empty(), "unresolved $refs:\n  {}", bad.join("\n  "));
    assert!(count > 0, "no $refs found in api-defs");
}

fn resolve_target(file: &str, r: &str) -> Option<(String, String)> {
    let (target_file, fragment) = r.split_once('#')?;
    let name = fragment.strip_prefix("/components/schemas/")?;
    if name.contains('/') {
        return None;
    }
    let target = if target_file.is_empty() {
        file.to_owned()
    } else {
        // Resolve `../x/y.yaml` relative to `<group>/<version>.yaml`.
        let mut parts: Vec<&str> = file.split('/').collect();
        parts.pop();
        for seg in target_file.split('/') {
            match seg {
                "." | "" => {}
                ".." => {
                    parts.pop()?;
                }
                s => parts.push(s),
            }
        }
        parts.join("/")
    };
    Some((target, name.to_owned()))
}

fn check_refs(
    v: &Value,
    file: &str,
    docs: &BTreeMap<String, Value>,
    path: &str,
    bad: &mut Vec<String>,
    count: &mut usize,
) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if let ("$ref", Some(r)) = (k.as_str(), x.as_str()) {
                    *count += 1;
                    let ok = resolve_target(file, r).is_some_and(|(target, name)| {
                        docs.get(&target)
                            .and_then(|d| d.pointer("/components/schemas"))
                            .and_then(|s| s.get(&name))
                            .is_some()
                    });
                    if !ok {
                        bad.push(format!("{path}: {r}"));
                    }
                    continue;
                }
                check_refs(x, file, docs, &format!("{path}.{k}"), bad, count);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                check_refs(x, file, docs, &format!("{path}[{i}]"), bad, count);
            }
        }
        _ => {}
    }
}
