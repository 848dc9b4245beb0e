//! Stage 2: the Kubernetes-aware model. Every schema file becomes a
//! [`GroupVersion`] holding named [`TypeDef`]s; kinds carry their GVKs and, when
//! served, a [`ResourceDef`] read from `x-kapi-resource`. Kubernetes' own schema
//! extensions are kept on types and fields ([`Extensions`]).

use std::collections::{BTreeMap, BTreeSet};

use openapiv3::{ReferenceOr, Schema, SchemaKind, Type};
use serde::Deserialize;

use crate::error::{Error, pointer_token};
use crate::parse::SourceFile;

/// Everything the schema files declare.
#[derive(Debug, Clone, Default)]
pub struct Api {
    /// Sorted by (group, version).
    pub group_versions: Vec<GroupVersion>,
}

/// A key naming a group/version: `("", "v1")`, `("meta.k8s.io", "v1")`.
pub type GvKey = (String, String);

/// One schema file's content.
#[derive(Debug, Clone)]
pub struct GroupVersion {
    pub group: String,
    pub version: String,
    /// `api-defs/<group>/<version>.yaml`.
    pub file: String,
    /// The Rust module the group's types live in (`core`, `meta`, `example_com`).
    pub module: String,
    /// Named types, by Rust type name (schema names plus generated names for inline objects).
    pub types: BTreeMap<String, TypeDef>,
    /// The document's raw `components.schemas` (for the published OpenAPI).
    pub raw_schemas: serde_json::Map<String, serde_json::Value>,
}

/// A named type.
#[derive(Debug, Clone)]
pub struct TypeDef {
    pub name: String,
    pub description: Option<String>,
    pub shape: Shape,
    /// `x-kubernetes-group-version-kind`.
    pub gvks: Vec<Gvk>,
    /// `x-kapi-resource`, for served kinds.
    pub resource: Option<ResourceDef>,
    pub ext: Extensions,
    /// Where the type was declared (a JSON pointer).
    pub pointer: String,
}

/// What a named type is.
#[derive(Debug, Clone)]
pub enum Shape {
    /// An object with properties.
    Struct(Vec<Field>),
    /// Anything else: a string, an int-or-string, any JSON value, a map...
    Alias(Ty),
}

/// One property of an object.
#[derive(Debug, Clone)]
pub struct Field {
    /// The name on the wire.
    pub wire: String,
    /// The Rust field name.
    pub ident: String,
    pub ty: Ty,
    pub required: bool,
    /// Not required but defaulted to `{}`: a plain field with a serde default (like `metadata`).
    pub default_object: bool,
    /// Refers (without a Vec or map in between) to a type that refers back to this one.
    pub boxed: bool,
    pub description: Option<String>,
    pub ext: Extensions,
}

/// A field or alias type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ty {
    String,
    I32,
    I64,
    F64,
    Bool,
    IntOrString,
    /// Any JSON value.
    Value,
    Vec(Box<Ty>),
    Map(Box<Ty>),
    Named(TypeRef),
}

/// A reference to a named type in some group/version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TypeRef {
    pub group: String,
    pub version: String,
    pub name: String,
}

/// A group/version/kind.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Gvk {
    pub group: String,
    pub version: String,
    pub kind: String,
}

/// The Kubernetes `x-kubernetes-*` extensions of a schema.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extensions {
    pub patch_merge_key: Option<String>,
    pub patch_strategy: Option<String>,
    pub list_type: Option<String>,
    pub list_map_keys: Vec<String>,
    pub map_type: Option<String>,
    pub int_or_string: bool,
    pub preserve_unknown_fields: bool,
    pub embedded_resource: bool,
}

/// Namespaced or cluster-scoped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Scope {
    Namespaced,
    Cluster,
}

/// The verbs kube-apiserver knows, in discovery's order.
pub const ALL_VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// kapi's `x-kapi-resource` extension: how a kind is served.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceDef {
    pub plural: String,
    #[serde(default)]
    pub singular: Option<String>,
    #[serde(default)]
    pub short_names: Vec<String>,
    #[serde(default)]
    pub categories: Vec<String>,
    pub scope: Scope,
    #[serde(default)]
    pub verbs: Option<Vec<String>>,
    #[serde(default)]
    pub subresources: Subresources,
    #[serde(default)]
    pub printer_columns: Vec<PrinterColumn>,
    /// Fields a `fieldSelector` may name besides `metadata.name` and `metadata.namespace`.
    #[serde(default)]
    pub selectable_fields: Vec<SelectableFieldDef>,
    /// The group's version objects are stored in upstream, when it is not
    /// the served one (discovery's `storageVersionHash` names it).
    #[serde(default)]
    pub storage_version: Option<String>,
}

