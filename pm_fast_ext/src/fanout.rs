//! The subscription index of the event fan-out: which subscribers listen to which
//! project and sprint ids, and who receives an event.
//!
//! Plain Rust with no Python types, so `cargo test` covers it directly. Subscribers are
//! small integers ([`Sub`]) handed out by the caller (the PyO3 layer keeps the Python
//! object of each one); keys are project or sprint ids.
//!
//! Recipient order is part of the contract, so that the pure-Python twin
//! (`pm_fast/realtime/hub.py`) delivers in exactly the same order: the subscribers of
//! the event's project in the order they subscribed to that project, then the
//! subscribers of its sprint that are not already among them, in the order they
//! subscribed to that sprint. Subscribing again to a key one already has keeps the
//! earlier place; unsubscribing and subscribing again moves to the end.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;

use rustc_hash::FxHasher;

// Ids are server-generated UUIDs, not attacker-chosen hash-flooding keys.
type Map<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;
type Set<K> = HashSet<K, BuildHasherDefault<FxHasher>>;

/// A subscriber, as numbered by the caller.
pub type Sub = u32;

/// A removed place in [`Members::order`].
const HOLE: Sub = Sub::MAX;

/// The subscribers of one key, in subscription order: an insertion-ordered set with
/// O(1) insert, remove and membership test. Removal leaves a hole that iteration skips;
/// the holes are squeezed out once they are the majority.
#[derive(Default, Debug)]
struct Members {
    order: Vec<Sub>,
    /// Where each member is in `order`.
    place: Map<Sub, usize>,
}

impl Members {
    fn insert(&mut self, sub: Sub) {
        if let std::collections::hash_map::Entry::Vacant(slot) = self.place.entry(sub) {
            slot.insert(self.order.len());
            self.order.push(sub);
        }
    }

    fn remove(&mut self, sub: Sub) {
        if let Some(at) = self.place.remove(&sub) {
            self.order[at] = HOLE;
            let holes = self.order.len() - self.place.len();
            if holes >= 16 && holes * 2 > self.order.len() {
                self.compact();
            }
        }
    }

    fn compact(&mut self) {
        self.order.retain(|&s| s != HOLE);
        for (at, sub) in self.order.iter().enumerate() {
            self.place.insert(*sub, at);
        }
    }

    fn contains(&self, sub: Sub) -> bool {
        self.place.contains_key(&sub)
    }

    fn is_empty(&self) -> bool {
        self.place.is_empty()
    }

    fn iter(&self) -> impl Iterator<Item = Sub> + '_ {
        self.order.iter().copied().filter(|&s| s != HOLE)
    }
}

/// What one subscriber listens to.
#[derive(Default, Debug, Clone, PartialEq, Eq)]
pub struct Subscriptions {
    pub projects: Set<Box<str>>,
    pub sprints: Set<Box<str>>,
}

/// Project or sprint: the two kinds of key, each with its own index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Project,
    Sprint,
}

/// Subscriber → keys and key → subscribers, kept in step.
#[derive(Default, Debug)]
pub struct Index {
    subs: Map<Sub, Subscriptions>,
    by_project: Map<Box<str>, Members>,
    by_sprint: Map<Box<str>, Members>,
}

impl Index {
    pub fn new() -> Self {
        Self::default()
    }

    /// Does `sub` have an entry (it subscribed and was not removed since)? An entry may
    /// hold no key at all after unsubscribing from everything.
    pub fn contains(&self, sub: Sub) -> bool {
        self.subs.contains_key(&sub)
    }

    /// Number of subscribers with an entry.
    pub fn len(&self) -> usize {
        self.subs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.subs.is_empty()
    }

    fn parts(
        &mut self,
        scope: Scope,
    ) -> (&mut Map<Sub, Subscriptions>, &mut Map<Box<str>, Members>) {
        match scope {
            Scope::Project => (&mut self.subs, &mut self.by_project),
            Scope::Sprint => (&mut self.subs, &mut self.by_sprint),
        }
    }

    /// Registers `sub` (if new) and adds it to `key`'s subscribers.
    pub fn subscribe(&mut self, sub: Sub, scope: Scope, key: &str) {
        let (subs, index) = self.parts(scope);
        let own = subs.entry(sub).or_default();
        let own = match scope {
            Scope::Project => &mut own.projects,
            Scope::Sprint => &mut own.sprints,
        };
        if !own.contains(key) {
            own.insert(key.into());
        }
        match index.get_mut(key) {
            Some(members) => members.insert(sub),
            None => {
                let mut members = Members::default();
                members.insert(sub);
                index.insert(key.into(), members);
            }
        }
    }

    /// Registers `sub` with no key (what subscribing to empty lists does).
    pub fn register(&mut self, sub: Sub) {
        self.subs.entry(sub).or_default();
    }

