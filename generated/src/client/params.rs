//! Query parameters and bodies of the client's calls.

use serde_json::{Value, json};

/// Options of a list (and the initial list of a watcher).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListParams {
    /// `labelSelector`: `app=web,tier in (a,b),!legacy`.
    pub label_selector: Option<String>,
    /// `fieldSelector`: `metadata.name=x`.
    pub field_selector: Option<String>,
    /// `limit`: at most this many items per page.
    pub limit: Option<u32>,
    /// `continue`: the token of the previous page.
    pub continue_token: Option<String>,
    /// `resourceVersion`: "" (consistent), "0" (any) or a version.
    pub resource_version: Option<String>,
    /// `resourceVersionMatch`: `NotOlderThan` or `Exact`.
    pub resource_version_match: Option<String>,
}

impl ListParams {
    /// Only objects whose labels match.
    pub fn labels(mut self, selector: &str) -> Self {
        self.label_selector = Some(selector.into());
        self
    }

    /// Only objects whose fields match.
    pub fn fields(mut self, selector: &str) -> Self {
        self.field_selector = Some(selector.into());
        self
    }

    /// Pages of at most `limit` items.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// The page after the one that returned `token`.
    pub fn continue_token(mut self, token: &str) -> Self {
        self.continue_token = Some(token.into());
        self
    }

    pub(crate) fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        push(&mut q, "labelSelector", &self.label_selector);
        push(&mut q, "fieldSelector", &self.field_selector);
        if let Some(l) = self.limit {
            q.push(("limit", l.to_string()));
        }
        push(&mut q, "continue", &self.continue_token);
        push(&mut q, "resourceVersion", &self.resource_version);
        push(&mut q, "resourceVersionMatch", &self.resource_version_match);
        q
    }
}

/// Options of a watch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WatchParams {
    /// `labelSelector`.
    pub label_selector: Option<String>,
    /// `fieldSelector`.
    pub field_selector: Option<String>,
    /// `timeoutSeconds`: the server ends the stream after this long (a
    /// resuming watch then starts a new one from where it was).
    pub timeout_seconds: Option<u32>,
    /// `allowWatchBookmarks`: ask for BOOKMARK events (on by default).
    pub bookmarks: bool,
}

impl WatchParams {
    /// Bookmarks on, no selectors, the server's timeout.
    pub fn new() -> Self {
        WatchParams {
            bookmarks: true,
            ..WatchParams::default()
        }
    }

    /// Only objects whose labels match.
    pub fn labels(mut self, selector: &str) -> Self {
        self.label_selector = Some(selector.into());
        self
    }

    /// Only objects whose fields match.
    pub fn fields(mut self, selector: &str) -> Self {
        self.field_selector = Some(selector.into());
        self
    }

    /// Ends each watch request after `seconds`.
    pub fn timeout(mut self, seconds: u32) -> Self {
        self.timeout_seconds = Some(seconds);
        self
    }

    /// The list that matches this watch (same selectors).
    pub fn to_list(&self) -> ListParams {
        ListParams {
            label_selector: self.label_selector.clone(),
            field_selector: self.field_selector.clone(),
            ..ListParams::default()
        }
    }

    pub(crate) fn query(&self, resource_version: &str) -> Vec<(&'static str, String)> {
        let mut q = vec![("watch", "true".to_string())];
        push(&mut q, "labelSelector", &self.label_selector);
        push(&mut q, "fieldSelector", &self.field_selector);
        if let Some(t) = self.timeout_seconds {
            q.push(("timeoutSeconds", t.to_string()));
        }
        if self.bookmarks {
            q.push(("allowWatchBookmarks", "true".into()));
        }
        if !resource_version.is_empty() {
            q.push(("resourceVersion", resource_version.into()));
        }
        q
    }
}

/// Options of create and replace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PostParams {
    /// `dryRun=All`: validate without persisting.
    pub dry_run: bool,
    /// `fieldManager`.
    pub field_manager: Option<String>,
}

impl PostParams {
    pub(crate) fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if self.dry_run {
            q.push(("dryRun", "All".into()));
        }
        push(&mut q, "fieldManager", &self.field_manager);
        q
    }
}

/// A patch and its kind (the request's Content-Type).
#[derive(Clone, Debug, PartialEq)]
pub enum Patch {
    /// RFC 7386 JSON merge patch (`application/merge-patch+json`).
    Merge(Value),
    /// RFC 6902 JSON patch, an array of operations (`application/json-patch+json`).
    Json(Value),
    /// Strategic merge patch (`application/strategic-merge-patch+json`).
    Strategic(Value),
    /// Server-side apply (`application/apply-patch+yaml`); needs a field manager.
    Apply(Value),
}

