//! The protobuf wire format of Kubernetes' built-in kinds: the primitives the
//! generated `Message` implementations are written against, and the envelope
//! every protobuf body travels in (`k8s\0` + `runtime.Unknown`).
//!
//! Encoding follows upstream's generated (gogo-protobuf) marshallers so that
//! bytes are identical: fields in ascending number order; a field that is a
//! plain value upstream (Go non-pointer) is always written, even when zero; a
//! field that is a pointer upstream is written only when set; maps are repeated
//! `{key = 1, value = 2}` entries in key order; repeated scalars are not packed.
//! Decoding tolerates unknown fields and any field order, and never panics: bad
//! input is a [`DecodeError`].

use std::collections::BTreeMap;

/// The magic prefix of every protobuf-encoded Kubernetes object.
pub const MAGIC: &[u8; 4] = b"k8s\0";

/// The media type of protobuf bodies.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

fn err<T>(msg: impl Into<String>) -> Result<T, DecodeError> {
    Err(DecodeError(msg.into()))
}

/// Wire type: varint.
pub const VARINT: u8 = 0;
/// Wire type: 64-bit.
pub const FIXED64: u8 = 1;
/// Wire type: length-delimited.
pub const LEN: u8 = 2;
/// Wire type: 32-bit.
pub const FIXED32: u8 = 5;

/// A protobuf message: generated for every type with field numbers.
pub trait Message: Default {
    /// Appends the fields (no length prefix) to `buf`.
    fn encode_raw(&self, buf: &mut Vec<u8>);

    /// Reads one field whose key has been read; unknown fields are skipped.
    fn merge_field(&mut self, field: u32, wire: u8, r: &mut Reader<'_>) -> Result<(), DecodeError>;

    /// The message's bytes.
    fn encode_to_vec(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        self.encode_raw(&mut buf);
        buf
    }

    /// Decodes a message from its bytes.
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut m = Self::default();
        let mut r = Reader::new(bytes);
        while !r.is_empty() {
            let (field, wire) = r.key()?;
            m.merge_field(field, wire, &mut r)?;
        }
        Ok(m)
    }
}

// ---------------------------------------------------------------- writing

/// Appends a varint.
pub fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Appends a field key.
pub fn put_key(buf: &mut Vec<u8>, field: u32, wire: u8) {
    put_varint(buf, (u64::from(field) << 3) | u64::from(wire));
}

/// A length-delimited field of raw bytes.
pub fn put_bytes(buf: &mut Vec<u8>, field: u32, v: &[u8]) {
    put_key(buf, field, LEN);
    put_varint(buf, v.len() as u64);
    buf.extend_from_slice(v);
}

/// A string field.
pub fn put_string(buf: &mut Vec<u8>, field: u32, v: &str) {
    put_bytes(buf, field, v.as_bytes());
}

/// A `bytes` field whose Rust value is base64 text (`format: byte`).
pub fn put_base64(buf: &mut Vec<u8>, field: u32, v: &str) {
    match base64_decode(v) {
        Some(b) => put_bytes(buf, field, &b),
        // Not base64 (the JSON path would have refused it): keep the text.
        None => put_bytes(buf, field, v.as_bytes()),
    }
}

/// An int64 field.
pub fn put_i64(buf: &mut Vec<u8>, field: u32, v: i64) {
    put_key(buf, field, VARINT);
    put_varint(buf, v as u64);
}

/// An int32 field (negative values are sign-extended to ten bytes, as protobuf does).
pub fn put_i32(buf: &mut Vec<u8>, field: u32, v: i32) {
    put_i64(buf, field, i64::from(v));
}

/// A bool field.
pub fn put_bool(buf: &mut Vec<u8>, field: u32, v: bool) {
    put_key(buf, field, VARINT);
    buf.push(u8::from(v));
}

/// A double field.
pub fn put_f64(buf: &mut Vec<u8>, field: u32, v: f64) {
    put_key(buf, field, FIXED64);
    buf.extend_from_slice(&v.to_le_bytes());
}

/// A nested message written by `f`, length-prefixed.
pub fn put_message(buf: &mut Vec<u8>, field: u32, f: impl FnOnce(&mut Vec<u8>)) {
    put_key(buf, field, LEN);
    // One byte is reserved for the length; most nested messages (map entries,
    // times) are shorter than 128 bytes, so only longer ones move.
    let at = buf.len();
    buf.push(0);
    f(buf);
    let len = buf.len() - at - 1;
    if len < 0x80 {
        buf[at] = len as u8;
    } else {
        let mut prefix = Vec::with_capacity(5);
        put_varint(&mut prefix, len as u64);
        buf.splice(at..=at, prefix);
    }
}

