//! The part of etcd's v3 gRPC API that kapi speaks, written by hand.
//!
//! The messages are `prost` derives whose field numbers, names and enum
//! values are those of etcd's `etcdserverpb/rpc.proto` and `mvccpb/kv.proto`;
//! fields kapi never sets or reads are left out (protobuf decoding skips
//! unknown fields, and an unset field is not encoded); oneof variants have
//! short Rust names (`request_put` is `request_op::Request::Put`), which the
//! wire never sees. Writing them here rather than generating them keeps
//! `protoc` out of the build. The storage conformance suite and the
//! end-to-end tests run them against a real etcd.
//!
//! [`Client`] makes the calls through `tonic::client::Grpc` on one balanced
//! `tonic` channel.

use bytes::Bytes;
use http::uri::PathAndQuery;
use tonic::codec::Streaming;
use tonic::transport::Channel;
use tonic::{Request, Status};

/// Every answer's header; kapi reads the store revision it was made at.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ResponseHeader {
    #[prost(int64, tag = "3")]
    pub revision: i64,
}

/// A key's state at a revision (`mvccpb.KeyValue`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct KeyValue {
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    #[prost(int64, tag = "2")]
    pub create_revision: i64,
    #[prost(int64, tag = "3")]
    pub mod_revision: i64,
    #[prost(bytes = "vec", tag = "5")]
    pub value: Vec<u8>,
}

/// What a watch event did (`mvccpb.Event.EventType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum EventType {
    Put = 0,
    Delete = 1,
}

/// One change seen by a watch (`mvccpb.Event`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Event {
    #[prost(enumeration = "EventType", tag = "1")]
    pub r#type: i32,
    /// After a put, the new state; after a delete, the key and the delete's revision.
    #[prost(message, optional, tag = "2")]
    pub kv: Option<KeyValue>,
    /// The state before the change (watches created with `prev_kv`).
    #[prost(message, optional, tag = "3")]
    pub prev_kv: Option<KeyValue>,
}

/// A read of one key or of the range `[key, range_end)`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RangeRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    /// Empty: only `key`.
    #[prost(bytes = "vec", tag = "2")]
    pub range_end: Vec<u8>,
    /// 0: no limit.
    #[prost(int64, tag = "3")]
    pub limit: i64,
    /// 0: the latest revision.
    #[prost(int64, tag = "4")]
    pub revision: i64,
    #[prost(bool, tag = "9")]
    pub count_only: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct RangeResponse {
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    #[prost(message, repeated, tag = "2")]
    pub kvs: Vec<KeyValue>,
    /// Whether keys past the limit are left.
    #[prost(bool, tag = "3")]
    pub more: bool,
    /// How many keys the whole range holds (the limit aside).
    #[prost(int64, tag = "4")]
    pub count: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PutRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    #[prost(bytes = "bytes", tag = "2")]
    pub value: Bytes,
    /// Answer with the key's state before the put.
    #[prost(bool, tag = "4")]
    pub prev_kv: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PutResponse {
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    #[prost(message, optional, tag = "2")]
    pub prev_kv: Option<KeyValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct DeleteRangeRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    /// Answer with the deleted keys' last states.
    #[prost(bool, tag = "3")]
    pub prev_kv: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct DeleteRangeResponse {
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    #[prost(message, repeated, tag = "3")]
    pub prev_kvs: Vec<KeyValue>,
}

/// One operation of a transaction branch.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RequestOp {
    #[prost(oneof = "request_op::Request", tags = "1, 2, 3")]
    pub request: Option<request_op::Request>,
}

pub mod request_op {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Request {
        #[prost(message, tag = "1")]
        Range(super::RangeRequest),
        #[prost(message, tag = "2")]
        Put(super::PutRequest),
        #[prost(message, tag = "3")]
        DeleteRange(super::DeleteRangeRequest),
    }
}

/// The answer to one [`RequestOp`], in the same place.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ResponseOp {
    #[prost(oneof = "response_op::Response", tags = "1, 2, 3")]
    pub response: Option<response_op::Response>,
}

pub mod response_op {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Response {
        #[prost(message, tag = "1")]
        Range(super::RangeResponse),
        #[prost(message, tag = "2")]
        Put(super::PutResponse),
        #[prost(message, tag = "3")]
        DeleteRange(super::DeleteRangeResponse),
    }
}

/// How a [`Compare`] relates the key's field to the given value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum CompareResult {
    Equal = 0,
    Greater = 1,
    Less = 2,
    NotEqual = 3,
}

/// Which field of the key a [`Compare`] looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum CompareTarget {
    Version = 0,
    Create = 1,
    Mod = 2,
    Value = 3,
    Lease = 4,
}

