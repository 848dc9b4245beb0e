//! What the load generator (`src/bin/kapi-load.rs`) sends and how it reads
//! the answers, in JSON or in protobuf: the ≈ 1 KiB ConfigMaps it writes, the
//! objects, lists and watch events it decodes into the project's typed values
//! (`kapi_generated`), so that every answer counted is a real ConfigMap.
//!
//! Protobuf bodies are upstream's: `k8s\0` + `runtime.Unknown` envelope around
//! the message; a protobuf watch stream is a sequence of `WatchEvent` messages,
//! each prefixed by its length as 4 big-endian bytes.

use kapi_generated::api::core::v1::{ConfigMap, ConfigMapList};
use kapi_generated::api::meta::v1::ObjectMeta;
use kapi_generated::proto::{self, Message, Unknown};

/// The wire encoding of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/json`.
    Json,
    /// `application/vnd.kubernetes.protobuf`.
    Protobuf,
}

impl Encoding {
    /// `json` or `protobuf`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "json" => Ok(Encoding::Json),
            "protobuf" | "proto" => Ok(Encoding::Protobuf),
            _ => Err(format!("--encoding must be json or protobuf, not {s:?}")),
        }
    }

    /// The media type sent as `Accept` and as a body's `Content-Type`.
    pub fn media_type(self) -> &'static str {
        match self {
            Encoding::Json => "application/json",
            Encoding::Protobuf => proto::MEDIA_TYPE,
        }
    }

    /// `json` or `protobuf`, for the printed figures.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Json => "json",
            Encoding::Protobuf => "protobuf",
        }
    }
}

/// A ConfigMap of about 1 KiB: one 1000-byte `payload` value, plus `extra`
/// entries (the apply scenarios use one to change a value per request).
pub fn config_map(name: &str, namespace: &str, extra: &[(&str, &str)]) -> ConfigMap {
    let mut data = std::collections::BTreeMap::new();
    data.insert("payload".to_string(), "x".repeat(1000));
    for (k, v) in extra {
        data.insert((*k).to_string(), (*v).to_string());
    }
    ConfigMap {
        api_version: Some("v1".into()),
        kind: Some("ConfigMap".into()),
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            ..Default::default()
        },
        data: Some(data),
        ..Default::default()
    }
}

/// A ConfigMap as a request body in `enc`.
pub fn encode_config_map(cm: &ConfigMap, enc: Encoding) -> Vec<u8> {
    match enc {
        Encoding::Json => serde_json::to_vec(cm).unwrap_or_default(),
        Encoding::Protobuf => Unknown {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            raw: cm.encode_to_vec(),
            ..Default::default()
        }
        .encode(),
    }
}

/// Opens a protobuf envelope that must hold (`v1`, `kind`).
fn envelope(body: &[u8], kind: &str) -> Result<Vec<u8>, String> {
    let u = Unknown::decode(body).map_err(|e| format!("protobuf envelope: {e}"))?;
    if u.api_version != "v1" || u.kind != kind {
        return Err(format!(
            "expected v1 {kind}, the envelope holds {:?} {:?}",
            u.api_version, u.kind
        ));
    }
    Ok(u.raw)
}

fn check_type(
    api_version: &Option<String>,
    kind: &Option<String>,
    want: &str,
) -> Result<(), String> {
    if api_version.as_deref() != Some("v1") || kind.as_deref() != Some(want) {
        return Err(format!(
            "expected v1 {want}, got {:?} {:?}",
            api_version, kind
        ));
    }
    Ok(())
}

/// A ConfigMap answer; apiVersion and kind are checked (and, for protobuf,
/// filled in from the envelope, where protobuf carries them).
pub fn decode_config_map(body: &[u8], enc: Encoding) -> Result<ConfigMap, String> {
    match enc {
        Encoding::Json => {
            let cm: ConfigMap =
                serde_json::from_slice(body).map_err(|e| format!("ConfigMap JSON: {e}"))?;
            check_type(&cm.api_version, &cm.kind, "ConfigMap")?;
            Ok(cm)
        }
        Encoding::Protobuf => {
            let raw = envelope(body, "ConfigMap")?;
            let mut cm = ConfigMap::decode(&raw).map_err(|e| format!("ConfigMap message: {e}"))?;
            cm.api_version = Some("v1".into());
            cm.kind = Some("ConfigMap".into());
            Ok(cm)
        }
    }
}