/// One entry of `selectableFields`: a dotted path (`spec.nodeName`), or a
/// label read from other paths (`{name: source, paths: [source.component, reportingComponent]}`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum SelectableFieldDef {
    /// The label is the path.
    Path(String),
    /// A label with its own paths (the first non-empty value wins) and default.
    Mapped {
        name: String,
        #[serde(default)]
        paths: Vec<String>,
        #[serde(default)]
        default: Option<String>,
    },
}

impl SelectableFieldDef {
    /// The field label.
    pub fn name(&self) -> &str {
        match self {
            SelectableFieldDef::Path(p) => p,
            SelectableFieldDef::Mapped { name, .. } => name,
        }
    }

    /// The paths read, in order.
    pub fn paths(&self) -> Vec<&str> {
        match self {
            SelectableFieldDef::Path(p) => vec![p.as_str()],
            SelectableFieldDef::Mapped { name, paths, .. } if paths.is_empty() => {
                vec![name.as_str()]
            }
            SelectableFieldDef::Mapped { paths, .. } => paths.iter().map(String::as_str).collect(),
        }
    }
}

/// Status and scale subresources, shaped as in a CRD.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Subresources {
    #[serde(default)]
    pub status: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    pub scale: Option<ScaleDef>,
}

/// Where a scale subresource finds its numbers.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScaleDef {
    pub spec_replicas_path: String,
    pub status_replicas_path: String,
    #[serde(default)]
    pub label_selector_path: Option<String>,
}

/// A `kubectl get` column.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PrinterColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub type_: String,
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub priority: i32,
    #[serde(default)]
    pub json_path: Option<String>,
    #[serde(default)]
    pub count: Vec<String>,
    /// The cell is the time since the timestamp at this path, as an age.
    #[serde(default)]
    pub age: Option<String>,
}

impl ResourceDef {
    /// The verbs, defaulted to all eight, in discovery order.
    pub fn verbs(&self) -> Vec<String> {
        match &self.verbs {
            Some(v) => ALL_VERBS
                .iter()
                .filter(|a| v.iter().any(|x| x == *a))
                .map(|s| s.to_string())
                .collect(),
            None => ALL_VERBS.iter().map(|s| s.to_string()).collect(),
        }
    }
}

impl GroupVersion {
    /// `v1` for the core group, `group/version` otherwise.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The served kinds of this group/version.
    pub fn resources(&self) -> impl Iterator<Item = (&TypeDef, &ResourceDef)> {
        self.types
            .values()
            .filter_map(|t| t.resource.as_ref().map(|r| (t, r)))
    }
}

impl Api {
    /// Finds a group/version.
    pub fn group_version(&self, group: &str, version: &str) -> Option<&GroupVersion> {
        self.group_versions
            .iter()
            .find(|g| g.group == group && g.version == version)
    }

    /// Finds a named type.
    pub fn resolve(&self, r: &TypeRef) -> Option<&TypeDef> {
        self.group_version(&r.group, &r.version)?.types.get(&r.name)
    }
}

/// The Rust module name of a group: `core` for "", the first label of a
/// `*.k8s.io` group, the group with `.`/`-` as `_` otherwise.
pub fn module_name(group: &str) -> String {
    if group.is_empty() {
        return "core".into();
    }
    let base = group.strip_suffix(".k8s.io").unwrap_or(group);
    let base = if base == "apiextensions" || !base.contains('.') {
        base
    } else {
        group
    };
    base.replace(['.', '-'], "_")
}

/// Builds the model from parsed files.
pub fn build(files: &[SourceFile]) -> Result<Api, Error> {
    let mut api = Api::default();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for f in files {
        let module = module_name(&f.group);
        if let Some(other) = seen.insert(format!("{module}/{}", f.version), f.display_path.clone())
        {
            return Err(Error::new(
                &f.display_path,
                None,
                format!("maps to the same Rust module as {other}"),
            ));
        }
        api.group_versions.push(build_group_version(f, module)?);
    }
    api.group_versions
        .sort_by(|a, b| (&a.group, &a.version).cmp(&(&b.group, &b.version)));
    check_refs(&api)?;
    mark_boxed(&mut api);
    check_resources(&api)?;
    Ok(api)
}

struct Ctx<'a> {
    file: &'a SourceFile,
    types: BTreeMap<String, TypeDef>,
}

