//! Reading `#[resource(...)]` with syn's nested-meta parser.
//!
//! Every key has one form (`key = "..."`, `key(...)` or a bare `key`); a key in
//! the wrong form, a value of the wrong type, an unknown or repeated key is an
//! error at that key or value, and reading goes on after it, so that one
//! compile shows every mistake of the attribute. Only a syntax error (a
//! missing comma, an unbalanced value) stops the reading of an attribute.
//!
//! ```text
//! group = "...", version = "...", kind = "...", plural = "...", singular = "...",
//! scope = "Namespaced" | "Cluster",
//! short_names("...", ...), categories("...", ...), verbs(get, list, ...), status,
//! scale(spec_replicas_path = "...", status_replicas_path = "...", label_selector_path = "..."),
//! printer_column(name = "...", type = "...", json_path = "..." | count("...", ...) | age = "...",
//!                format = "...", description = "...", priority = 1),
//! selectable_field("spec.field", path = "...", path = "...", default = "...")
//! ```

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::meta::ParseNestedMeta;
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, ExprLit, Ident, Lit, LitInt, LitStr, Token, token};

/// The verbs `verbs(...)` accepts and their marker traits, in the order
/// `visit_verbs` reports them.
pub const VERBS: [(&str, &str); 8] = [
    ("get", "Get"),
    ("list", "List"),
    ("watch", "Watch"),
    ("create", "Create"),
    ("update", "Update"),
    ("patch", "Patch"),
    ("delete", "Delete"),
    ("deletecollection", "DeleteCollection"),
];

const VERB_LIST: &str = "get, list, watch, create, update, patch, delete, deletecollection";
const COLUMN_TYPES: [&str; 5] = ["integer", "number", "string", "boolean", "date"];

/// A `#[resource(...)]` that was read without an error.
pub struct Attrs {
    pub group: LitStr,
    pub version: LitStr,
    pub kind: LitStr,
    pub plural: LitStr,
    pub singular: Option<LitStr>,
    pub namespaced: bool,
    pub short_names: Vec<LitStr>,
    pub categories: Vec<LitStr>,
    pub verbs: Vec<Ident>,
    pub status: bool,
    pub scale: Option<Scale>,
    pub columns: Vec<Column>,
    pub selectable: Vec<Selectable>,
    pub storage_version: Option<LitStr>,
}

/// `scale(...)`.
pub struct Scale {
    pub spec: LitStr,
    pub status: LitStr,
    pub selector: Option<LitStr>,
}

/// `printer_column(...)`; exactly one of `json_path`, `count` and `age` is set.
pub struct Column {
    pub name: LitStr,
    pub type_: LitStr,
    pub json_path: Option<LitStr>,
    pub count: Vec<LitStr>,
    pub age: Option<LitStr>,
    pub format: Option<LitStr>,
    pub description: Option<LitStr>,
    pub priority: i32,
}

/// `selectable_field("label")` or `selectable_field("label", path = "a.b", path = "c", default = "false")`.
pub struct Selectable {
    pub name: LitStr,
    pub paths: Vec<LitStr>,
    pub default: Option<LitStr>,
}

/// Errors gathered while reading; reported together.
#[derive(Default)]
pub struct Errors(Option<syn::Error>);

impl Errors {
    pub fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    pub fn at(&mut self, tokens: impl quote::ToTokens, msg: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, msg));
    }

    pub fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// What follows a key.
#[derive(Clone, Copy, PartialEq)]
enum Form {
    /// `key = value`
    Value,
    /// `key(...)`
    List,
    /// `key`
    Bare,
}

fn form_of(input: ParseStream) -> Form {
    if input.peek(Token![=]) {
        Form::Value
    } else if input.peek(token::Paren) {
        Form::List
    } else {
        Form::Bare
    }
}

