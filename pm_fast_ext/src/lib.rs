//! `pm_fast_ext._native`: the PyO3 layer over the plain-Rust modules.
//!
//! Only conversions live here. The ids are borrowed as `&str` from the caller's own
//! string objects, the algorithm runs with the GIL released, and the answer is built
//! from those same string objects, so no id is copied either way.

use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};

pub mod graph;

/// What the items of an argument are: `(id, parent_id)` rows or `blocks` links.
struct Shape {
    what: &'static str,
    names: [&'static str; 2],
    /// May the second item be None?
    optional: bool,
}

const ROWS: Shape = Shape {
    what: "rows",
    names: ["id", "parent_id"],
    optional: true,
};
const EDGES: Shape = Shape {
    what: "edges",
    names: ["blocking_item_id", "blocked_item_id"],
    optional: false,
};

/// One item as borrowed strings. For links, [`Pairs::extract`] has checked that the
/// second is present.
type Pair<'a> = (&'a str, Option<&'a str>);

/// The caller's rows (or links), owned by this call as one tuple of 2-tuples.
///
/// Taking a tuple snapshot costs one C-level copy of the outer sequence, and makes every
/// id borrowable as `&str` for as long as the snapshot lives, with no reference count
/// taken per id (under abi3 each one is a call into the interpreter): tuples and strings
/// are immutable and the snapshot owns the tuples, so nothing can free them while the
/// GIL is released, whatever other threads do to the caller's list.
struct Pairs<'py> {
    tuple: Bound<'py, PyTuple>,
    shape: &'static Shape,
}

impl<'py> Pairs<'py> {
    fn snapshot(items: &Bound<'py, PyAny>, shape: &'static Shape) -> PyResult<Self> {
        let tuple = if let Ok(tuple) = items.cast::<PyTuple>() {
            tuple.clone()
        } else if let Ok(list) = items.cast::<PyList>() {
            list.to_tuple()
        } else {
            PyTuple::new(items.py(), items.try_iter()?.collect::<PyResult<Vec<_>>>()?)?
        };
        Ok(Pairs { tuple, shape })
    }