fn build_group_version(f: &SourceFile, module: String) -> Result<GroupVersion, Error> {
    let mut ctx = Ctx {
        file: f,
        types: BTreeMap::new(),
    };
    let schemas = f.doc.components.as_ref().map(|c| &c.schemas);
    if let Some(schemas) = schemas {
        for (name, schema) in schemas {
            let pointer = format!("#/components/schemas/{}", pointer_token(name));
            if !is_type_name(name) {
                return Err(Error::at(
                    &f.display_path,
                    &pointer,
                    "schema names must be PascalCase identifiers (like ConfigMap)",
                ));
            }
            let schema = match schema {
                ReferenceOr::Item(s) => s,
                ReferenceOr::Reference { .. } => {
                    return Err(Error::at(
                        &f.display_path,
                        &pointer,
                        "a top-level schema cannot be a bare $ref",
                    ));
                }
            };
            let def = named_type(&mut ctx, name, schema, &pointer)?;
            ctx.types.insert(name.clone(), def);
        }
    }
    let raw_schemas = f
        .raw
        .pointer("/components/schemas")
        .and_then(|s| s.as_object())
        .cloned()
        .unwrap_or_default();
    let types = ctx.types;
    // Every served kind gets a <Kind>List: reject a declared one of the same name.
    for t in types.values() {
        if t.resource.is_some() {
            let list = format!("{}List", t.name);
            if types.contains_key(&list) {
                return Err(Error::at(
                    &f.display_path,
                    &format!("#/components/schemas/{list}"),
                    format!(
                        "{list} is generated for the served kind {}; do not declare it",
                        t.name
                    ),
                ));
            }
        }
    }
    Ok(GroupVersion {
        group: f.group.clone(),
        version: f.version.clone(),
        file: f.display_path.clone(),
        module,
        types,
        raw_schemas,
    })
}

fn is_type_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase()) && chars.all(|c| c.is_ascii_alphanumeric())
}

fn named_type(ctx: &mut Ctx, name: &str, schema: &Schema, pointer: &str) -> Result<TypeDef, Error> {
    let file = &ctx.file.display_path.clone();
    let data = &schema.schema_data;
    let ext = extensions(file, pointer, &data.extensions)?;
    let gvks = match data.extensions.get("x-kubernetes-group-version-kind") {
        None => Vec::new(),
        Some(v) => serde_json::from_value::<Vec<Gvk>>(v.clone()).map_err(|e| {
            Error::at(
                file,
                &format!("{pointer}/x-kubernetes-group-version-kind"),
                format!("expected a list of {{group, version, kind}}: {e}"),
            )
        })?,
    };
    let resource = match data.extensions.get("x-kapi-resource") {
        None => None,
        Some(v) => Some(
            serde_json::from_value::<ResourceDef>(v.clone()).map_err(|e| {
                Error::at(file, &format!("{pointer}/x-kapi-resource"), e.to_string())
            })?,
        ),
    };
    let shape = match object_properties(schema) {
        Some(obj) if !ext.preserve_unknown_fields || !obj.properties.is_empty() => {
            Shape::Struct(fields(ctx, name, obj, pointer)?)
        }
        _ => Shape::Alias(field_type(
            ctx,
            name,
            &ReferenceOr::Item(Box::new(schema.clone())),
            pointer,
        )?),
    };
    Ok(TypeDef {
        name: name.to_string(),
        description: data.description.clone(),
        shape,
        gvks,
        resource,
        ext,
        pointer: pointer.to_string(),
    })
}

/// The object type of a schema that has properties.
fn object_properties(schema: &Schema) -> Option<&openapiv3::ObjectType> {
    match &schema.schema_kind {
        SchemaKind::Type(Type::Object(o)) if !o.properties.is_empty() => Some(o),
        SchemaKind::Any(_) => None,
        _ => None,
    }
}

fn fields(
    ctx: &mut Ctx,
    parent: &str,
    obj: &openapiv3::ObjectType,
    pointer: &str,
) -> Result<Vec<Field>, Error> {
    let file = ctx.file.display_path.clone();
    for r in &obj.required {
        if !obj.properties.contains_key(r) {
            return Err(Error::at(
                &file,
                &format!("{pointer}/required"),
                format!("{r:?} is required but is not a property"),
            ));
        }
    }
    let mut out = Vec::new();
    let mut idents = BTreeSet::new();
    for (wire, prop) in &obj.properties {
        let p = format!("{pointer}/properties/{}", pointer_token(wire));
        let inline_name = format!("{parent}{}", pascal_case(wire));
        let ty = field_type(ctx, &inline_name, prop, &p)?;
        let (description, ext, default) = match prop {
            ReferenceOr::Item(s) => (
                s.schema_data.description.clone(),
                extensions(&file, &p, &s.schema_data.extensions)?,
                s.schema_data.default.clone(),
            ),
            ReferenceOr::Reference { .. } => (None, Extensions::default(), None),
        };
        let required = obj.required.iter().any(|r| r == wire);
        let default_object = !required
            && matches!(ty, Ty::Named(_))
            && default
                .as_ref()
                .is_some_and(|d| d.as_object().is_some_and(|o| o.is_empty()));
        let mut ident = field_ident(wire);
        while !idents.insert(ident.clone()) {
            ident.push('_');
        }
        out.push(Field {
            wire: wire.clone(),
            ident,
            ty,
            required,
            default_object,
            boxed: false,
            description,
            ext,
        });
    }
    Ok(out)
}