/// Consumes what follows a key, up to the next `,` of its list.
fn skip(input: ParseStream) -> syn::Result<()> {
    while !input.is_empty() && !input.peek(Token![,]) {
        input.parse::<TokenTree>()?;
    }
    Ok(())
}

fn key_name(path: &syn::Path) -> String {
    let names: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    names.join("::")
}

/// One key of a list being read: its name and what follows it.
struct Key<'a, 'b> {
    meta: &'a ParseNestedMeta<'b>,
    name: String,
}

impl Key<'_, '_> {
    /// True if the key is followed by `want`; otherwise an error at the key
    /// says how it is written, and its value is skipped.
    fn expect(&self, want: Form, usage: &str, errors: &mut Errors) -> syn::Result<bool> {
        if form_of(self.meta.input) == want {
            return Ok(true);
        }
        let msg = if want == Form::Bare {
            format!("`{}` takes no value: write `{usage}`", self.name)
        } else {
            format!("`{}` is written `{usage}`", self.name)
        };
        errors.at(&self.meta.path, msg);
        skip(self.meta.input)?;
        Ok(false)
    }

    /// `key = "..."`.
    fn string(&self, errors: &mut Errors) -> syn::Result<Option<LitStr>> {
        let usage = format!("{} = \"...\"", self.name);
        if !self.expect(Form::Value, &usage, errors)? {
            return Ok(None);
        }
        match self.meta.value()?.parse::<Expr>()? {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => Ok(Some(s)),
            other => {
                errors.at(
                    other,
                    format_args!("`{}` takes a string literal: `{usage}`", self.name),
                );
                Ok(None)
            }
        }
    }

    /// `key(item, ...)` (its form checked by `expect`): the items as
    /// expressions, checked by the caller.
    fn items(&self) -> syn::Result<Vec<Expr>> {
        let content;
        syn::parenthesized!(content in self.meta.input);
        let items = Punctuated::<Expr, Token![,]>::parse_terminated(&content)?;
        Ok(items.into_iter().collect())
    }

    /// `key("...", ...)`; with `nonempty`, an empty list is an error.
    fn strings(&self, nonempty: bool, errors: &mut Errors) -> syn::Result<Vec<LitStr>> {
        let usage = format!("{}(\"...\", ...)", self.name);
        if !self.expect(Form::List, &usage, errors)? {
            return Ok(Vec::new());
        }
        let items = self.items()?;
        if nonempty && items.is_empty() {
            errors.at(
                &self.meta.path,
                format_args!("`{}` needs at least one string: `{usage}`", self.name),
            );
        }
        let mut out = Vec::new();
        for item in items {
            match item {
                Expr::Lit(ExprLit {
                    lit: Lit::Str(s), ..
                }) => out.push(s),
                other => errors.at(
                    other,
                    format_args!("`{}` lists string literals: `{usage}`", self.name),
                ),
            }
        }
        Ok(out)
    }

    /// `key(k = v, ...)` (its form checked by `expect`), each `k` read by `logic`.
    fn nested(&self, logic: impl FnMut(ParseNestedMeta) -> syn::Result<()>) -> syn::Result<()> {
        let content;
        syn::parenthesized!(content in self.meta.input);
        // Unlike `ParseNestedMeta::parse_nested_meta`, `meta::parser` takes an
        // empty list too, whose missing keys are then reported.
        syn::meta::parser(logic).parse2(content.parse::<TokenStream>()?)
    }

    /// `key = 1` (an `i32`, negative or not).
    fn int(&self, errors: &mut Errors) -> syn::Result<Option<i32>> {
        let usage = format!("{} = 1", self.name);
        if !self.expect(Form::Value, &usage, errors)? {
            return Ok(None);
        }
        let input = self.meta.value()?;
        if input.fork().parse::<LitInt>().is_ok() {
            let lit: LitInt = input.parse()?;
            return match lit.base10_parse() {
                Ok(v) => Ok(Some(v)),
                Err(e) => {
                    errors.at(&lit, format_args!("`{}` is an i32: {e}", self.name));
                    Ok(None)
                }
            };
        }
        let other: Expr = input.parse()?;
        errors.at(
            other,
            format_args!("`{}` takes an integer literal: `{usage}`", self.name),
        );
        Ok(None)
    }
}

