//! Protobuf encoding for the types whose schema carries field numbers
//! (`x-kapi-protobuf`, see `api-defs/README.md`): a check that the numbers
//! are usable, and `kapi_generated::proto::Message` implementations written
//! against the hand-written primitives in `kapi_generated::proto`.
//!
//! A struct type is a message when one of its properties has a number; then
//! every property but `apiVersion` and `kind` (which travel in the envelope)
//! must have one, or `false` to leave it out of the protobuf form. A named non-object type says how it is encoded with a string:
//! `time`, `micro-time`, `quantity` or `raw` (JSON bytes in field 1).

use std::collections::BTreeSet;

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{format_ident, quote};
use serde_json::Value;

use crate::Error;
use crate::model::{Api, Field, GroupVersion, Shape, Ty, TypeDef, TypeRef};

/// A property's protobuf facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Number {
    pub field: u32,
    /// A pointer upstream: written only when set, zero values kept.
    pub optional: bool,
    /// `format: byte`: base64 text in Rust, `bytes` on the wire.
    pub bytes: bool,
}

fn raw_property<'a>(gv: &'a GroupVersion, type_name: &str, wire: &str) -> Option<&'a Value> {
    gv.raw_schemas.get(type_name)?.get("properties")?.get(wire)
}

/// The number of a property, if it has one.
pub fn number(gv: &GroupVersion, type_name: &str, wire: &str) -> Option<Number> {
    let p = raw_property(gv, type_name, wire)?;
    let field = u32::try_from(p.get("x-kapi-protobuf")?.as_u64()?).ok()?;
    let optional = p
        .get("x-kapi-protobuf-optional")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let byte = |s: Option<&Value>| {
        s.and_then(|s| s.get("format"))
            .and_then(Value::as_str)
            .is_some_and(|f| f == "byte")
    };
    let bytes = byte(Some(p)) || byte(p.get("items")) || byte(p.get("additionalProperties"));
    Some(Number {
        field,
        optional,
        bytes,
    })
}

/// A named alias's encoding (`time`, `micro-time`, `quantity`, `raw`).
pub fn alias_encoding<'a>(api: &'a Api, r: &TypeRef) -> Option<&'a str> {
    let gv = api.group_version(&r.group, &r.version)?;
    gv.raw_schemas
        .get(&r.name)?
        .get("x-kapi-protobuf")?
        .as_str()
}

/// True when a struct type is a message.
pub fn is_message(gv: &GroupVersion, t: &TypeDef) -> bool {
    match &t.shape {
        Shape::Struct(fields) => fields
            .iter()
            .any(|f| number(gv, &t.name, &f.wire).is_some()),
        Shape::Alias(_) => false,
    }
}

fn is_type_meta(f: &Field) -> bool {
    f.wire == "apiVersion" || f.wire == "kind"
}

/// Checks every message type: numbers on every property, unique, positive,
/// and of a type that has a protobuf form.
pub fn check(api: &Api) -> Result<(), Error> {
    const ENCODINGS: [&str; 8] = [
        "time",
        "micro-time",
        "quantity",
        "raw",
        "empty",
        "schema-or-array",
        "schema-or-bool",
        "schema-or-string-array",
    ];
    for gv in &api.group_versions {
        for t in gv.types.values() {
            if let Shape::Alias(_) = &t.shape
                && let Some(e) = gv
                    .raw_schemas
                    .get(&t.name)
                    .and_then(|s| s.get("x-kapi-protobuf"))
                && !e.as_str().is_some_and(|e| ENCODINGS.contains(&e))
            {
                return Err(Error::at(
                    &gv.file,
                    &format!("{}/x-kapi-protobuf", t.pointer),
                    format!("must be one of {}", ENCODINGS.join(", ")),
                ));
            }
            let Shape::Struct(fields) = &t.shape else {
                continue;
            };
            let any = fields.iter().any(|f| {
                raw_property(gv, &t.name, &f.wire)
                    .is_some_and(|p| p.get("x-kapi-protobuf").is_some())
            });
            if !any {
                continue;
            }
            let mut seen = BTreeSet::new();
            for f in fields {
                let at = format!("{}/properties/{}/x-kapi-protobuf", t.pointer, f.wire);
                let Some(n) = number(gv, &t.name, &f.wire) else {
                    let excluded = raw_property(gv, &t.name, &f.wire)
                        .and_then(|p| p.get("x-kapi-protobuf"))
                        == Some(&Value::Bool(false));
                    if is_type_meta(f) || excluded {
                        continue;
                    }
                    return Err(Error::at(
                        &gv.file,
                        &at,
                        "a type with protobuf field numbers needs one on every property (a positive integer, or false to leave it out)",
                    ));
                };
                if n.field == 0 || n.field >= 1 << 29 || !seen.insert(n.field) {
                    return Err(Error::at(
                        &gv.file,
                        &at,
                        format!("field number {} is out of range or used twice", n.field),
                    ));
                }
                if let Err(why) = encodable(api, &f.ty) {
                    return Err(Error::at(&gv.file, &at, why));
                }
            }
        }
    }
    Ok(())
}

