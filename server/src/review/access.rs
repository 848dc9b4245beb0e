//! Access reviews (`authorization.k8s.io/v1`): SelfSubjectAccessReview,
//! SubjectAccessReview, LocalSubjectAccessReview ask the authorizer about one
//! action; SelfSubjectRulesReview lists the requesting user's rules. Each
//! validates as upstream (1.33) does and answers with the request and its
//! status, or for rules a fresh object with only the status.

use kapi_generated::api::authorization::v1::{
    FieldSelectorAttributes, LabelSelectorAttributes, LocalSubjectAccessReview,
    NonResourceAttributes, NonResourceRule, ResourceAttributes, ResourceRule,
    SelfSubjectAccessReview, SelfSubjectRulesReview, SubjectAccessReview, SubjectAccessReviewSpec,
    SubjectAccessReviewStatus, SubjectRulesReviewStatus,
};
use kapi_generated::api::meta::v1::ObjectMeta;

use super::authorizer::{Attributes, Decision};
use super::{Review, ReviewContext, UserInfo};
use crate::error::{ApiError, FieldError};

const GROUP: &str = "authorization.k8s.io";

/// Upstream reports validation errors of these kinds with an empty kind (the
/// decoded internal object carries none): `.authorization.k8s.io "" is invalid`.
fn invalid(errors: Vec<FieldError>) -> Result<(), ApiError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid("", GROUP, "", errors))
    }
}

/// A bad value as upstream prints it: a nil pointer is `"null"`; a struct is
/// shown here as its JSON (upstream prints Go syntax).
fn shown<T: serde::Serialize>(v: Option<&T>) -> String {
    match v {
        None => "\"null\"".into(),
        Some(v) => serde_json::to_string(v).unwrap_or_default(),
    }
}

/// Exactly one of the two attribute sets (upstream's ValidateSelfSubjectAccessReviewSpec
/// and the first part of ValidateSubjectAccessReviewSpec).
fn validate_attributes(
    resource: Option<&ResourceAttributes>,
    non_resource: Option<&NonResourceAttributes>,
    errors: &mut Vec<FieldError>,
) {
    match (resource, non_resource) {
        (Some(_), Some(n)) => errors.push(FieldError::invalid_raw(
            "spec.nonResourceAttributes",
            &shown(Some(n)),
            "cannot be specified in combination with resourceAttributes",
        )),
        (None, None) => errors.push(FieldError::invalid_raw(
            "spec.resourceAttributes",
            &shown::<NonResourceAttributes>(None),
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )),
        _ => {}
    }
    if let Some(r) = resource {
        let at = "spec.resourceAttributes";
        if let Some(s) = &r.field_selector {
            validate_field_selector(s, &format!("{at}.fieldSelector"), errors);
        }
        if let Some(s) = &r.label_selector {
            validate_label_selector(s, &format!("{at}.labelSelector"), errors);
        }
    }
}

fn validate_selector_shape(
    raw: Option<&str>,
    requirements: usize,
    at: &str,
    errors: &mut Vec<FieldError>,
) {
    let raw = raw.unwrap_or_default();
    if !raw.is_empty() && requirements > 0 {
        errors.push(FieldError::invalid(
            &format!("{at}.rawSelector"),
            raw,
            "may not specified at the same time as requirements",
        ));
    }
    if raw.is_empty() && requirements == 0 {
        errors.push(FieldError::required(
            &format!("{at}.requirements"),
            &format!("when {at} is specified, requirements or rawSelector is required"),
        ));
    }
}