fn field_type(
    ctx: &mut Ctx,
    inline_name: &str,
    schema: &ReferenceOr<Box<Schema>>,
    pointer: &str,
) -> Result<Ty, Error> {
    let file = ctx.file.display_path.clone();
    let schema = match schema {
        ReferenceOr::Reference { reference } => {
            return Ok(Ty::Named(resolve_ref(ctx.file, reference, pointer)?));
        }
        ReferenceOr::Item(s) => s,
    };
    let ext = extensions(&file, pointer, &schema.schema_data.extensions)?;
    if ext.int_or_string {
        return Ok(Ty::IntOrString);
    }
    Ok(match &schema.schema_kind {
        SchemaKind::AllOf { all_of } => {
            // Upstream wraps a $ref in allOf to add a description or a default.
            match all_of.as_slice() {
                [ReferenceOr::Reference { reference }] => {
                    Ty::Named(resolve_ref(ctx.file, reference, pointer)?)
                }
                _ => Ty::Value,
            }
        }
        SchemaKind::OneOf { one_of: alts } | SchemaKind::AnyOf { any_of: alts }
            if is_int_or_string(alts) =>
        {
            Ty::IntOrString
        }
        SchemaKind::Any(any)
            if any.format.as_deref() == Some("int-or-string")
                || is_int_or_string(&any.one_of)
                || is_int_or_string(&any.any_of) =>
        {
            Ty::IntOrString
        }
        SchemaKind::OneOf { .. }
        | SchemaKind::AnyOf { .. }
        | SchemaKind::Not { .. }
        | SchemaKind::Any(_) => Ty::Value,
        SchemaKind::Type(t) => match t {
            Type::String(s) => match &s.format {
                openapiv3::VariantOrUnknownOrEmpty::Unknown(f) if f == "int-or-string" => {
                    Ty::IntOrString
                }
                _ => Ty::String,
            },
            Type::Integer(i) => match &i.format {
                openapiv3::VariantOrUnknownOrEmpty::Item(openapiv3::IntegerFormat::Int32) => {
                    Ty::I32
                }
                _ => Ty::I64,
            },
            Type::Number(_) => Ty::F64,
            Type::Boolean(_) => Ty::Bool,
            Type::Array(a) => match &a.items {
                Some(items) => Ty::Vec(Box::new(field_type(
                    ctx,
                    inline_name,
                    items,
                    &format!("{pointer}/items"),
                )?)),
                None => {
                    return Err(Error::at(&file, pointer, "an array needs `items`"));
                }
            },
            Type::Object(o) => {
                if ext.preserve_unknown_fields {
                    Ty::Value
                } else if !o.properties.is_empty() {
                    // An inline object: give it a name of its own.
                    let name = unique_inline_name(ctx, inline_name);
                    let inner = Schema {
                        schema_data: schema.schema_data.clone(),
                        schema_kind: schema.schema_kind.clone(),
                    };
                    let mut def = named_type(ctx, &name, &inner, pointer)?;
                    def.gvks.clear();
                    def.resource = None;
                    ctx.types.insert(name.clone(), def);
                    Ty::Named(TypeRef {
                        group: ctx.file.group.clone(),
                        version: ctx.file.version.clone(),
                        name,
                    })
                } else {
                    match &o.additional_properties {
                        Some(openapiv3::AdditionalProperties::Schema(s)) => {
                            let boxed = match s.as_ref() {
                                ReferenceOr::Reference { reference } => ReferenceOr::Reference {
                                    reference: reference.clone(),
                                },
                                ReferenceOr::Item(s) => ReferenceOr::Item(Box::new(s.clone())),
                            };
                            let value_name = format!("{inline_name}Value");
                            Ty::Map(Box::new(field_type(
                                ctx,
                                &value_name,
                                &boxed,
                                &format!("{pointer}/additionalProperties"),
                            )?))
                        }
                        Some(openapiv3::AdditionalProperties::Any(true)) => {
                            Ty::Map(Box::new(Ty::Value))
                        }
                        _ => Ty::Value,
                    }
                }
            }
        },
    })
}

