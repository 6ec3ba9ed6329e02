//! Graph algorithms over work-item hierarchies and `blocks` dependency links.
//!
//! Plain Rust with no Python types, so `cargo test` covers it directly. The functions
//! borrow the ids as `&str` and answer with *indices* into the input slices rather than
//! new strings: the PyO3 layer then hands back the caller's own string objects without
//! allocating.
//!
//! The inputs come straight from the database and may be malformed: parent ids with no
//! row, parent cycles, or (not with a primary key, but possible in principle) several
//! rows for one id. Every walk here terminates on such data. When an id has several rows,
//! the last row decides its parent for [`ancestors`] and [`is_reachable_parent_cycle`]
//! (the rule of building a map from the rows), while [`descendants`] follows every row.
//!
//! The pure-Python twin in `pm_fast/core/graph.py` must keep behaving exactly like this
//! module; the hypothesis tests in `tests/unit/test_graph.py` compare the two.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;

use rustc_hash::FxHasher;

/// One work item: `(id, parent_id)`.
pub type Row<'a> = (&'a str, Option<&'a str>);
/// One `blocks` link: `(blocking_item_id, blocked_item_id)`.
pub type Edge<'a> = (&'a str, &'a str);

// Ids are server-generated UUIDs, not attacker-chosen hash-flooding keys, and a fast
// non-cryptographic hash is measurably quicker than SipHash here.
type Map<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;
type Set<K> = HashSet<K, BuildHasherDefault<FxHasher>>;

const NO_KEY: u32 = u32::MAX;

/// Children (or successors) grouped by parent id, each group in input order.
///
/// A compressed adjacency list: one hash entry per distinct parent and two flat arrays,
/// instead of one vector per parent.
struct Adjacency<'a> {
    key_of: Map<&'a str, u32>,
    /// `members[offsets[k]..offsets[k + 1]]` are the input indices whose parent has key `k`.
    offsets: Vec<u32>,
    members: Vec<u32>,
}

impl<'a> Adjacency<'a> {
    /// `parents[i]` is the parent (or source) of input `i`, if any.
    fn build(len: usize, parent_of: impl Fn(usize) -> Option<&'a str>) -> Self {
        let mut key_of: Map<&'a str, u32> = Map::default();
        key_of.reserve(len / 2);
        let mut key_per_input = Vec::with_capacity(len);
        let mut counts: Vec<u32> = Vec::new();
        for i in 0..len {
            let key = match parent_of(i) {
                Some(parent) => {
                    let fresh = counts.len() as u32;
                    let key = *key_of.entry(parent).or_insert(fresh);
                    if key == fresh {
                        counts.push(0);
                    }
                    counts[key as usize] += 1;
                    key
                }
                None => NO_KEY,
            };
            key_per_input.push(key);
        }
        let mut offsets = Vec::with_capacity(counts.len() + 1);
        let mut total = 0u32;
        offsets.push(0);
        for count in &counts {
            total += count;
            offsets.push(total);
        }
        // Filling in input order keeps each group in input order.
        let mut cursor = offsets[..counts.len()].to_vec();
        let mut members = vec![0u32; total as usize];
        for (i, &key) in key_per_input.iter().enumerate() {
            if key != NO_KEY {
                let slot = &mut cursor[key as usize];
                members[*slot as usize] = i as u32;
                *slot += 1;
            }
        }
        Adjacency {
            key_of,
            offsets,
            members,
        }
    }

    fn of(&self, parent: &str) -> &[u32] {
        match self.key_of.get(parent) {
            Some(&key) => {
                let key = key as usize;
                &self.members[self.offsets[key] as usize..self.offsets[key + 1] as usize]
            }
            None => &[],
        }
    }
}

/// Index of the last row of each id.
fn last_row_of<'a>(rows: &[Row<'a>]) -> Map<&'a str, u32> {
    let mut row_of: Map<&'a str, u32> = Map::default();
    row_of.reserve(rows.len());
    for (i, (id, _)) in rows.iter().enumerate() {
        row_of.insert(id, i as u32);
    }
    row_of
}

