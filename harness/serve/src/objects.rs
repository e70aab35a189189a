//! The object store the API serves: every object with its resourceVersion, taken from one
//! store-wide counter bumped on every change (decimal integers, as Spark's poller expects,
//! reference/kube-api.md §2.2), and the history of changes that watches replay.
//!
//! Objects rendered from the simulation are put here after each advance; an object put again
//! unchanged keeps its resourceVersion and makes no event. The history is bounded: a watch from
//! a version older than what is kept gets `410 Expired` in-stream (§2.4).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::broadcast;

/// A stored object.
pub type Obj = Arc<Value>;

/// What a watch event says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// `ADDED`.
    Added,
    /// `MODIFIED`.
    Modified,
    /// `DELETED`.
    Deleted,
}

impl Change {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Added => "ADDED",
            Change::Modified => "MODIFIED",
            Change::Deleted => "DELETED",
        }
    }
}

/// One change, as watches see it.
#[derive(Debug)]
pub struct WatchEvent {
    /// The store's version after the change.
    pub rv: u64,
    /// Resource index.
    pub res: usize,
    /// What happened.
    pub change: Change,
    /// The object (for DELETED, its last state with the new version).
    pub obj: Obj,
}

/// Changes kept for watches (about the last few minutes of a busy cluster).
const HISTORY: usize = 50_000;

/// Every object, by resource, namespace and name.
pub struct Objects {
    map: BTreeMap<(usize, String, String), Obj>,
    rv: u64,
    history: VecDeque<Arc<WatchEvent>>,
    tx: broadcast::Sender<Arc<WatchEvent>>,
    uids: u64,
}

impl Default for Objects {
    fn default() -> Self {
        Objects { map: BTreeMap::new(), rv: 1, history: VecDeque::new(), tx: broadcast::channel(16_384).0, uids: 0 }
    }
}

fn meta_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj["metadata"][field].as_str().unwrap_or_default()
}

impl Objects {
    /// The store's current version.
    pub fn rv(&self) -> u64 {
        self.rv
    }

    /// An object.
    pub fn get(&self, res: usize, ns: &str, name: &str) -> Option<&Obj> {
        self.map.get(&(res, ns.to_string(), name.to_string()))
    }

    /// Objects of a resource, in one namespace or all, by namespace then name.
    pub fn list<'a>(&'a self, res: usize, ns: Option<&'a str>) -> impl Iterator<Item = &'a Obj> + 'a {
        let lo = (res, ns.unwrap_or_default().to_string(), String::new());
        self.map.range(lo..).take_while(move |((r, n, _), _)| *r == res && ns.is_none_or(|ns| n == ns)).map(|(_, o)| o)
    }

    /// Stores an object: stamps its resourceVersion (and a uid and creation time when it has
    /// none); emits ADDED or MODIFIED. An unchanged object keeps its version and emits nothing.
    pub fn put(&mut self, res: usize, mut obj: Value, created: &str) -> Obj {
        let key = (res, meta_str(&obj, "namespace").to_string(), meta_str(&obj, "name").to_string());
        let old = self.map.get(&key).cloned();
        let meta = obj["metadata"].as_object_mut().expect("objects have metadata");
        if let Some(old) = &old {
            for f in ["uid", "creationTimestamp", "resourceVersion"] {
                if !meta.contains_key(f)
                    && let Some(v) = old["metadata"].get(f)
                {
                    meta.insert(f.into(), v.clone());
                }
            }
            meta.insert("resourceVersion".into(), old["metadata"]["resourceVersion"].clone());
            if **old == obj {
                return old.clone();
            }
        } else {
            if !meta.contains_key("uid") {
                self.uids += 1;
                meta.insert("uid".into(), format!("00000000-0000-4000-8000-{:012x}", self.uids).into());
            }
            meta.entry("creationTimestamp").or_insert_with(|| created.into());
        }
        self.rv += 1;
        obj["metadata"]["resourceVersion"] = self.rv.to_string().into();
        let obj = Arc::new(obj);
        self.map.insert(key, obj.clone());
        self.publish(res, if old.is_some() { Change::Modified } else { Change::Added }, obj.clone());
        obj
    }

    /// Removes an object; emits DELETED with its last state at a new version.
    pub fn remove(&mut self, res: usize, ns: &str, name: &str) -> Option<Obj> {
        let old = self.map.remove(&(res, ns.to_string(), name.to_string()))?;
        self.rv += 1;
        let mut last = (*old).clone();
        last["metadata"]["resourceVersion"] = self.rv.to_string().into();
        let last = Arc::new(last);
        self.publish(res, Change::Deleted, last.clone());
        Some(last)
    }

    fn publish(&mut self, res: usize, change: Change, obj: Obj) {
        let ev = Arc::new(WatchEvent { rv: self.rv, res, change, obj });
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(ev.clone());
        let _ = self.tx.send(ev);
    }

    /// Live changes from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<WatchEvent>> {
        self.tx.subscribe()
    }

    /// Changes after version `rv`, or `Err(oldest)` when some of them are no longer kept.
    pub fn since(&self, rv: u64) -> Result<Vec<Arc<WatchEvent>>, u64> {
        let oldest = self.history.front().map_or(self.rv + 1, |e| e.rv);
        if rv + 1 < oldest && rv < self.rv {
            return Err(oldest);
        }
        Ok(self.history.iter().filter(|e| e.rv > rv).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn versions_come_from_one_counter_and_unchanged_puts_are_silent() {
        let mut o = Objects::default();
        let mut rx = o.subscribe();
        let a = o.put(0, json!({"metadata": {"name": "a", "namespace": "default"}, "x": 1}), "2026-01-01T00:00:00Z");
        assert_eq!(a["metadata"]["resourceVersion"], "2");
        let same = o.put(0, json!({"metadata": {"name": "a", "namespace": "default"}, "x": 1}), "later");
        assert_eq!(same["metadata"]["resourceVersion"], "2", "unchanged: same version");
        assert_eq!(same["metadata"]["creationTimestamp"], "2026-01-01T00:00:00Z");
        let b = o.put(0, json!({"metadata": {"name": "a", "namespace": "default"}, "x": 2}), "later");
        assert_eq!(b["metadata"]["resourceVersion"], "3");
        assert_eq!(b["metadata"]["uid"], a["metadata"]["uid"]);
        let gone = o.remove(0, "default", "a").unwrap();
        assert_eq!(gone["metadata"]["resourceVersion"], "4");
        let seen: Vec<(u64, Change)> = std::iter::from_fn(|| rx.try_recv().ok()).map(|e| (e.rv, e.change)).collect();
        assert_eq!(seen, [(2, Change::Added), (3, Change::Modified), (4, Change::Deleted)]);
        assert_eq!(o.since(2).unwrap().len(), 2);
    }

    #[test]
    fn lists_are_scoped_by_resource_and_namespace() {
        let mut o = Objects::default();
        for (res, ns, name) in [(0, "a", "x"), (0, "b", "y"), (1, "a", "z")] {
            o.put(res, json!({"metadata": {"name": name, "namespace": ns}}), "t");
        }
        let names = |res, ns| o.list(res, ns).map(|x| x["metadata"]["name"].as_str().unwrap().to_string()).collect::<Vec<_>>();
        assert_eq!(names(0, None), ["x", "y"]);
        assert_eq!(names(0, Some("b")), ["y"]);
        assert_eq!(names(1, Some("a")), ["z"]);
    }
}
