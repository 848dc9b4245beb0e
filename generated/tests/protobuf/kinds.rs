//! Protobuf round trips of every built-in kind with random values (proptest),
//! and cross-checks against kube-rs's `k8s-pb` (prost types generated from
//! upstream's .proto files), an implementation independent of kapi's:
//!
//! * kapi bytes → k8s-pb decode → prost encode → kapi decode gives the value
//!   back (a wrong field number or wire type loses or breaks a field);
//! * for a fully populated object, kapi's bytes equal prost's re-encoding of
//!   them, and prost's encoding of a k8s-pb object decodes in kapi to the
//!   same JSON object as k8s-pb's own reading.

use std::collections::BTreeMap;

use kapi_generated::api::coordination::v1::{Lease, LeaseSpec};
use kapi_generated::api::core::v1::{
    ConfigMap, ConfigMapList, Event, EventSeries, EventSource, LocalObjectReference, Namespace,
    NamespaceCondition, NamespaceSpec, NamespaceStatus, ObjectReference, Secret, ServiceAccount,
};
use kapi_generated::api::meta::v1::{
    ListMeta, ManagedFieldsEntry, ObjectMeta, OwnerReference, Status, StatusCause, StatusDetails,
};
use kapi_generated::proto::{Message, base64_encode, format_rfc3339};
use proptest::collection::{btree_map, vec};
use proptest::option::of;
use proptest::prelude::*;

// ------------------------------------------------------------ strategies
//
// Values in canonical form: a field that upstream writes as a plain value is
// `None` rather than `Some(zero)` (zero is read back as absent, as Go's
// omitempty leaves it out of JSON), and lists and maps are absent or non-empty.

fn word() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9.-]{0,11}"
}

fn text() -> impl Strategy<Value = String> {
    // Any non-empty UTF-8, including multi-byte characters.
    "\\PC{1,16}"
}

fn opt_word() -> impl Strategy<Value = Option<String>> {
    of(word())
}

fn nonzero_i64() -> impl Strategy<Value = i64> {
    any::<i64>().prop_filter("non-zero", |v| *v != 0)
}

fn nonzero_i32() -> impl Strategy<Value = i32> {
    any::<i32>().prop_filter("non-zero", |v| *v != 0)
}

fn time() -> impl Strategy<Value = String> {
    (-62_135_596_800i64..253_402_300_799).prop_map(|s| format_rfc3339(s, None))
}

fn micro_time() -> impl Strategy<Value = String> {
    (-62_135_596_800i64..253_402_300_799, 0i32..1_000_000)
        .prop_map(|(s, us)| format_rfc3339(s, Some(us)))
}

fn string_map() -> impl Strategy<Value = Option<BTreeMap<String, String>>> {
    // Map values may be empty: a map entry always carries its value.
    of(btree_map(word(), "\\PC{0,12}", 1..4))
}

fn bytes_map() -> impl Strategy<Value = Option<BTreeMap<String, String>>> {
    of(btree_map(
        word(),
        vec(any::<u8>(), 0..24).prop_map(|b| base64_encode(&b)),
        1..4,
    ))
}

fn words() -> impl Strategy<Value = Option<Vec<String>>> {
    // Elements of a list are always written, so they may be empty.
    of(vec("[a-z]{0,6}", 1..4))
}

fn owner_reference() -> impl Strategy<Value = OwnerReference> {
    (
        word(),
        word(),
        word(),
        word(),
        of(any::<bool>()),
        of(any::<bool>()),
    )
        .prop_map(|(a, k, n, u, c, b)| OwnerReference {
            api_version: a,
            kind: k,
            name: n,
            uid: u,
            controller: c,
            block_owner_deletion: b,
        })
}

fn fields_v1() -> impl Strategy<Value = serde_json::Value> {
    btree_map("f:[a-z]{1,6}", Just(serde_json::json!({})), 1..4)
        .prop_map(|m| serde_json::to_value(m).unwrap_or_default())
}

fn managed_fields_entry() -> impl Strategy<Value = ManagedFieldsEntry> {
    (
        opt_word(),
        opt_word(),
        opt_word(),
        of(time()),
        of(Just("FieldsV1".to_string())),
        of(fields_v1()),
        opt_word(),
    )
        .prop_map(|(m, o, a, t, ft, f, s)| ManagedFieldsEntry {
            manager: m,
            operation: o,
            api_version: a,
            time: t,
            fields_type: ft,
            fields_v1: f,
            subresource: s,
        })
}

