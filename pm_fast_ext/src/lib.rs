//! `pm_fast_ext._native`: the PyO3 layer over the plain-Rust modules.
//!
//! Only conversions live here. The ids are borrowed as `&str` from the caller's own
//! string objects (kept alive by owned references for as long as the borrow lasts), the
//! algorithm runs with the GIL released, and the answer is built from those same string
//! objects, so no id is copied either way.

use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};

pub mod graph;

/// `(id, parent_id)` rows, as owned references to the caller's strings.
struct Rows<'py> {
    ids: Vec<Bound<'py, PyString>>,
    parents: Vec<Option<Bound<'py, PyString>>>,
}

impl<'py> Rows<'py> {
    fn extract(rows: &Bound<'py, PyAny>) -> PyResult<Self> {
        let capacity = rows.len().unwrap_or(0);
        let mut ids = Vec::with_capacity(capacity);
        let mut parents = Vec::with_capacity(capacity);
        for row in rows.try_iter()? {
            let (id, parent) = pair(&row?, "rows", "(id, parent_id)")?;
            ids.push(string(id, "id")?);
            parents.push(if parent.is_none() {
                None
            } else {
                Some(string(parent, "parent_id")?)
            });
        }
        Ok(Rows { ids, parents })
    }

    fn borrow(&self) -> PyResult<Vec<graph::Row<'_>>> {
        self.ids
            .iter()
            .zip(&self.parents)
            .map(|(id, parent)| {
                Ok((
                    id.to_str()?,
                    parent.as_ref().map(|p| p.to_str()).transpose()?,
                ))
            })
            .collect()
    }
}

/// `(blocking_item_id, blocked_item_id)` links, as owned references to the caller's strings.
struct Edges<'py> {
    ends: Vec<(Bound<'py, PyString>, Bound<'py, PyString>)>,
}

impl<'py> Edges<'py> {
    fn extract(edges: &Bound<'py, PyAny>) -> PyResult<Self> {
        let mut ends = Vec::with_capacity(edges.len().unwrap_or(0));
        for edge in edges.try_iter()? {
            let (blocking, blocked) = pair(&edge?, "edges", "(blocking_item_id, blocked_item_id)")?;
            ends.push((
                string(blocking, "blocking_item_id")?,
                string(blocked, "blocked_item_id")?,
            ));
        }
        Ok(Edges { ends })
    }

    fn borrow(&self) -> PyResult<Vec<graph::Edge<'_>>> {
        self.ends
            .iter()
            .map(|(a, b)| Ok((a.to_str()?, b.to_str()?)))
            .collect()
    }
}

/// The two items of a row: a tuple (the fast, usual case) or any other 2-item sequence.
fn pair<'py>(
    item: &Bound<'py, PyAny>,
    what: &str,
    shape: &str,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let len = match item.cast::<PyTuple>() {
        Ok(tuple) if tuple.len() == 2 => return Ok((tuple.get_item(0)?, tuple.get_item(1)?)),
        Ok(tuple) => Some(tuple.len()),
        Err(_) => item.len().ok(),
    };
    match len {
        Some(2) => Ok((item.get_item(0)?, item.get_item(1)?)),
        Some(len) => Err(PyValueError::new_err(format!(
            "each item of {what} must be a pair {shape}, got one of length {len}"
        ))),
        None => Err(PyTypeError::new_err(format!(
            "each item of {what} must be a pair {shape}, got {}",
            item.get_type().name()?
        ))),
    }
}

fn string<'py>(value: Bound<'py, PyAny>, what: &str) -> PyResult<Bound<'py, PyString>> {
    match value.cast_into::<PyString>() {
        Ok(s) => Ok(s),
        Err(err) => Err(PyTypeError::new_err(format!(
            "{what} must be str, got {}",
            err.into_inner().get_type().name()?
        ))),
    }
}

/// A step limit as Python passes it: any int. Ints beyond `usize` mean "no practical
/// limit" (as they do for the Python twin); negative ones are refused by [`Steps::get`],
/// where the parameter's name is known.
enum Steps {
    Limit(usize),
    Negative(String),
}

