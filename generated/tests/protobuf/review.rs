//! Protobuf of the review kinds (authorization.k8s.io/v1,
//! authentication.k8s.io/v1): random round trips, and cross-checks against
//! kube-rs's `k8s-pb` (prost types from upstream's .proto files), including
//! the `map<string, ExtraValue>` fields (`extra`), whose values are
//! `{repeated string items = 1}` messages.

use std::collections::BTreeMap;

use kapi_generated::api::authentication::v1::{
    SelfSubjectReview, SelfSubjectReviewStatus, TokenReview, TokenReviewSpec, TokenReviewStatus,
    UserInfo,
};
use kapi_generated::api::authorization::v1::{
    FieldSelectorAttributes, LabelSelectorAttributes, LocalSubjectAccessReview,
    NonResourceAttributes, NonResourceRule, ResourceAttributes, ResourceRule,
    SelfSubjectAccessReview, SelfSubjectAccessReviewSpec, SelfSubjectRulesReview,
    SelfSubjectRulesReviewSpec, SubjectAccessReview, SubjectAccessReviewSpec,
    SubjectAccessReviewStatus, SubjectRulesReviewStatus,
};
use kapi_generated::api::meta::v1::{
    FieldSelectorRequirement, LabelSelectorRequirement, ObjectMeta,
};
use kapi_generated::proto::Message;
use proptest::collection::{btree_map, vec};
use proptest::option::of;
use proptest::prelude::*;

use k8s_pb::api::authentication::v1 as pb_authn;
use k8s_pb::api::authorization::v1 as pb_authz;

// Canonical values: plain (non-pointer) fields upstream are `None` rather than
// zero, lists and maps absent or non-empty.

fn word() -> impl Strategy<Value = String> {
    "[a-z0-9*/:][a-z0-9.:/*-]{0,11}"
}

fn opt_word() -> impl Strategy<Value = Option<String>> {
    of(word())
}

fn words() -> impl Strategy<Value = Option<Vec<String>>> {
    of(vec(word(), 1..3))
}

fn meta() -> impl Strategy<Value = ObjectMeta> {
    (opt_word(), opt_word()).prop_map(|(name, namespace)| ObjectMeta {
        name,
        namespace,
        ..Default::default()
    })
}

fn extra() -> impl Strategy<Value = Option<BTreeMap<String, Vec<String>>>> {
    of(btree_map(word(), vec(word(), 0..3), 1..3))
}

prop_compose! {
    fn resource_attributes()(
        (namespace, verb, group, version, resource) in (opt_word(), opt_word(), opt_word(), opt_word(), opt_word()),
        (subresource, name) in (opt_word(), opt_word()),
        field in of((opt_word(), of(vec((word(), word(), words()), 1..3)))),
        label in of((opt_word(), of(vec((word(), word(), words()), 1..3)))),
    ) -> ResourceAttributes {
        ResourceAttributes {
            namespace, verb, group, version, resource, subresource, name,
            field_selector: field.map(|(raw_selector, reqs)| FieldSelectorAttributes {
                raw_selector,
                requirements: reqs.map(|r| r.into_iter().map(|(key, operator, values)| FieldSelectorRequirement { key, operator, values }).collect()),
            }),
            label_selector: label.map(|(raw_selector, reqs)| LabelSelectorAttributes {
                raw_selector,
                requirements: reqs.map(|r| r.into_iter().map(|(key, operator, values)| LabelSelectorRequirement { key, operator, values }).collect()),
            }),
        }
    }
}

fn non_resource_attributes() -> impl Strategy<Value = NonResourceAttributes> {
    (opt_word(), opt_word()).prop_map(|(path, verb)| NonResourceAttributes { path, verb })
}

fn access_status() -> impl Strategy<Value = SubjectAccessReviewStatus> {
    (any::<bool>(), of(Just(true)), opt_word(), opt_word()).prop_map(
        |(allowed, denied, reason, evaluation_error)| SubjectAccessReviewStatus {
            allowed,
            denied,
            reason,
            evaluation_error,
        },
    )
}

prop_compose! {
    fn self_subject_access_review()(
        metadata in meta(),
        r in of(resource_attributes()),
        n in of(non_resource_attributes()),
        status in access_status(),
    ) -> SelfSubjectAccessReview {
        SelfSubjectAccessReview {
            metadata,
            spec: SelfSubjectAccessReviewSpec { resource_attributes: r, non_resource_attributes: n },
            status,
            ..Default::default()
        }
    }
}

prop_compose! {
    fn subject_access_review_spec()(
        r in of(resource_attributes()),
        n in of(non_resource_attributes()),
        (user, groups, extra, uid) in (opt_word(), words(), extra(), opt_word()),
    ) -> SubjectAccessReviewSpec {
        SubjectAccessReviewSpec {
            resource_attributes: r, non_resource_attributes: n, user, groups, extra, uid,
        }
    }
}

prop_compose! {
    fn subject_access_review()(
        metadata in meta(), spec in subject_access_review_spec(), status in access_status(),
    ) -> SubjectAccessReview {
        SubjectAccessReview { metadata, spec, status, ..Default::default() }
    }
}