fn encodable(api: &Api, ty: &Ty) -> Result<(), String> {
    match ty {
        Ty::String | Ty::I32 | Ty::I64 | Ty::F64 | Ty::Bool | Ty::IntOrString => Ok(()),
        Ty::Value => Err("a field of any JSON value has no protobuf form".into()),
        // A map of string lists: upstream's `map<string, ExtraValue>`, each
        // value a `{repeated string items = 1}` message.
        Ty::Map(t) if matches!(&**t, Ty::Vec(s) if matches!(**s, Ty::String)) => Ok(()),
        Ty::Vec(t) | Ty::Map(t) => match **t {
            Ty::Vec(_) | Ty::Map(_) => Err("nested lists and maps have no protobuf form".into()),
            _ => encodable(api, t),
        },
        Ty::Named(r) => {
            let Some(gv) = api.group_version(&r.group, &r.version) else {
                return Err(format!("unknown type {}", r.name));
            };
            let Some(t) = gv.types.get(&r.name) else {
                return Err(format!("unknown type {}", r.name));
            };
            match &t.shape {
                Shape::Struct(_) if is_message(gv, t) => Ok(()),
                Shape::Struct(_) => Err(format!("{} has no protobuf field numbers", r.name)),
                Shape::Alias(inner) => match alias_encoding(api, r) {
                    Some(e) if e.starts_with("schema-or-") => match gv.types.get(SCHEMA) {
                        Some(s) if is_message(gv, s) => Ok(()),
                        _ => Err(format!(
                            "{}: {e} needs a {SCHEMA} message in the same file",
                            r.name
                        )),
                    },
                    Some(_) => Ok(()),
                    None => encodable(api, inner).map_err(|_| {
                        format!("{} has no protobuf encoding (x-kapi-protobuf)", r.name)
                    }),
                },
            }
        }
    }
}

/// The schema type the `schema-or-*` encodings hold, from the same file.
const SCHEMA: &str = "JSONSchemaProps";

/// How a single (non-repeated) value is written and read.
enum Scalar {
    Empty,
    SchemaOrArray(TokenStream),
    SchemaOrBool(TokenStream),
    SchemaOrStringArray(TokenStream),
    String,
    Bytes,
    I32,
    I64,
    F64,
    Bool,
    IntOrString,
    Time,
    MicroTime,
    Quantity,
    Raw,
    Message,
}

fn scalar(api: &Api, ty: &Ty, bytes: bool) -> Scalar {
    match ty {
        Ty::String if bytes => Scalar::Bytes,
        Ty::String => Scalar::String,
        Ty::I32 => Scalar::I32,
        Ty::I64 => Scalar::I64,
        Ty::F64 => Scalar::F64,
        Ty::Bool => Scalar::Bool,
        Ty::IntOrString => Scalar::IntOrString,
        Ty::Named(r) => match alias_encoding(api, r) {
            Some("empty") => Scalar::Empty,
            Some("schema-or-array") => Scalar::SchemaOrArray(schema_path(r)),
            Some("schema-or-bool") => Scalar::SchemaOrBool(schema_path(r)),
            Some("schema-or-string-array") => Scalar::SchemaOrStringArray(schema_path(r)),
            Some("time") => Scalar::Time,
            Some("micro-time") => Scalar::MicroTime,
            Some("quantity") => Scalar::Quantity,
            Some("raw") => Scalar::Raw,
            _ => match api.resolve(r).map(|t| &t.shape) {
                Some(Shape::Alias(inner)) => scalar(api, inner, bytes),
                _ => Scalar::Message,
            },
        },
        // Rejected by `check`.
        Ty::Value | Ty::Vec(_) | Ty::Map(_) => Scalar::Raw,
    }
}

