//! The gnostic `openapi.v2` protobuf form of a Swagger 2.0 document
//! (`application/com.github.proto-openapi.spec.v2.v1.0+protobuf`), which
//! client-go's `OpenAPISchema()` unmarshals into `openapi_v2.Document`.
//!
//! Upstream builds it by parsing the JSON document with gnostic's compiler
//! and marshalling the result; this module encodes the same messages
//! straight from the JSON values, following the compiler's mapping: fixed
//! keys go to their fields, `x-*` keys to `vendor_extension` as `NamedAny`
//! (the value as YAML text in `Any.yaml`), maps to repeated `Named*`
//! entries in key order, and each oneof to the alternative the compiler
//! would match (a parameter `in: body` is a `BodyParameter`, `in: query`
//! a `QueryParameterSubSchema` ...). As with Go's protobuf encoder, scalar
//! fields holding their zero value are left out, fields are written in
//! field-number order, and a message that is present is written even when
//! empty.
//!
//! Field numbers are those of gnostic's `openapiv2/OpenAPIv2.proto`.

use kapi_generated::proto::{FIXED64, VARINT, put_bytes, put_key, put_message, put_string};
use serde_json::{Map, Value};

use super::yaml::to_yaml;

fn put_bool(buf: &mut Vec<u8>, field: u32, v: bool) {
    if v {
        put_key(buf, field, VARINT);
        buf.push(1);
    }
}

fn put_i64(buf: &mut Vec<u8>, field: u32, v: i64) {
    if v != 0 {
        kapi_generated::proto::put_i64(buf, field, v);
    }
}

fn put_f64(buf: &mut Vec<u8>, field: u32, v: f64) {
    if v != 0.0 {
        put_key(buf, field, FIXED64);
        buf.extend_from_slice(&v.to_le_bytes());
    }
}

fn put_str(buf: &mut Vec<u8>, field: u32, v: &str) {
    if !v.is_empty() {
        put_string(buf, field, v);
    }
}

fn str_field(buf: &mut Vec<u8>, field: u32, m: &Map<String, Value>, key: &str) {
    if let Some(s) = m.get(key).and_then(Value::as_str) {
        put_str(buf, field, s);
    }
}

fn bool_field(buf: &mut Vec<u8>, field: u32, m: &Map<String, Value>, key: &str) {
    if let Some(b) = m.get(key).and_then(Value::as_bool) {
        put_bool(buf, field, b);
    }
}

fn int_field(buf: &mut Vec<u8>, field: u32, m: &Map<String, Value>, key: &str) {
    if let Some(n) = m.get(key).and_then(Value::as_i64) {
        put_i64(buf, field, n);
    }
}

fn float_field(buf: &mut Vec<u8>, field: u32, m: &Map<String, Value>, key: &str) {
    if let Some(n) = m.get(key).and_then(Value::as_f64) {
        put_f64(buf, field, n);
    }
}

fn strings_field(buf: &mut Vec<u8>, field: u32, m: &Map<String, Value>, key: &str) {
    if let Some(a) = m.get(key).and_then(Value::as_array) {
        for s in a.iter().filter_map(Value::as_str) {
            // Repeated strings keep empty elements.
            put_string(buf, field, s);
        }
    }
}

/// `Any { yaml = 2 }`.
fn any(buf: &mut Vec<u8>, field: u32, v: &Value) {
    put_message(buf, field, |b| put_str(b, 2, &to_yaml(v)));
}

fn any_field(buf: &mut Vec<u8>, field: u32, m: &Map<String, Value>, key: &str) {
    if let Some(v) = m.get(key) {
        any(buf, field, v);
    }
}

fn enum_field(buf: &mut Vec<u8>, field: u32, m: &Map<String, Value>) {
    if let Some(a) = m.get("enum").and_then(Value::as_array) {
        for v in a {
            any(buf, field, v);
        }
    }
}

/// `repeated NamedAny vendor_extension`: every `x-*` key, in key order.
fn vendor_extensions(buf: &mut Vec<u8>, field: u32, m: &Map<String, Value>) {
    for (k, v) in m.iter().filter(|(k, _)| k.starts_with("x-")) {
        put_message(buf, field, |b| {
            put_string(b, 1, k);
            any(b, 2, v);
        });
    }
}

