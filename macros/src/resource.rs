//! `#[derive(Resource)]`: attribute parsing and code emission.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Ident, LitInt, LitStr};

const VERBS: [(&str, &str); 8] = [
    ("get", "Get"),
    ("list", "List"),
    ("watch", "Watch"),
    ("create", "Create"),
    ("update", "Update"),
    ("patch", "Patch"),
    ("delete", "Delete"),
    ("deletecollection", "DeleteCollection"),
];

#[derive(Default)]
struct Attrs {
    group: Option<LitStr>,
    version: Option<LitStr>,
    kind: Option<LitStr>,
    plural: Option<LitStr>,
    singular: Option<LitStr>,
    scope: Option<(LitStr, bool)>,
    short_names: Vec<LitStr>,
    categories: Vec<LitStr>,
    verbs: Vec<Ident>,
    status: bool,
    scale: Option<Scale>,
    columns: Vec<Column>,
    selectable: Vec<Selectable>,
}

/// `selectable_field("label")` or `selectable_field("label", path = "a.b", path = "c", default = "false")`.
struct Selectable {
    name: LitStr,
    paths: Vec<LitStr>,
    default: Option<LitStr>,
}

/// Parses the parenthesised part of `selectable_field(...)`.
fn parse_selectable(input: syn::parse::ParseStream) -> syn::Result<Selectable> {
    let content;
    syn::parenthesized!(content in input);
    let name: LitStr = content.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            "selectable_field needs the field label first, like selectable_field(\"spec.nodeName\")",
        )
    })?;
    if !is_field_path(&name.value()) {
        return Err(syn::Error::new(
            name.span(),
            "a selectable field is a dotted field path like \"spec.nodeName\" (no leading '.', no metadata.name or metadata.namespace, which are always selectable)",
        ));
    }
    let mut s = Selectable {
        name,
        paths: Vec::new(),
        default: None,
    };
    while !content.is_empty() {
        content.parse::<syn::Token![,]>()?;
        if content.is_empty() {
            break;
        }
        let key: Ident = content.parse()?;
        content.parse::<syn::Token![=]>()?;
        let lit: LitStr = content.parse()?;
        if key == "path" {
            if !is_field_path(&lit.value()) {
                return Err(syn::Error::new(
                    lit.span(),
                    "a path is a dotted field path like \"source.component\" (no leading '.')",
                ));
            }
            s.paths.push(lit);
        } else if key == "default" {
            s.default = Some(lit);
        } else {
            return Err(syn::Error::new(
                key.span(),
                format!("unknown selectable_field attribute `{key}`; expected path or default"),
            ));
        }
    }
    Ok(s)
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

struct Scale {
    spec: LitStr,
    status: LitStr,
    selector: Option<LitStr>,
}

struct Column {
    name: LitStr,
    type_: LitStr,
    json_path: Option<LitStr>,
    count: Vec<LitStr>,
    format: Option<LitStr>,
    description: Option<LitStr>,
    priority: i32,
}

fn parse_lit_list(input: syn::parse::ParseStream) -> syn::Result<Vec<LitStr>> {
    let content;
    syn::parenthesized!(content in input);
    let list = content.parse_terminated(|p| p.parse::<LitStr>(), syn::Token![,])?;
    Ok(list.into_iter().collect())
}