    /// Takes `sub` off `key`'s subscribers. Unknown subscribers and keys are ignored; the
    /// subscriber keeps its entry.
    pub fn unsubscribe(&mut self, sub: Sub, scope: Scope, key: &str) {
        let (subs, index) = self.parts(scope);
        let Some(own) = subs.get_mut(&sub) else {
            return;
        };
        match scope {
            Scope::Project => own.projects.remove(key),
            Scope::Sprint => own.sprints.remove(key),
        };
        if let Some(members) = index.get_mut(key) {
            members.remove(sub);
            if members.is_empty() {
                index.remove(key);
            }
        }
    }

    /// Forgets `sub` entirely; true if it had an entry.
    pub fn remove(&mut self, sub: Sub) -> bool {
        let Some(own) = self.subs.remove(&sub) else {
            return false;
        };
        for (keys, index) in [
            (own.projects, &mut self.by_project),
            (own.sprints, &mut self.by_sprint),
        ] {
            for key in keys {
                if let Some(members) = index.get_mut(&key) {
                    members.remove(sub);
                    if members.is_empty() {
                        index.remove(&key);
                    }
                }
            }
        }
        true
    }

    pub fn subscriptions(&self, sub: Sub) -> Option<&Subscriptions> {
        self.subs.get(&sub)
    }

    /// Appends to `out` the recipients of an event of `project` and `sprint`, each once,
    /// in the documented order.
    pub fn recipients(&self, project: Option<&str>, sprint: Option<&str>, out: &mut Vec<Sub>) {
        let by_project = project.and_then(|p| self.by_project.get(p));
        let by_sprint = sprint.and_then(|s| self.by_sprint.get(s));
        if let Some(members) = by_project {
            out.reserve(members.place.len());
            out.extend(members.iter());
        }
        if let Some(members) = by_sprint {
            match by_project {
                Some(first) => out.extend(members.iter().filter(|&s| !first.contains(s))),
                None => out.extend(members.iter()),
            }
        }
    }

