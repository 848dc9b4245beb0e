//! The load generator's wire helpers (`kapi_tests::load_wire`, used by
//! `kapi-load`): ConfigMaps in JSON and protobuf, lists, watch frames.

use kapi_generated::api::core::v1::{ConfigMap, ConfigMapList};
use kapi_generated::proto::{self, Message, Unknown};
use kapi_tests::load_wire::*;

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
    let e =
        decode_config_map(br#"{"apiVersion":"v1","kind":"Status"}"#, Encoding::Json).unwrap_err();
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