prop_compose! {
    fn self_subject_rules_review()(
        metadata in meta(),
        namespace in opt_word(),
        rules in vec((vec(word(), 0..3), words(), words(), words()), 0..3),
        non_resource in vec((vec(word(), 0..3), words()), 0..3),
        incomplete in any::<bool>(),
        evaluation_error in opt_word(),
    ) -> SelfSubjectRulesReview {
        SelfSubjectRulesReview {
            metadata,
            spec: SelfSubjectRulesReviewSpec { namespace },
            status: SubjectRulesReviewStatus {
                resource_rules: rules.into_iter().map(|(verbs, api_groups, resources, resource_names)| ResourceRule { verbs, api_groups, resources, resource_names }).collect(),
                non_resource_rules: non_resource.into_iter().map(|(verbs, non_resource_urls)| NonResourceRule { verbs, non_resource_urls }).collect(),
                incomplete,
                evaluation_error,
            },
            ..Default::default()
        }
    }
}

fn user_info() -> impl Strategy<Value = UserInfo> {
    (opt_word(), opt_word(), words(), extra()).prop_map(|(username, uid, groups, extra)| UserInfo {
        username,
        uid,
        groups,
        extra,
    })
}

prop_compose! {
    fn token_review()(
        metadata in meta(),
        (token, audiences) in (word(), words()),
        (status_audiences, authenticated, error, user) in (words(), of(Just(true)), opt_word(), user_info()),
    ) -> TokenReview {
        TokenReview {
            metadata,
            spec: TokenReviewSpec { token, audiences },
            status: TokenReviewStatus { audiences: status_audiences, authenticated, error, user },
            ..Default::default()
        }
    }
}

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
    let back = M::decode(&theirs.encode_to_vec())
        .map_err(|e| TestCaseError::fail(format!("kapi cannot read prost's bytes: {e}")))?;
    prop_assert_eq!(&back, v);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn self_subject_access_review_round_trips(v in self_subject_access_review()) {
        round_trip(&v)?;
        through_k8s_pb::<_, pb_authz::SelfSubjectAccessReview>(&v)?;
    }

    #[test]
    fn subject_access_review_round_trips(v in subject_access_review()) {
        round_trip(&v)?;
        through_k8s_pb::<_, pb_authz::SubjectAccessReview>(&v)?;
        let local = LocalSubjectAccessReview {
            metadata: v.metadata.clone(), spec: v.spec.clone(), status: v.status.clone(),
            ..Default::default()
        };
        round_trip(&local)?;
        through_k8s_pb::<_, pb_authz::LocalSubjectAccessReview>(&local)?;
    }

    #[test]
    fn self_subject_rules_review_round_trips(v in self_subject_rules_review()) {
        round_trip(&v)?;
        through_k8s_pb::<_, pb_authz::SelfSubjectRulesReview>(&v)?;
    }

    #[test]
    fn self_subject_review_round_trips(metadata in meta(), user_info in user_info()) {
        let v = SelfSubjectReview {
            metadata,
            status: SelfSubjectReviewStatus { user_info },
            ..Default::default()
        };
        round_trip(&v)?;
        through_k8s_pb::<_, pb_authn::SelfSubjectReview>(&v)?;
    }

    #[test]
    fn token_review_round_trips(v in token_review()) {
        round_trip(&v)?;
        through_k8s_pb::<_, pb_authn::TokenReview>(&v)?;
    }
}

/// A k8s-pb SubjectAccessReview with `extra` values (one empty), encoded by
/// prost, decodes in kapi to the JSON its fields say, and back.
#[test]
fn extra_values_cross_check_with_prost() {
    let theirs = pb_authz::SubjectAccessReview {
        metadata: None,
        spec: Some(pb_authz::SubjectAccessReviewSpec {
            resource_attributes: Some(pb_authz::ResourceAttributes {
                namespace: Some("default".into()),
                verb: Some("get".into()),
                resource: Some("pods".into()),
                ..Default::default()
            }),
            non_resource_attributes: None,
            user: Some("alice".into()),
            groups: vec!["dev".into(), "ops".into()],
            extra: BTreeMap::from([
                (
                    "scopes".into(),
                    pb_authz::ExtraValue {
                        items: vec!["a".into(), "b".into()],
                    },
                ),
                ("empty".into(), pb_authz::ExtraValue { items: vec![] }),
            ]),
            uid: Some("u-1".into()),
        }),
        status: Some(pb_authz::SubjectAccessReviewStatus {
            allowed: Some(true),
            denied: Some(false),
            reason: Some("why".into()),
            evaluation_error: Some(String::new()),
        }),
    };
    let bytes = prost::Message::encode_to_vec(&theirs);
    let ours = SubjectAccessReview::decode(&bytes).expect("kapi decodes prost's bytes");
    let json = serde_json::to_value(&ours).expect("JSON");
    assert_eq!(
        json["spec"]["extra"],
        serde_json::json!({"empty": [], "scopes": ["a", "b"]})
    );
    assert_eq!(json["spec"]["groups"], serde_json::json!(["dev", "ops"]));
    assert_eq!(json["spec"]["resourceAttributes"]["verb"], "get");
    assert_eq!(json["status"]["allowed"], true);
    assert_eq!(json["status"]["reason"], "why");
    // And back: prost reads kapi's bytes to the same user, groups and extra
    // (kapi writes plain fields and empty ExtraValues as Go does; prost
    // reads them as empty values).
    let back: pb_authz::SubjectAccessReview =
        prost::Message::decode(ours.encode_to_vec().as_slice())
            .expect("prost decodes kapi's bytes");
    let (spec, want) = (back.spec.expect("spec"), theirs.spec.expect("spec"));
    assert_eq!(spec.extra, want.extra);
    assert_eq!(spec.groups, want.groups);
    assert_eq!(spec.user, want.user);
    assert_eq!(spec.uid, want.uid);
    assert_eq!(back.status.and_then(|s| s.allowed), Some(true));
}