/// `Schema`.
pub fn schema(buf: &mut Vec<u8>, v: &Value) {
    let Some(m) = v.as_object() else {
        return;
    };
    str_field(buf, 1, m, "$ref");
    str_field(buf, 2, m, "format");
    str_field(buf, 3, m, "title");
    str_field(buf, 4, m, "description");
    any_field(buf, 5, m, "default");
    float_field(buf, 6, m, "multipleOf");
    float_field(buf, 7, m, "maximum");
    bool_field(buf, 8, m, "exclusiveMaximum");
    float_field(buf, 9, m, "minimum");
    bool_field(buf, 10, m, "exclusiveMinimum");
    int_field(buf, 11, m, "maxLength");
    int_field(buf, 12, m, "minLength");
    str_field(buf, 13, m, "pattern");
    int_field(buf, 14, m, "maxItems");
    int_field(buf, 15, m, "minItems");
    bool_field(buf, 16, m, "uniqueItems");
    int_field(buf, 17, m, "maxProperties");
    int_field(buf, 18, m, "minProperties");
    strings_field(buf, 19, m, "required");
    enum_field(buf, 20, m);
    match m.get("additionalProperties") {
        // AdditionalPropertiesItem { schema = 1 | boolean = 2 }: a oneof
        // member is written even when false.
        Some(Value::Bool(b)) => put_message(buf, 21, |x| {
            put_key(x, 2, VARINT);
            x.push(u8::from(*b));
        }),
        Some(s @ Value::Object(_)) => put_message(buf, 21, |x| put_message(x, 1, |y| schema(y, s))),
        _ => {}
    }
    match m.get("type") {
        // TypeItem { repeated string value = 1 }
        Some(Value::String(t)) => put_message(buf, 22, |x| put_string(x, 1, t)),
        Some(Value::Array(ts)) => put_message(buf, 22, |x| {
            for t in ts.iter().filter_map(Value::as_str) {
                put_string(x, 1, t);
            }
        }),
        _ => {}
    }
    match m.get("items") {
        // ItemsItem { repeated Schema schema = 1 }
        Some(s @ Value::Object(_)) => put_message(buf, 23, |x| put_message(x, 1, |y| schema(y, s))),
        Some(Value::Array(a)) => put_message(buf, 23, |x| {
            for s in a {
                put_message(x, 1, |y| schema(y, s));
            }
        }),
        _ => {}
    }
    if let Some(a) = m.get("allOf").and_then(Value::as_array) {
        for s in a {
            put_message(buf, 24, |x| schema(x, s));
        }
    }
    if let Some(p) = m.get("properties").and_then(Value::as_object) {
        // Properties { repeated NamedSchema additional_properties = 1 }
        put_message(buf, 25, |x| {
            for (k, s) in p {
                put_message(x, 1, |y| named_schema_body(y, k, s));
            }
        });
    }
    str_field(buf, 26, m, "discriminator");
    bool_field(buf, 27, m, "readOnly");
    any_field(buf, 30, m, "example");
    vendor_extensions(buf, 31, m);
}

fn named_schema_body(buf: &mut Vec<u8>, name: &str, v: &Value) {
    put_string(buf, 1, name);
    put_message(buf, 2, |b| schema(b, v));
}

/// One `NamedSchema` (`Definitions.additional_properties`).
pub fn named_schema(name: &str, v: &Value) -> Vec<u8> {
    let mut b = Vec::new();
    named_schema_body(&mut b, name, v);
    b
}

/// `QueryParameterSubSchema` or `FormDataParameterSubSchema` (same numbers).
fn query_parameter(buf: &mut Vec<u8>, m: &Map<String, Value>) {
    bool_field(buf, 1, m, "required");
    str_field(buf, 2, m, "in");
    str_field(buf, 3, m, "description");
    str_field(buf, 4, m, "name");
    bool_field(buf, 5, m, "allowEmptyValue");
    str_field(buf, 6, m, "type");
    str_field(buf, 7, m, "format");
    if let Some(items) = m.get("items").and_then(Value::as_object) {
        put_message(buf, 8, |b| primitives_items(b, items));
    }
    str_field(buf, 9, m, "collectionFormat");
    any_field(buf, 10, m, "default");
    float_field(buf, 11, m, "maximum");
    bool_field(buf, 12, m, "exclusiveMaximum");
    float_field(buf, 13, m, "minimum");
    bool_field(buf, 14, m, "exclusiveMinimum");
    int_field(buf, 15, m, "maxLength");
    int_field(buf, 16, m, "minLength");
    str_field(buf, 17, m, "pattern");
    int_field(buf, 18, m, "maxItems");
    int_field(buf, 19, m, "minItems");
    bool_field(buf, 20, m, "uniqueItems");
    enum_field(buf, 21, m);
    float_field(buf, 22, m, "multipleOf");
    vendor_extensions(buf, 23, m);
}