impl Patch {
    pub(crate) fn content_type(&self) -> &'static str {
        match self {
            Patch::Merge(_) => "application/merge-patch+json",
            Patch::Json(_) => "application/json-patch+json",
            Patch::Strategic(_) => "application/strategic-merge-patch+json",
            Patch::Apply(_) => "application/apply-patch+yaml",
        }
    }

    pub(crate) fn body(&self) -> &Value {
        match self {
            Patch::Merge(v) | Patch::Json(v) | Patch::Strategic(v) | Patch::Apply(v) => v,
        }
    }
}

/// Options of a patch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PatchParams {
    /// `dryRun=All`.
    pub dry_run: bool,
    /// `fieldManager` (required by apply).
    pub field_manager: Option<String>,
    /// `force`: take over conflicting fields (apply only).
    pub force: bool,
}

impl PatchParams {
    /// Apply as `manager`.
    pub fn apply(manager: &str) -> Self {
        PatchParams {
            field_manager: Some(manager.into()),
            ..PatchParams::default()
        }
    }

    pub(crate) fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if self.dry_run {
            q.push(("dryRun", "All".into()));
        }
        push(&mut q, "fieldManager", &self.field_manager);
        if self.force {
            q.push(("force", "true".into()));
        }
        q
    }
}

/// Options of a delete (sent as a `DeleteOptions` body).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeleteParams {
    /// `dryRun=All`.
    pub dry_run: bool,
    /// `gracePeriodSeconds`.
    pub grace_period_seconds: Option<i64>,
    /// `propagationPolicy`: `Orphan`, `Background` or `Foreground`.
    pub propagation_policy: Option<String>,
    /// Delete only if the object still has this resourceVersion.
    pub precondition_resource_version: Option<String>,
    /// Delete only if the object still has this uid.
    pub precondition_uid: Option<String>,
}

impl DeleteParams {
    pub(crate) fn body(&self) -> Value {
        let mut body = json!({"apiVersion": "v1", "kind": "DeleteOptions"});
        if self.dry_run {
            body["dryRun"] = json!(["All"]);
        }
        if let Some(g) = self.grace_period_seconds {
            body["gracePeriodSeconds"] = json!(g);
        }
        if let Some(p) = &self.propagation_policy {
            body["propagationPolicy"] = json!(p);
        }
        let mut pre = serde_json::Map::new();
        if let Some(rv) = &self.precondition_resource_version {
            pre.insert("resourceVersion".into(), json!(rv));
        }
        if let Some(uid) = &self.precondition_uid {
            pre.insert("uid".into(), json!(uid));
        }
        if !pre.is_empty() {
            body["preconditions"] = Value::Object(pre);
        }
        body
    }
}

fn push(q: &mut Vec<(&'static str, String)>, key: &'static str, value: &Option<String>) {
    if let Some(v) = value.as_ref().filter(|v| !v.is_empty()) {
        q.push((key, v.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_query_has_only_what_is_set() {
        let q = ListParams::default()
            .labels("app=web")
            .limit(5)
            .continue_token("abc")
            .query();
        assert_eq!(
            q,
            vec![
                ("labelSelector", "app=web".to_string()),
                ("limit", "5".to_string()),
                ("continue", "abc".to_string())
            ]
        );
    }

    #[test]
    fn watch_query_resumes_from_a_version() {
        let q = WatchParams::new().timeout(7).query("42");
        assert_eq!(
            q,
            vec![
                ("watch", "true".to_string()),
                ("timeoutSeconds", "7".to_string()),
                ("allowWatchBookmarks", "true".to_string()),
                ("resourceVersion", "42".to_string())
            ]
        );
    }

    #[test]
    fn patch_kinds_have_their_content_types_and_apply_its_manager() {
        let v = json!({"data": {"a": "1"}});
        assert_eq!(
            Patch::Merge(v.clone()).content_type(),
            "application/merge-patch+json"
        );
        assert_eq!(
            Patch::Json(json!([])).content_type(),
            "application/json-patch+json"
        );
        assert_eq!(
            Patch::Strategic(v.clone()).content_type(),
            "application/strategic-merge-patch+json"
        );
        assert_eq!(
            Patch::Apply(v.clone()).content_type(),
            "application/apply-patch+yaml"
        );
        assert_eq!(Patch::Apply(v.clone()).body(), &v);
        let p = PatchParams {
            force: true,
            ..PatchParams::apply("me")
        };
        assert_eq!(
            p.query(),
            vec![
                ("fieldManager", "me".to_string()),
                ("force", "true".to_string())
            ]
        );
    }

    #[test]
    fn delete_body_carries_preconditions() {
        let p = DeleteParams {
            precondition_resource_version: Some("7".into()),
            propagation_policy: Some("Background".into()),
            ..DeleteParams::default()
        };
        assert_eq!(
            p.body(),
            json!({"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background", "preconditions": {"resourceVersion": "7"}})
        );
    }
}