    /// Number of distinct keys with subscribers (for tests and leak checks).
    pub fn keys(&self) -> (usize, usize) {
        (self.by_project.len(), self.by_sprint.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Scope::{Project as P, Sprint as S};

    fn rec(index: &Index, project: Option<&str>, sprint: Option<&str>) -> Vec<Sub> {
        let mut out = Vec::new();
        index.recipients(project, sprint, &mut out);
        out
    }

    fn keys(set: &Set<Box<str>>) -> Vec<&str> {
        let mut v: Vec<&str> = set.iter().map(|k| &**k).collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn project_subscribers_in_subscription_order() {
        let mut ix = Index::new();
        ix.subscribe(3, P, "p");
        ix.subscribe(1, P, "p");
        ix.subscribe(2, P, "q");
        ix.subscribe(2, P, "p");
        ix.subscribe(3, P, "p"); // again: keeps its place
        assert_eq!(rec(&ix, Some("p"), None), [3, 1, 2]);
        assert_eq!(rec(&ix, Some("q"), None), [2]);
        assert_eq!(rec(&ix, Some("nobody"), None), Vec::<Sub>::new());
        assert_eq!(rec(&ix, None, None), Vec::<Sub>::new());
    }

    #[test]
    fn sprint_subscribers_follow_without_duplicates() {
        let mut ix = Index::new();
        ix.subscribe(1, P, "p");
        ix.subscribe(2, S, "s");
        ix.subscribe(3, P, "p");
        ix.subscribe(3, S, "s");
        ix.subscribe(4, S, "s");
        assert_eq!(rec(&ix, Some("p"), Some("s")), [1, 3, 2, 4]);
        assert_eq!(rec(&ix, None, Some("s")), [2, 3, 4]);
        assert_eq!(rec(&ix, Some("other"), Some("s")), [2, 3, 4]);
        // a project id is not a sprint id, however equal the strings
        assert_eq!(rec(&ix, Some("s"), Some("p")), Vec::<Sub>::new());
    }

    #[test]
    fn unsubscribe_and_resubscribe_moves_to_the_end() {
        let mut ix = Index::new();
        for s in 0..4 {
            ix.subscribe(s, P, "p");
        }
        ix.unsubscribe(1, P, "p");
        ix.unsubscribe(1, P, "unknown");
        ix.unsubscribe(9, P, "p"); // unknown subscriber
        assert_eq!(rec(&ix, Some("p"), None), [0, 2, 3]);
        ix.subscribe(1, P, "p");
        assert_eq!(rec(&ix, Some("p"), None), [0, 2, 3, 1]);
        assert!(!ix.contains(9));
        assert!(ix.contains(1));
    }

    #[test]
    fn unsubscribing_everything_keeps_the_entry_and_drops_the_keys() {
        let mut ix = Index::new();
        ix.subscribe(1, P, "p");
        ix.subscribe(1, S, "s");
        ix.unsubscribe(1, P, "p");
        ix.unsubscribe(1, S, "s");
        assert_eq!(ix.keys(), (0, 0));
        assert!(ix.contains(1));
        let own = ix.subscriptions(1).unwrap();
        assert!(own.projects.is_empty() && own.sprints.is_empty());
    }

    #[test]
    fn remove_forgets_everything() {
        let mut ix = Index::new();
        ix.subscribe(1, P, "p");
        ix.subscribe(1, P, "q");
        ix.subscribe(1, S, "s");
        ix.subscribe(2, P, "p");
        assert!(ix.remove(1));
        assert!(!ix.remove(1));
        assert!(ix.subscriptions(1).is_none());
        assert_eq!(rec(&ix, Some("p"), Some("s")), [2]);
        assert_eq!(ix.keys(), (1, 0));
        assert!(ix.remove(2));
        assert!(ix.is_empty());
        assert_eq!(ix.keys(), (0, 0));
    }

    #[test]
    fn register_without_keys() {
        let mut ix = Index::new();
        ix.register(5);
        assert!(ix.contains(5));
        assert_eq!(ix.len(), 1);
        assert_eq!(ix.subscriptions(5), Some(&Subscriptions::default()));
    }

    #[test]
    fn subscriptions_per_scope() {
        let mut ix = Index::new();
        ix.subscribe(1, P, "p2");
        ix.subscribe(1, P, "p1");
        ix.subscribe(1, P, "p1");
        ix.subscribe(1, S, "s");
        let own = ix.subscriptions(1).unwrap();
        assert_eq!(keys(&own.projects), ["p1", "p2"]);
        assert_eq!(keys(&own.sprints), ["s"]);
    }

    #[test]
    fn many_removals_keep_order_through_compaction() {
        let mut ix = Index::new();
        for s in 0..1000 {
            ix.subscribe(s, P, "p");
        }
        for s in (0..1000).filter(|s| s % 3 != 0) {
            ix.unsubscribe(s, P, "p");
        }
        let want: Vec<Sub> = (0..1000).filter(|s| s % 3 == 0).collect();
        assert_eq!(rec(&ix, Some("p"), None), want);
        let members = &ix.by_project["p"];
        assert!(members.order.len() < 1000, "holes were squeezed out");
        // places stay right after compaction: removing and adding still work
        ix.unsubscribe(0, P, "p");
        ix.subscribe(0, P, "p");
        let mut want: Vec<Sub> = want[1..].to_vec();
        want.push(0);
        assert_eq!(rec(&ix, Some("p"), None), want);
    }

    /// A slow but obviously right model, compared with the index on a pseudo-random
    /// sequence of operations.
    #[test]
    fn agrees_with_a_simple_model() {
        type Model = Vec<(Sub, Vec<String>, Vec<String>)>; // entries; keys in order
        fn model_rec(m: &Model, order: &[(String, Sub)], key: Option<&str>) -> Vec<Sub> {
            let Some(key) = key else { return vec![] };
            order
                .iter()
                .filter(|(k, s)| k == key && m.iter().any(|e| e.0 == *s))
                .map(|(_, s)| *s)
                .collect()
        }
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut ix = Index::new();
        let mut model: Model = Vec::new();
        // key → subscribers in order, per scope (project keys "pN", sprint keys "sN")
        let mut order_p: Vec<(String, Sub)> = Vec::new();
        let mut order_s: Vec<(String, Sub)> = Vec::new();
        for _ in 0..5000 {
            let sub = next(12) as Sub;
            let scope = if next(2) == 0 { P } else { S };
            let key = format!("{}{}", if scope == P { 'p' } else { 's' }, next(5));
            let order = if scope == P {
                &mut order_p
            } else {
                &mut order_s
            };
            match next(10) {
                0..=4 => {
                    ix.subscribe(sub, scope, &key);
                    if !model.iter().any(|e| e.0 == sub) {
                        model.push((sub, vec![], vec![]));
                    }
                    if !order.iter().any(|(k, s)| *k == key && *s == sub) {
                        order.push((key.clone(), sub));
                    }
                }
                5..=7 => {
                    ix.unsubscribe(sub, scope, &key);
                    if model.iter().any(|e| e.0 == sub) {
                        order.retain(|(k, s)| !(*k == key && *s == sub));
                    }
                }
                _ => {
                    ix.remove(sub);
                    model.retain(|e| e.0 != sub);
                    order_p.retain(|(_, s)| *s != sub);
                    order_s.retain(|(_, s)| *s != sub);
                }
            }
            let p = format!("p{}", next(6));
            let s = format!("s{}", next(6));
            let project = (next(4) != 0).then_some(p.as_str());
            let sprint = (next(2) == 0).then_some(s.as_str());
            let mut want = model_rec(&model, &order_p, project);
            for x in model_rec(&model, &order_s, sprint) {
                if !want.contains(&x) {
                    want.push(x);
                }
            }
            assert_eq!(rec(&ix, project, sprint), want);
            assert_eq!(ix.len(), model.len());
        }
    }
}
