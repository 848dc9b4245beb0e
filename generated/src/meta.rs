//! Convenience accessors on the generated metadata types.

use crate::api::meta::v1::ObjectMeta;

impl ObjectMeta {
    /// The name, or "" when unset.
    pub fn name_str(&self) -> &str {
        self.name.as_deref().unwrap_or_default()
    }

    /// The namespace, or "" when unset.
    pub fn namespace_str(&self) -> &str {
        self.namespace.as_deref().unwrap_or_default()
    }

    /// The resourceVersion, or "" when unset.
    pub fn resource_version_str(&self) -> &str {
        self.resource_version.as_deref().unwrap_or_default()
    }
}