/// The keys one list (`resource(...)`, `scale(...)`, ...) accepts.
struct Keys {
    /// `resource`, `scale`, ...: for errors.
    list: &'static str,
    known: &'static [&'static str],
    /// The keys that may be given more than once.
    repeatable: &'static [&'static str],
}

const RESOURCE: Keys = Keys {
    list: "resource",
    known: &[
        "group",
        "version",
        "kind",
        "plural",
        "singular",
        "scope",
        "short_names",
        "categories",
        "verbs",
        "status",
        "scale",
        "printer_column",
        "selectable_field",
        "storage_version",
    ],
    repeatable: &["printer_column", "selectable_field"],
};
const SCALE: Keys = Keys {
    list: "scale",
    known: &[
        "spec_replicas_path",
        "status_replicas_path",
        "label_selector_path",
    ],
    repeatable: &[],
};
const PRINTER_COLUMN: Keys = Keys {
    list: "printer_column",
    known: &[
        "name",
        "type",
        "json_path",
        "count",
        "age",
        "format",
        "description",
        "priority",
    ],
    repeatable: &[],
};
const SELECTABLE_FIELD: Keys = Keys {
    list: "selectable_field",
    known: &["path", "default"],
    repeatable: &["path"],
};

/// The keys read so far in one list.
struct Seen {
    keys: &'static Keys,
    names: Vec<String>,
}

impl Seen {
    fn new(keys: &'static Keys) -> Self {
        Seen {
            keys,
            names: Vec::new(),
        }
    }

    /// The key being read, or `None` (after an error, its value skipped) if
    /// the list has no such key or has had it before.
    fn key<'a, 'b>(
        &mut self,
        meta: &'a ParseNestedMeta<'b>,
        errors: &mut Errors,
    ) -> syn::Result<Option<Key<'a, 'b>>> {
        let name = key_name(&meta.path);
        let k = self.keys;
        if !k.known.contains(&name.as_str()) {
            let (last, rest) = k.known.split_last().unwrap_or((&"", &[]));
            errors.at(
                &meta.path,
                format_args!(
                    "unknown {} attribute `{name}`; expected {} or {last}",
                    k.list,
                    rest.join(", ")
                ),
            );
            skip(meta.input)?;
            return Ok(None);
        }
        if self.has(&name) && !k.repeatable.contains(&name.as_str()) {
            errors.at(&meta.path, format_args!("`{name}` is given twice"));
            skip(meta.input)?;
            return Ok(None);
        }
        self.names.push(name.clone());
        Ok(Some(Key { meta, name }))
    }

    fn has(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }
}

/// What the keys of every `#[resource]` set, before the check of the required ones.
struct Partial {
    seen: Seen,
    group: Option<LitStr>,
    version: Option<LitStr>,
    kind: Option<LitStr>,
    plural: Option<LitStr>,
    singular: Option<LitStr>,
    namespaced: Option<bool>,
    short_names: Vec<LitStr>,
    categories: Vec<LitStr>,
    verbs: Vec<Ident>,
    status: bool,
    scale: Option<Scale>,
    columns: Vec<Column>,
    selectable: Vec<Selectable>,
    storage_version: Option<LitStr>,
}

