//! The authorizer the access reviews ask. kapi serves every request, so its
//! one authorizer allows everything — upstream's `AlwaysAllow` mode — and
//! says so in its reason.

use super::UserInfo;

/// What a request wants to do, as an authorizer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attributes {
    /// A verb on a resource.
    Resource {
        /// Namespace; empty for all (or a cluster-scoped resource).
        namespace: String,
        /// Verb.
        verb: String,
        /// API group.
        group: String,
        /// Resource (plural).
        resource: String,
        /// Subresource, if any.
        subresource: String,
        /// Object name; empty for all.
        name: String,
    },
    /// A verb on a path that is not a resource.
    NonResource {
        /// URL path.
        path: String,
        /// Lower-case HTTP verb.
        verb: String,
    },
}

/// An authorizer's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Allowed.
    pub allowed: bool,
    /// Explicitly denied (never together with `allowed`); neither: no opinion.
    pub denied: bool,
    /// Why.
    pub reason: String,
}

/// A rule listing what a user may do on resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRule {
    /// Verbs.
    pub verbs: Vec<String>,
    /// API groups.
    pub api_groups: Vec<String>,
    /// Resources.
    pub resources: Vec<String>,
    /// Object names; empty for all.
    pub resource_names: Vec<String>,
}

/// A rule listing what a user may do on paths that are not resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonResourceRule {
    /// Verbs.
    pub verbs: Vec<String>,
    /// Paths.
    pub non_resource_urls: Vec<String>,
}

/// The rules a user has in a namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// On resources.
    pub resource_rules: Vec<ResourceRule>,
    /// On other paths.
    pub non_resource_rules: Vec<NonResourceRule>,
    /// Whether the lists may miss rules.
    pub incomplete: bool,
}

/// Decides access (upstream's `authorizer.Authorizer` and `RuleResolver`).
pub trait Authorizer: Send + Sync {
    /// Whether `user` may do what `attrs` describe.
    fn authorize(&self, user: &UserInfo, attrs: &Attributes) -> Decision;
    /// Everything `user` may do in `namespace`.
    fn rules_for(&self, user: &UserInfo, namespace: &str) -> Rules;
}

/// Allows every request, as kapi serves every request.
#[derive(Debug, Clone, Copy, Default)]
pub struct AlwaysAllow;

/// The reason [`AlwaysAllow`] gives. Upstream's AlwaysAllow leaves the reason
/// empty; kapi says why, since nothing else would tell a client that no
/// authorization took place.
pub const ALWAYS_ALLOW_REASON: &str = "kapi authorizes every request: no authorizer is configured";

impl Authorizer for AlwaysAllow {
    fn authorize(&self, _user: &UserInfo, _attrs: &Attributes) -> Decision {
        Decision {
            allowed: true,
            denied: false,
            reason: ALWAYS_ALLOW_REASON.into(),
        }
    }

    fn rules_for(&self, _user: &UserInfo, _namespace: &str) -> Rules {
        let all = || vec!["*".to_string()];
        Rules {
            resource_rules: vec![ResourceRule {
                verbs: all(),
                api_groups: all(),
                resources: all(),
                resource_names: Vec::new(),
            }],
            non_resource_rules: vec![NonResourceRule {
                verbs: all(),
                non_resource_urls: all(),
            }],
            incomplete: false,
        }
    }
}
