//! `pm_fast_ext._native`: the PyO3 layer over the plain-Rust modules.
//!
//! Only conversions live here. Graph walks (`graph`): the ids are borrowed as `&str`
//! from the caller's own string objects, the algorithm runs with the GIL released, and
//! the answer is built from those same string objects, so no id is copied either way.
//! Protobuf codec (`codec`): entity attributes are read into a `codec::Writer`; see the
//! section below. Event fan-out (`fanout`):
//! the `Hub` and `SendQueue` classes live in `hub`.

use pyo3::exceptions::{PyAttributeError, PyOverflowError, PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyBytes, PyDict, PyInt, PyList, PyString, PyTuple};

pub mod codec;
pub mod fanout;
pub mod graph;
mod hub;

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

// ------------------------------------------------------------------ protobuf codec
//
// The wire rules and the schema live in `codec`; this layer reads the entities'
// attributes into a `codec::Writer` (keeping the Python strings themselves, so nothing is
// copied before the final write).

/// Frames of at least this many bytes are written with the GIL released. Below it the
/// pure-Rust part takes a few microseconds: less than what handing the GIL to another
/// thread can cost in waiting to take it back (up to the 5 ms switch interval), so those
/// keep it. Reading the entities' attributes needs the GIL anyway.
const DETACH_AT: usize = 32 * 1024;

type Writer = codec::Writer<PyBackedStr>;

/// Every field name of every message as an interned Python string (the attribute names
/// read from entities): `names(py)[message.id][field index]`.
static NAMES: PyOnceLock<Vec<Vec<Py<PyString>>>> = PyOnceLock::new();

fn names(py: Python<'_>) -> &'static [Vec<Py<PyString>>] {
    NAMES.get_or_init(py, || {
        codec::MESSAGES
            .iter()
            .map(|m| {
                m.fields
                    .iter()
                    .map(|f| PyString::intern(py, f.name).unbind())
                    .collect()
            })
            .collect()
    })
}

/// A string field's value: the Python string itself.
fn text(value: Bound<'_, PyAny>) -> PyResult<PyBackedStr> {
    PyBackedStr::try_from(value.cast_into::<PyString>()?)
}

/// An integer field's value, refused as upb refuses it: bools (TypeError) and values
/// outside the field's range (ValueError).
fn int_in(value: &Bound<'_, PyAny>, min: i64, max: i64) -> PyResult<i64> {
    if value.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err("expected an int, got a bool"));
    }
    match value.extract::<i64>() {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        Err(err) if !err.is_instance_of::<PyOverflowError>(value.py()) => Err(err),
        _ => Err(PyValueError::new_err(format!(
            "Value out of range: {value}"
        ))),
    }
}

fn int64(value: &Bound<'_, PyAny>) -> PyResult<i64> {
    int_in(value, i64::MIN, i64::MAX)
}

/// The singular fields of `message`, read from the attributes of the entity `obj`.
fn write_entity(w: &mut Writer, obj: &Bound<'_, PyAny>, message: &codec::Message) -> PyResult<()> {
    let py = obj.py();
    let names = &names(py)[message.id];
    for (index, field) in message.entity_fields() {
        let value = obj.getattr(names[index].bind(py))?;
        // ws_codec passes attributes as keyword arguments, and a None keyword leaves a
        // protobuf field unset; its own `is not None` checks for optional fields agree
        if value.is_none() {
            continue;
        }
        let present = field.label == codec::Label::Optional;
        let number = field.number;
        match field.ty {
            codec::Type::Str => w.string(number, text(value)?, present),
            codec::Type::Int32 => w.int(
                number,
                int_in(&value, i32::MIN.into(), i32::MAX.into())?,
                present,
            ),
            codec::Type::Int64 => w.int(number, int64(&value)?, present),
            codec::Type::Enum(values) => {
                // `ITEM_TYPE.get(value, 0)`: unknown names and non-strings are 0, but
                // an unhashable value raises
                let known = match value.cast::<PyString>() {
                    Ok(s) => s.to_str().map_or(0, |s| values.value(s)),
                    Err(_) => value.hash().map(|_| 0)?,
                };
                w.int(number, known.into(), present);
            }
            codec::Type::Uint64 | codec::Type::Bool | codec::Type::Msg(_) => {
                unreachable!("not in entity messages")
            }
        }
    }
    Ok(())
}