/// Reads the `#[resource(...)]` attributes (usually one; several are read as
/// one list), reporting every mistake found.
pub fn read(attrs: &[Attribute]) -> syn::Result<Attrs> {
    let ours: Vec<&Attribute> = attrs
        .iter()
        .filter(|a| a.path().is_ident("resource"))
        .collect();
    let Some(first) = ours.first() else {
        // The call site of a derive is the `Resource` in `#[derive(...)]`.
        return Err(syn::Error::new(
            Span::call_site(),
            "#[derive(Resource)] needs a #[resource(group = \"...\", version = \"...\", kind = \"...\", plural = \"...\", scope = \"...\")] attribute",
        ));
    };
    let mut errors = Errors::default();
    let mut p = Partial {
        seen: Seen::new(&RESOURCE),
        group: None,
        version: None,
        kind: None,
        plural: None,
        singular: None,
        namespaced: None,
        short_names: Vec::new(),
        categories: Vec::new(),
        verbs: Vec::new(),
        status: false,
        scale: None,
        columns: Vec::new(),
        selectable: Vec::new(),
        storage_version: None,
    };
    for attr in &ours {
        if let Err(e) = attr.parse_nested_meta(|meta| key(&mut p, &meta, &mut errors)) {
            // A syntax error: the rest of that attribute is unread, so what
            // it lacks is unknown.
            errors.push(e);
            return Err(errors
                .finish()
                .err()
                .unwrap_or_else(|| unreachable_error(first)));
        }
    }
    // A key given with a bad value has its error already.
    for (v, name) in [
        (&p.group, "group"),
        (&p.version, "version"),
        (&p.kind, "kind"),
        (&p.plural, "plural"),
    ] {
        if v.is_none() && !p.seen.has(name) {
            errors.at(
                &first.meta,
                format_args!("#[resource] needs `{name} = \"...\"`"),
            );
        }
    }
    if p.namespaced.is_none() && !p.seen.has("scope") {
        errors.at(
            &first.meta,
            "#[resource] needs `scope = \"Namespaced\"` or `scope = \"Cluster\"`",
        );
    }
    errors.finish()?;
    match (p.group, p.version, p.kind, p.plural, p.namespaced) {
        (Some(group), Some(version), Some(kind), Some(plural), Some(namespaced)) => Ok(Attrs {
            group,
            version,
            kind,
            plural,
            singular: p.singular,
            namespaced,
            short_names: p.short_names,
            categories: p.categories,
            verbs: p.verbs,
            status: p.status,
            scale: p.scale,
            columns: p.columns,
            selectable: p.selectable,
            storage_version: p.storage_version,
        }),
        // Each missing one has had its error above.
        _ => Err(unreachable_error(first)),
    }
}

/// For the branches after an error has been reported, which the type system
/// cannot see.
fn unreachable_error(attr: &Attribute) -> syn::Error {
    syn::Error::new_spanned(&attr.meta, "#[resource] is incomplete")
}

/// One key of `#[resource(...)]`.
fn key(p: &mut Partial, meta: &ParseNestedMeta, errors: &mut Errors) -> syn::Result<()> {
    let Some(key) = p.seen.key(meta, errors)? else {
        return Ok(());
    };
    match key.name.as_str() {
        "group" => p.group = key.string(errors)?,
        "version" => p.version = key.string(errors)?,
        "kind" => p.kind = key.string(errors)?,
        "plural" => p.plural = key.string(errors)?,
        "storage_version" => p.storage_version = key.string(errors)?,
        "singular" => p.singular = key.string(errors)?,
        "scope" => {
            if let Some(lit) = key.string(errors)? {
                match lit.value().as_str() {
                    "Namespaced" => p.namespaced = Some(true),
                    "Cluster" => p.namespaced = Some(false),
                    _ => errors.at(&lit, "scope must be \"Namespaced\" or \"Cluster\""),
                }
            }
        }
        "short_names" => p.short_names = key.strings(false, errors)?,
        "categories" => p.categories = key.strings(false, errors)?,
        "verbs" => p.verbs = verbs(&key, errors)?,
        "status" => p.status = key.expect(Form::Bare, "status", errors)?,
        "scale" => p.scale = scale(&key, errors)?,
        "printer_column" => {
            if let Some(c) = printer_column(&key, errors)? {
                p.columns.push(c);
            }
        }
        "selectable_field" => {
            if let Some(f) = selectable_field(&key, errors)? {
                if p.selectable
                    .iter()
                    .any(|x| x.name.value() == f.name.value())
                {
                    errors.at(
                        &f.name,
                        format_args!("selectable field {:?} is declared twice", f.name.value()),
                    );
                } else {
                    p.selectable.push(f);
                }
            }
        }
        // Not a known key: reported by `Seen::key`.
        _ => {}
    }
    Ok(())
}

