//! One conformance suite for every `Storage` backend.

use bytes::Bytes;
use futures::StreamExt;

use super::{Event, Storage, StorageError};

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// Runs the suite against a fresh store.
pub async fn run(store: &dyn Storage) {
    let start = store.current_rev().await.unwrap();

    // Create, and create again.
    let a = store.create("/t/a", b("A1")).await.unwrap();
    assert!(a.mod_rev > start);
    assert_eq!(a.create_rev, a.mod_rev);
    assert_eq!(
        store.create("/t/a", b("again")).await.unwrap_err(),
        StorageError::AlreadyExists("/t/a".into())
    );
    assert_eq!(store.get("/t/a").await.unwrap().unwrap().value, b("A1"));
    assert_eq!(store.get("/t/none").await.unwrap(), None);

    // Compare-and-swap on the modification revision.
    let a2 = store.update("/t/a", b("A2"), a.mod_rev).await.unwrap();
    assert!(a2.mod_rev > a.mod_rev);
    assert_eq!(a2.create_rev, a.create_rev);
    assert!(matches!(
        store.update("/t/a", b("A3"), a.mod_rev).await.unwrap_err(),
        StorageError::Conflict { .. }
    ));
    assert!(matches!(
        store.update("/t/none", b("x"), 1).await.unwrap_err(),
        StorageError::NotFound(_)
    ));

    // Range reads with a limit and a start key, at one revision.
    store.create("/t/b", b("B")).await.unwrap();
    store.create("/t/c", b("C")).await.unwrap();
    store.create("/u/a", b("other prefix")).await.unwrap();
    let all = store.list("/t/", None, 0).await.unwrap();
    assert_eq!(
        all.items
            .iter()
            .map(|kv| kv.key.as_str())
            .collect::<Vec<_>>(),
        ["/t/a", "/t/b", "/t/c"]
    );
    assert!(!all.more);
    assert_eq!(all.rev, store.current_rev().await.unwrap());
    let page = store.list("/t/", None, 2).await.unwrap();
    assert_eq!(page.items.len(), 2);
    assert!(page.more);
    let rest = store.list("/t/", Some("/t/b"), 2).await.unwrap();
    assert_eq!(
        rest.items
            .iter()
            .map(|kv| kv.key.as_str())
            .collect::<Vec<_>>(),
        ["/t/c"]
    );
    assert!(!rest.more);

    // Watch from a revision replays history, then follows live changes.
    let mut w = store.watch("/t/", a.mod_rev).await.unwrap();
    let first = w.next().await.unwrap().unwrap();
    assert_eq!(first.rev(), a2.mod_rev);
    assert_eq!(w.next().await.unwrap().unwrap().key(), "/t/b");
    assert_eq!(w.next().await.unwrap().unwrap().key(), "/t/c");
    let (prev, del_rev) = store.delete("/t/b", None).await.unwrap();
    assert_eq!(prev.value, b("B"));
    match w.next().await.unwrap().unwrap() {
        Event::Delete { prev, rev } => {
            assert_eq!(prev.key, "/t/b");
            assert_eq!(rev, del_rev);
        }
        other => panic!("expected a delete, got {other:?}"),
    }
    assert!(matches!(
        store.delete("/t/b", None).await.unwrap_err(),
        StorageError::NotFound(_)
    ));
    assert!(matches!(
        store.delete("/t/a", Some(a.mod_rev)).await.unwrap_err(),
        StorageError::Conflict { .. }
    ));

    // Reads at a past revision see that revision's state, whatever changed since.
    let p1 = store.create("/p/1", b("one")).await.unwrap();
    let p2 = store.create("/p/2", b("two")).await.unwrap();
    let p3 = store.create("/p/3", b("three")).await.unwrap();
    let snap = store.current_rev().await.unwrap();
    store.update("/p/2", b("TWO"), p2.mod_rev).await.unwrap();
    store.delete("/p/3", None).await.unwrap();
    store.create("/p/0", b("zero")).await.unwrap();
    let p1b = store.update("/p/1", b("ONE"), p1.mod_rev).await.unwrap();
    store.update("/p/1", b("One"), p1b.mod_rev).await.unwrap();
    store.delete("/p/1", None).await.unwrap();
    store.create("/p/1", b("new one")).await.unwrap();
    let then = store.list_at("/p/", None, 0, snap).await.unwrap();
    assert_eq!(then.rev, snap);
    assert!(!then.more);
    assert_eq!(then.items, [p1.clone(), p2.clone(), p3.clone()]);
    let page = store.list_at("/p/", None, 2, snap).await.unwrap();
    assert_eq!(page.items, [p1.clone(), p2.clone()]);
    assert!(page.more);
    let page = store.list_at("/p/", Some("/p/2"), 2, snap).await.unwrap();
    assert_eq!(page.items, std::slice::from_ref(&p3));
    assert!(!page.more);
    let now = store.list("/p/", None, 0).await.unwrap();
    let at_now = store.list_at("/p/", None, 0, now.rev).await.unwrap();
    assert_eq!(at_now.items, now.items);
    assert_eq!(
        now.items
            .iter()
            .map(|kv| kv.value.clone())
            .collect::<Vec<_>>(),
        [b("zero"), b("new one"), b("TWO")]
    );

    // Concurrent writes all land, each with its own revision.
    let before = store.current_rev().await.unwrap();
    let writes = (0..50).map(|i| async move {
        store
            .create(&format!("/c/{i:03}"), b("x"))
            .await
            .unwrap()
            .mod_rev
    });
    let mut revs = futures::future::join_all(writes).await;
    revs.sort();
    revs.dedup();
    assert_eq!(revs.len(), 50);
    assert_eq!(store.current_rev().await.unwrap(), before + 50);
    assert_eq!(store.list("/c/", None, 0).await.unwrap().items.len(), 50);

    // Compaction drops history below a revision, never objects: a watch or a
    // continue token from below it is told so (at once or as its first item).
    let now = store.current_rev().await.unwrap();
    let old = before;
    assert_eq!(store.compact(now - 10).await.unwrap(), now - 10);
    assert!(matches!(
        store.check_history(old).await,
        Err(StorageError::Compacted { .. })
    ));
    store.check_history(now - 10).await.unwrap();
    let err = match store.watch("/c/", old).await {
        Err(e) => e,
        Ok(mut w) => w.next().await.unwrap().unwrap_err(),
    };
    assert!(matches!(err, StorageError::Compacted { .. }), "{err:?}");
    let mut w = store.watch("/c/", now - 10).await.unwrap();
    assert_eq!(w.next().await.unwrap().unwrap().rev(), now - 9);
    // A read at a compacted revision is refused; at the compaction, it works.
    assert!(matches!(
        store.list_at("/c/", None, 0, old).await,
        Err(StorageError::Compacted { .. })
    ));
    assert_eq!(
        store
            .list_at("/c/", None, 0, now - 10)
            .await
            .unwrap()
            .items
            .len(),
        40
    );
    assert_eq!(store.list("/c/", None, 0).await.unwrap().items.len(), 50);
}