/// A repeated string field from any iterable of strings.
fn write_strings(w: &mut Writer, number: u32, values: &Bound<'_, PyAny>) -> PyResult<()> {
    if let Ok(list) = values.cast::<PyList>() {
        for value in list.iter() {
            w.string(number, text(value)?, true);
        }
    } else {
        for value in values.try_iter()? {
            w.string(number, text(value?)?, true);
        }
    }
    Ok(())
}

/// `getattr(obj, name, None)`, as an Option.
fn attr_or_none<'py>(
    obj: &Bound<'py, PyAny>,
    name: &Bound<'py, PyString>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    match obj.getattr(name) {
        Ok(value) if value.is_none() => Ok(None),
        Ok(value) => Ok(Some(value)),
        Err(err) if err.is_instance_of::<PyAttributeError>(obj.py()) => Ok(None),
        Err(err) => Err(err),
    }
}

/// `ws_codec._change_text`: start and end dates as RFC 3339, anything else as `str()`.
fn change_text(name: &str, value: Option<Bound<'_, PyAny>>) -> PyResult<Option<PyBackedStr>> {
    let Some(value) = value else {
        return Ok(None);
    };
    let py = value.py();
    let shown = if codec::is_date_field(name) && value.is_instance_of::<PyInt>() {
        match value.extract::<i64>().ok().and_then(codec::iso_utc) {
            Some(iso) => PyString::new(py, &iso),
            // beyond the years 1 to 9999: let Python raise what it raises
            None => {
                let datetime = py.import("datetime")?;
                let utc = datetime.getattr("UTC")?;
                let moment = datetime
                    .getattr("datetime")?
                    .call_method1("fromtimestamp", (value, utc))?;
                moment.call_method0("isoformat")?.cast_into::<PyString>()?
            }
        }
    } else {
        value.str()?
    };
    PyBackedStr::try_from(shown).map(Some)
}

/// `ws_codec.changes_pb`: one `FieldChange` per name in `changed`.
fn write_changes(
    w: &mut Writer,
    number: u32,
    previous: &Bound<'_, PyAny>,
    current: &Bound<'_, PyAny>,
    changed: &Bound<'_, PyAny>,
) -> PyResult<()> {
    for name in changed.try_iter()? {
        let name = name?.cast_into::<PyString>()?;
        let old = attr_or_none(previous, &name)?;
        let new = attr_or_none(current, &name)?;
        let name = PyBackedStr::try_from(name)?;
        let old = change_text(&name, old)?;
        let new = change_text(&name, new)?;
        w.open(number);
        w.string(codec::FIELD_NAME, name, false);
        if let Some(old) = old {
            w.string(codec::OLD_VALUE, old, true);
        }
        if let Some(new) = new {
            w.string(codec::NEW_VALUE, new, true);
        }
        w.close();
    }
    Ok(())
}

/// An envelope with `message_id` and `timestamp`, its payload `case` opened.
fn envelope(
    message_id: PyBackedStr,
    timestamp: &Bound<'_, PyAny>,
    case: u32,
    capacity: usize,
) -> PyResult<Writer> {
    let mut w = Writer::with_capacity(capacity);
    w.string(codec::MESSAGE_ID, message_id, false);
    w.int(codec::TIMESTAMP, int64(timestamp)?, false);
    w.open(case);
    Ok(w)
}

