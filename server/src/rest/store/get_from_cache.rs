//! GETs served by the type's watch cache where upstream's cacher serves them:
//! `resourceVersion=0` (any state: the cache's current one, no storage read)
//! and `resourceVersion=N` (a state not older than N: the cache once it
//! reflects N, 504 "Too large resource version" if it does not within the
//! wait). A GET without resourceVersion stays a consistent read from storage.

use std::time::Duration;

use kapi_generated::Resource;
use serde_json::Value;

use super::{TypedStore, rewrite_api_version};
use crate::error::ApiError;
use crate::storage::Rev;

/// How long a GET waits for the cache to reach its resourceVersion (upstream: 3 s).
const FRESHNESS_WAIT: Duration = Duration::from_secs(3);

impl<K: Resource> TypedStore<K> {
    /// The object from the watch cache, or `None` when the request needs a
    /// storage read (no resourceVersion, or one that is not a revision).
    pub(super) async fn get_from_cache(
        &self,
        ns: Option<&str>,
        name: &str,
        resource_version: Option<&str>,
    ) -> Result<Option<Value>, ApiError> {
        let Some(rv) = resource_version.and_then(|v| v.parse::<Rev>().ok()) else {
            return Ok(None);
        };
        let cache = self.watch_cache().await?;
        if rv > 0 {
            cache.wait_for(rv, FRESHNESS_WAIT).await?;
        }
        let (bytes, _) = cache.get(&self.key(ns, name))?;
        let Some(bytes) = bytes else {
            return Err(ApiError::not_found(self.target(name)));
        };
        let mut v: Value = serde_json::from_slice(&bytes.json)
            .map_err(|e| ApiError::internal(format!("cached object {name} is not JSON: {e}")))?;
        rewrite_api_version(&mut v, &self.resource().api_version());
        self.strategy.prepare_for_read(&mut v);
        Ok(Some(v))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;
    use bytes::Bytes;
    use kapi_generated::api::core::v1::ConfigMap;
    use serde_json::json;

    use super::*;
    use crate::rest::strategy;
    use crate::rest::{Getter, RequestScope};
    use crate::storage::embedded::EmbeddedStore;
    use crate::storage::{EventStream, KeyValue, ListResult, Storage, StorageError};

    /// A store that counts its point reads.
    struct Counting {
        inner: EmbeddedStore,
        gets: AtomicUsize,
    }

    #[async_trait]
    impl Storage for Counting {
        fn serves_consistent_reads_from_cache(&self) -> bool {
            self.inner.serves_consistent_reads_from_cache()
        }
        async fn get(&self, key: &str) -> Result<Option<KeyValue>, StorageError> {
            self.gets.fetch_add(1, Ordering::SeqCst);
            self.inner.get(key).await
        }
        async fn list(
            &self,
            prefix: &str,
            start_after: Option<&str>,
            limit: usize,
        ) -> Result<ListResult, StorageError> {
            self.inner.list(prefix, start_after, limit).await
        }
        async fn list_at(
            &self,
            prefix: &str,
            start_after: Option<&str>,
            limit: usize,
            rev: Rev,
        ) -> Result<ListResult, StorageError> {
            self.inner.list_at(prefix, start_after, limit, rev).await
        }
        async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue, StorageError> {
            self.inner.create(key, value).await
        }
        async fn update(
            &self,
            key: &str,
            value: Bytes,
            expected_mod_rev: Rev,
        ) -> Result<KeyValue, StorageError> {
            self.inner.update(key, value, expected_mod_rev).await
        }
        async fn delete(
            &self,
            key: &str,
            expected_mod_rev: Option<Rev>,
        ) -> Result<(KeyValue, Rev), StorageError> {
            self.inner.delete(key, expected_mod_rev).await
        }
        async fn watch(&self, prefix: &str, after: Rev) -> Result<EventStream, StorageError> {
            self.inner.watch(prefix, after).await
        }
        async fn current_rev(&self) -> Result<Rev, StorageError> {
            self.inner.current_rev().await
        }
        async fn compact(&self, rev: Rev) -> Result<Rev, StorageError> {
            self.inner.compact(rev).await
        }
        async fn check_history(&self, rev: Rev) -> Result<(), StorageError> {
            self.inner.check_history(rev).await
        }
    }

    fn scope(rv: Option<&str>) -> RequestScope {
        RequestScope {
            namespace: Some("default".into()),
            resource_version: rv.map(str::to_string),
            ..Default::default()
        }
    }

    fn cm(data: &str) -> Bytes {
        Bytes::from(
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "x", "namespace": "default"}, "data": {"k": data}})
            .to_string(),
        )
    }

    #[tokio::test]
    async fn resource_version_zero_and_n_are_served_by_the_cache() {
        let counting = Arc::new(Counting {
            inner: EmbeddedStore::open_in_memory().unwrap(),
            gets: AtomicUsize::new(0),
        });
        let store: TypedStore<ConfigMap> =
            TypedStore::new(counting.clone(), (), Arc::new(strategy::Default));
        let key = store.key(Some("default"), "x");
        let first = counting.create(&key, cm("1")).await.unwrap();
        let gets = || counting.gets.load(Ordering::SeqCst);

        // No resourceVersion: a consistent read from storage.
        let v = store.get(&scope(None), "x").await.unwrap();
        assert_eq!(v["data"]["k"], "1");
        assert_eq!(gets(), 1);

        // "0": the cache, no storage read; the object carries its resourceVersion.
        let v = store.get(&scope(Some("0")), "x").await.unwrap();
        assert_eq!(v["data"]["k"], "1");
        assert_eq!(v["metadata"]["resourceVersion"], first.mod_rev.to_string());
        assert_eq!(v["kind"], "ConfigMap");
        assert_eq!(gets(), 1);

        // N: not older than N, from the cache once it reflects N.
        let second = counting.update(&key, cm("2"), first.mod_rev).await.unwrap();
        let v = store
            .get(&scope(Some(&second.mod_rev.to_string())), "x")
            .await
            .unwrap();
        assert_eq!(v["data"]["k"], "2");
        assert_eq!(v["metadata"]["resourceVersion"], second.mod_rev.to_string());
        assert_eq!(gets(), 1);

        // Missing from the cache: 404, still without a storage read.
        let e = store.get(&scope(Some("0")), "y").await.unwrap_err();
        assert_eq!(e.code, 404);
        assert_eq!(gets(), 1);

        // A resourceVersion the store has not reached: 504 after the wait.
        let e = store
            .get(&scope(Some(&(second.mod_rev + 100).to_string())), "x")
            .await
            .unwrap_err();
        assert_eq!(e.code, 504);
        assert!(
            e.message.starts_with("Too large resource version"),
            "{}",
            e.message
        );
        assert_eq!(gets(), 1);
    }
}
