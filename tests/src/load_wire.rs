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

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(ev: &[u8]) -> Vec<u8> {
        let mut f = (ev.len() as u32).to_be_bytes().to_vec();
        f.extend_from_slice(ev);
        f
    }

    #[test]
    fn config_map_round_trips_in_both_encodings() {
        let cm = config_map("cm-00001", "load", &[("n", "7")]);
        for enc in [Encoding::Json, Encoding::Protobuf] {
            let body = encode_config_map(&cm, enc);
            assert_eq!(decode_config_map(&body, enc).unwrap(), cm, "{enc:?}");
        }
        let pb = encode_config_map(&cm, Encoding::Protobuf);
        assert!(pb.starts_with(b"k8s\0"));
        let json = encode_config_map(&cm, Encoding::Json);
        assert!(
            (1000..1200).contains(&json.len()),
            "≈ 1 KiB: {}",
            json.len()
        );
    }

    #[test]
    fn wrong_kind_or_garbage_is_an_error() {
        let ns = Unknown {
            api_version: "v1".into(),
            kind: "Namespace".into(),
            raw: Vec::new(),
            ..Default::default()
        }
        .encode();
        let e = decode_config_map(&ns, Encoding::Protobuf).unwrap_err();
        assert!(e.contains("Namespace"), "{e}");
        let e = decode_config_map(br#"{"apiVersion":"v1","kind":"Status"}"#, Encoding::Json)
            .unwrap_err();
        assert!(e.contains("Status"), "{e}");
        assert!(decode_config_map(b"{}", Encoding::Protobuf).is_err());
        assert!(decode_config_map_list(b"k8s\0\x0a\xff", Encoding::Protobuf).is_err());
    }

    #[test]
    fn list_decodes_items() {
        let items: Vec<ConfigMap> = (0..3)
            .map(|i| {
                let mut c = config_map(&format!("cm-{i}"), "load", &[]);
                c.api_version = None;
                c.kind = None;
                c
            })
            .collect();
        let list = ConfigMapList {
            items: items.clone(),
            ..Default::default()
        };
        let pb = Unknown {
            api_version: "v1".into(),
            kind: "ConfigMapList".into(),
            raw: list.encode_to_vec(),
            ..Default::default()
        }
        .encode();
        let got = decode_config_map_list(&pb, Encoding::Protobuf).unwrap();
        assert_eq!(got.items, items);
        let json = serde_json::to_vec(&serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMapList", "metadata": {}, "items": items,
        }))
        .unwrap();
        assert_eq!(
            decode_config_map_list(&json, Encoding::Json).unwrap().items,
            items
        );
    }

    #[test]
    fn protobuf_watch_frames_split_across_reads() {
        let a = config_map("w-1", "load", &[]);
        let b = config_map("w-2", "load", &[]);
        let mut stream = frame(&proto::encode_watch_event(
            "ADDED",
            &encode_config_map(&a, Encoding::Protobuf),
        ));
        stream.extend(frame(&proto::encode_watch_event(
            "MODIFIED",
            &encode_config_map(&b, Encoding::Protobuf),
        )));
        // Feed the bytes in awkward pieces: frames appear only when whole.
        let mut buf = Vec::new();
        let mut events = Vec::new();
        for piece in stream.chunks(7) {
            buf.extend_from_slice(piece);
            while let Some(f) = next_watch_frame(&mut buf, Encoding::Protobuf) {
                events.push(decode_watch_event(&f, Encoding::Protobuf).unwrap());
            }
        }
        assert!(buf.is_empty());
        assert_eq!(
            events,
            vec![("ADDED".to_string(), a), ("MODIFIED".to_string(), b)]
        );
    }

    #[test]
    fn json_watch_lines() {
        let a = config_map("w-1", "load", &[]);
        let line = serde_json::to_vec(&serde_json::json!({"type": "ADDED", "object": a})).unwrap();
        let mut buf = b"\n".to_vec();
        buf.extend_from_slice(&line[..10]);
        assert_eq!(next_watch_frame(&mut buf, Encoding::Json), None);
        buf.extend_from_slice(&line[10..]);
        buf.push(b'\n');
        let f = next_watch_frame(&mut buf, Encoding::Json).unwrap();
        assert_eq!(
            decode_watch_event(&f, Encoding::Json).unwrap(),
            ("ADDED".to_string(), a)
        );
        assert!(buf.is_empty());
        let err = br#"{"type":"ERROR","object":{"kind":"Status","code":410}}"#;
        assert!(decode_watch_event(err, Encoding::Json).is_err());
    }
}