/// `oneOf`/`anyOf` of exactly an integer and a string: Kubernetes' int-or-string.
fn is_int_or_string(alts: &[ReferenceOr<Schema>]) -> bool {
    let mut kinds: Vec<&str> = alts
        .iter()
        .map(|a| match a {
            ReferenceOr::Item(Schema {
                schema_kind: SchemaKind::Type(Type::Integer(_)),
                ..
            }) => "integer",
            ReferenceOr::Item(Schema {
                schema_kind: SchemaKind::Type(Type::String(_)),
                ..
            }) => "string",
            _ => "other",
        })
        .collect();
    kinds.sort();
    kinds == ["integer", "string"]
}

fn unique_inline_name(ctx: &Ctx, base: &str) -> String {
    let mut name = base.to_string();
    let mut n = 2;
    while ctx.types.contains_key(&name) {
        name = format!("{base}{n}");
        n += 1;
    }
    name
}

fn resolve_ref(file: &SourceFile, reference: &str, pointer: &str) -> Result<TypeRef, Error> {
    let bad = |msg: &str| {
        Error::at(
            &file.display_path,
            pointer,
            format!("cannot use $ref {reference:?}: {msg}"),
        )
    };
    let (path, fragment) = reference
        .split_once('#')
        .ok_or_else(|| bad("no #/components/schemas/ fragment"))?;
    let name = fragment
        .strip_prefix("/components/schemas/")
        .ok_or_else(|| bad("only #/components/schemas/<Name> can be referred to"))?;
    let (group, version) = if path.is_empty() {
        (file.group.clone(), file.version.clone())
    } else {
        let file_name = path.rsplit('/').next().unwrap_or(path);
        let version = file_name
            .strip_suffix(".yaml")
            .or_else(|| file_name.strip_suffix(".yml"))
            .ok_or_else(|| bad("the file must be a .yaml schema file"))?;
        let dir: Vec<&str> = path.split('/').collect();
        let group = match dir.as_slice() {
            [_file] | [".", _file] => file.group.clone(),
            ["..", g, _file] => {
                if *g == "core" {
                    String::new()
                } else {
                    g.to_string()
                }
            }
            _ => return Err(bad("refer to other files as ../<group>/<version>.yaml")),
        };
        (group, version.to_string())
    };
    Ok(TypeRef {
        group,
        version,
        name: name.to_string(),
    })
}

fn extensions(
    file: &str,
    pointer: &str,
    ext: &indexmap::IndexMap<String, serde_json::Value>,
) -> Result<Extensions, Error> {
    let string = |key: &str| -> Result<Option<String>, Error> {
        match ext.get(key) {
            None => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(Error::at(
                file,
                &format!("{pointer}/{key}"),
                "must be a string",
            )),
        }
    };
    let flag = |key: &str| -> Result<bool, Error> {
        match ext.get(key) {
            None => Ok(false),
            Some(serde_json::Value::Bool(b)) => Ok(*b),
            Some(_) => Err(Error::at(
                file,
                &format!("{pointer}/{key}"),
                "must be true or false",
            )),
        }
    };
    let list_map_keys = match ext.get("x-kubernetes-list-map-keys") {
        None => Vec::new(),
        Some(v) => serde_json::from_value(v.clone()).map_err(|_| {
            Error::at(
                file,
                &format!("{pointer}/x-kubernetes-list-map-keys"),
                "must be a list of strings",
            )
        })?,
    };
    let e = Extensions {
        patch_merge_key: string("x-kubernetes-patch-merge-key")?,
        patch_strategy: string("x-kubernetes-patch-strategy")?,
        list_type: string("x-kubernetes-list-type")?,
        list_map_keys,
        map_type: string("x-kubernetes-map-type")?,
        int_or_string: flag("x-kubernetes-int-or-string")?,
        preserve_unknown_fields: flag("x-kubernetes-preserve-unknown-fields")?,
        embedded_resource: flag("x-kubernetes-embedded-resource")?,
    };
    if let Some(t) = &e.list_type {
        if !["atomic", "set", "map"].contains(&t.as_str()) {
            return Err(Error::at(
                file,
                &format!("{pointer}/x-kubernetes-list-type"),
                format!("{t:?} is not one of atomic, set, map"),
            ));
        }
        if t == "map" && e.list_map_keys.is_empty() {
            return Err(Error::at(
                file,
                &format!("{pointer}/x-kubernetes-list-type"),
                "x-kubernetes-list-type: map needs x-kubernetes-list-map-keys",
            ));
        }
    }
    if let Some(t) = &e.map_type
        && !["atomic", "granular"].contains(&t.as_str())
    {
        return Err(Error::at(
            file,
            &format!("{pointer}/x-kubernetes-map-type"),
            format!("{t:?} is not one of atomic, granular"),
        ));
    }
    Ok(e)
}