prop_compose! {
    fn object_meta()(
        (name, generate_name, namespace, self_link, uid, resource_version) in
            (opt_word(), opt_word(), opt_word(), opt_word(), opt_word(), opt_word()),
        (generation, creation_timestamp, deletion_timestamp, deletion_grace_period_seconds) in
            (of(nonzero_i64()), of(time()), of(time()), of(any::<i64>())),
        (labels, annotations, finalizers) in (string_map(), string_map(), words()),
        owner_references in of(vec(owner_reference(), 1..3)),
        managed_fields in of(vec(managed_fields_entry(), 1..3)),
    ) -> ObjectMeta {
        ObjectMeta {
            name, generate_name, namespace, self_link, uid, resource_version, generation,
            creation_timestamp, deletion_timestamp, deletion_grace_period_seconds,
            labels, annotations, finalizers, owner_references, managed_fields,
        }
    }
}

prop_compose! {
    fn config_map()(metadata in object_meta(), data in string_map(), binary_data in bytes_map(),
                    immutable in of(any::<bool>())) -> ConfigMap {
        ConfigMap { metadata, data, binary_data, immutable, ..Default::default() }
    }
}

prop_compose! {
    fn secret()(metadata in object_meta(), data in bytes_map(), string_data in string_map(),
                type_ in opt_word(), immutable in of(any::<bool>())) -> Secret {
        Secret { metadata, data, string_data, type_, immutable, ..Default::default() }
    }
}

fn namespace_condition() -> impl Strategy<Value = NamespaceCondition> {
    (
        "[A-Za-z]{0,8}",
        "[A-Za-z]{0,8}",
        of(time()),
        opt_word(),
        of(text()),
    )
        .prop_map(|(type_, status, last_transition_time, reason, message)| {
            NamespaceCondition {
                type_,
                status,
                last_transition_time,
                reason,
                message,
            }
        })
}

prop_compose! {
    fn namespace()(metadata in object_meta(), finalizers in words(), phase in opt_word(),
                   conditions in of(vec(namespace_condition(), 1..3))) -> Namespace {
        Namespace {
            metadata,
            spec: NamespaceSpec { finalizers },
            status: NamespaceStatus { phase, conditions },
            ..Default::default()
        }
    }
}

prop_compose! {
    fn object_reference()(
        (kind, namespace, name, uid) in (opt_word(), opt_word(), opt_word(), opt_word()),
        (api_version, resource_version, field_path) in (opt_word(), opt_word(), opt_word()),
    ) -> ObjectReference {
        ObjectReference { kind, namespace, name, uid, api_version, resource_version, field_path }
    }
}

prop_compose! {
    fn service_account()(metadata in object_meta(),
                         secrets in of(vec(object_reference(), 1..3)),
                         pulls in of(vec(opt_word().prop_map(|name| LocalObjectReference { name }), 1..3)),
                         automount in of(any::<bool>())) -> ServiceAccount {
        ServiceAccount {
            metadata, secrets, image_pull_secrets: pulls,
            automount_service_account_token: automount, ..Default::default()
        }
    }
}

prop_compose! {
    fn event()(
        metadata in object_meta(),
        involved_object in object_reference(),
        (reason, message, component, host) in (opt_word(), of(text()), opt_word(), opt_word()),
        (first_timestamp, last_timestamp, count, type_) in (of(time()), of(time()), of(nonzero_i32()), opt_word()),
        event_time in of(micro_time()),
        series in of((of(nonzero_i32()), of(micro_time()))),
        (action, related, reporting_component, reporting_instance) in
            (opt_word(), of(object_reference()), opt_word(), opt_word()),
    ) -> Event {
        Event {
            metadata, involved_object, reason, message,
            source: EventSource { component, host },
            first_timestamp, last_timestamp, count, type_, event_time,
            series: series.map(|(count, last_observed_time)| EventSeries { count, last_observed_time }),
            action, related, reporting_component, reporting_instance,
            ..Default::default()
        }
    }
}

prop_compose! {
    fn lease()(
        metadata in object_meta(),
        (holder_identity, lease_duration_seconds, acquire_time, renew_time) in
            (of(text()), of(any::<i32>()), of(micro_time()), of(micro_time())),
        (lease_transitions, strategy, preferred_holder) in (of(any::<i32>()), opt_word(), opt_word()),
    ) -> Lease {
        Lease {
            metadata,
            spec: LeaseSpec {
                holder_identity, lease_duration_seconds, acquire_time, renew_time,
                lease_transitions, strategy, preferred_holder,
            },
            ..Default::default()
        }
    }
}

