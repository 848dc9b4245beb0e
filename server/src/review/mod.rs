//! Review kinds: create-only resources whose answer is computed, never
//! stored — upstream's `rest.Creater` storages without a getter or lister
//! (SelfSubjectAccessReview, SelfSubjectRulesReview, SubjectAccessReview,
//! LocalSubjectAccessReview, SelfSubjectReview, TokenReview).
//!
//! A kind declares `verbs: [create]` in its schema file as any other; what
//! makes it a review is a [`Review`] implementation here, which the installer
//! finds with [`storage_for`] and records as the kind's `create` handler in
//! place of a [`TypedStore`](crate::rest::store::TypedStore). The request
//! body is decoded like any create (type meta, unknown fields,
//! `fieldValidation`), its namespace is reconciled with the URL's as
//! upstream's create handler does, and [`Review::review`] validates it and
//! fills in the answer (201 Created). `dryRun` changes nothing: nothing is
//! written either way.
//!
//! kapi has no authentication or authorization yet, so every request is
//! served as upstream serves an unauthenticated request with anonymous
//! access enabled ([`UserInfo::anonymous`]) and judged by an allow-all
//! authorizer ([`authorizer::AlwaysAllow`]).

pub mod access;
pub mod authorizer;
pub mod subject;

use std::sync::Arc;

use async_trait::async_trait;
use kapi_generated::ApiResource;
use kapi_generated::resource::{StaticResource, verbs};
use serde_json::Value;

use crate::error::ApiError;
use crate::patch::PatchSchema;
use crate::patch::managed_fields;
use crate::rest::meta::now_rfc3339;
use crate::rest::store::decode_body;
use crate::rest::{Creater, RequestScope, Written};
use authorizer::Authorizer;

/// Who a request is made by, as an authenticator reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    /// The user name.
    pub name: String,
    /// The user's uid (empty when the authenticator has none).
    pub uid: String,
    /// The user's groups.
    pub groups: Vec<String>,
}

impl UserInfo {
    /// The user upstream gives a request without credentials when anonymous
    /// requests are enabled: `system:anonymous` in `system:unauthenticated`.
    /// kapi checks no credentials, so this is every request's user.
    pub fn anonymous() -> Self {
        UserInfo {
            name: "system:anonymous".into(),
            uid: String::new(),
            groups: vec!["system:unauthenticated".into()],
        }
    }

    /// The user of a request.
    pub fn of_request(_scope: &RequestScope) -> Self {
        Self::anonymous()
    }
}

/// What a review is computed with.
pub struct ReviewContext<'a> {
    /// The namespace from the URL (namespaced kinds only).
    pub namespace: Option<&'a str>,
    /// The requesting user.
    pub user: &'a UserInfo,
    /// The authorizer that decides access.
    pub authorizer: &'a dyn Authorizer,
}

/// A kind whose create computes an answer instead of storing the object.
pub trait Review: StaticResource + verbs::Create + Default {
    /// Validates the request and returns the answer (errors are upstream's:
    /// 422 with field causes, or 400).
    fn review(self, ctx: &ReviewContext<'_>) -> Result<Self, ApiError>;
}

/// The `create` handler of a review kind.
pub struct ReviewStore<K: Review> {
    authorizer: Arc<dyn Authorizer>,
    patch_schema: Option<Arc<PatchSchema>>,
    _kind: std::marker::PhantomData<fn() -> K>,
}

impl<K: Review> ReviewStore<K> {
    /// A handler answering with `authorizer`'s decisions.
    pub fn new(authorizer: Arc<dyn Authorizer>) -> Self {
        let r = K::resource();
        ReviewStore {
            authorizer,
            patch_schema: PatchSchema::for_kind(&r.group, &r.version, &r.kind),
            _kind: std::marker::PhantomData,
        }
    }