impl<'a, 'py> FromPyObject<'a, 'py> for Steps {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        match obj.extract::<i64>() {
            Ok(v) => Ok(
                usize::try_from(v).map_or_else(|_| Steps::Negative(v.to_string()), Steps::Limit)
            ),
            Err(err) if err.is_instance_of::<PyOverflowError>(obj.py()) => {
                if obj.gt(0)? {
                    Ok(Steps::Limit(usize::MAX))
                } else {
                    Ok(Steps::Negative(obj.str()?.to_string()))
                }
            }
            Err(err) => Err(err),
        }
    }
}

impl Steps {
    fn get(self, name: &str) -> PyResult<usize> {
        match self {
            Steps::Limit(n) => Ok(n),
            Steps::Negative(v) => Err(PyValueError::new_err(format!(
                "{name} must be >= 0, got {v}"
            ))),
        }
    }
}

/// Ids of all transitive children of `root` (not `root` itself), breadth-first.
#[pyfunction]
#[pyo3(signature = (rows, root, max_levels = None))]
fn descendants<'py>(
    py: Python<'py>,
    rows: &Bound<'py, PyAny>,
    root: &str,
    max_levels: Option<Steps>,
) -> PyResult<Bound<'py, PyList>> {
    let max_levels = max_levels.map(|v| v.get("max_levels")).transpose()?;
    let owned = Rows::extract(rows)?;
    let borrowed = owned.borrow()?;
    let found = py.detach(|| graph::descendants(&borrowed, root, max_levels));
    PyList::new(py, found.into_iter().map(|i| &owned.ids[i]))
}

/// The parent chain of `start`, nearest first, not including `start`.
#[pyfunction]
#[pyo3(
    signature = (rows, start, max_depth = Steps::Limit(100)),
    text_signature = "(rows, start, max_depth=100)"
)]
fn ancestors<'py>(
    py: Python<'py>,
    rows: &Bound<'py, PyAny>,
    start: &str,
    max_depth: Steps,
) -> PyResult<Bound<'py, PyList>> {
    let max_depth = max_depth.get("max_depth")?;
    let owned = Rows::extract(rows)?;
    let borrowed = owned.borrow()?;
    let found = py.detach(|| graph::ancestors(&borrowed, start, max_depth));
    PyList::new(py, found.into_iter().map(|i| &owned.ids[i]))
}

/// The path `blocked` → … → `blocking` that the link blocking→blocked would close, or None.
#[pyfunction]
fn would_cycle<'py>(
    py: Python<'py>,
    edges: &Bound<'py, PyAny>,
    blocking: &str,
    blocked: Bound<'py, PyString>,
) -> PyResult<Option<Bound<'py, PyList>>> {
    let owned = Edges::extract(edges)?;
    let borrowed = owned.borrow()?;
    let blocked_str = blocked.to_str()?;
    let path = py.detach(|| graph::would_cycle(&borrowed, blocking, blocked_str));
    path.map(|path| {
        let rest = path.into_iter().map(|i| &owned.ends[i].1);
        PyList::new(py, std::iter::once(&blocked).chain(rest))
    })
    .transpose()
}

/// True if walking up from `new_parent` (itself included) reaches `item`.
#[pyfunction]
#[pyo3(
    signature = (rows, item, new_parent, max_depth = Steps::Limit(100)),
    text_signature = "(rows, item, new_parent, max_depth=100)"
)]
fn is_reachable_parent_cycle<'py>(
    py: Python<'py>,
    rows: &Bound<'py, PyAny>,
    item: &str,
    new_parent: &str,
    max_depth: Steps,
) -> PyResult<bool> {
    let max_depth = max_depth.get("max_depth")?;
    let owned = Rows::extract(rows)?;
    let borrowed = owned.borrow()?;
    Ok(py.detach(|| graph::is_reachable_parent_cycle(&borrowed, item, new_parent, max_depth)))
}

/// Rust implementations of pm-fast's hot paths; each has a pure-Python twin in `pm_fast`.
#[pymodule]
mod _native {
    #[pymodule_export]
    use super::{ancestors, descendants, is_reachable_parent_cycle, would_cycle};
}