prop_compose! {
    fn status()(
        (status, message, reason, code) in (opt_word(), of(text()), opt_word(), of(nonzero_i32())),
        details in of((opt_word(), opt_word(), opt_word(), opt_word(), of(nonzero_i32()),
            of(vec((opt_word(), of(text()), opt_word()), 1..3)))),
        resource_version in opt_word(),
    ) -> Status {
        Status {
            metadata: ListMeta { resource_version, ..Default::default() },
            status, message, reason, code,
            details: details.map(|(name, group, kind, uid, retry_after_seconds, causes)| StatusDetails {
                name, group, kind, uid, retry_after_seconds,
                causes: causes.map(|c| c.into_iter().map(|(reason, message, field)| StatusCause { reason, message, field }).collect()),
            }),
            ..Default::default()
        }
    }
}

// ------------------------------------------------------------ round trips

fn round_trip<M: Message + PartialEq + std::fmt::Debug>(v: &M) -> Result<(), TestCaseError> {
    let bytes = v.encode_to_vec();
    let back = M::decode(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&back, v);
    Ok(())
}

/// kapi bytes → k8s-pb → prost bytes → kapi: the same value.
fn through_k8s_pb<M, P>(v: &M) -> Result<(), TestCaseError>
where
    M: Message + PartialEq + std::fmt::Debug,
    P: prost::Message + Default,
{
    let bytes = v.encode_to_vec();
    let theirs = P::decode(bytes.as_slice())
        .map_err(|e| TestCaseError::fail(format!("k8s-pb cannot read kapi's bytes: {e}")))?;
    let again = theirs.encode_to_vec();
    let back = M::decode(&again)
        .map_err(|e| TestCaseError::fail(format!("kapi cannot read prost's bytes: {e}")))?;
    prop_assert_eq!(&back, v);
    Ok(())
}

use k8s_pb::api::coordination::v1 as pb_coordination;
use k8s_pb::api::core::v1 as pb_core;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as pb_meta;

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn config_map_round_trips(v in config_map()) {
        round_trip(&v)?;
        through_k8s_pb::<_, pb_core::ConfigMap>(&v)?;
    }

    #[test]
    fn secret_round_trips(v in secret()) {
        round_trip(&v)?;
        through_k8s_pb::<_, pb_core::Secret>(&v)?;
    }

    #[test]
    fn namespace_round_trips(v in namespace()) {
        round_trip(&v)?;
        through_k8s_pb::<_, pb_core::Namespace>(&v)?;
    }

    #[test]
    fn service_account_round_trips(v in service_account()) {
        round_trip(&v)?;
        through_k8s_pb::<_, pb_core::ServiceAccount>(&v)?;
    }

    #[test]
    fn event_round_trips(v in event()) {
        round_trip(&v)?;
        through_k8s_pb::<_, pb_core::Event>(&v)?;
    }

    #[test]
    fn lease_round_trips(v in lease()) {
        round_trip(&v)?;
        through_k8s_pb::<_, pb_coordination::Lease>(&v)?;
    }

    #[test]
    fn status_round_trips(v in status()) {
        round_trip(&v)?;
        through_k8s_pb::<_, pb_meta::Status>(&v)?;
    }

    #[test]
    fn config_map_list_round_trips(items in vec(config_map(), 0..3), rv in opt_word()) {
        let v = ConfigMapList {
            metadata: ListMeta { resource_version: rv, ..Default::default() },
            items,
            ..Default::default()
        };
        round_trip(&v)?;
        through_k8s_pb::<_, pb_core::ConfigMapList>(&v)?;
    }

    #[test]
    fn garbage_is_an_error_not_a_panic(bytes in vec(any::<u8>(), 0..256)) {
        let _ = ConfigMap::decode(&bytes);
        let _ = Event::decode(&bytes);
        let _ = kapi_generated::proto::Unknown::decode(&bytes);
    }
}

// ------------------------------------------------------------ byte equality