/// A map: one `{key = 1, value = 2}` entry per element, in key order.
pub fn put_map<V>(
    buf: &mut Vec<u8>,
    field: u32,
    map: &BTreeMap<String, V>,
    mut value: impl FnMut(&mut Vec<u8>, &V),
) {
    for (k, v) in map {
        put_message(buf, field, |b| {
            put_string(b, 1, k);
            value(b, v);
        });
    }
}

/// A string list as upstream's `ExtraValue` message (`{repeated string items = 1}`),
/// the value type of its `map<string, ExtraValue>` fields.
pub fn put_string_list(buf: &mut Vec<u8>, field: u32, v: &[String]) {
    put_message(buf, field, |b| {
        for s in v {
            put_string(b, 1, s);
        }
    });
}

/// A `Time` or `MicroTime` (`{seconds = 1, nanos = 2}`) from RFC 3339 text;
/// unparseable text is written as the zero time.
pub fn put_time(buf: &mut Vec<u8>, field: u32, v: &str) {
    put_message(buf, field, |b| {
        if let Some((s, n)) = parse_rfc3339(v) {
            put_i64(b, 1, s);
            put_i32(b, 2, n);
        }
    });
}

/// The zero time, which upstream writes as an empty message.
pub fn put_zero_time(buf: &mut Vec<u8>, field: u32) {
    put_message(buf, field, |_| {});
}

/// An `IntOrString` (`{type = 1, intVal = 2, strVal = 3}`).
pub fn put_int_or_string(buf: &mut Vec<u8>, field: u32, v: &crate::IntOrString) {
    put_message(buf, field, |b| match v {
        crate::IntOrString::Int(i) => {
            put_i64(b, 1, 0);
            put_i32(b, 2, *i);
            put_string(b, 3, "");
        }
        crate::IntOrString::String(s) => {
            put_i64(b, 1, 1);
            put_i32(b, 2, 0);
            put_string(b, 3, s);
        }
    });
}

/// A `Quantity` (`{string = 1}`) from its JSON form (a string or a number).
pub fn put_quantity(buf: &mut Vec<u8>, field: u32, v: &serde_json::Value) {
    let text = match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    put_message(buf, field, |b| put_string(b, 1, &text));
}

/// A message holding raw JSON bytes in field 1 (`FieldsV1`, `RawExtension`).
pub fn put_raw_json(buf: &mut Vec<u8>, field: u32, v: &serde_json::Value) {
    let bytes = serde_json::to_vec(v).unwrap_or_default();
    put_message(buf, field, |b| put_bytes(b, 1, &bytes));
}

/// An empty message (`CustomResourceSubresourceStatus`).
pub fn put_empty(buf: &mut Vec<u8>, field: u32) {
    put_message(buf, field, |_| {});
}

fn schema_of<M: Message + serde::de::DeserializeOwned>(v: &serde_json::Value) -> M {
    // The JSON path has validated the shape; a value that is not a schema is empty.
    M::deserialize(v).unwrap_or_default()
}

/// `JSONSchemaPropsOrArray`: `{schema = 1, jSONSchemas = 2 (repeated)}` from
/// its JSON form (a schema object or an array of them).
pub fn put_schema_or_array<M: Message + serde::de::DeserializeOwned>(
    buf: &mut Vec<u8>,
    field: u32,
    v: &serde_json::Value,
) {
    put_message(buf, field, |b| match v {
        serde_json::Value::Array(items) => {
            for i in items {
                let m: M = schema_of(i);
                put_message(b, 2, |b| m.encode_raw(b));
            }
        }
        serde_json::Value::Null => {}
        other => {
            let m: M = schema_of(other);
            put_message(b, 1, |b| m.encode_raw(b));
        }
    });
}

/// `JSONSchemaPropsOrBool`: `{allows = 1, schema = 2}` from a boolean or a schema.
pub fn put_schema_or_bool<M: Message + serde::de::DeserializeOwned>(
    buf: &mut Vec<u8>,
    field: u32,
    v: &serde_json::Value,
) {
    put_message(buf, field, |b| match v {
        serde_json::Value::Bool(allows) => put_bool(b, 1, *allows),
        other => {
            put_bool(b, 1, true);
            let m: M = schema_of(other);
            put_message(b, 2, |b| m.encode_raw(b));
        }
    });
}