/// `verbs(get, list, ...)`.
fn verbs(key: &Key, errors: &mut Errors) -> syn::Result<Vec<Ident>> {
    let mut out: Vec<Ident> = Vec::new();
    if !key.expect(Form::List, "verbs(get, list, ...)", errors)? {
        return Ok(out);
    }
    for item in key.items()? {
        let verb = match &item {
            Expr::Path(p) if p.attrs.is_empty() && p.qself.is_none() => p.path.get_ident(),
            _ => None,
        };
        match verb {
            Some(v) if !VERBS.iter().any(|(name, _)| v == name) => errors.at(
                v,
                format_args!("unknown verb `{v}`; expected one of {VERB_LIST}"),
            ),
            Some(v) if out.contains(v) => errors.at(v, format_args!("verb `{v}` is listed twice")),
            Some(v) => out.push(v.clone()),
            None => match &item {
                Expr::Lit(ExprLit {
                    lit: Lit::Str(s), ..
                }) => errors.at(
                    s,
                    format_args!("a verb is written without quotes: `{}`", s.value()),
                ),
                other => errors.at(other, format_args!("expected a verb, one of {VERB_LIST}")),
            },
        }
    }
    Ok(out)
}

/// `scale(spec_replicas_path = "...", status_replicas_path = "...", label_selector_path = "...")`.
fn scale(key: &Key, errors: &mut Errors) -> syn::Result<Option<Scale>> {
    let usage = "scale(spec_replicas_path = \"...\", status_replicas_path = \"...\")";
    if !key.expect(Form::List, usage, errors)? {
        return Ok(None);
    }
    let (mut spec, mut status, mut selector) = (None, None, None);
    let mut seen = Seen::new(&SCALE);
    key.nested(|meta| {
        let Some(k) = seen.key(&meta, errors)? else {
            return Ok(());
        };
        match k.name.as_str() {
            "spec_replicas_path" => spec = k.string(errors)?,
            "status_replicas_path" => status = k.string(errors)?,
            "label_selector_path" => selector = k.string(errors)?,
            _ => {}
        }
        Ok(())
    })?;
    for name in ["spec_replicas_path", "status_replicas_path"] {
        if !seen.has(name) {
            errors.at(&key.meta.path, format_args!("scale needs {name}"));
        }
    }
    Ok(match (spec, status) {
        (Some(spec), Some(status)) => Some(Scale {
            spec,
            status,
            selector,
        }),
        _ => None,
    })
}

