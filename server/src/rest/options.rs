//! Request options: the scope of a request (namespace, dry run, field
//! manager, field validation, subresource), list/watch options, delete
//! options and patch bodies, parsed from the query string as upstream does.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::{ApiError, FieldError};
use crate::selector::{FieldSelector, LabelSelector};

/// How to treat unknown and duplicate fields in a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldValidation {
    /// Drop them silently.
    Ignore,
    /// Drop them and say so in `Warning` headers (the default).
    #[default]
    Warn,
    /// Refuse the request.
    Strict,
}

impl FieldValidation {
    /// What the body's unknown or duplicate fields (`problems`, as
    /// `unknown field "x"`) make of a request for `kind` in `version`:
    /// nothing, `Warning`s, or upstream's 400 strict decoding error.
    pub fn judge(
        self,
        problems: Vec<String>,
        kind: &str,
        version: &str,
    ) -> Result<Vec<String>, ApiError> {
        match self {
            FieldValidation::Ignore => Ok(Vec::new()),
            FieldValidation::Warn => Ok(problems),
            FieldValidation::Strict if problems.is_empty() => Ok(Vec::new()),
            FieldValidation::Strict => Err(ApiError::bad_request(format!(
                "{kind} in version \"{version}\" cannot be handled as a {kind}: strict decoding error: {}",
                problems.join(", ")
            ))),
        }
    }
}

/// A subresource being addressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subresource {
    /// `/status`.
    Status,
    /// `/scale` (its writes update the main resource).
    Scale,
}

impl Subresource {
    /// The name in URLs and in managedFields entries.
    pub fn name(self) -> &'static str {
        match self {
            Subresource::Status => "status",
            Subresource::Scale => "scale",
        }
    }
}

/// What every request carries besides its body.
#[derive(Debug, Clone, Default)]
pub struct RequestScope {
    /// The namespace from the URL, for namespaced resources.
    pub namespace: Option<String>,
    /// `dryRun=All`.
    pub dry_run: bool,
    /// `fieldManager`.
    pub field_manager: Option<String>,
    /// `fieldValidation`.
    pub field_validation: FieldValidation,
    /// The subresource addressed, if any.
    pub subresource: Option<Subresource>,
    /// The `User-Agent` header (the default field manager of updates).
    pub user_agent: Option<String>,
    /// Fields repeated in the request body (for `fieldValidation`).
    pub duplicate_fields: Vec<String>,
    /// `resourceVersion` of a GET: unset is a consistent read, `0` any
    /// state (the watch cache's), `N` a state not older than N.
    pub resource_version: Option<String>,
}

/// `resourceVersionMatch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceVersionMatch {
    /// `NotOlderThan`.
    NotOlderThan,
    /// `Exact`.
    Exact,
}

/// List and watch options.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// `labelSelector`.
    pub label_selector: LabelSelector,
    /// `fieldSelector`.
    pub field_selector: FieldSelector,
    /// `limit` (0: no limit).
    pub limit: usize,
    /// `continue`.
    pub continue_token: Option<String>,
    /// `resourceVersion`.
    pub resource_version: Option<String>,
    /// `resourceVersionMatch`.
    pub resource_version_match: Option<ResourceVersionMatch>,
    /// `watch`.
    pub watch: bool,
    /// `allowWatchBookmarks`.
    pub allow_watch_bookmarks: bool,
    /// `sendInitialEvents`.
    pub send_initial_events: Option<bool>,
    /// `timeoutSeconds`.
    pub timeout_seconds: Option<u64>,
}

/// The query string, decoded.
#[derive(Debug, Clone, Default)]
pub struct Query(BTreeMap<String, String>);