    /// Records the request's fields in managedFields, as upstream's create
    /// handler does for every create before the storage sees it: the fields
    /// that differ from an empty object become the manager's (operation
    /// Update). A review that echoes its request (the access reviews) echoes
    /// them too.
    fn track_fields(&self, scope: &RequestScope, obj: K) -> Result<K, ApiError> {
        let manager = managed_fields::manager_name(
            scope.field_manager.as_deref(),
            scope.user_agent.as_deref(),
        );
        let empty = serde_json::to_value(K::default()).map_err(ApiError::internal)?;
        let mut value = serde_json::to_value(&obj).map_err(ApiError::internal)?;
        let api_version = K::resource().api_version();
        let now = now_rfc3339();
        let entries = managed_fields::update(
            &empty,
            &value,
            &manager,
            &managed_fields::Write {
                schema: self.patch_schema.as_ref().map(|s| s.root()),
                api_version: &api_version,
                subresource: None,
                reset: &managed_fields::FieldSet::default(),
                now: &now,
            },
        );
        managed_fields::write(&mut value, &entries);
        serde_json::from_value(value).map_err(ApiError::internal)
    }
}

#[async_trait]
impl<K: Review> Creater for ReviewStore<K> {
    async fn create(&self, scope: &RequestScope, body: Value) -> Result<Written, ApiError> {
        let r = K::resource();
        let (mut obj, warnings) = decode_body::<K>(r, scope, body)?;
        reconcile_namespace(r, scope, obj.metadata_mut())?;
        let obj = self.track_fields(scope, obj)?;
        let user = UserInfo::of_request(scope);
        let ctx = ReviewContext {
            namespace: scope.namespace.as_deref(),
            user: &user,
            authorizer: self.authorizer.as_ref(),
        };
        let mut answer = obj.review(&ctx)?;
        answer.set_type_meta(r.api_version(), r.kind.clone());
        let mut object = serde_json::to_value(&answer).map_err(ApiError::internal)?;
        // Upstream's ObjectMeta writes a zero creationTimestamp as null.
        if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.entry("creationTimestamp").or_insert(Value::Null);
        }
        Ok(Written {
            object,
            created: true,
            warnings,
        })
    }
}

/// The object's namespace against the URL's, as upstream's create handler
/// reconciles them: an empty one takes the URL's, a cluster-scoped kind drops
/// it, a different one is a 400.
fn reconcile_namespace(
    r: &ApiResource,
    scope: &RequestScope,
    meta: &mut kapi_generated::api::meta::v1::ObjectMeta,
) -> Result<(), ApiError> {
    let expected = if r.namespaced() {
        scope.namespace.clone().unwrap_or_default()
    } else {
        String::new()
    };
    let actual = meta.namespace.clone().unwrap_or_default();
    if actual == expected {
        return Ok(());
    }
    if actual.is_empty() || expected.is_empty() {
        meta.namespace = Some(expected).filter(|n| !n.is_empty());
        return Ok(());
    }
    Err(ApiError::bad_request(
        "the namespace of the provided object does not match the namespace sent on the request",
    ))
}

/// Builds the handler of one review kind.
type MakeStore = fn(Arc<dyn Authorizer>) -> Arc<dyn Creater>;

fn make<K: Review>(authorizer: Arc<dyn Authorizer>) -> Arc<dyn Creater> {
    Arc::new(ReviewStore::<K>::new(authorizer))
}

/// Every review kind and how its handler is built.
fn kinds() -> [(&'static ApiResource, MakeStore); 6] {
    use kapi_generated::api::authentication::v1 as authn;
    use kapi_generated::api::authorization::v1 as authz;
    [
        (
            authz::SelfSubjectAccessReview::resource(),
            make::<authz::SelfSubjectAccessReview>,
        ),
        (
            authz::SelfSubjectRulesReview::resource(),
            make::<authz::SelfSubjectRulesReview>,
        ),
        (
            authz::SubjectAccessReview::resource(),
            make::<authz::SubjectAccessReview>,
        ),
        (
            authz::LocalSubjectAccessReview::resource(),
            make::<authz::LocalSubjectAccessReview>,
        ),
        (
            authn::SelfSubjectReview::resource(),
            make::<authn::SelfSubjectReview>,
        ),
        (authn::TokenReview::resource(), make::<authn::TokenReview>),
    ]
}

fn same_kind(a: &ApiResource, b: &ApiResource) -> bool {
    a.group == b.group && a.version == b.version && a.kind == b.kind
}

/// Every review kind.
pub fn resources() -> impl Iterator<Item = &'static ApiResource> {
    kinds().into_iter().map(|(r, _)| r)
}

