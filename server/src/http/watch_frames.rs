//! Protobuf watch frames made once per event, not once per watcher.
//!
//! The watch cache serialises each event's JSON line once and every JSON
//! watcher writes those same bytes. The protobuf layer turns lines into
//! frames; without this memo each protobuf watcher would parse the line and
//! encode the object again (≈ 10 µs per event per watcher). Entries are keyed
//! by the line's allocation (address and length) and hold a clone of the
//! line, so the allocation cannot be freed and reused while its entry lives:
//! the same address means the same bytes.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, LazyLock, Mutex};

use bytes::Bytes;

/// How many recent lines keep their frame (a few events for every type).
const CAPACITY: usize = 256;

struct Entry {
    /// Keeps the line's allocation alive (see the module docs).
    _line: Bytes,
    api_version: Arc<str>,
    kind: Arc<str>,
    frame: Bytes,
}

#[derive(Default)]
struct Memo {
    entries: HashMap<(usize, usize), Entry>,
    order: VecDeque<(usize, usize)>,
}

static MEMO: LazyLock<Mutex<Memo>> = LazyLock::new(Mutex::default);

fn key(line: &Bytes) -> (usize, usize) {
    (line.as_ptr() as usize, line.len())
}

/// The frame of `line` (one whole JSON watch line, newline included), made
/// by `make` only if no other watcher made it already.
pub fn frame(
    line: &Bytes,
    api_version: &Arc<str>,
    kind: &Arc<str>,
    make: impl FnOnce() -> Option<Vec<u8>>,
) -> Option<Bytes> {
    let k = key(line);
    if let Ok(memo) = MEMO.lock()
        && let Some(e) = memo.entries.get(&k)
        && e.api_version == *api_version
        && e.kind == *kind
    {
        return Some(e.frame.clone());
    }
    // Made outside the lock: two watchers may both make it the first time.
    let frame = Bytes::from(make()?);
    if let Ok(mut memo) = MEMO.lock() {
        let entry = Entry {
            _line: line.clone(),
            api_version: api_version.clone(),
            kind: kind.clone(),
            frame: frame.clone(),
        };
        if memo.entries.insert(k, entry).is_none() {
            memo.order.push_back(k);
        }
        while memo.order.len() > CAPACITY {
            if let Some(old) = memo.order.pop_front() {
                memo.entries.remove(&old);
            }
        }
    }
    Some(frame)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn one_frame_per_line_for_every_watcher() {
        let line = Bytes::from_static(b"{\"type\":\"ADDED\",\"object\":{}}\n");
        let (v, k): (Arc<str>, Arc<str>) = ("v1".into(), "ConfigMap".into());
        let made = Cell::new(0);
        let make = || {
            made.set(made.get() + 1);
            Some(b"frame".to_vec())
        };
        let a = frame(&line, &v, &k, make).unwrap();
        let b = frame(&line.clone(), &v, &k, make).unwrap();
        assert_eq!(made.get(), 1);
        assert_eq!(a.as_ptr(), b.as_ptr());
        // Another kind with the same bytes is made apart.
        frame(&line, &v, &"Secret".into(), make).unwrap();
        assert_eq!(made.get(), 2);
        // Equal content in another allocation is not mistaken for it (and
        // is still right: made from its own bytes).
        let copy = Bytes::copy_from_slice(&line);
        frame(&copy, &v, &k, make).unwrap();
        assert_eq!(made.get(), 3);
    }

    #[test]
    fn the_memo_stays_bounded() {
        let (v, k): (Arc<str>, Arc<str>) = ("v1".into(), "Thing".into());
        let lines: Vec<Bytes> = (0..CAPACITY * 2)
            .map(|i| Bytes::from(format!("{i}\n")))
            .collect();
        for l in &lines {
            frame(l, &v, &k, || Some(l.to_vec())).unwrap();
        }
        let memo = MEMO.lock().unwrap();
        assert!(memo.entries.len() <= CAPACITY);
        assert_eq!(memo.entries.len(), memo.order.len());
    }
}
