//! `#[derive(Resource)]`: checks of the type and code emission (the attribute
//! is read by [`crate::attrs`]).

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Ident, LitStr};

use crate::attrs::{self, Errors, VERBS};

/// The derive: every mistake of the type and of its attribute is reported
/// at once; code is emitted only when there is none.
pub fn derive(input: DeriveInput) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    if !input.generics.params.is_empty() {
        errors.at(
            &input.generics,
            "a resource type cannot have generic parameters",
        );
    }
    const NAMED_FIELDS: &str = "a resource must be a struct with named fields";
    let fields = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(f) => Some(f),
            Fields::Unnamed(f) => {
                errors.at(f, NAMED_FIELDS);
                None
            }
            Fields::Unit => {
                errors.push(syn::Error::new(input.ident.span(), NAMED_FIELDS));
                None
            }
        },
        Data::Enum(e) => {
            errors.push(syn::Error::new(e.enum_token.span, NAMED_FIELDS));
            None
        }
        Data::Union(u) => {
            errors.push(syn::Error::new(u.union_token.span, NAMED_FIELDS));
            None
        }
    };
    let a = attrs::read(&input.attrs).map_err(|e| errors.push(e)).ok();
    let mut find = |name: &str, msg: &str| {
        let f = fields?
            .named
            .iter()
            .find(|f| f.ident.as_ref().is_some_and(|i| i == name));
        if f.is_none() {
            errors.push(syn::Error::new(input.ident.span(), msg));
        }
        f
    };
    let metadata = find(
        "metadata",
        "a resource needs a `metadata: kapi_generated::api::meta::v1::ObjectMeta` field",
    );
    let api_version = find(
        "api_version",
        "a resource needs an `api_version: Option<String>` field (serialised as apiVersion)",
    );
    let kind_field = find("kind", "a resource needs a `kind: Option<String>` field");
    errors.finish()?;
    let (Some(a), Some(metadata), Some(api_version), Some(kind_field)) =
        (a, metadata, api_version, kind_field)
    else {
        // Each of them has reported its error.
        return Err(syn::Error::new(
            Span::call_site(),
            "#[derive(Resource)] failed",
        ));
    };
    let (group, version, kind, plural) = (&a.group, &a.version, &a.kind, &a.plural);
    let namespaced = a.namespaced;

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
    let storage_version = match &a.storage_version {
        Some(v) => quote! { ::std::option::Option::Some(#v.to_string()) },
        None => quote! { ::std::option::Option::None },
    };
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
        let source = match (&c.json_path, &c.age) {
            (Some(p), _) => quote! { ::kapi_generated::resource::ColumnSource::Path(#p.to_string()) },
            (None, Some(p)) => quote! { ::kapi_generated::resource::ColumnSource::Age(#p.to_string()) },
            (None, None) => {
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
                        storage_version: #storage_version,
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