/// The computing `create` handler of `r` (answering with kapi's allow-all
/// authorizer), if `r` is a review kind.
pub fn storage_for(r: &ApiResource) -> Option<Arc<dyn Creater>> {
    let (_, make) = kinds().into_iter().find(|(k, _)| same_kind(k, r))?;
    Some(make(Arc::new(authorizer::AlwaysAllow)))
}

/// Whether `r` is a review kind (nothing of it is ever stored).
pub fn is_review(r: &ApiResource) -> bool {
    kinds().iter().any(|(k, _)| same_kind(k, r))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::rest::install::RegistryBuilder;
    use crate::storage::embedded::EmbeddedStore;

    fn registry() -> crate::rest::install::Registry {
        let store = EmbeddedStore::open_in_memory().expect("in-memory store");
        let mut b = RegistryBuilder::new(Arc::new(store));
        b.add_generated();
        b.build()
    }

    #[test]
    fn review_kinds_are_installed_create_only() {
        let reg = registry();
        for r in resources() {
            let ep = reg
                .lookup(&r.group, &r.version, &r.plural)
                .unwrap_or_else(|| panic!("{} is served", r.plural));
            assert_eq!(ep.verbs(), ["create"], "{}", r.plural);
            assert!(is_review(&ep.resource));
        }
        let cm = reg.lookup("", "v1", "configmaps").expect("configmaps");
        assert!(!is_review(&cm.resource));
        assert!(cm.getter.is_some());
        // Nothing of a review kind is stored, so deleting a namespace has no
        // prefix of theirs to clean.
        let prefixes = reg.namespace_content().load();
        assert!(
            prefixes.iter().all(|p| !p.contains("subjectaccessreviews")),
            "{prefixes:?}"
        );
    }

    #[tokio::test]
    async fn access_review_is_answered_not_stored() {
        let reg = registry();
        let ep = reg
            .lookup("authorization.k8s.io", "v1", "selfsubjectaccessreviews")
            .expect("served");
        let creater = ep.creater.as_ref().expect("create");
        let scope = RequestScope::default();
        let w = creater
            .create(
                &scope,
                json!({"spec": {"resourceAttributes": {"verb": "get", "resource": "pods"}}}),
            )
            .await
            .expect("answered");
        assert!(w.created);
        assert_eq!(w.object["kind"], "SelfSubjectAccessReview");
        assert_eq!(w.object["status"]["allowed"], true);
        assert_eq!(
            w.object["status"]["reason"],
            authorizer::ALWAYS_ALLOW_REASON
        );
        // No user agent, no field manager: upstream's manager `unknown`
        // (buildmanagerinfo.go).
        assert_eq!(
            w.object["metadata"]["managedFields"][0]["manager"],
            "unknown"
        );
    }

    #[test]
    fn namespaces_are_reconciled_as_upstream() {
        let ssar = kapi_generated::api::authorization::v1::SelfSubjectAccessReview::resource();
        let lsar = kapi_generated::api::authorization::v1::LocalSubjectAccessReview::resource();
        let scope = RequestScope {
            namespace: Some("default".into()),
            ..Default::default()
        };
        let mut meta = kapi_generated::api::meta::v1::ObjectMeta {
            namespace: Some("x".into()),
            ..Default::default()
        };
        // Cluster-scoped: the namespace is dropped.
        reconcile_namespace(ssar, &RequestScope::default(), &mut meta).expect("ok");
        assert_eq!(meta.namespace, None);
        // Namespaced: an empty one takes the URL's, another one is a 400.
        reconcile_namespace(lsar, &scope, &mut meta).expect("ok");
        assert_eq!(meta.namespace.as_deref(), Some("default"));
        meta.namespace = Some("other".into());
        let e = reconcile_namespace(lsar, &scope, &mut meta).expect_err("mismatch");
        assert_eq!(e.status().code, Some(400));
    }

    #[test]
    fn the_requesting_user_is_anonymous() {
        let u = UserInfo::of_request(&RequestScope::default());
        assert_eq!(u.name, "system:anonymous");
        assert_eq!(u.groups, ["system:unauthenticated"]);
        assert!(u.uid.is_empty());
    }
}
