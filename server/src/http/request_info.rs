//! Parses a resource URL the way apiserver's `RequestInfoFactory` does:
//! `/api/v1/...` for the core group, `/apis/{group}/{version}/...` for the
//! others, an optional deprecated `watch/` segment, then
//! `[namespaces/{ns}/]{resource}[/{name}[/{subresource}]]`.

/// What a resource URL names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestInfo {
    /// The API group ("" for core).
    pub group: String,
    /// The API version.
    pub version: String,
    /// The namespace segment, if any.
    pub namespace: Option<String>,
    /// The plural resource name.
    pub resource: String,
    /// The object name, if any.
    pub name: Option<String>,
    /// The subresource, if any.
    pub subresource: Option<String>,
    /// Whether the path had the deprecated `watch/` prefix.
    pub watch_prefix: bool,
}

/// What a URL under `/api` or `/apis` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiPath {
    /// `/api/{version}`: a core group/version's resource list.
    CoreVersion(String),
    /// `/apis/{group}`.
    Group(String),
    /// `/apis/{group}/{version}`.
    GroupVersion(String, String),
    /// A resource URL.
    Resource(RequestInfo),
    /// Anything else.
    Other,
}

/// Percent-decodes one path segment.
fn decode(segment: &str) -> Option<String> {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// Parses a request path.
pub fn parse(path: &str) -> ApiPath {
    let trimmed = path.trim_end_matches('/');
    let raw: Vec<&str> = trimmed.split('/').skip(1).collect();
    let Some(parts) = raw
        .iter()
        .map(|s| decode(s))
        .collect::<Option<Vec<String>>>()
    else {
        return ApiPath::Other;
    };
    if parts
        .iter()
        .any(|p| p.is_empty() || p == "." || p == ".." || p.contains('/'))
    {
        return ApiPath::Other;
    }
    let (group, version, rest) = match parts.first().map(String::as_str) {
        Some("api") => match parts.len() {
            1 => return ApiPath::Other,
            2 => return ApiPath::CoreVersion(parts[1].clone()),
            _ => (String::new(), parts[1].clone(), &parts[2..]),
        },
        Some("apis") => match parts.len() {
            1 => return ApiPath::Other,
            2 => return ApiPath::Group(parts[1].clone()),
            3 => return ApiPath::GroupVersion(parts[1].clone(), parts[2].clone()),
            _ => (parts[1].clone(), parts[2].clone(), &parts[3..]),
        },
        _ => return ApiPath::Other,
    };
    let mut rest = rest;
    let mut info = RequestInfo {
        group,
        version,
        ..Default::default()
    };
    if rest.first().map(String::as_str) == Some("watch") {
        info.watch_prefix = true;
        rest = &rest[1..];
    }
    if rest.is_empty() {
        return ApiPath::Other;
    }
    // `namespaces/{ns}/{resource}...`, except `namespaces/{name}` and its own subresources.
    if rest[0] == "namespaces"
        && rest.len() > 1
        && rest.len() > 2
        && !matches!(rest[2].as_str(), "status" | "finalize")
    {
        info.namespace = Some(rest[1].clone());
        rest = &rest[2..];
    }
    if rest.len() > 3 {
        return ApiPath::Other;
    }
    info.resource = rest[0].clone();
    info.name = rest.get(1).cloned();
    info.subresource = rest.get(2).cloned();
    ApiPath::Resource(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(p: &str) -> RequestInfo {
        match parse(p) {
            ApiPath::Resource(i) => i,
            other => panic!("{p}: {other:?}"),
        }
    }

    #[test]
    fn paths() {
        let i = res("/api/v1/namespaces/default/configmaps/x");
        assert_eq!((i.group.as_str(), i.version.as_str()), ("", "v1"));
        assert_eq!(i.namespace.as_deref(), Some("default"));
        assert_eq!(i.resource, "configmaps");
        assert_eq!(i.name.as_deref(), Some("x"));
        let i = res("/apis/coordination.k8s.io/v1/namespaces/ns/leases");
        assert_eq!(i.group, "coordination.k8s.io");
        assert_eq!(i.name, None);
        let i = res("/api/v1/namespaces/ns1");
        assert_eq!(
            (
                i.resource.as_str(),
                i.name.as_deref(),
                i.namespace.as_deref()
            ),
            ("namespaces", Some("ns1"), None)
        );
        let i = res("/api/v1/namespaces/ns1/status");
        assert_eq!(
            (
                i.resource.as_str(),
                i.name.as_deref(),
                i.subresource.as_deref()
            ),
            ("namespaces", Some("ns1"), Some("status"))
        );
        let i = res("/api/v1/watch/namespaces/default/configmaps");
        assert!(i.watch_prefix);
        assert_eq!(i.resource, "configmaps");
        let i = res("/api/v1/configmaps");
        assert_eq!(i.namespace, None);
        assert_eq!(parse("/api/v1"), ApiPath::CoreVersion("v1".into()));
        assert_eq!(parse("/apis/apps"), ApiPath::Group("apps".into()));
        assert_eq!(
            parse("/apis/apps/v1/"),
            ApiPath::GroupVersion("apps".into(), "v1".into())
        );
        assert_eq!(
            parse("/api/v1/namespaces/a/configmaps/b/status/extra"),
            ApiPath::Other
        );
        assert_eq!(
            parse("/api/v1/namespaces/a/configmaps/%2e%2e"),
            ApiPath::Other
        );
        assert_eq!(parse("/healthz"), ApiPath::Other);
    }
}