/// `PathParameterSubSchema` or `HeaderParameterSubSchema` (same numbers).
fn path_parameter(buf: &mut Vec<u8>, m: &Map<String, Value>) {
    bool_field(buf, 1, m, "required");
    str_field(buf, 2, m, "in");
    str_field(buf, 3, m, "description");
    str_field(buf, 4, m, "name");
    str_field(buf, 5, m, "type");
    str_field(buf, 6, m, "format");
    if let Some(items) = m.get("items").and_then(Value::as_object) {
        put_message(buf, 7, |b| primitives_items(b, items));
    }
    str_field(buf, 8, m, "collectionFormat");
    any_field(buf, 9, m, "default");
    float_field(buf, 10, m, "maximum");
    bool_field(buf, 11, m, "exclusiveMaximum");
    float_field(buf, 12, m, "minimum");
    bool_field(buf, 13, m, "exclusiveMinimum");
    int_field(buf, 14, m, "maxLength");
    int_field(buf, 15, m, "minLength");
    str_field(buf, 16, m, "pattern");
    int_field(buf, 17, m, "maxItems");
    int_field(buf, 18, m, "minItems");
    bool_field(buf, 19, m, "uniqueItems");
    enum_field(buf, 20, m);
    float_field(buf, 21, m, "multipleOf");
    vendor_extensions(buf, 22, m);
}

/// `PrimitivesItems`.
fn primitives_items(buf: &mut Vec<u8>, m: &Map<String, Value>) {
    str_field(buf, 1, m, "type");
    str_field(buf, 2, m, "format");
    if let Some(items) = m.get("items").and_then(Value::as_object) {
        put_message(buf, 3, |b| primitives_items(b, items));
    }
    str_field(buf, 4, m, "collectionFormat");
    any_field(buf, 5, m, "default");
    float_field(buf, 6, m, "maximum");
    bool_field(buf, 7, m, "exclusiveMaximum");
    float_field(buf, 8, m, "minimum");
    bool_field(buf, 9, m, "exclusiveMinimum");
    int_field(buf, 10, m, "maxLength");
    int_field(buf, 11, m, "minLength");
    str_field(buf, 12, m, "pattern");
    int_field(buf, 13, m, "maxItems");
    int_field(buf, 14, m, "minItems");
    bool_field(buf, 15, m, "uniqueItems");
    enum_field(buf, 16, m);
    float_field(buf, 17, m, "multipleOf");
    vendor_extensions(buf, 18, m);
}

/// `Parameter { body_parameter = 1 | non_body_parameter = 2 }`.
fn parameter(buf: &mut Vec<u8>, v: &Value) {
    let Some(m) = v.as_object() else {
        return;
    };
    match m.get("in").and_then(Value::as_str).unwrap_or("") {
        "body" => put_message(buf, 1, |b| {
            // BodyParameter
            str_field(b, 1, m, "description");
            str_field(b, 2, m, "name");
            str_field(b, 3, m, "in");
            bool_field(b, 4, m, "required");
            if let Some(s) = m.get("schema") {
                put_message(b, 5, |x| schema(x, s));
            }
            vendor_extensions(b, 6, m);
        }),
        // NonBodyParameter { header = 1, form_data = 2, query = 3, path = 4 }
        "header" => put_message(buf, 2, |b| put_message(b, 1, |x| path_parameter(x, m))),
        "formData" => put_message(buf, 2, |b| put_message(b, 2, |x| query_parameter(x, m))),
        "query" => put_message(buf, 2, |b| put_message(b, 3, |x| query_parameter(x, m))),
        "path" => put_message(buf, 2, |b| put_message(b, 4, |x| path_parameter(x, m))),
        _ => {}
    }
}

/// One `NamedParameter` (`ParameterDefinitions.additional_properties`).
pub fn named_parameter(name: &str, v: &Value) -> Vec<u8> {
    let mut b = Vec::new();
    put_string(&mut b, 1, name);
    put_message(&mut b, 2, |x| parameter(x, v));
    b
}

/// `ParametersItem { parameter = 1 | json_reference = 2 }`.
fn parameters_item(buf: &mut Vec<u8>, field: u32, v: &Value) {
    put_message(buf, field, |b| {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => put_message(b, 2, |x| {
                // JsonReference { _ref = 1, description = 2 }
                put_str(x, 1, r);
                if let Some(d) = v.get("description").and_then(Value::as_str) {
                    put_str(x, 2, d);
                }
            }),
            None => put_message(b, 1, |x| parameter(x, v)),
        }
    });
}

/// `Responses { repeated NamedResponseValue response_code = 1, vendor_extension = 2 }`.
fn responses(buf: &mut Vec<u8>, m: &Map<String, Value>) {
    for (code, r) in m.iter().filter(|(k, _)| is_response_code(k)) {
        put_message(buf, 1, |b| {
            put_string(b, 1, code);
            // ResponseValue { response = 1 | json_reference = 2 }
            put_message(b, 2, |x| match r.get("$ref").and_then(Value::as_str) {
                Some(rf) => put_message(x, 2, |y| put_str(y, 1, rf)),
                None => put_message(x, 1, |y| response(y, r)),
            });
        });
    }
    vendor_extensions(buf, 2, m);
}