/// A ConfigMapList answer, checked as [`decode_config_map`] checks objects.
pub fn decode_config_map_list(body: &[u8], enc: Encoding) -> Result<ConfigMapList, String> {
    match enc {
        Encoding::Json => {
            let l: ConfigMapList =
                serde_json::from_slice(body).map_err(|e| format!("ConfigMapList JSON: {e}"))?;
            check_type(&l.api_version, &l.kind, "ConfigMapList")?;
            Ok(l)
        }
        Encoding::Protobuf => {
            let raw = envelope(body, "ConfigMapList")?;
            let mut l =
                ConfigMapList::decode(&raw).map_err(|e| format!("ConfigMapList message: {e}"))?;
            l.api_version = Some("v1".into());
            l.kind = Some("ConfigMapList".into());
            // Items carry no apiVersion/kind in either encoding.
            Ok(l)
        }
    }
}

/// Takes the next complete watch frame off the front of `buf`: a JSON line
/// (without its newline; blank lines skipped) or a length-prefixed protobuf
/// `WatchEvent`. `None` until a whole frame has arrived.
pub fn next_watch_frame(buf: &mut Vec<u8>, enc: Encoding) -> Option<Vec<u8>> {
    match enc {
        Encoding::Json => loop {
            let nl = memchr::memchr(b'\n', buf)?;
            let line = buf[..nl].to_vec();
            buf.drain(..=nl);
            if !line.iter().all(u8::is_ascii_whitespace) {
                return Some(line);
            }
        },
        Encoding::Protobuf => {
            let len = u32::from_be_bytes(buf.get(..4)?.try_into().ok()?) as usize;
            if buf.len() < 4 + len {
                return None;
            }
            let frame = buf[4..4 + len].to_vec();
            buf.drain(..4 + len);
            Some(frame)
        }
    }
}

/// One watch event on ConfigMaps: its type and object. A `BOOKMARK` holds a
/// ConfigMap too (with only its resourceVersion); an `ERROR` is an error.
pub fn decode_watch_event(frame: &[u8], enc: Encoding) -> Result<(String, ConfigMap), String> {
    let (type_, cm) = match enc {
        Encoding::Json => {
            // One pass straight into the typed event; an ERROR event (a
            // Status, not a ConfigMap) is reported from its generic form.
            #[derive(serde::Deserialize)]
            struct Event {
                #[serde(rename = "type")]
                type_: String,
                object: ConfigMap,
            }
            match serde_json::from_slice::<Event>(frame) {
                Ok(ev) if ev.type_ != "ERROR" => {
                    check_type(&ev.object.api_version, &ev.object.kind, "ConfigMap")?;
                    (ev.type_, ev.object)
                }
                typed => {
                    let generic: serde_json::Value = serde_json::from_slice(frame)
                        .map_err(|e| format!("watch event JSON: {e}"))?;
                    if generic["type"] == "ERROR" {
                        return Err(format!("watch ERROR event: {}", generic["object"]));
                    }
                    return Err(match typed {
                        Err(e) => format!("watch event object: {e}"),
                        Ok(_) => format!("watch event: {generic}"),
                    });
                }
            }
        }
        Encoding::Protobuf => {
            let (type_, raw) =
                proto::decode_watch_event(frame).map_err(|e| format!("WatchEvent: {e}"))?;
            if type_ == "ERROR" {
                return Err("watch ERROR event".into());
            }
            (type_, decode_config_map(&raw, Encoding::Protobuf)?)
        }
    };
    Ok((type_, cm))
}
