//! [`Snapshot`]: a value readers load as an `Arc` and a writer replaces as a
//! whole (the ArcSwap idea on a `RwLock`): discovery and OpenAPI documents are
//! rebuilt when a CustomResourceDefinition changes and swapped in at once.

use std::sync::{Arc, RwLock};

/// A swappable, shared, immutable value.
#[derive(Debug, Default)]
pub struct Snapshot<T>(RwLock<Arc<T>>);

impl<T> Snapshot<T> {
    /// A snapshot holding `value`.
    pub fn new(value: T) -> Self {
        Snapshot(RwLock::new(Arc::new(value)))
    }

    /// The current value.
    pub fn load(&self) -> Arc<T> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the value.
    pub fn store(&self, value: T) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_keep_their_value_across_a_store() {
        let s = Snapshot::new(1);
        let before = s.load();
        s.store(2);
        assert_eq!((*before, *s.load()), (1, 2));
    }
}
