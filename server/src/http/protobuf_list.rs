//! Protobuf lists written from the watch cache without a decode.
//!
//! A list served from the cache reaches the protobuf layer with its cached
//! objects attached (a [`CachedList`] response extension). Each object keeps
//! its protobuf message bytes, made at most once per object version
//! ([`CachedObject::protobuf`]); the `XList` message is then
//! `ListMeta` (field 1) followed by every item as a length-delimited field 2,
//! concatenated, inside upstream's `k8s\0` + `runtime.Unknown` envelope. The
//! envelope's `raw` needs its length first: it is the sum of the items'
//! framed sizes, so the body streams in chunks as the JSON raw list does.

use std::sync::Arc;

use bytes::Bytes;
use kapi_generated::proto::{self, MAGIC};
use serde_json::Value;

use crate::watch::cache::CachedObject;

/// The objects of a list answered from the watch cache, for the protobuf layer.
pub struct CachedList {
    /// The list's `metadata` (resourceVersion, continue).
    pub meta: Value,
    /// The cached objects, in list order.
    pub items: Vec<Arc<CachedObject>>,
}

/// Field 2 (`items`), length-delimited.
const ITEMS_KEY: u8 = (2 << 3) | 2;
/// Chunks of about this size (as the JSON raw list).
const CHUNK: usize = 64 * 1024;

fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// The list of `kind` objects served as `api_version`, as protobuf body
/// chunks; `None` when the kind (or its list) has no protobuf form or an
/// object cannot be encoded (the caller then takes the slow path).
pub fn encode(list: &CachedList, api_version: &str, kind: &str) -> Option<Chunks> {
    let item_codec = proto::codec(api_version, kind)?;
    let list_codec = proto::codec(api_version, &format!("{kind}List"))?;
    // The list message without items: just its ListMeta (field 1).
    let meta_text =
        serde_json::to_vec(&serde_json::json!({"metadata": list.meta, "items": []})).ok()?;
    let head_msg = (list_codec.encode_text)(&meta_text).ok()?;
    let items = list
        .items
        .iter()
        .map(|o| o.protobuf(|json| (item_codec.encode_text)(json).ok()))
        .collect::<Option<Vec<Bytes>>>()?;
    let raw_len = head_msg.len()
        + items
            .iter()
            .map(|b| 1 + varint_len(b.len() as u64) + b.len())
            .sum::<usize>();

    let mut head = Vec::with_capacity(CHUNK + 4096);
    head.extend_from_slice(MAGIC);
    proto::put_message(&mut head, 1, |b| {
        proto::put_string(b, 1, api_version);
        proto::put_string(b, 2, list_codec.kind);
    });
    proto::put_key(&mut head, 2, 2);
    proto::put_varint(&mut head, raw_len as u64);
    head.extend_from_slice(&head_msg);

    Some(Chunks {
        head: Some(head),
        items: items.into_iter(),
        done: false,
    })
}

/// The body's chunks, made as they are sent (≈ 64 KiB each): at most one
/// chunk per list in flight, not the whole answer.
pub struct Chunks {
    head: Option<Vec<u8>>,
    items: std::vec::IntoIter<Bytes>,
    done: bool,
}