/// `JSONSchemaPropsOrStringArray`: `{schema = 1, property = 2 (repeated)}` from
/// a schema or an array of strings.
pub fn put_schema_or_string_array<M: Message + serde::de::DeserializeOwned>(
    buf: &mut Vec<u8>,
    field: u32,
    v: &serde_json::Value,
) {
    put_message(buf, field, |b| match v {
        serde_json::Value::Array(items) => {
            for i in items {
                put_string(b, 2, i.as_str().unwrap_or_default());
            }
        }
        serde_json::Value::Null => {}
        other => {
            let m: M = schema_of(other);
            put_message(b, 1, |b| m.encode_raw(b));
        }
    });
}

fn to_json<M: serde::Serialize>(m: &M) -> Result<serde_json::Value, DecodeError> {
    serde_json::to_value(m).map_err(|e| DecodeError(e.to_string()))
}

// ---------------------------------------------------------------- reading

/// A cursor over protobuf bytes.
#[derive(Debug)]
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Reads from `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }

    /// True at the end.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// A varint.
    pub fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for i in 0..10 {
            let Some((&b, rest)) = self.data.split_first() else {
                return err("unexpected end of data in a varint");
            };
            self.data = rest;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        err("varint longer than ten bytes")
    }

    /// A field key: (number, wire type).
    pub fn key(&mut self) -> Result<(u32, u8), DecodeError> {
        let k = self.varint()?;
        let field =
            u32::try_from(k >> 3).map_err(|_| DecodeError("field number too large".into()))?;
        if field == 0 {
            return err("field number 0 is not allowed");
        }
        Ok((field, (k & 7) as u8))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.data.len() {
            return err(format!(
                "unexpected end of data: {n} bytes announced, {} left",
                self.data.len()
            ));
        }
        let (a, b) = self.data.split_at(n);
        self.data = b;
        Ok(a)
    }

    fn expect(&self, field: u32, wire: u8, want: u8) -> Result<(), DecodeError> {
        if wire == want {
            Ok(())
        } else {
            err(format!("field {field}: wire type {wire}, expected {want}"))
        }
    }

    /// A length-delimited field's bytes.
    pub fn bytes(&mut self, field: u32, wire: u8) -> Result<&'a [u8], DecodeError> {
        self.expect(field, wire, LEN)?;
        let n = self.varint()?;
        let n = usize::try_from(n).map_err(|_| DecodeError("length too large".into()))?;
        self.take(n)
    }

    /// A string field.
    pub fn string(&mut self, field: u32, wire: u8) -> Result<String, DecodeError> {
        let b = self.bytes(field, wire)?;
        String::from_utf8(b.to_vec())
            .map_err(|_| DecodeError(format!("field {field}: string is not valid UTF-8")))
    }

    /// A `bytes` field as base64 text.
    pub fn base64(&mut self, field: u32, wire: u8) -> Result<String, DecodeError> {
        Ok(base64_encode(self.bytes(field, wire)?))
    }

    /// An int64 field.
    pub fn i64(&mut self, field: u32, wire: u8) -> Result<i64, DecodeError> {
        self.expect(field, wire, VARINT)?;
        Ok(self.varint()? as i64)
    }

    /// An int32 field.
    pub fn i32(&mut self, field: u32, wire: u8) -> Result<i32, DecodeError> {
        Ok(self.i64(field, wire)? as i32)
    }

    /// A bool field.
    pub fn bool(&mut self, field: u32, wire: u8) -> Result<bool, DecodeError> {
        Ok(self.i64(field, wire)? != 0)
    }

    /// A double field.
    pub fn f64(&mut self, field: u32, wire: u8) -> Result<f64, DecodeError> {
        self.expect(field, wire, FIXED64)?;
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(f64::from_le_bytes(a))
    }

    /// A nested message.
    pub fn message<M: Message>(&mut self, field: u32, wire: u8) -> Result<M, DecodeError> {
        let b = self.bytes(field, wire)?;
        M::decode(b).map_err(|e| DecodeError(format!("field {field}: {e}")))
    }

    /// Calls `f(field, wire, reader)` for every field of a nested message.
    pub fn fields(
        &mut self,
        field: u32,
        wire: u8,
        mut f: impl FnMut(u32, u8, &mut Reader<'a>) -> Result<(), DecodeError>,
    ) -> Result<(), DecodeError> {
        let b = self.bytes(field, wire)?;
        let mut r = Reader::new(b);
        while !r.is_empty() {
            let (n, w) = r.key()?;
            f(n, w, &mut r)?;
        }
        Ok(())
    }

    /// A map entry: (key, value read by `value`, or its default when absent).
    pub fn map_entry<V: Default>(
        &mut self,
        field: u32,
        wire: u8,
        mut value: impl FnMut(u32, u8, &mut Reader<'a>) -> Result<V, DecodeError>,
    ) -> Result<(String, V), DecodeError> {
        let mut key = String::new();
        let mut val = V::default();
        self.fields(field, wire, |n, w, r| {
            match n {
                1 => key = r.string(n, w)?,
                2 => val = value(n, w, r)?,
                _ => r.skip(w)?,
            }
            Ok(())
        })?;
        Ok((key, val))
    }

    /// A string list written as upstream's `ExtraValue` (`{repeated string items = 1}`).
    pub fn string_list(&mut self, field: u32, wire: u8) -> Result<Vec<String>, DecodeError> {
        let mut items = Vec::new();
        self.fields(field, wire, |n, w, r| {
            match n {
                1 => items.push(r.string(n, w)?),
                _ => r.skip(w)?,
            }
            Ok(())
        })?;
        Ok(items)
    }

    /// A `Time` as RFC 3339 text with second precision (upstream drops the
    /// nanoseconds); the zero time is `None`.
    pub fn time(&mut self, field: u32, wire: u8) -> Result<Option<String>, DecodeError> {
        let (s, _) = self.timestamp(field, wire)?;
        Ok(s.map(|s| format_rfc3339(s, None)))
    }

    /// A `MicroTime` as RFC 3339 text with six fractional digits.
    pub fn micro_time(&mut self, field: u32, wire: u8) -> Result<Option<String>, DecodeError> {
        let (s, n) = self.timestamp(field, wire)?;
        Ok(s.map(|s| format_rfc3339(s, Some(n / 1000))))
    }

    fn timestamp(&mut self, field: u32, wire: u8) -> Result<(Option<i64>, i32), DecodeError> {
        let mut secs = None;
        let mut nanos = 0;
        self.fields(field, wire, |n, w, r| {
            match n {
                1 => secs = Some(r.i64(n, w)?),
                2 => nanos = r.i32(n, w)?,
                _ => r.skip(w)?,
            }
            Ok(())
        })?;
        if !(0..1_000_000_000).contains(&nanos) {
            return err(format!("field {field}: nanos {nanos} out of range"));
        }
        if secs.is_some_and(|s| !(MIN_SECONDS..=MAX_SECONDS).contains(&s)) {
            return err(format!("field {field}: seconds out of range"));
        }
        // The zero Go time is written as an empty message.
        Ok((secs.or((nanos != 0).then_some(0)), nanos))
    }

    /// An `IntOrString`.
    pub fn int_or_string(
        &mut self,
        field: u32,
        wire: u8,
    ) -> Result<crate::IntOrString, DecodeError> {
        let (mut t, mut i, mut s) = (0i64, 0i32, String::new());
        self.fields(field, wire, |n, w, r| {
            match n {
                1 => t = r.i64(n, w)?,
                2 => i = r.i32(n, w)?,
                3 => s = r.string(n, w)?,
                _ => r.skip(w)?,
            }
            Ok(())
        })?;
        Ok(if t == 1 {
            crate::IntOrString::String(s)
        } else {
            crate::IntOrString::Int(i)
        })
    }

    /// A `Quantity` as its JSON form (a string).
    pub fn quantity(&mut self, field: u32, wire: u8) -> Result<serde_json::Value, DecodeError> {
        let mut s = String::new();
        self.fields(field, wire, |n, w, r| {
            match n {
                1 => s = r.string(n, w)?,
                _ => r.skip(w)?,
            }
            Ok(())
        })?;
        Ok(serde_json::Value::String(s))
    }

    /// A message holding raw JSON in field 1.
    pub fn raw_json(&mut self, field: u32, wire: u8) -> Result<serde_json::Value, DecodeError> {
        let mut raw: &[u8] = b"";
        self.fields(field, wire, |n, w, r| {
            match n {
                1 => raw = r.bytes(n, w)?,
                _ => r.skip(w)?,
            }
            Ok(())
        })?;
        if raw.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(raw)
            .map_err(|e| DecodeError(format!("field {field}: raw JSON is not valid: {e}")))
    }

    /// An empty message, as `{}`.
    pub fn empty(&mut self, field: u32, wire: u8) -> Result<serde_json::Value, DecodeError> {
        self.fields(field, wire, |_, w, r| r.skip(w))?;
        Ok(serde_json::Value::Object(serde_json::Map::new()))
    }

    /// A `JSONSchemaPropsOrArray` as its JSON form.
    pub fn schema_or_array<M: Message + serde::Serialize>(
        &mut self,
        field: u32,
        wire: u8,
    ) -> Result<serde_json::Value, DecodeError> {
        let mut schema: Option<M> = None;
        let mut list: Vec<M> = Vec::new();
        self.fields(field, wire, |n, w, r| {
            match n {
                1 => schema = Some(r.message(n, w)?),
                2 => list.push(r.message(n, w)?),
                _ => r.skip(w)?,
            }
            Ok(())
        })?;
        match schema {
            Some(s) => to_json(&s),
            None if list.is_empty() => Ok(serde_json::Value::Null),
            None => list
                .iter()
                .map(to_json)
                .collect::<Result<Vec<_>, _>>()
                .map(serde_json::Value::Array),
        }
    }

    /// A `JSONSchemaPropsOrBool` as its JSON form.
    pub fn schema_or_bool<M: Message + serde::Serialize>(
        &mut self,
        field: u32,
        wire: u8,
    ) -> Result<serde_json::Value, DecodeError> {
        let mut allows = false;
        let mut schema: Option<M> = None;
        self.fields(field, wire, |n, w, r| {
            match n {
                1 => allows = r.bool(n, w)?,
                2 => schema = Some(r.message(n, w)?),
                _ => r.skip(w)?,
            }
            Ok(())
        })?;
        match schema {
            Some(s) => to_json(&s),
            None => Ok(serde_json::Value::Bool(allows)),
        }
    }

    /// A `JSONSchemaPropsOrStringArray` as its JSON form.
    pub fn schema_or_string_array<M: Message + serde::Serialize>(
        &mut self,
        field: u32,
        wire: u8,
    ) -> Result<serde_json::Value, DecodeError> {
        let mut schema: Option<M> = None;
        let mut list: Vec<serde_json::Value> = Vec::new();
        self.fields(field, wire, |n, w, r| {
            match n {
                1 => schema = Some(r.message(n, w)?),
                2 => list.push(serde_json::Value::String(r.string(n, w)?)),
                _ => r.skip(w)?,
            }
            Ok(())
        })?;
        if !list.is_empty() {
            return Ok(serde_json::Value::Array(list));
        }
        match schema {
            Some(s) => to_json(&s),
            None => Ok(serde_json::Value::Null),
        }
    }

    /// Skips a field's value.
    pub fn skip(&mut self, wire: u8) -> Result<(), DecodeError> {
        match wire {
            VARINT => self.varint().map(|_| ()),
            FIXED64 => self.take(8).map(|_| ()),
            LEN => {
                let n = self.varint()?;
                let n = usize::try_from(n).map_err(|_| DecodeError("length too large".into()))?;
                self.take(n).map(|_| ())
            }
            FIXED32 => self.take(4).map(|_| ()),
            w => err(format!("unsupported wire type {w}")),
        }
    }
}

// ---------------------------------------------------------------- envelope

/// `runtime.Unknown`: the envelope of every protobuf body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unknown {
    /// `typeMeta.apiVersion`.
    pub api_version: String,
    /// `typeMeta.kind`.
    pub kind: String,
    /// The object's own message bytes.
    pub raw: Vec<u8>,
    /// `contentEncoding` (always empty in practice).
    pub content_encoding: String,
    /// `contentType` (always empty in practice).
    pub content_type: String,
}

impl Unknown {
    /// `k8s\0` followed by the envelope, as upstream writes it.
    pub fn encode(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(self.raw.len() + 64);
        buf.extend_from_slice(MAGIC);
        put_message(&mut buf, 1, |b| {
            put_string(b, 1, &self.api_version);
            put_string(b, 2, &self.kind);
        });
        put_bytes(&mut buf, 2, &self.raw);
        put_string(&mut buf, 3, &self.content_encoding);
        put_string(&mut buf, 4, &self.content_type);
        buf
    }

    /// Reads `k8s\0` and the envelope.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let Some(rest) = bytes.strip_prefix(MAGIC.as_slice()) else {
            return err("the body does not start with the protobuf magic number k8s\\0");
        };
        let mut u = Unknown::default();
        let mut r = Reader::new(rest);
        while !r.is_empty() {
            let (n, w) = r.key()?;
            match n {
                1 => {
                    let (mut a, mut k) = (String::new(), String::new());
                    r.fields(n, w, |n, w, r| {
                        match n {
                            1 => a = r.string(n, w)?,
                            2 => k = r.string(n, w)?,
                            _ => r.skip(w)?,
                        }
                        Ok(())
                    })?;
                    u.api_version = a;
                    u.kind = k;
                }
                2 => u.raw = r.bytes(n, w)?.to_vec(),
                3 => u.content_encoding = r.string(n, w)?,
                4 => u.content_type = r.string(n, w)?,
                _ => r.skip(w)?,
            }
        }
        Ok(u)
    }
}

/// A `meta.k8s.io/v1` `WatchEvent` message: `{type = 1, object = 2 {raw = 1}}`,
/// `raw` being an enveloped object.
pub fn encode_watch_event(type_: &str, object: &[u8]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(object.len() + 24);
    put_string(&mut buf, 1, type_);
    put_message(&mut buf, 2, |b| put_bytes(b, 1, object));
    buf
}

/// Reads a `WatchEvent` message: (type, raw object bytes).
pub fn decode_watch_event(bytes: &[u8]) -> Result<(String, Vec<u8>), DecodeError> {
    let mut t = String::new();
    let mut raw = Vec::new();
    let mut r = Reader::new(bytes);
    while !r.is_empty() {
        let (n, w) = r.key()?;
        match n {
            1 => t = r.string(n, w)?,
            2 => r.fields(n, w, |n, w, r| {
                match n {
                    1 => raw = r.bytes(n, w)?.to_vec(),
                    _ => r.skip(w)?,
                }
                Ok(())
            })?,
            _ => r.skip(w)?,
        }
    }
    Ok((t, raw))
}

/// Message bytes, apiVersion, kind → JSON text.
pub type DecodeText = fn(&[u8], &str, &str) -> Result<Vec<u8>, DecodeError>;

/// How the server converts a kind between its JSON form and protobuf: one
/// entry per kind with field numbers (generated: `api::PROTOBUF_KINDS`).
#[derive(Debug, Clone, Copy)]
pub struct Codec {
    /// `v1`, `coordination.k8s.io/v1`.
    pub api_version: &'static str,
    /// `ConfigMap`, `ConfigMapList`, `Status`.
    pub kind: &'static str,
    /// JSON value → message bytes (no envelope).
    pub encode: fn(&serde_json::Value) -> Result<Vec<u8>, String>,
    /// JSON text → message bytes (no envelope), without an intermediate value.
    pub encode_text: fn(&[u8]) -> Result<Vec<u8>, String>,
    /// Message bytes → JSON value (without apiVersion and kind).
    pub decode: fn(&[u8]) -> Result<serde_json::Value, DecodeError>,
    /// Message bytes → JSON text with `apiVersion` and `kind` first.
    pub decode_text: DecodeText,
}

impl Codec {
    /// The codec of `T`, served as (apiVersion, kind).
    pub const fn of<T>(api_version: &'static str, kind: &'static str) -> Codec
    where
        T: Message + serde::Serialize + serde::de::DeserializeOwned,
    {
        Codec {
            api_version,
            kind,
            encode: encode_json::<T>,
            encode_text: encode_text::<T>,
            decode: decode_json::<T>,
            decode_text: decode_text::<T>,
        }
    }
}

/// Converts through the typed value: JSON → `T` → message bytes.
pub fn encode_json<T: Message + serde::de::DeserializeOwned>(
    v: &serde_json::Value,
) -> Result<Vec<u8>, String> {
    T::deserialize(v)
        .map(|t| t.encode_to_vec())
        .map_err(|e| e.to_string())
}

/// Converts through the typed value: JSON text → `T` → message bytes.
pub fn encode_text<T: Message + serde::de::DeserializeOwned>(
    text: &[u8],
) -> Result<Vec<u8>, String> {
    serde_json::from_slice::<T>(text)
        .map(|t| t.encode_to_vec())
        .map_err(|e| e.to_string())
}

/// Converts through the typed value: message bytes → `T` → JSON.
pub fn decode_json<T: Message + serde::Serialize>(
    b: &[u8],
) -> Result<serde_json::Value, DecodeError> {
    let t = T::decode(b)?;
    serde_json::to_value(&t).map_err(|e| DecodeError(e.to_string()))
}

/// Converts through the typed value: message bytes → `T` → JSON text, with
/// `apiVersion` and `kind` (which protobuf carries in the envelope) first.
pub fn decode_text<T: Message + serde::Serialize>(
    b: &[u8],
    api_version: &str,
    kind: &str,
) -> Result<Vec<u8>, DecodeError> {
    let t = T::decode(b)?;
    let body = serde_json::to_vec(&t).map_err(|e| DecodeError(e.to_string()))?;
    let head = serde_json::to_vec(&serde_json::json!({"apiVersion": api_version, "kind": kind}))
        .map_err(|e| DecodeError(e.to_string()))?;
    // `{"apiVersion":..,"kind":..}` + `{...}` → one object. The typed value
    // never writes apiVersion or kind itself: protobuf has no field for them.
    let mut out = Vec::with_capacity(head.len() + body.len());
    out.extend_from_slice(&head[..head.len() - 1]);
    match body.get(1..) {
        Some(b"}") | None => out.push(b'}'),
        Some(rest) => {
            out.push(b',');
            out.extend_from_slice(rest);
        }
    }
    Ok(out)
}

/// The codec for (apiVersion, kind), if the kind has field numbers.
pub fn codec(api_version: &str, kind: &str) -> Option<&'static Codec> {
    crate::api::PROTOBUF_KINDS
        .iter()
        .find(|c| c.api_version == api_version && c.kind == kind)
}

// ---------------------------------------------------------------- time

// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
const MIN_SECONDS: i64 = -62_135_596_800;
const MAX_SECONDS: i64 = 253_402_300_799;

// Civil (offset-free) date-times: jiff's `Timestamp` stops a day short of
// 9999-12-31T23:59:59Z, its civil `DateTime` does not.
const EPOCH: jiff::civil::DateTime = jiff::civil::date(1970, 1, 1).at(0, 0, 0, 0);

/// Parses RFC 3339 text (`2024-05-01T10:00:00Z`, with optional fraction and
/// offset) into (Unix seconds, nanoseconds in `0..1e9`).
pub fn parse_rfc3339(s: &str) -> Option<(i64, i32)> {
    use jiff::fmt::temporal::{Pieces, PiecesOffset};
    let text = go_fraction(s);
    let pieces = Pieces::parse(text.as_ref()).ok()?;
    let offset = match pieces.offset()? {
        PiecesOffset::Zulu => 0,
        PiecesOffset::Numeric(n) => n.offset().seconds(),
        _ => return None,
    };
    let local = pieces.date().to_datetime(pieces.time()?);
    let since = local.duration_since(EPOCH) - jiff::SignedDuration::from_secs(i64::from(offset));
    let (secs, nanos) = (since.as_secs(), since.subsec_nanos());
    // Before 1970 a fraction counts up from the second below, as in protobuf.
    Some(if nanos < 0 {
        (secs - 1, nanos + 1_000_000_000)
    } else {
        (secs, nanos)
    })
}

/// The text with at most nine fractional digits: Go reads any number of them
/// and keeps nine, jiff takes no more than nine.
fn go_fraction(s: &str) -> std::borrow::Cow<'_, str> {
    let Some(dot) = s.find(['.', ',']) else {
        return s.into();
    };
    let digits = s[dot + 1..].bytes().take_while(u8::is_ascii_digit).count();
    if digits <= 9 {
        return s.into();
    }
    format!("{}{}", &s[..dot + 10], &s[dot + 1 + digits..]).into()
}

/// Formats Unix seconds as RFC 3339 UTC text, with six fractional digits when
/// `micros` is given (`MicroTime`).
pub fn format_rfc3339(secs: i64, micros: Option<i32>) -> String {
    let nanos = micros.map_or(0, |us| us.clamp(0, 999_999) * 1000);
    let t = EPOCH
        .checked_add(jiff::SignedDuration::new(secs, nanos))
        .unwrap_or(if secs < 0 {
            jiff::civil::DateTime::MIN
        } else {
            jiff::civil::DateTime::MAX
        });
    match micros {
        Some(_) => format!("{t:.6}Z"),
        None => format!("{t:.0}Z"),
    }
}

// ---------------------------------------------------------------- base64

/// Standard base64. Written with padding, as Go's encoding/json writes
/// `[]byte`; read with or without padding and with non-zero trailing bits, as
/// kapi has always read `format: byte` text.
const BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Standard base64 with padding, as Go's encoding/json writes `[]byte`.
pub fn base64_encode(data: &[u8]) -> String {
    base64::Engine::encode(&BASE64, data)
}

/// Decodes standard base64 (padding optional); `None` if it is not base64.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    base64::Engine::decode(&BASE64, text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints() {
        let mut b = Vec::new();
        put_varint(&mut b, 300);
        assert_eq!(b, [0xac, 0x02]);
        assert_eq!(Reader::new(&b).varint().unwrap(), 300);
        let mut b = Vec::new();
        put_i32(&mut b, 1, -1);
        assert_eq!(b.len(), 11);
        let mut r = Reader::new(&b);
        let (f, w) = r.key().unwrap();
        assert_eq!(r.i32(f, w).unwrap(), -1);
    }

    #[test]
    fn times() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some((0, 0)));
        assert_eq!(
            parse_rfc3339("2024-05-01T10:00:00.5+02:00"),
            Some((1_714_550_400, 500_000_000))
        );
        assert_eq!(format_rfc3339(1_714_550_400, None), "2024-05-01T08:00:00Z");
        assert_eq!(
            format_rfc3339(1_714_550_400, Some(42)),
            "2024-05-01T08:00:00.000042Z"
        );
        assert_eq!(
            parse_rfc3339("0001-01-01T00:00:00Z"),
            Some((MIN_SECONDS, 0))
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(parse_rfc3339("2024-13-01T00:00:00Z"), None);
        // No offset: not a point in time.
        assert_eq!(parse_rfc3339("2024-05-01T10:00:00"), None);
    }

    #[test]
    fn time_edges() {
        // The last second of year 9999, past jiff's `Timestamp::MAX`.
        assert_eq!(
            parse_rfc3339("9999-12-31T23:59:59Z"),
            Some((MAX_SECONDS, 0))
        );
        assert_eq!(
            format_rfc3339(MAX_SECONDS, Some(999_999)),
            "9999-12-31T23:59:59.999999Z"
        );
        assert_eq!(format_rfc3339(MIN_SECONDS, None), "0001-01-01T00:00:00Z");
        // Before 1970 the nanoseconds count up from the second below.
        assert_eq!(
            parse_rfc3339("1969-12-31T23:59:59.25Z"),
            Some((-1, 250_000_000))
        );
        assert_eq!(
            format_rfc3339(-1, Some(250_000)),
            "1969-12-31T23:59:59.250000Z"
        );
        assert_eq!(format_rfc3339(-1, None), "1969-12-31T23:59:59Z");
        // Go keeps nine fractional digits of any number.
        assert_eq!(
            parse_rfc3339("2024-05-01T10:00:00.123456789987Z"),
            Some((1_714_557_600, 123_456_789))
        );
        // Lower-case separators, a space, a comma before the fraction.
        assert_eq!(
            parse_rfc3339("2024-05-01 10:00:00,5z"),
            Some((1_714_557_600, 500_000_000))
        );
    }

    #[test]
    fn base64() {
        for s in ["", "f", "fo", "foo", "foob", "fooba", "foobar"] {
            let e = base64_encode(s.as_bytes());
            assert_eq!(base64_decode(&e).unwrap(), s.as_bytes());
        }
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_decode("not base64!"), None);
        // Padding optional, trailing bits not checked, as before the crate.
        assert_eq!(base64_decode("Zm8").unwrap(), b"fo");
        assert_eq!(base64_decode("Zm9=").unwrap(), b"fo");
        assert_eq!(base64_decode("Z"), None);
    }

    #[test]
    fn envelope() {
        let u = Unknown {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            raw: vec![1, 2, 3],
            ..Default::default()
        };
        let b = u.encode();
        assert!(b.starts_with(MAGIC));
        assert_eq!(Unknown::decode(&b).unwrap(), u);
        assert!(Unknown::decode(b"{}").is_err());
        for n in 4..b.len() {
            // Truncated envelopes are errors, never panics.
            let _ = Unknown::decode(&b[..n]);
        }
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for len in 0..200 {
            let mut b = MAGIC.to_vec();
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                b.push(seed as u8);
            }
            let _ = Unknown::decode(&b);
            let mut r = Reader::new(&b[4..]);
            while let Ok((f, w)) = r.key() {
                if r.skip(w).is_err() {
                    break;
                }
                let _ = f;
            }
        }
    }
}