/// The finished frame as bytes, written straight into the new bytes object.
fn emit(py: Python<'_>, mut w: Writer) -> PyResult<Bound<'_, PyBytes>> {
    w.close(); // the payload
    let encoding = w.finish();
    PyBytes::new_with(py, encoding.len(), |out| {
        // Only this function knows the new object, so writing it unattached is safe.
        if encoding.len() >= DETACH_AT {
            py.detach(|| encoding.write(out));
        } else {
            encoding.write(out);
        }
        Ok(())
    })
}

/// The broadcast frame announcing an event, or None for kinds that are not broadcast.
#[pyfunction]
fn encode_event<'py>(
    py: Python<'py>,
    kind: &Bound<'py, PyString>,
    entity: &Bound<'py, PyAny>,
    actor: PyBackedStr,
    extra: &Bound<'py, PyDict>,
    message_id: PyBackedStr,
    timestamp: &Bound<'py, PyAny>,
) -> PyResult<Option<Bound<'py, PyBytes>>> {
    let Some(event) = kind.to_str().ok().and_then(codec::event) else {
        return Ok(None);
    };
    let mut w = envelope(message_id, timestamp, event.case, 32)?;
    match &event.body {
        codec::Body::Entity {
            message: shape,
            changes,
            actor: with_actor,
            ancestry,
        } => {
            w.open(1);
            write_entity(&mut w, entity, shape)?;
            if *ancestry {
                for (number, key) in [
                    (codec::ANCESTOR_IDS, intern!(py, "ancestor_ids")),
                    (codec::DESCENDANT_IDS, intern!(py, "descendant_ids")),
                ] {
                    if let Some(ids) = extra.get_item(key)? {
                        write_strings(&mut w, number, &ids)?;
                    }
                }
            }
            w.close();
            if *changes {
                let changed = extra.get_item(intern!(py, "changed"))?;
                let previous = extra.get_item(intern!(py, "previous"))?;
                if let Some(changed) = changed {
                    let previous = previous.unwrap_or_else(|| py.None().into_bound(py));
                    write_changes(
                        &mut w,
                        event.body.changes_field(),
                        &previous,
                        entity,
                        &changed,
                    )?;
                }
            }
            if *with_actor {
                w.string(event.body.actor_field(), actor, false);
            }
        }
        codec::Body::Ids(attrs) => {
            for (number, attr) in (1..).zip(attrs.iter()) {
                let value = entity.getattr(PyString::intern(py, attr))?;
                if !value.is_none() {
                    w.string(number, text(value)?, false);
                }
            }
            w.string(event.body.actor_field(), actor, false);
        }
    }
    emit(py, w).map(Some)
}

/// The `work_items_list` reply frame: `items` with their ancestor and descendant ids.
#[pyfunction]
fn encode_work_items_list<'py>(
    py: Python<'py>,
    message_id: PyBackedStr,
    timestamp: &Bound<'py, PyAny>,
    items: &Bound<'py, PyAny>,
    ancestors: &Bound<'py, PyAny>,
    descendants: &Bound<'py, PyAny>,
    as_of: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    let as_of = int64(as_of)?;
    let list = items.cast::<PyList>().ok();
    let capacity = 8 + 40 * list.map_or(0, |l| l.len());
    let mut w = envelope(message_id, timestamp, codec::WORK_ITEMS_LIST_CASE, capacity)?;
    let mut write_item = |item: Bound<'py, PyAny>| -> PyResult<()> {
        let id = item.getattr(intern!(py, "id"))?;
        let above = ancestors.get_item(&id)?;
        let below = descendants.get_item(&id)?;
        w.open(codec::WORK_ITEMS);
        write_entity(&mut w, &item, &codec::WORK_ITEM)?;
        write_strings(&mut w, codec::ANCESTOR_IDS, &above)?;
        write_strings(&mut w, codec::DESCENDANT_IDS, &below)?;
        w.close();
        Ok(())
    };
    match list {
        Some(list) => list.iter().try_for_each(&mut write_item)?,
        None => {
            for item in items.try_iter()? {
                write_item(item?)?;
            }
        }
    }
    w.int(codec::AS_OF_TIMESTAMP, as_of, false);
    emit(py, w)
}

/// Rust implementations of pm-fast's hot paths; each has a pure-Python twin in `pm_fast`.
#[pymodule]
mod _native {
    #[pymodule_export]
    use super::hub::{Hub, SendQueue};
    #[pymodule_export]
    use super::{
        ancestors, descendants, encode_event, encode_work_items_list, is_reachable_parent_cycle,
        would_cycle,
    };
}