/// `printer_column(name = "...", type = "...", json_path = "..." | count(...) | age = "...", format, description, priority)`.
fn printer_column(key: &Key, errors: &mut Errors) -> syn::Result<Option<Column>> {
    let usage = "printer_column(name = \"...\", type = \"...\", json_path = \"...\")";
    if !key.expect(Form::List, usage, errors)? {
        return Ok(None);
    }
    let (mut name, mut type_, mut json_path, mut count, mut age) =
        (None, None, None, Vec::new(), None);
    let (mut format, mut description, mut priority) = (None, None, 0);
    let mut seen = Seen::new(&PRINTER_COLUMN);
    key.nested(|meta| {
        let Some(k) = seen.key(&meta, errors)? else {
            return Ok(());
        };
        let sources = ["json_path", "count", "age"];
        if sources.contains(&k.name.as_str()) && sources.iter().any(|s| *s != k.name && seen.has(s))
        {
            errors.at(
                &meta.path,
                "printer_column needs exactly one of json_path, count and age",
            );
            return skip(meta.input);
        }
        match k.name.as_str() {
            "name" => name = k.string(errors)?,
            "type" => {
                if let Some(t) = k.string(errors)? {
                    if COLUMN_TYPES.contains(&t.value().as_str()) {
                        type_ = Some(t);
                    } else {
                        errors.at(
                            &t,
                            "a column type is one of integer, number, string, boolean, date",
                        );
                    }
                }
            }
            "json_path" => json_path = k.string(errors)?,
            "count" => count = k.strings(true, errors)?,
            "age" => age = k.string(errors)?,
            "format" => format = k.string(errors)?,
            "description" => description = k.string(errors)?,
            "priority" => priority = k.int(errors)?.unwrap_or(0),
            _ => {}
        }
        Ok(())
    })?;
    for (what, usage) in [("name", "name = \"...\""), ("type", "type = \"...\"")] {
        if !seen.has(what) {
            errors.at(
                &key.meta.path,
                format_args!("printer_column needs `{usage}`"),
            );
        }
    }
    if !seen.has("json_path") && !seen.has("count") && !seen.has("age") {
        errors.at(
            &key.meta.path,
            "printer_column needs exactly one of json_path, count and age",
        );
    }
    let has_source = json_path.is_some() || !count.is_empty() || age.is_some();
    Ok(match (name, type_) {
        (Some(name), Some(type_)) if has_source => Some(Column {
            name,
            type_,
            json_path,
            count,
            age,
            format,
            description,
            priority,
        }),
        _ => None,
    })
}

/// `a.b.c`: non-empty segments of letters, digits and `_`, not `metadata.name`/`metadata.namespace`.
fn is_field_path(p: &str) -> bool {
    !p.is_empty()
        && p.split('.').all(|seg| {
            !seg.is_empty() && seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
        && p != "metadata.name"
        && p != "metadata.namespace"
}

/// `selectable_field("label", path = "...", ..., default = "...")`: the label
/// first, then the keys as a nested list.
fn selectable_field(key: &Key, errors: &mut Errors) -> syn::Result<Option<Selectable>> {
    let usage = "selectable_field(\"spec.field\")";
    if !key.expect(Form::List, usage, errors)? {
        return Ok(None);
    }
    let content;
    syn::parenthesized!(content in key.meta.input);
    if !content.peek(LitStr) {
        let msg = "selectable_field needs the field label first, like selectable_field(\"spec.nodeName\")";
        if content.is_empty() {
            errors.at(&key.meta.path, msg);
        } else {
            errors.push(content.error(msg));
        }
        content.parse::<TokenStream>()?;
        return Ok(None);
    }
    let name: LitStr = content.parse()?;
    let mut ok = true;
    if !is_field_path(&name.value()) {
        errors.at(
            &name,
            "a selectable field is a dotted field path like \"spec.nodeName\" (no leading '.', no metadata.name or metadata.namespace, which are always selectable)",
        );
        ok = false;
    }
    let (mut paths, mut default) = (Vec::new(), None);
    if !content.is_empty() {
        content.parse::<Token![,]>()?;
        let rest: TokenStream = content.parse()?;
        let mut seen = Seen::new(&SELECTABLE_FIELD);
        syn::meta::parser(|meta| {
            let Some(k) = seen.key(&meta, errors)? else {
                return Ok(());
            };
            match k.name.as_str() {
                "path" => match k.string(errors)? {
                    Some(lit) if is_field_path(&lit.value()) => paths.push(lit),
                    Some(lit) => errors.at(
                        &lit,
                        "a path is a dotted field path like \"source.component\" (no leading '.')",
                    ),
                    None => {}
                },
                "default" => default = k.string(errors)?,
                _ => {}
            }
            Ok(())
        })
        .parse2(rest)?;
    }
    Ok(ok.then_some(Selectable {
        name,
        paths,
        default,
    }))
}