fn schema_path(r: &TypeRef) -> TokenStream {
    let m = format_ident!("{}", crate::model::module_name(&r.group));
    let v = format_ident!("{}", r.version);
    let n = format_ident!("{}", SCHEMA);
    quote! { crate::api::#m::#v::#n }
}

/// Code writing value `v` (an expression of the Rust type, by reference) as field `n`.
fn put(s: &Scalar, n: u32, v: TokenStream) -> TokenStream {
    let n = Literal::u32_unsuffixed(n);
    let p = quote! { crate::proto };
    match s {
        Scalar::String => quote! { #p::put_string(buf, #n, #v) },
        Scalar::Bytes => quote! { #p::put_base64(buf, #n, #v) },
        Scalar::I32 => quote! { #p::put_i32(buf, #n, *#v) },
        Scalar::I64 => quote! { #p::put_i64(buf, #n, *#v) },
        Scalar::F64 => quote! { #p::put_f64(buf, #n, *#v) },
        Scalar::Bool => quote! { #p::put_bool(buf, #n, *#v) },
        Scalar::IntOrString => quote! { #p::put_int_or_string(buf, #n, #v) },
        Scalar::Time | Scalar::MicroTime => quote! { #p::put_time(buf, #n, #v) },
        Scalar::Quantity => quote! { #p::put_quantity(buf, #n, #v) },
        Scalar::Raw => quote! { #p::put_raw_json(buf, #n, #v) },
        Scalar::Empty => quote! { { let _ = #v; #p::put_empty(buf, #n) } },
        Scalar::SchemaOrArray(t) => quote! { #p::put_schema_or_array::<#t>(buf, #n, #v) },
        Scalar::SchemaOrBool(t) => quote! { #p::put_schema_or_bool::<#t>(buf, #n, #v) },
        Scalar::SchemaOrStringArray(t) => {
            quote! { #p::put_schema_or_string_array::<#t>(buf, #n, #v) }
        }
        Scalar::Message => {
            quote! { #p::put_message(buf, #n, |buf| crate::proto::Message::encode_raw(#v, buf)) }
        }
    }
}

/// Code writing the zero value of a plain (non-pointer) field that is absent.
fn put_zero(s: &Scalar, n: u32) -> TokenStream {
    let n = Literal::u32_unsuffixed(n);
    let p = quote! { crate::proto };
    match s {
        Scalar::String | Scalar::Bytes => quote! { #p::put_bytes(buf, #n, b"") },
        Scalar::I32 | Scalar::I64 => quote! { #p::put_i64(buf, #n, 0) },
        Scalar::F64 => quote! { #p::put_f64(buf, #n, 0.0) },
        Scalar::Bool => quote! { #p::put_bool(buf, #n, false) },
        Scalar::IntOrString => {
            quote! { #p::put_int_or_string(buf, #n, &crate::IntOrString::Int(0)) }
        }
        Scalar::Time | Scalar::MicroTime => quote! { #p::put_zero_time(buf, #n) },
        Scalar::Quantity => quote! { #p::put_quantity(buf, #n, &serde_json::Value::Null) },
        Scalar::Raw
        | Scalar::Empty
        | Scalar::SchemaOrArray(_)
        | Scalar::SchemaOrBool(_)
        | Scalar::SchemaOrStringArray(_) => quote! { #p::put_message(buf, #n, |_| {}) },
        Scalar::Message => quote! { #p::put_message(buf, #n, |_| {}) },
    }
}

/// Code reading one value (an expression of the Rust type), with `n`, `w`, `r` in scope.
/// Times read as `Option<String>`.
fn get(s: &Scalar) -> TokenStream {
    match s {
        Scalar::String => quote! { r.string(n, w)? },
        Scalar::Bytes => quote! { r.base64(n, w)? },
        Scalar::I32 => quote! { r.i32(n, w)? },
        Scalar::I64 => quote! { r.i64(n, w)? },
        Scalar::F64 => quote! { r.f64(n, w)? },
        Scalar::Bool => quote! { r.bool(n, w)? },
        Scalar::IntOrString => quote! { r.int_or_string(n, w)? },
        Scalar::Time => quote! { r.time(n, w)? },
        Scalar::MicroTime => quote! { r.micro_time(n, w)? },
        Scalar::Quantity => quote! { r.quantity(n, w)? },
        Scalar::Raw => quote! { r.raw_json(n, w)? },
        Scalar::Empty => quote! { r.empty(n, w)? },
        Scalar::SchemaOrArray(t) => quote! { r.schema_or_array::<#t>(n, w)? },
        Scalar::SchemaOrBool(t) => quote! { r.schema_or_bool::<#t>(n, w)? },
        Scalar::SchemaOrStringArray(t) => quote! { r.schema_or_string_array::<#t>(n, w)? },
        Scalar::Message => quote! { r.message(n, w)? },
    }
}

fn is_time(s: &Scalar) -> bool {
    matches!(s, Scalar::Time | Scalar::MicroTime)
}

/// The zero test for a plain field decoded into an `Option`: zero is absent,
/// as Go's `omitempty` leaves it out of JSON.
fn zero_test(s: &Scalar, v: &Ident) -> TokenStream {
    match s {
        Scalar::String | Scalar::Bytes => quote! { #v.is_empty() },
        Scalar::I32 | Scalar::I64 => quote! { #v == 0 },
        Scalar::F64 => quote! { #v == 0.0 },
        Scalar::Bool => quote! { !#v },
        Scalar::Message => quote! { #v == Default::default() },
        _ => quote! { false },
    }
}

struct FieldCode {
    encode: TokenStream,
    decode: TokenStream,
}

fn field_code(api: &Api, f: &Field, n: Number) -> FieldCode {
    let ident = Ident::new(&f.ident, Span::call_site());
    let num = n.field;
    let lit = Literal::u32_unsuffixed(num);
    let plain = f.required || f.default_object;
    let v = format_ident!("v");
    match &f.ty {
        Ty::Vec(inner) => {
            let s = scalar(api, inner, n.bytes);
            let put_one = put(&s, num, quote! { v });
            let get_one = get(&s);
            let get_one = if is_time(&s) {
                quote! { #get_one.unwrap_or_default() }
            } else {
                get_one
            };
            let (list, push) = if plain {
                (
                    quote! { &self.#ident },
                    quote! { self.#ident.push(#get_one) },
                )
            } else {
                (
                    quote! { self.#ident.iter().flatten() },
                    quote! { self.#ident.get_or_insert_with(Vec::new).push(#get_one) },
                )
            };
            FieldCode {
                encode: quote! { for v in #list { #put_one; } },
                decode: quote! { #lit => { #push; } },
            }
        }
        Ty::Map(inner) => {
            let (put_one, get_one) = if matches!(&**inner, Ty::Vec(_)) {
                // `check` let only string lists through: `{repeated string items = 1}`.
                (
                    quote! { crate::proto::put_string_list(buf, 2, v) },
                    quote! { r.string_list(n, w)? },
                )
            } else {
                let s = scalar(api, inner, n.bytes);
                let get_one = get(&s);
                let get_one = if is_time(&s) {
                    quote! { #get_one.unwrap_or_default() }
                } else {
                    get_one
                };
                (put(&s, 2, quote! { v }), get_one)
            };
            let (map, insert) = if plain {
                (quote! { &self.#ident }, quote! { self.#ident.insert(k, v) })
            } else {
                (
                    quote! { self.#ident.iter().flatten() },
                    quote! { self.#ident.get_or_insert_with(Default::default).insert(k, v) },
                )
            };
            FieldCode {
                encode: quote! {
                    for (k, v) in #map {
                        crate::proto::put_message(buf, #lit, |buf| {
                            crate::proto::put_string(buf, 1, k);
                            #put_one;
                        });
                    }
                },
                decode: quote! {
                    #lit => {
                        let (k, v) = r.map_entry(n, w, |n, w, r| Ok(#get_one))?;
                        #insert;
                    }
                },
            }
        }
        ty => {
            let s = scalar(api, ty, n.bytes);
            let boxed = f.boxed;
            let deref = if boxed {
                quote! { &**v }
            } else {
                quote! { v }
            };
            let put_v = put(&s, num, deref.clone());
            let get_v = get(&s);
            let wrap = |e: TokenStream| {
                if boxed {
                    quote! { Box::new(#e) }
                } else {
                    e
                }
            };
            if plain {
                let put_self = put(
                    &s,
                    num,
                    if boxed {
                        quote! { &*self.#ident }
                    } else {
                        quote! { &self.#ident }
                    },
                );
                let got = if is_time(&s) {
                    quote! { #get_v.unwrap_or_default() }
                } else {
                    get_v
                };
                let got = wrap(got);
                FieldCode {
                    encode: quote! { #put_self; },
                    decode: quote! { #lit => self.#ident = #got, },
                }
            } else if n.optional {
                let got = if is_time(&s) && boxed {
                    quote! { #get_v.map(Box::new) }
                } else if is_time(&s) {
                    get_v
                } else {
                    let g = wrap(get_v);
                    quote! { Some(#g) }
                };
                FieldCode {
                    encode: quote! { if let Some(v) = &self.#ident { #put_v; } },
                    decode: quote! { #lit => self.#ident = #got, },
                }
            } else {
                let zero = put_zero(&s, num);
                let got = if is_time(&s) && boxed {
                    quote! { #get_v.map(Box::new) }
                } else if is_time(&s) {
                    get_v
                } else {
                    let test = zero_test(&s, &v);
                    let w = wrap(quote! { #v });
                    quote! {{ let #v = #get_v; if #test { None } else { Some(#w) } }}
                };
                FieldCode {
                    encode: quote! {
                        match &self.#ident { Some(v) => #put_v, None => #zero }
                    },
                    decode: quote! { #lit => self.#ident = #got, },
                }
            }
        }
    }
}

/// `impl Message for T`, if `t` is a message.
pub fn message_impl(api: &Api, gv: &GroupVersion, t: &TypeDef) -> Option<TokenStream> {
    let Shape::Struct(fields) = &t.shape else {
        return None;
    };
    let mut numbered: Vec<(&Field, Number)> = fields
        .iter()
        .filter_map(|f| number(gv, &t.name, &f.wire).map(|n| (f, n)))
        .collect();
    if numbered.is_empty() {
        return None;
    }
    numbered.sort_by_key(|(_, n)| n.field);
    let code: Vec<FieldCode> = numbered
        .iter()
        .map(|(f, n)| field_code(api, f, *n))
        .collect();
    let name = format_ident!("{}", t.name);
    let encodes = code.iter().map(|c| &c.encode);
    let decodes = code.iter().map(|c| &c.decode);
    Some(quote! {
        impl crate::proto::Message for #name {
            fn encode_raw(&self, buf: &mut Vec<u8>) {
                #(#encodes)*
            }
            fn merge_field(&mut self, n: u32, w: u8, r: &mut crate::proto::Reader<'_>) -> Result<(), crate::proto::DecodeError> {
                match n {
                    #(#decodes)*
                    _ => r.skip(w)?,
                }
                Ok(())
            }
        }
    })
}

/// `impl Message for <Kind>List` (`{metadata = 1, items = 2}`), if the kind is a message.
pub fn list_impl(gv: &GroupVersion, t: &TypeDef) -> Option<TokenStream> {
    if !is_message(gv, t) {
        return None;
    }
    let name = format_ident!("{}List", t.name);
    Some(quote! {
        impl crate::proto::Message for #name {
            fn encode_raw(&self, buf: &mut Vec<u8>) {
                crate::proto::put_message(buf, 1, |buf| crate::proto::Message::encode_raw(&self.metadata, buf));
                for v in &self.items {
                    crate::proto::put_message(buf, 2, |buf| crate::proto::Message::encode_raw(v, buf));
                }
            }
            fn merge_field(&mut self, n: u32, w: u8, r: &mut crate::proto::Reader<'_>) -> Result<(), crate::proto::DecodeError> {
                match n {
                    1 => self.metadata = r.message(n, w)?,
                    2 => self.items.push(r.message(n, w)?),
                    _ => r.skip(w)?,
                }
                Ok(())
            }
        }
    })
}

/// The `PROTOBUF_KINDS` table: every kind (with a GVK) that is a message, and
/// the lists of the served ones.
pub fn codecs(api: &Api) -> TokenStream {
    let mut entries = Vec::new();
    for gv in &api.group_versions {
        for t in gv.types.values() {
            if !is_message(gv, t) {
                continue;
            }
            let path = type_path(gv, &t.name);
            for gvk in &t.gvks {
                let av = if gvk.group.is_empty() {
                    gvk.version.clone()
                } else {
                    format!("{}/{}", gvk.group, gvk.version)
                };
                let kind = &gvk.kind;
                entries.push(quote! {
                    crate::proto::Codec::of::<#path>(#av, #kind)
                });
            }
            if t.resource.is_some() {
                let av = gv.api_version();
                let kind = format!("{}List", t.name);
                let list = type_path(gv, &kind);
                entries.push(quote! {
                    crate::proto::Codec::of::<#list>(#av, #kind)
                });
            }
        }
    }
    quote! {
        /// The kinds with a protobuf form (field numbers in their schema), and the
        /// lists of the served ones.
        pub static PROTOBUF_KINDS: &[crate::proto::Codec] = &[#(#entries),*];
    }
}

fn type_path(gv: &GroupVersion, name: &str) -> TokenStream {
    let m = format_ident!("{}", gv.module);
    let v = format_ident!("{}", gv.version);
    let n = format_ident!("{}", name);
    quote! { crate::api::#m::#v::#n }
}