impl Query {
    /// Decodes `a=b&c=d`.
    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = match raw {
            Some(q) => serde_urlencoded::from_str(q)
                .map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))?,
            None => Vec::new(),
        };
        Ok(Query(pairs.into_iter().collect()))
    }

    /// A parameter's value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|s| s.as_str())
    }

    fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some("true") | Some("1") | Some("True") => Ok(Some(true)),
            Some("false") | Some("0") | Some("False") | Some("") => Ok(Some(false)),
            Some(other) => Err(ApiError::bad_request(format!(
                "invalid value for {key}: {other:?}"
            ))),
        }
    }

    /// The request scope's query-string part.
    pub fn scope(&self) -> Result<RequestScope, ApiError> {
        let dry_run = match self.get("dryRun") {
            None | Some("") => false,
            Some("All") => true,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "Invalid dryRun value: {other:?}; only \"All\" is supported"
                )));
            }
        };
        let field_validation = match self.get("fieldValidation") {
            None | Some("") => FieldValidation::Warn,
            Some("Ignore") => FieldValidation::Ignore,
            Some("Warn") => FieldValidation::Warn,
            Some("Strict") => FieldValidation::Strict,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "fieldValidation must be one of Ignore, Warn or Strict, got {other:?}"
                )));
            }
        };
        let field_manager = self.get("fieldManager").map(str::to_string);
        if let Some(m) = &field_manager
            && (m.chars().count() > 128 || m.chars().any(|c| c.is_control()))
        {
            return Err(ApiError::invalid_options(vec![FieldError::invalid(
                "fieldManager",
                m,
                "must be no more than 128 printable characters",
            )]));
        }
        Ok(RequestScope {
            namespace: None,
            dry_run,
            field_manager,
            field_validation,
            subresource: None,
            user_agent: None,
            duplicate_fields: Vec::new(),
            resource_version: self
                .get("resourceVersion")
                .filter(|v| !v.is_empty())
                .map(str::to_string),
        })
    }

    /// List and watch options.
    pub fn list_options(&self) -> Result<ListOptions, ApiError> {
        let label_selector = LabelSelector::parse(self.get("labelSelector").unwrap_or(""))?;
        let field_selector = FieldSelector::parse(self.get("fieldSelector").unwrap_or(""))?;
        let limit = match self.get("limit") {
            None | Some("") => 0,
            Some(l) => l
                .parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("invalid limit {l:?}")))?
                .max(0) as usize,
        };
        let resource_version_match = match self.get("resourceVersionMatch") {
            None | Some("") => None,
            Some("NotOlderThan") => Some(ResourceVersionMatch::NotOlderThan),
            Some("Exact") => Some(ResourceVersionMatch::Exact),
            Some(other) => {
                return Err(ApiError::invalid_options(vec![FieldError::not_supported(
                    "resourceVersionMatch",
                    other,
                    &["Exact", "NotOlderThan", ""],
                )]));
            }
        };
        let timeout_seconds = match self.get("timeoutSeconds") {
            None | Some("") => None,
            Some(t) => Some(
                t.parse::<i64>()
                    .map_err(|_| ApiError::bad_request(format!("invalid timeoutSeconds {t:?}")))?
                    .max(0) as u64,
            ),
        };
        let resource_version = self
            .get("resourceVersion")
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        if let Some(rv) = &resource_version
            && rv.parse::<u64>().is_err()
        {
            return Err(ApiError::bad_request(format!(
                "invalid resource version: {rv:?}"
            )));
        }
        Ok(ListOptions {
            label_selector,
            field_selector,
            limit,
            continue_token: self
                .get("continue")
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            resource_version,
            resource_version_match,
            watch: self.bool("watch")?.unwrap_or(false),
            allow_watch_bookmarks: self.bool("allowWatchBookmarks")?.unwrap_or(false),
            send_initial_events: self.bool("sendInitialEvents")?,
            timeout_seconds,
        })
    }
}