/// All transitive children of `root` (not `root` itself), as indices into `rows`.
///
/// Breadth-first, one generation at a time; within a generation, children come in row
/// order, grouped by the order of their parents in the previous generation. Each id is
/// reported once (at its first sighting), so cycles in the data terminate. `max_levels`:
/// `None` = unlimited, `Some(0)` = nothing, `Some(1)` = direct children, and so on.
pub fn descendants(rows: &[Row<'_>], root: &str, max_levels: Option<usize>) -> Vec<usize> {
    if max_levels == Some(0) || rows.is_empty() {
        return Vec::new();
    }
    let children = Adjacency::build(rows.len(), |i| rows[i].1);
    let mut seen: Set<&str> = Set::default();
    seen.insert(root);
    // `found` doubles as the breadth-first queue: found[start..] is the newest generation.
    let mut found: Vec<usize> = Vec::new();
    let mut push_children = |parent: &str, found: &mut Vec<usize>| {
        for &child in children.of(parent) {
            let child = child as usize;
            if seen.insert(rows[child].0) {
                found.push(child);
            }
        }
    };
    push_children(root, &mut found);
    let mut start = 0;
    let mut level = 1;
    while start < found.len() && max_levels.is_none_or(|max| level < max) {
        let end = found.len();
        for at in start..end {
            push_children(rows[found[at]].0, &mut found);
        }
        start = end;
        level += 1;
    }
    found
}

/// The parent chain of `start`, nearest first, not including `start`, as indices into
/// `rows` (the row of each ancestor).
///
/// Stops at an item with no parent, at a parent id that has no row, at an id already in
/// the chain (a cycle), or after `max_depth` steps.
pub fn ancestors(rows: &[Row<'_>], start: &str, max_depth: usize) -> Vec<usize> {
    if max_depth == 0 {
        return Vec::new();
    }
    let row_of = last_row_of(rows);
    let Some(&first) = row_of.get(start) else {
        return Vec::new();
    };
    let mut chain: Vec<usize> = Vec::new();
    let mut current = first as usize;
    // A row stands for exactly one id, so "repeated id" is "repeated row".
    let mut seen: Set<usize> = Set::default();
    seen.insert(current);
    while chain.len() < max_depth {
        let Some(parent) = rows[current].1 else { break };
        let Some(&row) = row_of.get(parent) else {
            break;
        };
        let row = row as usize;
        if !seen.insert(row) {
            break;
        }
        chain.push(row);
        current = row;
    }
    chain
}

/// Would the link `blocking → blocked` close a cycle of `blocks` links?
///
/// Searches breadth-first from `blocked` along the existing `edges` (blocking → blocked
/// direction, successors in edge order). If `blocking` is reached, returns the indices
/// of the edges along the path found, in order: the path of ids is `blocked`, then
/// `edges[i].1` for each returned `i`, ending at `blocking`. It is a shortest path, ties
/// broken by edge order. `blocking == blocked` is a cycle of its own: `Some(vec![])`.
pub fn would_cycle(edges: &[Edge<'_>], blocking: &str, blocked: &str) -> Option<Vec<usize>> {
    if blocking == blocked {
        return Some(Vec::new());
    }
    let successors = Adjacency::build(edges.len(), |i| Some(edges[i].0));
    let mut seen: Set<&str> = Set::default();
    seen.insert(blocked);
    // queue[k] = (edge that reached node k, queue index of its predecessor); node 0 is
    // `blocked` itself and has no edge.
    let mut queue: Vec<(u32, u32)> = vec![(NO_KEY, NO_KEY)];
    let mut at = 0;
    while at < queue.len() {
        let node = match queue[at].0 {
            NO_KEY => blocked,
            edge => edges[edge as usize].1,
        };
        for &edge in successors.of(node) {
            let next = edges[edge as usize].1;
            if next == blocking {
                let mut path = vec![edge as usize];
                let mut back = at;
                while back != 0 {
                    let (edge, previous) = queue[back];
                    path.push(edge as usize);
                    back = previous as usize;
                }
                path.reverse();
                return Some(path);
            }
            if seen.insert(next) {
                queue.push((edge, at as u32));
            }
        }
        at += 1;
    }
    None
}

/// Would making `new_parent` the parent of `item` create a parent cycle?
///
/// True if `new_parent == item`, or if walking up from `new_parent` reaches `item`
/// within `max_depth` parent steps. The walk stops (false) at an item with no parent or
/// no row, or when it comes back to an id it has already visited (a cycle in the data
/// that does not involve `item`).
pub fn is_reachable_parent_cycle(
    rows: &[Row<'_>],
    item: &str,
    new_parent: &str,
    max_depth: usize,
) -> bool {
    if new_parent == item {
        return true;
    }
    if max_depth == 0 {
        return false;
    }
    let row_of = last_row_of(rows);
    let Some(&first) = row_of.get(new_parent) else {
        return false;
    };
    let mut current = first as usize;
    let mut seen: Set<usize> = Set::default();
    seen.insert(current);
    for _ in 0..max_depth {
        let Some(parent) = rows[current].1 else {
            return false;
        };
        // Checked before the row lookup: reaching `item` by reference is a cycle even
        // if `item` has no row among `rows`.
        if parent == item {
            return true;
        }
        let Some(&row) = row_of.get(parent) else {
            return false;
        };
        let row = row as usize;
        if !seen.insert(row) {
            return false;
        }
        current = row;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids<'a>(rows: &[Row<'a>], found: &[usize]) -> Vec<&'a str> {
        found.iter().map(|&i| rows[i].0).collect()
    }

    fn desc<'a>(rows: &[Row<'a>], root: &str, max: Option<usize>) -> Vec<&'a str> {
        ids(rows, &descendants(rows, root, max))
    }

    fn anc<'a>(rows: &[Row<'a>], start: &str, max: usize) -> Vec<&'a str> {
        ids(rows, &ancestors(rows, start, max))
    }

    fn cycle<'a>(edges: &[Edge<'a>], blocking: &str, blocked: &'a str) -> Option<Vec<&'a str>> {
        would_cycle(edges, blocking, blocked).map(|path| {
            std::iter::once(blocked)
                .chain(path.iter().map(|&i| edges[i].1))
                .collect()
        })
    }

    // a ─┬─ b ─┬─ d
    //    │     └─ e ── g
    //    └─ c ── f
    // rows deliberately not in tree order
    const TREE: &[Row<'static>] = &[
        ("e", Some("b")),
        ("c", Some("a")),
        ("g", Some("e")),
        ("a", None),
        ("b", Some("a")),
        ("f", Some("c")),
        ("d", Some("b")),
    ];

    #[test]
    fn empty_input() {
        assert!(descendants(&[], "a", None).is_empty());
        assert!(ancestors(&[], "a", 100).is_empty());
        assert_eq!(would_cycle(&[], "a", "b"), None);
        assert!(!is_reachable_parent_cycle(&[], "a", "b", 100));
    }

    #[test]
    fn descendants_are_breadth_first_in_row_order() {
        assert_eq!(desc(TREE, "a", None), ["c", "b", "f", "e", "d", "g"]);
        assert_eq!(desc(TREE, "b", None), ["e", "d", "g"]);
        assert!(desc(TREE, "g", None).is_empty());
        assert!(desc(TREE, "unknown", None).is_empty());
    }

    #[test]
    fn descendants_respect_max_levels() {
        assert!(desc(TREE, "a", Some(0)).is_empty());
        assert_eq!(desc(TREE, "a", Some(1)), ["c", "b"]);
        assert_eq!(desc(TREE, "a", Some(2)), ["c", "b", "f", "e", "d"]);
        assert_eq!(desc(TREE, "a", Some(3)), desc(TREE, "a", None));
        assert_eq!(desc(TREE, "a", Some(usize::MAX)), desc(TREE, "a", None));
    }

    #[test]
    fn descendants_of_a_root_without_row() {
        let rows = [("x", Some("ghost")), ("y", Some("x"))];
        assert_eq!(desc(&rows, "ghost", None), ["x", "y"]);
    }

    #[test]
    fn descendants_terminate_on_cycles_and_skip_root() {
        let rows = [("a", Some("b")), ("b", Some("a")), ("c", Some("b"))];
        assert_eq!(desc(&rows, "a", None), ["b", "c"]);
        let rows = [("a", Some("a"))];
        assert!(desc(&rows, "a", None).is_empty());
    }

    #[test]
    fn descendants_report_each_id_once() {
        // "d" has two rows (two parents): reported once, at its first sighting.
        let rows = [
            ("b", Some("a")),
            ("c", Some("a")),
            ("d", Some("c")),
            ("d", Some("b")),
        ];
        assert_eq!(desc(&rows, "a", None), ["b", "c", "d"]);
        assert_eq!(descendants(&rows, "a", None), [0, 1, 3]);
    }

    #[test]
    fn ancestors_nearest_first() {
        assert_eq!(anc(TREE, "g", 100), ["e", "b", "a"]);
        assert_eq!(anc(TREE, "g", 2), ["e", "b"]);
        assert!(anc(TREE, "g", 0).is_empty());
        assert!(anc(TREE, "a", 100).is_empty());
        assert!(anc(TREE, "unknown", 100).is_empty());
    }

    #[test]
    fn ancestors_stop_at_missing_parent_and_cycles() {
        let rows = [("a", Some("ghost")), ("b", Some("a"))];
        assert_eq!(anc(&rows, "b", 100), ["a"]);
        let rows = [("a", Some("b")), ("b", Some("c")), ("c", Some("a"))];
        assert_eq!(anc(&rows, "a", 100), ["b", "c"]);
        let rows = [("a", Some("b")), ("b", Some("c")), ("c", Some("b"))];
        assert_eq!(anc(&rows, "a", 100), ["b", "c"]);
        let rows = [("a", Some("a"))];
        assert!(anc(&rows, "a", 100).is_empty());
    }

    #[test]
    fn ancestors_use_the_last_row_of_an_id() {
        let rows = [("c", Some("a")), ("c", Some("b")), ("a", None), ("b", None)];
        assert_eq!(anc(&rows, "c", 100), ["b"]);
        assert_eq!(ancestors(&rows, "c", 100), [3]);
    }

    #[test]
    fn would_cycle_finds_shortest_path() {
        let edges = [("a", "b"), ("b", "c"), ("c", "d"), ("b", "d")];
        // adding d → a: a reaches d via b (shortest), not via c
        assert_eq!(cycle(&edges, "d", "a"), Some(vec!["a", "b", "d"]));
        assert_eq!(cycle(&edges, "c", "a"), Some(vec!["a", "b", "c"]));
        assert_eq!(cycle(&edges, "a", "d"), None);
        assert_eq!(cycle(&edges, "x", "y"), None);
    }

    #[test]
    fn would_cycle_breaks_ties_by_edge_order() {
        let edges = [("s", "p"), ("s", "q"), ("q", "t"), ("p", "t")];
        assert_eq!(cycle(&edges, "t", "s"), Some(vec!["s", "p", "t"]));
        let edges = [("s", "q"), ("s", "p"), ("q", "t"), ("p", "t")];
        assert_eq!(cycle(&edges, "t", "s"), Some(vec!["s", "q", "t"]));
    }

    #[test]
    fn would_cycle_self_link_and_direct_cycle() {
        assert_eq!(cycle(&[], "a", "a"), Some(vec!["a"]));
        assert_eq!(cycle(&[("a", "b")], "b", "a"), Some(vec!["a", "b"]));
    }

    #[test]
    fn would_cycle_terminates_on_existing_cycles() {
        let edges = [("a", "b"), ("b", "a"), ("b", "b"), ("b", "c")];
        assert_eq!(cycle(&edges, "z", "a"), None);
        assert_eq!(cycle(&edges, "c", "a"), Some(vec!["a", "b", "c"]));
    }

    #[test]
    fn reparent_cycle_detection() {
        assert!(is_reachable_parent_cycle(TREE, "a", "a", 100));
        assert!(is_reachable_parent_cycle(TREE, "a", "g", 100));
        assert!(is_reachable_parent_cycle(TREE, "b", "d", 100));
        assert!(!is_reachable_parent_cycle(TREE, "b", "f", 100));
        assert!(!is_reachable_parent_cycle(TREE, "g", "a", 100));
        assert!(!is_reachable_parent_cycle(TREE, "a", "unknown", 100));
    }

    #[test]
    fn reparent_cycle_respects_max_depth() {
        // g → e → b → a: a is three steps up
        assert!(is_reachable_parent_cycle(TREE, "a", "g", 3));
        assert!(!is_reachable_parent_cycle(TREE, "a", "g", 2));
        assert!(!is_reachable_parent_cycle(TREE, "e", "g", 0));
        assert!(is_reachable_parent_cycle(TREE, "g", "g", 0));
    }

    #[test]
    fn reparent_cycle_on_bad_data() {
        let rows = [("a", Some("b")), ("b", Some("a")), ("c", None)];
        assert!(!is_reachable_parent_cycle(&rows, "c", "a", 100));
        // reaching the item by reference counts even when it has no row
        let rows = [("a", Some("ghost"))];
        assert!(is_reachable_parent_cycle(&rows, "ghost", "a", 100));
    }
}