fn is_response_code(k: &str) -> bool {
    k == "default" || (k.len() == 3 && k.bytes().all(|b| b.is_ascii_digit()))
}

/// `Response { description = 1, schema = 2 (SchemaItem), headers = 3, examples = 4, vendor_extension = 5 }`.
fn response(buf: &mut Vec<u8>, r: &Value) {
    let Some(m) = r.as_object() else {
        return;
    };
    str_field(buf, 1, m, "description");
    if let Some(s) = m.get("schema") {
        // SchemaItem { schema = 1 | file_schema = 2 }
        put_message(buf, 2, |b| put_message(b, 1, |x| schema(x, s)));
    }
    vendor_extensions(buf, 5, m);
}

/// `Operation`.
fn operation(buf: &mut Vec<u8>, v: &Value) {
    let Some(m) = v.as_object() else {
        return;
    };
    strings_field(buf, 1, m, "tags");
    str_field(buf, 2, m, "summary");
    str_field(buf, 3, m, "description");
    str_field(buf, 5, m, "operationId");
    strings_field(buf, 6, m, "produces");
    strings_field(buf, 7, m, "consumes");
    if let Some(ps) = m.get("parameters").and_then(Value::as_array) {
        for p in ps {
            parameters_item(buf, 8, p);
        }
    }
    if let Some(r) = m.get("responses").and_then(Value::as_object) {
        put_message(buf, 9, |b| responses(b, r));
    }
    strings_field(buf, 10, m, "schemes");
    bool_field(buf, 11, m, "deprecated");
    vendor_extensions(buf, 13, m);
}

/// One `NamedPathItem` (`Paths.path`).
pub fn named_path_item(path: &str, v: &Value) -> Vec<u8> {
    let mut buf = Vec::new();
    put_string(&mut buf, 1, path);
    put_message(&mut buf, 2, |b| {
        let Some(m) = v.as_object() else {
            return;
        };
        str_field(b, 1, m, "$ref");
        for (field, method) in [
            (2, "get"),
            (3, "put"),
            (4, "post"),
            (5, "delete"),
            (6, "options"),
            (7, "head"),
            (8, "patch"),
        ] {
            if let Some(op) = m.get(method) {
                put_message(b, field, |x| operation(x, op));
            }
        }
        if let Some(ps) = m.get("parameters").and_then(Value::as_array) {
            for p in ps {
                parameters_item(b, 9, p);
            }
        }
        vendor_extensions(b, 10, m);
    });
    buf
}

/// `Info`.
pub fn info(v: &Value) -> Vec<u8> {
    let mut b = Vec::new();
    if let Some(m) = v.as_object() {
        str_field(&mut b, 1, m, "title");
        str_field(&mut b, 2, m, "version");
        str_field(&mut b, 3, m, "description");
        vendor_extensions(&mut b, 7, m);
    }
    b
}

/// `repeated SecurityRequirement security`: each `{name: [scopes]}` as
/// `SecurityRequirement { repeated NamedStringArray additional_properties = 1 }`.
pub fn security_requirements(buf: &mut Vec<u8>, field: u32, v: &Value) {
    for req in v.as_array().into_iter().flatten() {
        let Some(m) = req.as_object() else { continue };
        put_message(buf, field, |b| {
            for (name, scopes) in m {
                put_message(b, 1, |x| {
                    put_string(x, 1, name);
                    // StringArray { repeated string value = 1 }
                    put_message(x, 2, |y| {
                        for s in scopes
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_str)
                        {
                            put_string(y, 1, s);
                        }
                    });
                });
            }
        });
    }
}

/// `SecurityDefinitions` with `apiKey` items
/// (`SecurityDefinitionsItem.api_key_security = 2`, `ApiKeySecurity`).
pub fn security_definitions(v: &Value) -> Vec<u8> {
    let mut buf = Vec::new();
    for (name, d) in v.as_object().into_iter().flatten() {
        let Some(m) = d.as_object() else { continue };
        if m.get("type").and_then(Value::as_str) != Some("apiKey") {
            continue;
        }
        put_message(&mut buf, 1, |b| {
            put_string(b, 1, name);
            put_message(b, 2, |x| {
                put_message(x, 2, |y| {
                    str_field(y, 1, m, "type");
                    str_field(y, 2, m, "name");
                    str_field(y, 3, m, "in");
                    str_field(y, 4, m, "description");
                    vendor_extensions(y, 5, m);
                })
            });
        });
    }
    buf
}

/// A length-delimited field holding already-encoded message bytes.
pub fn put_encoded(buf: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_bytes(buf, field, bytes);
}