fn full_config_map() -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some("cm".into()),
            generate_name: Some("c-".into()),
            namespace: Some("default".into()),
            self_link: Some("/x".into()),
            uid: Some("1234".into()),
            resource_version: Some("42".into()),
            generation: Some(3),
            creation_timestamp: Some("2024-05-01T10:00:00Z".into()),
            deletion_timestamp: Some("2024-05-02T10:00:00Z".into()),
            deletion_grace_period_seconds: Some(30),
            labels: Some(BTreeMap::from([
                ("a".into(), "b".into()),
                ("c".into(), "d".into()),
            ])),
            annotations: Some(BTreeMap::from([("note".into(), "ünïcode".into())])),
            owner_references: Some(vec![OwnerReference {
                api_version: "v1".into(),
                kind: "Pod".into(),
                name: "p".into(),
                uid: "u".into(),
                controller: Some(true),
                block_owner_deletion: Some(false),
            }]),
            finalizers: Some(vec!["f".into()]),
            managed_fields: Some(vec![ManagedFieldsEntry {
                manager: Some("kubectl".into()),
                operation: Some("Update".into()),
                api_version: Some("v1".into()),
                time: Some("2024-05-01T10:00:00Z".into()),
                fields_type: Some("FieldsV1".into()),
                fields_v1: Some(serde_json::json!({"f:data": {"f:k": {}}})),
                subresource: Some("status".into()),
            }]),
        },
        data: Some(BTreeMap::from([("k".into(), "v".into())])),
        binary_data: Some(BTreeMap::from([("b".into(), "AAEC/w==".into())])),
        immutable: Some(true),
        ..Default::default()
    }
}

#[test]
fn kapi_bytes_equal_prost_bytes_for_a_full_object() {
    let ours = full_config_map().encode_to_vec();
    let theirs = <pb_core::ConfigMap as prost::Message>::decode(ours.as_slice()).unwrap();
    assert_eq!(prost::Message::encode_to_vec(&theirs), ours);
    let meta = theirs.metadata.as_ref().unwrap();
    assert_eq!(meta.name.as_deref(), Some("cm"));
    assert_eq!(
        meta.creation_timestamp.as_ref().unwrap().seconds,
        Some(1_714_557_600)
    );
    assert_eq!(theirs.binary_data["b"], vec![0, 1, 2, 255]);
    assert_eq!(
        meta.managed_fields[0]
            .fields_v1
            .as_ref()
            .unwrap()
            .raw
            .as_deref(),
        Some(br#"{"f:data":{"f:k":{}}}"#.as_slice())
    );
}

#[test]
fn prost_bytes_decode_in_kapi() {
    let theirs = pb_core::Secret {
        metadata: Some(pb_meta::ObjectMeta {
            name: Some("s".into()),
            namespace: Some("ns".into()),
            creation_timestamp: Some(pb_meta::Time {
                seconds: Some(0),
                nanos: Some(0),
            }),
            labels: BTreeMap::from([("x".into(), "y".into())]),
            ..Default::default()
        }),
        data: BTreeMap::from([("password".into(), b"hunter2".to_vec())]),
        r#type: Some("Opaque".into()),
        immutable: Some(false),
        ..Default::default()
    };
    let bytes = prost::Message::encode_to_vec(&theirs);
    let ours = Secret::decode(&bytes).unwrap();
    assert_eq!(
        serde_json::to_value(&ours).unwrap(),
        serde_json::json!({
            "metadata": {"name": "s", "namespace": "ns", "labels": {"x": "y"},
                         "creationTimestamp": "1970-01-01T00:00:00Z"},
            "data": {"password": "aHVudGVyMg=="},
            "type": "Opaque",
            "immutable": false,
        })
    );
    // And what kapi writes back reads the same in k8s-pb.
    let again =
        <pb_core::Secret as prost::Message>::decode(ours.encode_to_vec().as_slice()).unwrap();
    assert_eq!(again.data, theirs.data);
    assert_eq!(again.r#type, theirs.r#type);
    assert_eq!(again.immutable, Some(false));
}

#[test]
fn unknown_fields_are_skipped() {
    let mut bytes = full_config_map().encode_to_vec();
    // Field 99 of every wire type: varint, fixed64, length-delimited, fixed32.
    bytes.extend_from_slice(&[0x98, 0x06, 0x01]);
    bytes.extend_from_slice(&[0x99, 0x06, 1, 2, 3, 4, 5, 6, 7, 8]);
    bytes.extend_from_slice(&[0x9a, 0x06, 0x02, b'h', b'i']);
    bytes.extend_from_slice(&[0x9d, 0x06, 1, 2, 3, 4]);
    assert_eq!(ConfigMap::decode(&bytes).unwrap(), full_config_map());
}

// ------------------------------------------------------------ CustomResourceDefinition

fn crd() -> kapi_generated::api::apiextensions::v1::CustomResourceDefinition {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": "widgets.example.com", "creationTimestamp": "2024-05-01T10:00:00Z"},
        "spec": {
            "group": "example.com",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget",
                      "listKind": "WidgetList", "shortNames": ["wd"], "categories": ["all"]},
            "scope": "Namespaced",
            "conversion": {"strategy": "Webhook", "webhook": {
                "conversionReviewVersions": ["v1"],
                "clientConfig": {"caBundle": "AAEC", "service": {"namespace": "ns", "name": "conv", "path": "/c", "port": 443}}}},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "deprecated": true, "deprecationWarning": "use v2",
                "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}},
                "additionalPrinterColumns": [{"name": "Size", "type": "integer", "jsonPath": ".spec.size", "priority": 1}],
                "selectableFields": [{"jsonPath": ".spec.color"}],
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "description": "A widget.",
                    "required": ["spec"],
                    "properties": {
                        "spec": {
                            "type": "object",
                            "properties": {
                                "size": {"type": "integer", "minimum": 0.0, "maximum": 10.0, "default": 1},
                                "color": {"type": "string", "enum": ["red", "green"], "pattern": "^[a-z]+$", "maxLength": 8},
                                "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
                                "extra": {"type": "object", "additionalProperties": {"type": "string"}},
                                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                                         "additionalProperties": false},
                                "port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]}
                            },
                            "x-kubernetes-validations": [{"rule": "self.size >= 0", "message": "size", "reason": "FieldValueInvalid", "optionalOldSelf": true}]
                        }
                    }
                }}
            }]
        },
        "status": {
            "acceptedNames": {"plural": "widgets", "kind": "Widget"},
            "storedVersions": ["v1"],
            "conditions": [{"type": "Established", "status": "True", "lastTransitionTime": "2024-05-01T10:00:00Z", "reason": "InitialNamesAccepted", "message": "ok"}]
        }
    }))
    .expect("a CRD")
}