impl ListOptions {
    /// Checks the combinations upstream refuses (`validateWatchOptions`, list options validation).
    pub fn validate(&self) -> Result<(), ApiError> {
        let mut errors = Vec::new();
        if self.watch {
            match (self.send_initial_events, self.resource_version_match) {
                (Some(_), Some(ResourceVersionMatch::NotOlderThan)) => {}
                (Some(_), _) => errors.push(FieldError::forbidden(
                    "resourceVersionMatch",
                    "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                )),
                (None, Some(_)) => errors.push(FieldError::forbidden(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
                )),
                (None, None) => {}
            }
        } else {
            if self.send_initial_events.is_some() {
                errors.push(FieldError::forbidden(
                    "sendInitialEvents",
                    "sendInitialEvents is forbidden for list",
                ));
            }
            if self.resource_version_match.is_some() && self.resource_version.is_none() {
                errors.push(FieldError::forbidden(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden unless resourceVersion is provided",
                ));
            }
            if self.continue_token.is_some() && self.resource_version_match.is_some() {
                errors.push(FieldError::forbidden(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden when continue is provided",
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid_options(errors))
        }
    }
}

/// `DeleteOptions`, from the body or the query string.
#[derive(Debug, Clone, Default)]
pub struct DeleteOpts {
    /// `preconditions.uid`.
    pub precondition_uid: Option<String>,
    /// `preconditions.resourceVersion`.
    pub precondition_resource_version: Option<String>,
    /// `propagationPolicy`.
    pub propagation_policy: Option<String>,
    /// `gracePeriodSeconds`.
    pub grace_period_seconds: Option<i64>,
    /// `orphanDependents` (deprecated; there is no garbage collector to act on it).
    pub orphan_dependents: Option<bool>,
    /// `dryRun: [All]` in the body (the query's `dryRun` is in the scope).
    pub dry_run: bool,
}

impl DeleteOpts {
    /// Reads a `DeleteOptions` body (possibly empty) and the query string.
    pub fn from_request(body: Option<Value>, query: &Query) -> Result<Self, ApiError> {
        let mut opts = DeleteOpts::default();
        if let Some(body) = body {
            let d: kapi_generated::api::meta::v1::DeleteOptions = serde_json::from_value(body)
                .map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions: {e}")))?;
            if let Some(p) = d.preconditions {
                opts.precondition_uid = p.uid;
                opts.precondition_resource_version = p.resource_version;
            }
            opts.propagation_policy = d.propagation_policy;
            opts.grace_period_seconds = d.grace_period_seconds;
            opts.orphan_dependents = d.orphan_dependents;
            // kubectl sends `delete --dry-run=server` as `dryRun: [All]` in the body.
            match d.dry_run.as_deref() {
                None | Some([]) => {}
                Some([one]) if one == "All" => opts.dry_run = true,
                Some(other) => {
                    return Err(ApiError::bad_request(format!(
                        "Invalid dryRun value: {other:?}; only \"All\" is supported"
                    )));
                }
            }
        }
        if let Some(p) = query.get("propagationPolicy") {
            opts.propagation_policy = Some(p.to_string());
        }
        if let Some(o) = query.bool("orphanDependents")? {
            opts.orphan_dependents = Some(o);
        }
        if let Some(g) = query.get("gracePeriodSeconds") {
            opts.grace_period_seconds =
                Some(g.parse().map_err(|_| {
                    ApiError::bad_request(format!("invalid gracePeriodSeconds {g:?}"))
                })?);
        }
        if let (Some(p), Some(_)) = (&opts.propagation_policy, opts.orphan_dependents) {
            // Upstream's ValidateDeleteOptions: the deprecated flag and the policy exclude each other.
            return Err(ApiError::invalid(
                "DeleteOptions",
                "meta.k8s.io",
                "",
                vec![FieldError::invalid(
                    "propagationPolicy",
                    p,
                    "orphanDependents and deletionPropagation cannot be both set",
                )],
            ));
        }
        if let Some(p) = &opts.propagation_policy
            && !["Orphan", "Background", "Foreground"].contains(&p.as_str())
        {
            return Err(ApiError::invalid(
                "DeleteOptions",
                "meta.k8s.io",
                "",
                vec![FieldError::not_supported(
                    "propagationPolicy",
                    p,
                    &["Foreground", "Background", "Orphan", "nil"],
                )],
            ));
        }
        Ok(opts)
    }
}

/// A patch's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// RFC 6902, `application/json-patch+json`.
    Json,
    /// RFC 7386, `application/merge-patch+json`.
    Merge,
    /// `application/strategic-merge-patch+json`.
    StrategicMerge,
    /// Server-side apply, `application/apply-patch+yaml`.
    Apply,
}

impl PatchType {
    /// From a Content-Type's media type.
    pub fn from_media_type(m: &str) -> Option<Self> {
        match m {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::StrategicMerge),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => {
                Some(PatchType::Apply)
            }
            _ => None,
        }
    }
}

/// A patch request's body.
#[derive(Debug, Clone)]
pub struct PatchBody {
    /// Its format.
    pub type_: PatchType,
    /// Its content.
    pub patch: Value,
    /// `force` (server-side apply).
    pub force: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(body: Value, query: &str) -> Result<DeleteOpts, ApiError> {
        DeleteOpts::from_request(Some(body), &Query::parse(Some(query))?)
    }

    #[test]
    fn delete_options_dry_run_from_the_body() {
        let o = opts(serde_json::json!({"dryRun": ["All"]}), "").expect("valid");
        assert!(o.dry_run);
        let o = opts(serde_json::json!({"propagationPolicy": "Background"}), "").expect("valid");
        assert!(!o.dry_run);
        let e = opts(serde_json::json!({"dryRun": ["Some"]}), "").expect_err("invalid");
        assert_eq!(e.code, 400);
    }

    #[test]
    fn orphan_dependents_excludes_propagation_policy() {
        let e = opts(
            serde_json::json!({"orphanDependents": false}),
            "propagationPolicy=Foreground",
        )
        .expect_err("both set");
        assert_eq!(e.code, 422);
        assert!(
            e.message
                .ends_with("propagationPolicy: Invalid value: \"Foreground\": orphanDependents and deletionPropagation cannot be both set"),
            "{}",
            e.message
        );
        let o = opts(serde_json::json!({"orphanDependents": true}), "").expect("alone is fine");
        assert_eq!(o.orphan_dependents, Some(true));
    }
}
