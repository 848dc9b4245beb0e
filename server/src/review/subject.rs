//! Authentication reviews (`authentication.k8s.io/v1`): SelfSubjectReview
//! (`kubectl auth whoami`) reports the requesting user; TokenReview would
//! authenticate a token, and since kapi has no token authenticator it answers
//! as upstream does without one: the request unchanged, no status.

use kapi_generated::api::authentication::v1::{
    SelfSubjectReview, SelfSubjectReviewStatus, TokenReview, UserInfo as UserInfoType,
};
use kapi_generated::api::meta::v1::ObjectMeta;

use super::{Review, ReviewContext};
use crate::error::ApiError;
use crate::rest::meta::now_rfc3339;

impl Review for SelfSubjectReview {
    fn review(self, ctx: &ReviewContext<'_>) -> Result<Self, ApiError> {
        let u = ctx.user;
        // Upstream answers with a new object: the time of the answer and the user.
        Ok(SelfSubjectReview {
            metadata: ObjectMeta {
                creation_timestamp: Some(now_rfc3339()),
                ..Default::default()
            },
            status: SelfSubjectReviewStatus {
                user_info: UserInfoType {
                    username: Some(u.name.clone()).filter(|s| !s.is_empty()),
                    uid: Some(u.uid.clone()).filter(|s| !s.is_empty()),
                    groups: Some(u.groups.clone()).filter(|g| !g.is_empty()),
                    extra: None,
                },
            },
            ..Default::default()
        })
    }
}

impl Review for TokenReview {
    fn review(self, ctx: &ReviewContext<'_>) -> Result<Self, ApiError> {
        if let Some(ns) = ctx.namespace.filter(|n| !n.is_empty()) {
            return Err(ApiError::bad_request(format!(
                "namespace is not allowed on this type: {ns}"
            )));
        }
        if self.spec.token.is_empty() {
            return Err(ApiError::bad_request(
                "token is required for TokenReview in authentication",
            ));
        }
        Ok(self)
    }
}