#[test]
fn custom_resource_definition_round_trips_and_matches_k8s_pb() {
    use k8s_pb::apiextensions_apiserver::pkg::apis::apiextensions::v1 as pb_ext;
    let ours = crd();
    let bytes = ours.encode_to_vec();
    let back = kapi_generated::api::apiextensions::v1::CustomResourceDefinition::decode(&bytes)
        .expect("decode");
    assert_eq!(
        serde_json::to_value(&back).unwrap(),
        serde_json::to_value(&ours).unwrap()
    );
    let theirs = <pb_ext::CustomResourceDefinition as prost::Message>::decode(bytes.as_slice())
        .expect("k8s-pb reads kapi's CRD");
    let spec = theirs.spec.as_ref().unwrap();
    let v = &spec.versions[0];
    let schema = v
        .schema
        .as_ref()
        .unwrap()
        .open_apiv3_schema
        .as_ref()
        .unwrap();
    let size = &schema.properties["spec"].properties["size"];
    assert_eq!(size.maximum, Some(10.0));
    assert_eq!(
        size.default.as_ref().unwrap().raw.as_deref(),
        Some(b"1".as_slice())
    );
    let free = &schema.properties["spec"].properties["free"];
    assert_eq!(
        free.additional_properties.as_ref().unwrap().allows,
        Some(false)
    );
    let extra = &schema.properties["spec"].properties["extra"];
    let ap = extra.additional_properties.as_ref().unwrap();
    assert_eq!(ap.allows, Some(true));
    assert_eq!(
        ap.schema.as_ref().unwrap().r#type.as_deref(),
        Some("string")
    );
    let tags = &schema.properties["spec"].properties["tags"];
    assert_eq!(
        tags.items
            .as_ref()
            .unwrap()
            .schema
            .as_ref()
            .unwrap()
            .r#type
            .as_deref(),
        Some("string")
    );
    assert!(v.subresources.as_ref().unwrap().status.is_some());
    let cc = spec
        .conversion
        .as_ref()
        .unwrap()
        .webhook
        .as_ref()
        .unwrap()
        .client_config
        .as_ref()
        .unwrap();
    assert_eq!(cc.ca_bundle.as_deref(), Some([0u8, 1, 2].as_slice()));
    assert_eq!(cc.service.as_ref().unwrap().port, Some(443));
    // Same bytes when prost writes them back, and kapi reads those the same.
    assert_eq!(prost::Message::encode_to_vec(&theirs), bytes);
}