/// A condition of a transaction on one key (a missing key has revisions 0).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Compare {
    #[prost(enumeration = "CompareResult", tag = "1")]
    pub result: i32,
    #[prost(enumeration = "CompareTarget", tag = "2")]
    pub target: i32,
    #[prost(bytes = "vec", tag = "3")]
    pub key: Vec<u8>,
    #[prost(oneof = "compare::TargetUnion", tags = "5, 6")]
    pub target_union: Option<compare::TargetUnion>,
}

pub mod compare {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum TargetUnion {
        #[prost(int64, tag = "5")]
        CreateRevision(i64),
        #[prost(int64, tag = "6")]
        ModRevision(i64),
    }
}

impl Compare {
    /// The key's creation revision compared with `rev`.
    pub fn create_revision(key: &str, result: CompareResult, rev: i64) -> Self {
        Compare {
            result: result as i32,
            target: CompareTarget::Create as i32,
            key: key.as_bytes().to_vec(),
            target_union: Some(compare::TargetUnion::CreateRevision(rev)),
        }
    }

    /// The key's last modification revision compared with `rev`.
    pub fn mod_revision(key: &str, result: CompareResult, rev: i64) -> Self {
        Compare {
            result: result as i32,
            target: CompareTarget::Mod as i32,
            key: key.as_bytes().to_vec(),
            target_union: Some(compare::TargetUnion::ModRevision(rev)),
        }
    }
}

impl RequestOp {
    fn of(request: request_op::Request) -> Self {
        RequestOp {
            request: Some(request),
        }
    }

    /// A read of one key.
    pub fn get(key: &str) -> Self {
        Self::of(request_op::Request::Range(RangeRequest {
            key: key.as_bytes().to_vec(),
            ..Default::default()
        }))
    }

    /// A put; with `prev_kv`, answering with the key's previous state.
    pub fn put(key: &str, value: Bytes, prev_kv: bool) -> Self {
        Self::of(request_op::Request::Put(PutRequest {
            key: key.as_bytes().to_vec(),
            value,
            prev_kv,
        }))
    }

    /// A delete of one key answering with its last state.
    pub fn delete(key: &str) -> Self {
        Self::of(request_op::Request::DeleteRange(DeleteRangeRequest {
            key: key.as_bytes().to_vec(),
            prev_kv: true,
        }))
    }
}

/// `success` when every comparison holds, else `failure`, atomically.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TxnRequest {
    #[prost(message, repeated, tag = "1")]
    pub compare: Vec<Compare>,
    #[prost(message, repeated, tag = "2")]
    pub success: Vec<RequestOp>,
    #[prost(message, repeated, tag = "3")]
    pub failure: Vec<RequestOp>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TxnResponse {
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    /// Whether the comparisons held (the `success` branch ran).
    #[prost(bool, tag = "2")]
    pub succeeded: bool,
    #[prost(message, repeated, tag = "3")]
    pub responses: Vec<ResponseOp>,
}

/// Drops the history before `revision`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CompactionRequest {
    #[prost(int64, tag = "1")]
    pub revision: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CompactionResponse {
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
}

/// Starts a watch of `[key, range_end)` from `start_revision`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WatchCreateRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub range_end: Vec<u8>,
    #[prost(int64, tag = "3")]
    pub start_revision: i64,
    /// Events carry the state before the change.
    #[prost(bool, tag = "6")]
    pub prev_kv: bool,
}

/// Ends one watch of the stream.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WatchCancelRequest {
    #[prost(int64, tag = "1")]
    pub watch_id: i64,
}

/// Asks for an answer without events whose header revision every watch of
/// the stream has caught up with (etcd 3.4+).
#[derive(Clone, PartialEq, prost::Message)]
pub struct WatchProgressRequest {}

/// One message on a watch stream's sending side.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WatchRequest {
    #[prost(oneof = "watch_request::RequestUnion", tags = "1, 2, 3")]
    pub request_union: Option<watch_request::RequestUnion>,
}

pub mod watch_request {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum RequestUnion {
        #[prost(message, tag = "1")]
        Create(super::WatchCreateRequest),
        #[prost(message, tag = "2")]
        Cancel(super::WatchCancelRequest),
        #[prost(message, tag = "3")]
        Progress(super::WatchProgressRequest),
    }
}

/// One answer on a watch stream: events, the watch's creation or end, or
/// (without events) a progress notification.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WatchResponse {
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    #[prost(int64, tag = "2")]
    pub watch_id: i64,
    #[prost(bool, tag = "3")]
    pub created: bool,
    #[prost(bool, tag = "4")]
    pub canceled: bool,
    /// Set when the start revision is compacted: the oldest revision kept.
    #[prost(int64, tag = "5")]
    pub compact_revision: i64,
    #[prost(string, tag = "6")]
    pub cancel_reason: String,
    #[prost(message, repeated, tag = "11")]
    pub events: Vec<Event>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct StatusRequest {}