fn check_refs(api: &Api) -> Result<(), Error> {
    for gv in &api.group_versions {
        for t in gv.types.values() {
            let check = |ty: &Ty, where_: &str| -> Result<(), Error> {
                let mut result = Ok(());
                visit_refs(ty, &mut |r| {
                    if result.is_err() {
                        return;
                    }
                    let message = match api.group_version(&r.group, &r.version) {
                        Some(target) if target.types.contains_key(&r.name) => return,
                        Some(target) => {
                            format!("$ref to {}, which {} does not declare", r.name, target.file)
                        }
                        None => {
                            // Name the missing file beside the referring one: `<dir>/<group>/<version>.yaml`.
                            let dir = gv.file.rsplitn(3, '/').nth(2).unwrap_or("api-defs");
                            let group = if r.group.is_empty() {
                                "core"
                            } else {
                                r.group.as_str()
                            };
                            format!(
                                "$ref to {}, but there is no schema file {dir}/{group}/{}.yaml",
                                r.name, r.version
                            )
                        }
                    };
                    result = Err(Error::at(&gv.file, where_, message));
                });
                result
            };
            match &t.shape {
                Shape::Alias(ty) => check(ty, &t.pointer)?,
                Shape::Struct(fields) => {
                    for f in fields {
                        check(
                            &f.ty,
                            &format!("{}/properties/{}", t.pointer, pointer_token(&f.wire)),
                        )?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// Calls `f` on every named type a type refers to.
pub fn visit_refs(ty: &Ty, f: &mut impl FnMut(&TypeRef)) {
    match ty {
        Ty::Vec(t) | Ty::Map(t) => visit_refs(t, f),
        Ty::Named(r) => f(r),
        _ => {}
    }
}

/// Boxes the fields that would make a type infinitely large.
fn mark_boxed(api: &mut Api) {
    // Direct edges: a field whose type is a named struct with no Vec/Map in between.
    let mut edges: BTreeMap<TypeRef, Vec<TypeRef>> = BTreeMap::new();
    for gv in &api.group_versions {
        for t in gv.types.values() {
            let me = TypeRef {
                group: gv.group.clone(),
                version: gv.version.clone(),
                name: t.name.clone(),
            };
            let mut out = Vec::new();
            if let Shape::Struct(fields) = &t.shape {
                for f in fields {
                    if let Ty::Named(r) = &f.ty {
                        out.push(r.clone());
                    }
                }
            }
            edges.insert(me, out);
        }
    }
    let reaches = |from: &TypeRef, to: &TypeRef| -> bool {
        let mut stack = vec![from.clone()];
        let mut seen = BTreeSet::new();
        while let Some(n) = stack.pop() {
            if &n == to {
                return true;
            }
            if seen.insert(n.clone()) {
                stack.extend(edges.get(&n).into_iter().flatten().cloned());
            }
        }
        false
    };
    let mut to_box = BTreeSet::new();
    for gv in &api.group_versions {
        for t in gv.types.values() {
            let me = TypeRef {
                group: gv.group.clone(),
                version: gv.version.clone(),
                name: t.name.clone(),
            };
            if let Shape::Struct(fields) = &t.shape {
                for f in fields {
                    if let Ty::Named(r) = &f.ty
                        && reaches(r, &me)
                    {
                        to_box.insert((me.clone(), f.wire.clone()));
                    }
                }
            }
        }
    }
    for gv in &mut api.group_versions {
        let (g, v) = (gv.group.clone(), gv.version.clone());
        for t in gv.types.values_mut() {
            let me = TypeRef {
                group: g.clone(),
                version: v.clone(),
                name: t.name.clone(),
            };
            if let Shape::Struct(fields) = &mut t.shape {
                for f in fields {
                    if to_box.contains(&(me.clone(), f.wire.clone())) {
                        f.boxed = true;
                    }
                }
            }
        }
    }
}

/// A served kind must be an object with `metadata` (ObjectMeta), `apiVersion` and `kind`,
/// and its GVK must match its file.
fn check_resources(api: &Api) -> Result<(), Error> {
    let mut plurals: BTreeMap<(String, String), String> = BTreeMap::new();
    for gv in &api.group_versions {
        for (t, r) in gv.resources() {
            let at = format!("{}/x-kapi-resource", t.pointer);
            let gvk_ok = t
                .gvks
                .iter()
                .any(|g| g.group == gv.group && g.version == gv.version && g.kind == t.name);
            if !gvk_ok {
                return Err(Error::at(
                    &gv.file,
                    &t.pointer,
                    format!(
                        "a served kind needs x-kubernetes-group-version-kind [{{group: {:?}, version: {}, kind: {}}}]",
                        gv.group, gv.version, t.name
                    ),
                ));
            }
            let Shape::Struct(fields) = &t.shape else {
                return Err(Error::at(
                    &gv.file,
                    &t.pointer,
                    "a served kind must be an object with properties",
                ));
            };
            let object_meta = Ty::Named(TypeRef {
                group: "meta.k8s.io".into(),
                version: "v1".into(),
                name: "ObjectMeta".into(),
            });
            for needed in ["apiVersion", "kind", "metadata"] {
                let Some(f) = fields.iter().find(|f| f.wire == needed) else {
                    return Err(Error::at(
                        &gv.file,
                        &format!("{}/properties", t.pointer),
                        format!("a served kind needs the property {needed:?}"),
                    ));
                };
                // The Resource derive reads these fields as `Option<String>` and `ObjectMeta`.
                let (ok, wanted) = if needed == "metadata" {
                    (
                        f.ty == object_meta && (f.required || f.default_object),
                        "an allOf of '../meta.k8s.io/v1.yaml#/components/schemas/ObjectMeta' with default: {}",
                    )
                } else {
                    (
                        f.ty == Ty::String && !f.required,
                        "of type string and not required",
                    )
                };
                if !ok {
                    return Err(Error::at(
                        &gv.file,
                        &format!("{}/properties/{}", t.pointer, pointer_token(needed)),
                        format!("the property {needed:?} of a served kind must be {wanted}"),
                    ));
                }
            }
            if !is_dns_label(&r.plural) {
                return Err(Error::at(
                    &gv.file,
                    &format!("{at}/plural"),
                    format!("{:?} must be a lowercase DNS label", r.plural),
                ));
            }
            if let Some(v) = &r.verbs {
                for (i, verb) in v.iter().enumerate() {
                    if !ALL_VERBS.contains(&verb.as_str()) {
                        return Err(Error::at(
                            &gv.file,
                            &format!("{at}/verbs/{i}"),
                            format!(
                                "unknown verb {verb:?}; expected one of {}",
                                ALL_VERBS.join(", ")
                            ),
                        ));
                    }
                }
            }
            for (i, c) in r.printer_columns.iter().enumerate() {
                let cp = format!("{at}/printerColumns/{i}");
                let sources = [c.json_path.is_some(), !c.count.is_empty(), c.age.is_some()];
                if sources.iter().filter(|s| **s).count() != 1 {
                    return Err(Error::at(
                        &gv.file,
                        &cp,
                        "a printer column needs exactly one of jsonPath, count and age",
                    ));
                }
                if !["integer", "number", "string", "boolean", "date"].contains(&c.type_.as_str()) {
                    return Err(Error::at(
                        &gv.file,
                        &format!("{cp}/type"),
                        format!(
                            "{:?} is not one of integer, number, string, boolean, date",
                            c.type_
                        ),
                    ));
                }
                for p in c.json_path.iter().chain(c.count.iter()).chain(c.age.iter()) {
                    if !p.starts_with('.') {
                        return Err(Error::at(
                            &gv.file,
                            &cp,
                            format!("path {p:?} must start with '.'"),
                        ));
                    }
                }
            }
            check_selectable_fields(api, gv, t, r, &at)?;
            if let Some(other) =
                plurals.insert((gv.group.clone(), r.plural.clone()), gv.file.clone())
            {
                if other != gv.file || gv.version.is_empty() {
                    // Several versions of one group may serve the same plural; one file may not twice.
                } else {
                    return Err(Error::at(
                        &gv.file,
                        &format!("{at}/plural"),
                        format!("{:?} is served twice", r.plural),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Every selectable field names a new label and each of its paths a string,
/// integer or boolean property of the kind; a missing default is the Go zero
/// value of the first path's type (`false`, `0`, empty).
fn check_selectable_fields(
    api: &Api,
    gv: &GroupVersion,
    t: &TypeDef,
    r: &ResourceDef,
    at: &str,
) -> Result<(), Error> {
    let mut seen = BTreeSet::new();
    for (i, f) in r.selectable_fields.iter().enumerate() {
        let fp = format!("{at}/selectableFields/{i}");
        let name = f.name();
        if name == "metadata.name" || name == "metadata.namespace" {
            return Err(Error::at(
                &gv.file,
                &fp,
                format!("{name:?} is always selectable; do not declare it"),
            ));
        }
        if !seen.insert(name.to_string()) {
            return Err(Error::at(
                &gv.file,
                &fp,
                format!("selectable field {name:?} is declared twice"),
            ));
        }
        for p in f.paths() {
            selectable_scalar(api, gv, t, p)
                .map_err(|msg| Error::at(&gv.file, &fp, format!("path {p:?}: {msg}")))?;
        }
    }
    Ok(())
}

/// The scalar type (`string`, `integer`, `boolean`) at a dotted path of a kind.
pub fn selectable_scalar(
    api: &Api,
    _gv: &GroupVersion,
    t: &TypeDef,
    path: &str,
) -> Result<&'static str, String> {
    let mut shape = &t.shape;
    let segs: Vec<&str> = path.split('.').collect();
    for (i, seg) in segs.iter().enumerate() {
        let Shape::Struct(fields) = shape else {
            return Err(format!("{:?} is not an object", segs[..i].join(".")));
        };
        let Some(f) = fields.iter().find(|f| f.wire == *seg) else {
            return Err(format!("no property {seg:?}"));
        };
        let mut ty = &f.ty;
        loop {
            match ty {
                Ty::String => return last(i, &segs, "string"),
                Ty::I32 | Ty::I64 => return last(i, &segs, "integer"),
                Ty::Bool => return last(i, &segs, "boolean"),
                Ty::Named(r) => {
                    let target = api
                        .group_version(&r.group, &r.version)
                        .and_then(|g| g.types.get(&r.name))
                        .ok_or_else(|| format!("unknown type {}", r.name))?;
                    match &target.shape {
                        Shape::Alias(a) => ty = a,
                        s @ Shape::Struct(_) => {
                            shape = s;
                            break;
                        }
                    }
                }
                _ => {
                    return Err(
                        "must point to a field of type string, boolean or integer".to_string()
                    );
                }
            }
        }
        if i + 1 == segs.len() {
            return Err("must point to a field of type string, boolean or integer".to_string());
        }
    }
    Err("empty path".to_string())
}

fn last(i: usize, segs: &[&str], ty: &'static str) -> Result<&'static str, String> {
    if i + 1 == segs.len() {
        Ok(ty)
    } else {
        Err(format!(
            "{:?} is a {ty}, not an object",
            segs[..=i].join(".")
        ))
    }
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// `binaryData` → `binary_data`, `x-kubernetes-map-type` → `x_kubernetes_map_type`,
/// `$ref` → `ref_`, `type` → `type_`.
pub fn field_ident(wire: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in wire.chars() {
        if c.is_ascii_uppercase() {
            if prev_lower {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            prev_lower = false;
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        } else {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            prev_lower = false;
        }
    }
    // Runs of capitals (`podIPs`, `APIVersion`) collapse into one word.
    let mut out = out.trim_matches('_').to_string();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out = format!("f_{out}");
    }
    if wire.starts_with('$') || is_keyword(&out) {
        out.push('_');
    }
    out
}

fn is_keyword(s: &str) -> bool {
    matches!(
        s,
        "as" | "break"
            | "const"
            | "continue"
            | "crate"
            | "else"
            | "enum"
            | "extern"
            | "false"
            | "fn"
            | "for"
            | "if"
            | "impl"
            | "in"
            | "let"
            | "loop"
            | "match"
            | "mod"
            | "move"
            | "mut"
            | "pub"
            | "ref"
            | "return"
            | "self"
            | "Self"
            | "static"
            | "struct"
            | "super"
            | "trait"
            | "true"
            | "type"
            | "unsafe"
            | "use"
            | "where"
            | "while"
            | "async"
            | "await"
            | "dyn"
            | "abstract"
            | "become"
            | "box"
            | "do"
            | "final"
            | "macro"
            | "override"
            | "priv"
            | "typeof"
            | "unsized"
            | "virtual"
            | "yield"
            | "try"
            | "gen"
    )
}

/// `binaryData` → `BinaryData`, `x-kubernetes-foo` → `XKubernetesFoo`.
pub fn pascal_case(s: &str) -> String {
    let mut out = String::new();
    let mut upper = true;
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            if upper {
                out.push(c.to_ascii_uppercase());
                upper = false;
            } else {
                out.push(c);
            }
        } else {
            upper = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idents() {
        assert_eq!(field_ident("apiVersion"), "api_version");
        assert_eq!(field_ident("binaryData"), "binary_data");
        assert_eq!(field_ident("type"), "type_");
        assert_eq!(field_ident("$ref"), "ref_");
        assert_eq!(
            field_ident("x-kubernetes-map-type"),
            "x_kubernetes_map_type"
        );
        assert_eq!(field_ident("podIPs"), "pod_ips");
        assert_eq!(field_ident("3d"), "f_3d");
    }

    #[test]
    fn modules() {
        assert_eq!(module_name(""), "core");
        assert_eq!(module_name("meta.k8s.io"), "meta");
        assert_eq!(module_name("apiextensions.k8s.io"), "apiextensions");
        assert_eq!(module_name("example.com"), "example_com");
        assert_eq!(module_name("apps"), "apps");
    }
}