/// Parses `#[resource(...)]`; also returns the attribute's `resource(...)`, for
/// errors about what it lacks.
fn parse_attrs(input: &DeriveInput) -> syn::Result<(Attrs, &syn::Meta)> {
    let attr = input
        .attrs
        .iter()
        .find(|a| a.path().is_ident("resource"))
        .ok_or_else(|| {
            // The call site of a derive is the `Resource` in `#[derive(...)]`.
            syn::Error::new(
                Span::call_site(),
                "#[derive(Resource)] needs a #[resource(group = \"...\", version = \"...\", kind = \"...\", plural = \"...\", scope = \"...\")] attribute",
            )
        })?;
    let mut a = Attrs::default();
    attr.parse_nested_meta(|meta| {
        let key = meta
            .path
            .get_ident()
            .map(|i| i.to_string())
            .ok_or_else(|| meta.error("unknown resource attribute"))?;
        match key.as_str() {
            "group" => a.group = Some(meta.value()?.parse()?),
            "version" => a.version = Some(meta.value()?.parse()?),
            "kind" => a.kind = Some(meta.value()?.parse()?),
            "plural" => a.plural = Some(meta.value()?.parse()?),
            "singular" => a.singular = Some(meta.value()?.parse()?),
            "scope" => {
                let lit: LitStr = meta.value()?.parse()?;
                let namespaced = match lit.value().as_str() {
                    "Namespaced" => true,
                    "Cluster" => false,
                    _ => return Err(syn::Error::new(lit.span(), "scope must be \"Namespaced\" or \"Cluster\"")),
                };
                a.scope = Some((lit, namespaced));
            }
            "short_names" => a.short_names = parse_lit_list(meta.input)?,
            "categories" => a.categories = parse_lit_list(meta.input)?,
            "verbs" => {
                meta.parse_nested_meta(|v| {
                    let ident = v.path.get_ident().cloned().ok_or_else(|| v.error("expected a verb"))?;
                    if !VERBS.iter().any(|(name, _)| ident == name) {
                        return Err(syn::Error::new(
                            ident.span(),
                            format!(
                                "unknown verb `{ident}`; expected one of get, list, watch, create, update, patch, delete, deletecollection"
                            ),
                        ));
                    }
                    a.verbs.push(ident);
                    Ok(())
                })?;
            }
            "status" => a.status = true,
            "scale" => {
                let (mut spec, mut status, mut selector) = (None, None, None);
                meta.parse_nested_meta(|s| {
                    if s.path.is_ident("spec_replicas_path") {
                        spec = Some(s.value()?.parse()?);
                    } else if s.path.is_ident("status_replicas_path") {
                        status = Some(s.value()?.parse()?);
                    } else if s.path.is_ident("label_selector_path") {
                        selector = Some(s.value()?.parse()?);
                    } else {
                        return Err(s.error(
                            "unknown scale attribute; expected spec_replicas_path, status_replicas_path or label_selector_path",
                        ));
                    }
                    Ok(())
                })?;
                let span = meta.path.span();
                a.scale = Some(Scale {
                    spec: spec.ok_or_else(|| syn::Error::new(span, "scale needs spec_replicas_path"))?,
                    status: status.ok_or_else(|| syn::Error::new(span, "scale needs status_replicas_path"))?,
                    selector,
                });
            }
            "printer_column" => {
                let span = meta.path.span();
                let mut c = Column {
                    name: LitStr::new("", span),
                    type_: LitStr::new("", span),
                    json_path: None,
                    count: Vec::new(),
                    format: None,
                    description: None,
                    priority: 0,
                };
                let (mut has_name, mut has_type) = (false, false);
                meta.parse_nested_meta(|p| {
                    let k = p.path.get_ident().map(|i| i.to_string()).unwrap_or_default();
                    match k.as_str() {
                        "name" => {
                            c.name = p.value()?.parse()?;
                            has_name = true;
                        }
                        "type" => {
                            let t: LitStr = p.value()?.parse()?;
                            if !["integer", "number", "string", "boolean", "date"].contains(&t.value().as_str()) {
                                return Err(syn::Error::new(
                                    t.span(),
                                    "a column type is one of integer, number, string, boolean, date",
                                ));
                            }
                            c.type_ = t;
                            has_type = true;
                        }
                        "json_path" => c.json_path = Some(p.value()?.parse()?),
                        "count" => c.count = parse_lit_list(p.input)?,
                        "format" => c.format = Some(p.value()?.parse()?),
                        "description" => c.description = Some(p.value()?.parse()?),
                        "priority" => c.priority = p.value()?.parse::<LitInt>()?.base10_parse()?,
                        _ => {
                            return Err(p.error(
                                "unknown printer_column attribute; expected name, type, json_path, count, format, description or priority",
                            ));
                        }
                    }
                    Ok(())
                })?;
                if !has_name || !has_type {
                    return Err(syn::Error::new(span, "printer_column needs name and type"));
                }
                if c.json_path.is_some() != c.count.is_empty() {
                    return Err(syn::Error::new(span, "printer_column needs exactly one of json_path and count"));
                }
                a.columns.push(c);
            }
            "selectable_field" => {
                let f = parse_selectable(meta.input)?;
                if a.selectable.iter().any(|x| x.name.value() == f.name.value()) {
                    return Err(syn::Error::new(
                        f.name.span(),
                        format!("selectable field {:?} is declared twice", f.name.value()),
                    ));
                }
                a.selectable.push(f);
            }
            _ => {
                return Err(meta.error(format!(
                    "unknown resource attribute `{key}`; expected group, version, kind, plural, singular, scope, short_names, categories, verbs, status, scale, printer_column or selectable_field"
                )));
            }
        }
        Ok(())
    })?;
    Ok((a, &attr.meta))
}