#[derive(Clone, PartialEq, prost::Message)]
pub struct StatusResponse {
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    /// The server's version (`3.4.23`).
    #[prost(string, tag = "2")]
    pub version: String,
}

/// gRPC's bound on one message kapi receives. A whole collection can exceed
/// the 4 MiB default (10,000 ConfigMaps of 1 KiB are 14 MB); upstream's
/// client allows up to 2 GiB.
const MAX_DECODING_MESSAGE_SIZE: usize = i32::MAX as usize;

/// etcd's KV, Watch and Maintenance services on one channel (cheap to clone).
#[derive(Clone)]
pub struct Client {
    channel: Channel,
}

impl Client {
    pub fn new(channel: Channel) -> Self {
        Client { channel }
    }

    fn grpc(&self) -> tonic::client::Grpc<Channel> {
        tonic::client::Grpc::new(self.channel.clone())
            .max_decoding_message_size(MAX_DECODING_MESSAGE_SIZE)
    }

    async fn unary<Req, Resp>(&self, path: &'static str, request: Req) -> Result<Resp, Status>
    where
        Req: prost::Message + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        let mut grpc = self.grpc();
        grpc.ready().await.map_err(not_ready)?;
        let codec = tonic_prost::ProstCodec::<Req, Resp>::default();
        let answer = grpc
            .unary(
                Request::new(request),
                PathAndQuery::from_static(path),
                codec,
            )
            .await?;
        Ok(answer.into_inner())
    }

    pub async fn range(&self, request: RangeRequest) -> Result<RangeResponse, Status> {
        self.unary("/etcdserverpb.KV/Range", request).await
    }

    pub async fn txn(&self, request: TxnRequest) -> Result<TxnResponse, Status> {
        self.unary("/etcdserverpb.KV/Txn", request).await
    }

    pub async fn compact(&self, request: CompactionRequest) -> Result<CompactionResponse, Status> {
        self.unary("/etcdserverpb.KV/Compact", request).await
    }

    pub async fn status(&self) -> Result<StatusResponse, Status> {
        self.unary("/etcdserverpb.Maintenance/Status", StatusRequest {})
            .await
    }

    /// Opens a watch stream: `requests` are sent as they arrive; the stream
    /// ends when etcd ends it or the sender of `requests` is dropped.
    pub async fn watch(
        &self,
        requests: tokio::sync::mpsc::Receiver<WatchRequest>,
    ) -> Result<Streaming<WatchResponse>, Status> {
        let mut grpc = self.grpc();
        grpc.ready().await.map_err(not_ready)?;
        let codec = tonic_prost::ProstCodec::<WatchRequest, WatchResponse>::default();
        let answer = grpc
            .streaming(
                Request::new(tokio_stream::wrappers::ReceiverStream::new(requests)),
                PathAndQuery::from_static("/etcdserverpb.Watch/Watch"),
                codec,
            )
            .await?;
        Ok(answer.into_inner())
    }
}

fn not_ready(e: tonic::transport::Error) -> Status {
    Status::unavailable(format!("etcd connection not ready: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    /// The bytes of a few messages, worked out by hand from etcd's field
    /// numbers: a typo in a tag shows here before it reaches a server.
    #[test]
    fn wire_bytes() {
        let txn = TxnRequest {
            compare: vec![Compare::mod_revision("k", CompareResult::Equal, 7)],
            success: vec![RequestOp::put("k", Bytes::from_static(b"v"), true)],
            failure: vec![RequestOp::get("k")],
        };
        assert_eq!(
            txn.encode_to_vec(),
            [
                // compare (1): target Mod (2) = 2, key (3) "k", mod_revision (6) = 7
                0x0a, 0x07, 0x10, 0x02, 0x1a, 0x01, b'k', 0x30, 0x07,
                // success (2): request_put (2) { key "k", value "v", prev_kv (4) }
                0x12, 0x0a, 0x12, 0x08, 0x0a, 0x01, b'k', 0x12, 0x01, b'v', 0x20, 0x01,
                // failure (3): request_range (1) { key "k" }
                0x1a, 0x05, 0x0a, 0x03, 0x0a, 0x01, b'k',
            ]
        );
        let watch = WatchRequest {
            request_union: Some(watch_request::RequestUnion::Progress(
                WatchProgressRequest {},
            )),
        };
        assert_eq!(watch.encode_to_vec(), [0x1a, 0x00]);

        // A progress notification: header { revision 9 }, no events.
        let answer = WatchResponse::decode(&[0x0a, 0x02, 0x18, 0x09, 0x10, 0x01][..]).unwrap();
        assert_eq!(answer.header.map(|h| h.revision), Some(9));
        assert_eq!(answer.watch_id, 1);
        assert!(answer.events.is_empty());
    }
}