    /// Every item as strings, or the index of the first item that does not convert.
    fn extract(&self) -> Result<Vec<Pair<'_>>, usize> {
        let mut out = Vec::with_capacity(self.tuple.len());
        for (index, item) in self.tuple.iter_borrowed().enumerate() {
            let pair = item.extract::<Pair<'_>>().map_err(|_| index)?;
            if pair.1.is_none() && !self.shape.optional {
                return Err(index);
            }
            out.push(pair);
        }
        Ok(out)
    }

    /// Calls `f` with every item as strings. Items that are not tuples (lists,
    /// `sqlite3.Row`, …) are first copied into tuples: a slow path the server never takes.
    fn with<R>(&self, f: impl FnOnce(&Pairs<'py>, Vec<Pair<'_>>) -> PyResult<R>) -> PyResult<R> {
        match self.extract() {
            Ok(pairs) => f(self, pairs),
            Err(_) => {
                let copy = self.as_tuples()?;
                let pairs = copy.extract().map_err(|index| copy.explain(index))?;
                f(&copy, pairs)
            }
        }
    }

    fn as_tuples(&self) -> PyResult<Pairs<'py>> {
        let py = self.tuple.py();
        let mut pairs = Vec::with_capacity(self.tuple.len());
        for item in self.tuple.iter() {
            let pair = match item.cast::<PyTuple>() {
                Ok(tuple) if tuple.len() == 2 => tuple.clone(),
                _ => match item.len() {
                    Ok(2) => PyTuple::new(py, [item.get_item(0)?, item.get_item(1)?])?,
                    Ok(len) => {
                        return Err(PyValueError::new_err(format!(
                            "each item of {} must be a pair {}, got one of length {len}",
                            self.shape.what,
                            self.describe()
                        )))
                    }
                    Err(_) => {
                        return Err(PyTypeError::new_err(format!(
                            "each item of {} must be a pair {}, got {}",
                            self.shape.what,
                            self.describe(),
                            item.get_type().name()?
                        )))
                    }
                },
            };
            pairs.push(pair);
        }
        Ok(Pairs {
            tuple: PyTuple::new(py, pairs)?,
            shape: self.shape,
        })
    }

    /// Why item `index` (a 2-tuple) does not convert.
    fn explain(&self, index: usize) -> PyErr {
        let item = match self.tuple.get_item(index) {
            Ok(item) => item,
            Err(err) => return err,
        };
        for (position, name) in self.shape.names.iter().enumerate() {
            let optional = self.shape.optional && position == 1;
            match item.get_item(position) {
                Ok(value) if value.is_instance_of::<PyString>() => {}
                Ok(value) if optional && value.is_none() => {}
                Ok(value) => {
                    let type_name = value.get_type().name().map(|n| n.to_string());
                    let expected = if optional { "str or None" } else { "str" };
                    return PyTypeError::new_err(format!(
                        "{name} must be {expected}, got {}",
                        type_name.as_deref().unwrap_or("?")
                    ));
                }
                Err(err) => return err,
            }
        }
        // Both are strings: the conversion's own error says why (e.g. a lone surrogate).
        let why = item.extract::<Pair<'_>>().err();
        why.unwrap_or_else(|| PyValueError::new_err("unconvertible item"))
    }

    fn describe(&self) -> String {
        format!("({}, {})", self.shape.names[0], self.shape.names[1])
    }

    /// A list of the caller's own string objects: item `index` of each of the given
    /// items, after `head` if given.
    fn pick(
        &self,
        head: Option<&Bound<'py, PyString>>,
        items: impl IntoIterator<Item = usize>,
        index: usize,
    ) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(self.tuple.py());
        if let Some(head) = head {
            list.append(head)?;
        }
        for item in items {
            list.append(self.tuple.get_borrowed_item(item)?.get_item(index)?)?;
        }
        Ok(list)
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
    Pairs::snapshot(rows, &ROWS)?.with(|pairs, rows| {
        let found = py.detach(|| graph::descendants(&rows, root, max_levels));
        pairs.pick(None, found, 0)
    })
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
    Pairs::snapshot(rows, &ROWS)?.with(|pairs, rows| {
        let found = py.detach(|| graph::ancestors(&rows, start, max_depth));
        pairs.pick(None, found, 0)
    })
}

/// The path `blocked` → … → `blocking` that the link blocking→blocked would close, or None.
#[pyfunction]
fn would_cycle<'py>(
    py: Python<'py>,
    edges: &Bound<'py, PyAny>,
    blocking: &str,
    blocked: Bound<'py, PyString>,
) -> PyResult<Option<Bound<'py, PyList>>> {
    let blocked_str = blocked.to_str()?;
    Pairs::snapshot(edges, &EDGES)?.with(|pairs, edges| {
        // `extract` refused links without a second item, so none is dropped here
        let edges: Vec<graph::Edge<'_>> = edges
            .into_iter()
            .filter_map(|(blocking, blocked)| Some((blocking, blocked?)))
            .collect();
        let path = py.detach(|| graph::would_cycle(&edges, blocking, blocked_str));
        path.map(|path| pairs.pick(Some(&blocked), path, 1))
            .transpose()
    })
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
    Pairs::snapshot(rows, &ROWS)?.with(|_, rows| {
        Ok(py.detach(|| graph::is_reachable_parent_cycle(&rows, item, new_parent, max_depth)))
    })
}

/// Rust implementations of pm-fast's hot paths; each has a pure-Python twin in `pm_fast`.
#[pymodule]
mod _native {
    #[pymodule_export]
    use super::{ancestors, descendants, is_reachable_parent_cycle, would_cycle};
}