pub fn derive(input: DeriveInput) -> syn::Result<TokenStream> {
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &input.generics,
            "a resource type cannot have generic parameters",
        ));
    }
    const NAMED_FIELDS: &str = "a resource must be a struct with named fields";
    let fields = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(f) => f,
            Fields::Unnamed(f) => return Err(syn::Error::new_spanned(f, NAMED_FIELDS)),
            Fields::Unit => return Err(syn::Error::new(input.ident.span(), NAMED_FIELDS)),
        },
        Data::Enum(e) => return Err(syn::Error::new(e.enum_token.span, NAMED_FIELDS)),
        Data::Union(u) => return Err(syn::Error::new(u.union_token.span, NAMED_FIELDS)),
    };
    let (a, attr_meta) = parse_attrs(&input)?;
    let need = |v: &Option<LitStr>, name: &str| {
        v.clone().ok_or_else(|| {
            syn::Error::new_spanned(attr_meta, format!("#[resource] needs `{name} = \"...\"`"))
        })
    };
    let group = need(&a.group, "group")?;
    let version = need(&a.version, "version")?;
    let kind = need(&a.kind, "kind")?;
    let plural = need(&a.plural, "plural")?;
    let (_, namespaced) = a.scope.clone().ok_or_else(|| {
        syn::Error::new_spanned(
            attr_meta,
            "#[resource] needs `scope = \"Namespaced\"` or `scope = \"Cluster\"`",
        )
    })?;
    let find = |name: &str| {
        fields
            .named
            .iter()
            .find(|f| f.ident.as_ref().is_some_and(|i| i == name))
    };
    let metadata = find("metadata").ok_or_else(|| {
        syn::Error::new(
            input.ident.span(),
            "a resource needs a `metadata: kapi_generated::api::meta::v1::ObjectMeta` field",
        )
    })?;
    let api_version = find("api_version").ok_or_else(|| {
        syn::Error::new(
            input.ident.span(),
            "a resource needs an `api_version: Option<String>` field (serialised as apiVersion)",
        )
    })?;
    let kind_field = find("kind").ok_or_else(|| {
        syn::Error::new(
            input.ident.span(),
            "a resource needs a `kind: Option<String>` field",
        )
    })?;

    let ident = &input.ident;
    let singular = a
        .singular
        .as_ref()
        .map(|s| s.value())
        .unwrap_or_else(|| kind.value().to_lowercase());
    let scope = if namespaced {
        quote! { ::kapi_generated::resource::Scope::Namespaced }
    } else {
        quote! { ::kapi_generated::resource::Scope::Cluster }
    };
    let short = &a.short_names;
    let cats = &a.categories;
    let status = a.status;
    let scale = match &a.scale {
        Some(s) => {
            let spec = &s.spec;
            let st = &s.status;
            let sel = match &s.selector {
                Some(l) => quote! { Some(#l.to_string()) },
                None => quote! { None },
            };
            quote! { Some(::kapi_generated::resource::ScaleSubresource {
                spec_replicas_path: #spec.to_string(),
                status_replicas_path: #st.to_string(),
                label_selector_path: #sel,
            }) }
        }
        None => quote! { None },
    };
    let columns = a.columns.iter().map(|c| {
        let name = &c.name;
        let ty = &c.type_;
        let format = c.format.as_ref().map(|f| f.value()).unwrap_or_default();
        let desc = c.description.as_ref().map(|d| d.value()).unwrap_or_default();
        let prio = c.priority;
        let source = match &c.json_path {
            Some(p) => quote! { ::kapi_generated::resource::ColumnSource::Path(#p.to_string()) },
            None => {
                let paths = &c.count;
                quote! { ::kapi_generated::resource::ColumnSource::Count(vec![#(#paths.to_string()),*]) }
            }
        };
        quote! {
            ::kapi_generated::resource::PrinterColumn {
                name: #name.to_string(),
                type_: #ty.to_string(),
                format: #format.to_string(),
                description: #desc.to_string(),
                priority: #prio,
                source: #source,
            }
        }
    });
    let selectable = a.selectable.iter().map(|f| {
        let name = &f.name;
        let paths: Vec<&LitStr> = if f.paths.is_empty() {
            vec![name]
        } else {
            f.paths.iter().collect()
        };
        let default = f.default.as_ref().map(|d| d.value()).unwrap_or_default();
        quote! {
            ::kapi_generated::resource::SelectableField {
                name: #name.to_string(),
                paths: vec![#(#paths.to_string()),*],
                default: #default.to_string(),
            }
        }
    });
    let markers = a.verbs.iter().map(|v| {
        let marker = VERBS
            .iter()
            .find(|(name, _)| v == name)
            .map(|(_, m)| Ident::new(m, v.span()))
            .unwrap_or_else(|| v.clone());
        quote_spanned! { v.span()=> impl ::kapi_generated::resource::verbs::#marker for #ident {} }
    });
    let probes = VERBS.iter().map(|(name, _)| {
        let method = Ident::new(
            if *name == "deletecollection" {
                "delete_collection"
            } else {
                name
            },
            Span::call_site(),
        );
        quote! { (&probe).#method(v); }
    });
    let meta_ty = &metadata.ty;
    let meta_ref = quote_spanned! { meta_ty.span()=> &self.metadata };
    let meta_mut = quote_spanned! { meta_ty.span()=> &mut self.metadata };
    let av_span = api_version.ty.span();
    let kind_span = kind_field.ty.span();
    // Through a typed binding, so that a field of another type is reported as
    // "expected `Option<String>`" at the field's type.
    let av_get = quote_spanned! { av_span=> {
        let v: &::std::option::Option<::std::string::String> = &self.api_version;
        v.as_deref()
    } };
    let kind_get = quote_spanned! { kind_span=> {
        let v: &::std::option::Option<::std::string::String> = &self.kind;
        v.as_deref()
    } };
    let av_set = quote_spanned! { av_span=> {
        let v: &mut ::std::option::Option<::std::string::String> = &mut self.api_version;
        *v = ::std::option::Option::Some(api_version);
    } };
    let kind_set = quote_spanned! { kind_span=> {
        let v: &mut ::std::option::Option<::std::string::String> = &mut self.kind;
        *v = ::std::option::Option::Some(kind);
    } };

    Ok(quote! {
        impl ::kapi_generated::resource::Resource for #ident {
            type DynamicType = ();

            fn api_resource(_: &()) -> &::kapi_generated::resource::ApiResource {
                static RESOURCE: ::std::sync::LazyLock<::kapi_generated::resource::ApiResource> =
                    ::std::sync::LazyLock::new(|| ::kapi_generated::resource::ApiResource {
                        group: #group.to_string(),
                        version: #version.to_string(),
                        kind: #kind.to_string(),
                        plural: #plural.to_string(),
                        singular: #singular.to_string(),
                        scope: #scope,
                        short_names: vec![#(#short.to_string()),*],
                        categories: vec![#(#cats.to_string()),*],
                        status_subresource: #status,
                        scale_subresource: #scale,
                        printer_columns: vec![#(#columns),*],
                        selectable_fields: vec![#(#selectable),*],
                    });
                &RESOURCE
            }

            fn metadata(&self) -> &::kapi_generated::api::meta::v1::ObjectMeta {
                #meta_ref
            }

            fn metadata_mut(&mut self) -> &mut ::kapi_generated::api::meta::v1::ObjectMeta {
                #meta_mut
            }

            fn type_meta(&self) -> (Option<&str>, Option<&str>) {
                (#av_get, #kind_get)
            }

            fn set_type_meta(&mut self, api_version: String, kind: String) {
                #av_set
                #kind_set
            }
        }

        #(#markers)*

        impl ::kapi_generated::resource::StaticResource for #ident {
            fn visit_verbs<V: ::kapi_generated::resource::VerbVisitor<Self>>(v: &mut V) {
                #[allow(unused_imports)]
                use ::kapi_generated::resource::detect::*;
                let probe = Probe::<Self>::new();
                #(#probes)*
            }
        }
    })
}