impl Iterator for Chunks {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        if self.done {
            return None;
        }
        let mut buf = self
            .head
            .take()
            .unwrap_or_else(|| Vec::with_capacity(CHUNK + 4096));
        while buf.len() < CHUNK {
            let Some(item) = self.items.next() else {
                // contentEncoding and contentType, empty (as upstream writes them).
                proto::put_string(&mut buf, 3, "");
                proto::put_string(&mut buf, 4, "");
                self.done = true;
                break;
            };
            buf.push(ITEMS_KEY);
            proto::put_varint(&mut buf, item.len() as u64);
            buf.extend_from_slice(&item);
        }
        Some(Bytes::from(buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::protobuf;
    use serde_json::json;

    fn cm(i: usize, pad: usize) -> Value {
        json!({"kind": "ConfigMap", "apiVersion": "v1",
               "metadata": {"name": format!("cm-{i}"), "namespace": "default",
                            "resourceVersion": (100 + i).to_string(),
                            "uid": format!("u-{i}"),
                            "labels": {"app": "x", "i": i.to_string()},
                            "creationTimestamp": "2026-01-01T00:00:00Z"},
               "data": {"k": "v".repeat(pad), "b": i.to_string()}})
    }

    fn cached(items: &[Value]) -> Vec<Arc<CachedObject>> {
        items
            .iter()
            .map(|v| CachedObject::new(Bytes::from(serde_json::to_vec(v).unwrap())))
            .collect()
    }

    /// The slow path: the JSON list re-encoded through the typed list.
    fn slow(items: &[Value], meta: &Value) -> Vec<u8> {
        let list = json!({"kind": "ConfigMapList", "apiVersion": "v1",
                          "metadata": meta, "items": items});
        protobuf::encode_text(&serde_json::to_vec(&list).unwrap(), "v1", "ConfigMapList").unwrap()
    }

    #[test]
    fn a_cached_list_is_byte_for_byte_the_slow_encoding() {
        for (n, pad, meta) in [
            (0, 0, json!({"resourceVersion": "7"})),
            (1, 10, json!({"resourceVersion": "8"})),
            (3, 200, json!({"resourceVersion": "9", "continue": "abc"})),
            // Items past 127 and 16383 bytes (longer varints), many chunks.
            (400, 20_000, json!({"resourceVersion": "12345"})),
        ] {
            let items: Vec<Value> = (0..n).map(|i| cm(i, pad)).collect();
            let list = CachedList {
                meta: meta.clone(),
                items: cached(&items),
            };
            let chunks: Vec<Bytes> = encode(&list, "v1", "ConfigMap").unwrap().collect();
            assert!(chunks.iter().all(|c| c.len() < 2 * CHUNK + 64 * 1024));
            if n == 400 {
                assert!(chunks.len() > 100, "{} chunks", chunks.len());
            }
            let fast = chunks.concat();
            assert_eq!(fast, slow(&items, &meta), "{n} items of {pad}");
            // And it decodes back to the same objects.
            let back = protobuf::decode(&fast).unwrap();
            assert_eq!(back["items"].as_array().unwrap().len(), n);
            if n > 0 {
                assert_eq!(
                    back["items"][n - 1]["metadata"]["name"],
                    format!("cm-{}", n - 1)
                );
            }
        }
    }

    #[test]
    fn each_object_is_encoded_once_per_version() {
        let items: Vec<Value> = (0..3).map(|i| cm(i, 5)).collect();
        let list = CachedList {
            meta: json!({"resourceVersion": "1"}),
            items: cached(&items),
        };
        assert!(!list.items[0].has_protobuf());
        let first = encode(&list, "v1", "ConfigMap")
            .unwrap()
            .collect::<Vec<_>>()
            .concat();
        assert!(list.items.iter().all(|o| o.has_protobuf()));
        let made: Vec<Bytes> = list
            .items
            .iter()
            .map(|o| o.protobuf(|_| panic!("made twice")).unwrap())
            .collect();
        assert!(made.iter().all(|b| !b.is_empty()));
        assert_eq!(
            encode(&list, "v1", "ConfigMap")
                .unwrap()
                .collect::<Vec<_>>()
                .concat(),
            first
        );
    }

    #[test]
    fn kinds_without_a_protobuf_form_take_the_slow_path() {
        let list = CachedList {
            meta: json!({"resourceVersion": "1"}),
            items: cached(&[json!({"kind": "Widget", "apiVersion": "example.com/v1"})]),
        };
        assert!(encode(&list, "example.com/v1", "Widget").is_none());
        assert!(!list.items[0].has_protobuf());
    }
}