/// In/NotIn need values, Exists/DoesNotExist forbid them; other operators
/// pass (upstream allows operators it does not know in access reviews).
fn validate_operator(operator: &str, values: usize, at: &str, errors: &mut Vec<FieldError>) {
    match operator {
        "In" | "NotIn" if values == 0 => errors.push(FieldError::required(
            &format!("{at}.values"),
            "must be specified when `operator` is 'In' or 'NotIn'",
        )),
        "Exists" | "DoesNotExist" if values > 0 => errors.push(FieldError::forbidden(
            &format!("{at}.values"),
            "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        )),
        _ => {}
    }
}

fn validate_field_selector(s: &FieldSelectorAttributes, at: &str, errors: &mut Vec<FieldError>) {
    let reqs = s.requirements.as_deref().unwrap_or_default();
    validate_selector_shape(s.raw_selector.as_deref(), reqs.len(), at, errors);
    for (i, r) in reqs.iter().enumerate() {
        let at = format!("{at}.requirements[{i}]");
        let values = r.values.as_ref().map_or(0, Vec::len);
        validate_operator(&r.operator, values, &at, errors);
        if r.key.is_empty() {
            errors.push(FieldError::required(
                &format!("{at}.key"),
                "must be specified",
            ));
        }
    }
}

fn validate_label_selector(s: &LabelSelectorAttributes, at: &str, errors: &mut Vec<FieldError>) {
    let reqs = s.requirements.as_deref().unwrap_or_default();
    validate_selector_shape(s.raw_selector.as_deref(), reqs.len(), at, errors);
    for (i, r) in reqs.iter().enumerate() {
        let at = format!("{at}.requirements[{i}]");
        let values = r.values.as_ref().map_or(0, Vec::len);
        validate_operator(&r.operator, values, &at, errors);
        for e in crate::rest::meta::qualified_name_errors(&r.key) {
            errors.push(FieldError::invalid(&format!("{at}.key"), &r.key, &e));
        }
    }
}

/// Metadata must be empty but for managedFields (and, for a local review,
/// its namespace).
fn validate_empty_meta(meta: &ObjectMeta, keep_namespace: bool, errors: &mut Vec<FieldError>) {
    let mut rest = meta.clone();
    rest.managed_fields = None;
    if keep_namespace {
        rest.namespace = None;
    }
    if rest != ObjectMeta::default() {
        let detail = if keep_namespace {
            "must be empty except for namespace"
        } else {
            "must be empty"
        };
        errors.push(FieldError::invalid_raw(
            "metadata",
            &shown(Some(meta)),
            detail,
        ));
    }
}

fn attributes(
    resource: Option<&ResourceAttributes>,
    non_resource: Option<&NonResourceAttributes>,
) -> Attributes {
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    match (resource, non_resource) {
        (Some(r), _) => Attributes::Resource {
            namespace: s(&r.namespace),
            verb: s(&r.verb),
            group: s(&r.group),
            resource: s(&r.resource),
            subresource: s(&r.subresource),
            name: s(&r.name),
        },
        (None, Some(n)) => Attributes::NonResource {
            path: s(&n.path),
            verb: s(&n.verb),
        },
        // Validation ensures one of them.
        (None, None) => Attributes::NonResource {
            path: String::new(),
            verb: String::new(),
        },
    }
}

fn status(d: Decision) -> SubjectAccessReviewStatus {
    SubjectAccessReviewStatus {
        allowed: d.allowed,
        denied: Some(d.denied).filter(|d| *d),
        reason: Some(d.reason).filter(|r| !r.is_empty()),
        evaluation_error: None,
    }
}

/// What the authorizer decides for a (Local)SubjectAccessReview's spec.
fn subject_decision(
    spec: &SubjectAccessReviewSpec,
    ctx: &ReviewContext<'_>,
) -> SubjectAccessReviewStatus {
    let attrs = attributes(
        spec.resource_attributes.as_ref(),
        spec.non_resource_attributes.as_ref(),
    );
    status(ctx.authorizer.authorize(&subject(spec), &attrs))
}

/// The user a SubjectAccessReview asks about.
fn subject(spec: &SubjectAccessReviewSpec) -> UserInfo {
    UserInfo {
        name: spec.user.clone().unwrap_or_default(),
        uid: spec.uid.clone().unwrap_or_default(),
        groups: spec.groups.clone().unwrap_or_default(),
    }
}

/// ValidateSubjectAccessReviewSpec: the attributes and a user or group.
fn validate_subject_spec(spec: &SubjectAccessReviewSpec, errors: &mut Vec<FieldError>) {
    validate_attributes(
        spec.resource_attributes.as_ref(),
        spec.non_resource_attributes.as_ref(),
        errors,
    );
    let no_user = spec.user.as_deref().unwrap_or_default().is_empty();
    if no_user && spec.groups.as_ref().is_none_or(Vec::is_empty) {
        errors.push(FieldError::invalid(
            "spec.user",
            spec.user.as_deref().unwrap_or_default(),
            "at least one of user or group must be specified",
        ));
    }
}

impl Review for SelfSubjectAccessReview {
    fn review(mut self, ctx: &ReviewContext<'_>) -> Result<Self, ApiError> {
        let mut errors = Vec::new();
        let (r, n) = (
            self.spec.resource_attributes.as_ref(),
            self.spec.non_resource_attributes.as_ref(),
        );
        validate_attributes(r, n, &mut errors);
        validate_empty_meta(&self.metadata, false, &mut errors);
        invalid(errors)?;
        let decision = ctx.authorizer.authorize(ctx.user, &attributes(r, n));
        self.status = status(decision);
        Ok(self)
    }
}

impl Review for SubjectAccessReview {
    fn review(mut self, ctx: &ReviewContext<'_>) -> Result<Self, ApiError> {
        let mut errors = Vec::new();
        validate_subject_spec(&self.spec, &mut errors);
        validate_empty_meta(&self.metadata, false, &mut errors);
        invalid(errors)?;
        self.status = subject_decision(&self.spec, ctx);
        Ok(self)
    }
}

impl Review for LocalSubjectAccessReview {
    fn review(mut self, ctx: &ReviewContext<'_>) -> Result<Self, ApiError> {
        let mut errors = Vec::new();
        validate_subject_spec(&self.spec, &mut errors);
        validate_empty_meta(&self.metadata, true, &mut errors);
        let meta_ns = self.metadata.namespace.clone().unwrap_or_default();
        if let Some(r) = &self.spec.resource_attributes {
            let ns = r.namespace.clone().unwrap_or_default();
            if ns != meta_ns {
                errors.push(FieldError::invalid(
                    "spec.resourceAttributes.namespace",
                    &ns,
                    "must match metadata.namespace",
                ));
            }
        }
        if let Some(n) = &self.spec.non_resource_attributes {
            errors.push(FieldError::invalid_raw(
                "spec.nonResourceAttributes",
                &shown(Some(n)),
                "disallowed on this kind of request",
            ));
        }
        invalid(errors)?;
        let ns = ctx.namespace.unwrap_or_default();
        if ns.is_empty() {
            return Err(ApiError::bad_request(
                "namespace is required on this type: ",
            ));
        }
        if ns != meta_ns {
            return Err(ApiError::bad_request(format!(
                "spec.resourceAttributes.namespace must match namespace: {ns}"
            )));
        }
        self.status = subject_decision(&self.spec, ctx);
        Ok(self)
    }
}

impl Review for SelfSubjectRulesReview {
    fn review(self, ctx: &ReviewContext<'_>) -> Result<Self, ApiError> {
        let namespace = self.spec.namespace.unwrap_or_default();
        if namespace.is_empty() {
            return Err(ApiError::bad_request("no namespace on request"));
        }
        let rules = ctx.authorizer.rules_for(ctx.user, &namespace);
        let list = |v: Vec<String>| Some(v).filter(|v| !v.is_empty());
        // Upstream answers with a new object: no metadata, no spec, the rules.
        Ok(SelfSubjectRulesReview {
            status: SubjectRulesReviewStatus {
                resource_rules: rules
                    .resource_rules
                    .into_iter()
                    .map(|r| ResourceRule {
                        verbs: r.verbs,
                        api_groups: list(r.api_groups),
                        resources: list(r.resources),
                        resource_names: list(r.resource_names),
                    })
                    .collect(),
                non_resource_rules: rules
                    .non_resource_rules
                    .into_iter()
                    .map(|r| NonResourceRule {
                        verbs: r.verbs,
                        non_resource_urls: list(r.non_resource_urls),
                    })
                    .collect(),
                incomplete: rules.incomplete,
                evaluation_error: None,
            },
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use kapi_generated::api::meta::v1::LabelSelectorRequirement;

    use super::*;
    use crate::review::authorizer::AlwaysAllow;

    fn ctx_with<'a>(user: &'a UserInfo, ns: Option<&'a str>) -> ReviewContext<'a> {
        ReviewContext {
            namespace: ns,
            user,
            authorizer: &AlwaysAllow,
        }
    }

    fn fields(e: ApiError) -> Vec<(String, String)> {
        e.status()
            .details
            .and_then(|d| d.causes)
            .unwrap_or_default()
            .into_iter()
            .map(|c| (c.field.unwrap_or_default(), c.message.unwrap_or_default()))
            .collect()
    }

    #[test]
    fn selectors_need_one_form_and_sound_operators() {
        let user = UserInfo::anonymous();
        let mut review = SelfSubjectAccessReview::default();
        review.spec.resource_attributes = Some(ResourceAttributes {
            label_selector: Some(LabelSelectorAttributes {
                raw_selector: Some("a=b".into()),
                requirements: Some(vec![
                    LabelSelectorRequirement {
                        key: "a".into(),
                        operator: "In".into(),
                        values: None,
                    },
                    LabelSelectorRequirement {
                        key: "b".into(),
                        operator: "Exists".into(),
                        values: Some(vec!["x".into()]),
                    },
                    LabelSelectorRequirement {
                        key: "c".into(),
                        operator: "Later".into(),
                        values: None,
                    },
                    LabelSelectorRequirement {
                        key: "-d".into(),
                        operator: "Exists".into(),
                        values: None,
                    },
                ]),
            }),
            ..Default::default()
        });
        let e = review.review(&ctx_with(&user, None)).expect_err("invalid");
        let at = "spec.resourceAttributes.labelSelector";
        assert_eq!(
            fields(e),
            [
                (
                    format!("{at}.rawSelector"),
                    "Invalid value: \"a=b\": may not specified at the same time as requirements"
                        .to_string()
                ),
                (
                    format!("{at}.requirements[0].values"),
                    "Required value: must be specified when `operator` is 'In' or 'NotIn'"
                        .to_string()
                ),
                (
                    format!("{at}.requirements[1].values"),
                    "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
                        .to_string()
                ),
                (
                    format!("{at}.requirements[3].key"),
                    format!(
                        "Invalid value: \"-d\": {}",
                        crate::rest::meta::qualified_name_errors("-d")[0]
                    )
                ),
            ]
        );
    }

    #[test]
    fn local_review_needs_its_namespace_and_resource_attributes() {
        let user = UserInfo::anonymous();
        let mut review = LocalSubjectAccessReview::default();
        review.metadata.namespace = Some("default".into());
        review.spec.groups = Some(vec!["dev".into()]);
        review.spec.non_resource_attributes = Some(NonResourceAttributes {
            path: Some("/x".into()),
            verb: Some("get".into()),
        });
        let e = review
            .clone()
            .review(&ctx_with(&user, Some("default")))
            .expect_err("invalid");
        assert_eq!(
            fields(e),
            [(
                "spec.nonResourceAttributes".to_string(),
                "Invalid value: {\"path\":\"/x\",\"verb\":\"get\"}: disallowed on this kind of request"
                    .to_string()
            )]
        );
        review.spec.non_resource_attributes = None;
        review.spec.resource_attributes = Some(ResourceAttributes {
            namespace: Some("default".into()),
            verb: Some("get".into()),
            ..Default::default()
        });
        let answer = review
            .review(&ctx_with(&user, Some("default")))
            .expect("valid");
        assert!(answer.status.allowed);
        assert_eq!(answer.status.denied, None);
    }

    #[test]
    fn rules_review_is_a_fresh_object_with_all_rules() {
        let user = UserInfo::anonymous();
        let mut review = SelfSubjectRulesReview::default();
        review.metadata.name = Some("ignored".into());
        review.spec.namespace = Some("default".into());
        let answer = review.review(&ctx_with(&user, None)).expect("answered");
        assert_eq!(answer.metadata, ObjectMeta::default());
        assert_eq!(answer.spec.namespace, None);
        let all = Some(vec!["*".to_string()]);
        assert_eq!(
            answer.status.resource_rules,
            [ResourceRule {
                verbs: vec!["*".into()],
                api_groups: all.clone(),
                resources: all.clone(),
                resource_names: None,
            }]
        );
        assert_eq!(
            answer.status.non_resource_rules,
            [NonResourceRule {
                verbs: vec!["*".into()],
                non_resource_urls: all,
            }]
        );
        assert!(!answer.status.incomplete);
    }
}
