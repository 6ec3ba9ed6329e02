//! The PyO3 layer of the event fan-out: `Hub` (the subscription index of [`fanout`]
//! plus the delivery loop) and `SendQueue` (one connection's bounded queue of frames to
//! send). Their pure-Python twins are `pm_fast/realtime/hub.py` and
//! `pm_fast/realtime/send_queue.py`; both pairs must behave the same.
//!
//! Re-entrancy: a subscriber's `deliver`, the encoder, a waiter's wake-up or a
//! subscriber's `__del__` may call back into the hub (typically `remove`). No borrow of a
//! `Hub` or `SendQueue` is held while Python code runs: recipients are copied out of the
//! index (as strong references) before the first frame is delivered, and references
//! that a change drops are released after the borrow ends.

use std::collections::VecDeque;

use pyo3::exceptions::PyValueError;
use pyo3::gc::PyVisit;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::{PyDict, PySet, PyString};
use pyo3::PyTraverseError;
use rustc_hash::FxHashMap;

use crate::fanout::{Index, Scope, Sub};

// ------------------------------------------------------------------------- SendQueue

/// A connection's outgoing frames: a FIFO of at most `limit` frames (0: no limit) that
/// one writer task drains. `offer` refuses a frame when the queue is full or closed;
/// a successful `offer` (and `close`) wakes the writer parked with `park(future)` by
/// setting the future's result to None (unless it is already done, e.g. cancelled).
#[pyclass(module = "pm_fast_ext._native")]
pub struct SendQueue {
    frames: VecDeque<Py<PyAny>>,
    limit: usize,
    closed: bool,
    waiter: Option<Py<PyAny>>,
}

fn wake(py: Python<'_>, waiter: Option<Py<PyAny>>) -> PyResult<()> {
    if let Some(waiter) = waiter {
        let waiter = waiter.bind(py);
        if !waiter.call_method0(intern!(py, "done"))?.is_truthy()? {
            waiter.call_method1(intern!(py, "set_result"), (py.None(),))?;
        }
    }
    Ok(())
}

impl SendQueue {
    /// `offer`, callable from Rust with an already typed queue (the hub's direct path).
    fn offer_to(queue: &Bound<'_, SendQueue>, frame: &Bound<'_, PyAny>) -> PyResult<bool> {
        let waiter = {
            let mut me = queue.try_borrow_mut()?;
            if me.closed || (me.limit != 0 && me.frames.len() >= me.limit) {
                return Ok(false);
            }
            me.frames.push_back(frame.clone().unbind());
            me.waiter.take()
        };
        wake(queue.py(), waiter)?;
        Ok(true)
    }
}

#[pymethods]
impl SendQueue {
    #[new]
    fn new(limit: i64) -> PyResult<Self> {
        let limit = usize::try_from(limit)
            .map_err(|_| PyValueError::new_err(format!("limit must be >= 0, got {limit}")))?;
        Ok(SendQueue {
            frames: VecDeque::new(),
            limit,
            closed: false,
            waiter: None,
        })
    }

    #[getter]
    fn limit(&self) -> usize {
        self.limit
    }

    #[getter]
    fn closed(&self) -> bool {
        self.closed
    }

    fn __len__(&self) -> usize {
        self.frames.len()
    }

    /// Appends `frame` unless the queue is full or closed; True if it was appended.
    fn offer(slf: &Bound<'_, Self>, frame: &Bound<'_, PyAny>) -> PyResult<bool> {
        SendQueue::offer_to(slf, frame)
    }

    /// The oldest frame, removed; None when there is none.
    fn pop(&mut self) -> Option<Py<PyAny>> {
        self.frames.pop_front()
    }

    /// Wake `waiter` (an asyncio future) on the next successful `offer` or on `close`.
    fn park(slf: &Bound<'_, Self>, waiter: Py<PyAny>) -> PyResult<()> {
        let old = slf.try_borrow_mut()?.waiter.replace(waiter);
        drop(old);
        Ok(())
    }

    /// Refuse any further frame (those queued stay) and wake the parked writer.
    fn close(slf: &Bound<'_, Self>) -> PyResult<()> {
        let waiter = {
            let mut me = slf.try_borrow_mut()?;
            me.closed = true;
            me.waiter.take()
        };
        wake(slf.py(), waiter)
    }

    /// Drop the queued frames and the parked waiter.
    fn clear(slf: &Bound<'_, Self>) -> PyResult<()> {
        // emptied in place (keeping its buffer); the frames are dropped after the borrow
        let (frames, waiter) = {
            let mut me = slf.try_borrow_mut()?;
            (me.frames.drain(..).collect::<Vec<_>>(), me.waiter.take())
        };
        drop((frames, waiter));
        Ok(())
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        for frame in &self.frames {
            visit.call(frame)?;
        }
        visit.call(&self.waiter)
    }

    fn __clear__(&mut self) {
        self.frames.clear();
        self.waiter = None;
    }
}

// ---------------------------------------------------------------------------- Hub

/// A subscriber as the hub keeps it: the object (a strong reference, which also keeps
/// its address, the identity key, unique) and its queue when it has a Rust one.
struct Target {
    obj: Py<PyAny>,
    send_queue: Option<Py<SendQueue>>,
}

impl Target {
    fn clone_ref(&self, py: Python<'_>) -> Target {
        Target {
            obj: self.obj.clone_ref(py),
            send_queue: self.send_queue.as_ref().map(|o| o.clone_ref(py)),
        }
    }

    /// Hands `frame` over: straight into the queue when it takes it, otherwise through
    /// the subscriber's `deliver` (which decides what a refused frame means).
    fn deliver(&self, py: Python<'_>, frame: &Bound<'_, PyAny>) -> PyResult<()> {
        if let Some(queue) = &self.send_queue {
            if SendQueue::offer_to(queue.bind(py), frame)? {
                return Ok(());
            }
        }
        self.obj
            .bind(py)
            .call_method1(intern!(py, "deliver"), (frame,))?;
        Ok(())
    }
}

/// Subscribers by project and sprint id; `publish` encodes each event once and hands
/// the same frame to every subscriber of its project or sprint. Subscribers are told
/// apart by identity. See `pm_fast/realtime/hub.py` (the twin) for the contract.
#[pyclass(module = "pm_fast_ext._native")]
pub struct Hub {
    index: Index,
    /// Subscriber object address → its number in `index`.
    numbers: FxHashMap<usize, Sub>,
    /// Number → subscriber; None for numbers free for reuse (listed in `free`).
    targets: Vec<Option<Target>>,
    free: Vec<Sub>,
    /// Event → frame (or None: not broadcast); None: publish nothing.
    #[pyo3(get, set)]
    encoder: Option<Py<PyAny>>,
    /// Event kind → (events broadcast, frames handed to subscribers), for metrics.
    sent: FxHashMap<String, (u64, u64)>,
}

fn address(obj: &Bound<'_, PyAny>) -> usize {
    obj.as_ptr() as usize
}

/// Every id of an iterable, as strings (collected before the hub is borrowed).
fn ids(values: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<PyBackedStr>> {
    let Some(values) = values else {
        return Ok(Vec::new());
    };
    values
        .try_iter()?
        .map(|v| PyBackedStr::try_from(v?.cast_into::<PyString>()?))
        .collect()
}

/// A Rust send queue of the subscriber (its `send_queue` attribute), if it has one.
fn rust_send_queue(sub: &Bound<'_, PyAny>) -> Option<Py<SendQueue>> {
    let queue = sub.getattr(intern!(sub.py(), "send_queue")).ok()?;
    queue.cast_into::<SendQueue>().ok().map(Bound::unbind)
}

impl Hub {
    fn number(&self, sub: &Bound<'_, PyAny>) -> Option<Sub> {
        self.numbers.get(&address(sub)).copied()
    }

    /// The number of `sub`, registering it (with `target` made by the caller).
    fn register(&mut self, sub: &Bound<'_, PyAny>, send_queue: Option<Py<SendQueue>>) -> Sub {
        if let Some(number) = self.number(sub) {
            return number;
        }
        let target = Target {
            obj: sub.clone().unbind(),
            send_queue,
        };
        let number = match self.free.pop() {
            Some(number) => {
                self.targets[number as usize] = Some(target);
                number
            }
            None => {
                self.targets.push(Some(target));
                (self.targets.len() - 1) as Sub
            }
        };
        self.numbers.insert(address(sub), number);
        self.index.register(number);
        number
    }

    /// The recipients of an event, as new references to their targets.
    fn recipients(
        &self,
        py: Python<'_>,
        project: Option<&str>,
        sprint: Option<&str>,
        scratch: &mut Vec<Sub>,
        out: &mut Vec<Target>,
    ) {
        scratch.clear();
        self.index.recipients(project, sprint, scratch);
        out.extend(scratch.iter().map(|&n| {
            self.targets[n as usize]
                .as_ref()
                .expect("indexed subscribers have a target")
                .clone_ref(py)
        }));
    }
}

/// The string value of an event's attribute, if it is a string.
fn as_str<'a>(value: &'a Bound<'_, PyAny>) -> Option<&'a str> {
    value.cast::<PyString>().ok()?.to_str().ok()
}

#[pymethods]
impl Hub {
    #[new]
    fn new() -> Self {
        Hub {
            index: Index::new(),
            numbers: FxHashMap::default(),
            targets: Vec::new(),
            free: Vec::new(),
            encoder: None,
            sent: FxHashMap::default(),
        }
    }

    /// Per event kind: (events broadcast, frames handed to subscribers) so far, counting
    /// each event whose frame was encoded and offered to at least one subscriber.
    fn sent<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        for (kind, counts) in &self.sent {
            out.set_item(kind, *counts)?;
        }
        Ok(out)
    }

    /// Adds `sub` to the subscribers of the given projects and sprints.
    #[pyo3(
        signature = (sub, project_ids, sprint_ids = None),
        text_signature = "(self, sub, project_ids, sprint_ids=())"
    )]
    fn subscribe(
        slf: &Bound<'_, Self>,
        sub: &Bound<'_, PyAny>,
        project_ids: &Bound<'_, PyAny>,
        sprint_ids: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let projects = ids(Some(project_ids))?;
        let sprints = ids(sprint_ids)?;
        let known = slf.try_borrow()?.number(sub).is_some();
        let send_queue = if known { None } else { rust_send_queue(sub) };
        let mut me = slf.try_borrow_mut()?;
        let number = me.register(sub, send_queue);
        for key in &projects {
            me.index.subscribe(number, Scope::Project, key);
        }
        for key in &sprints {
            me.index.subscribe(number, Scope::Sprint, key);
        }
        Ok(())
    }

    /// Takes `sub` off the given projects and sprints (unknown ids and subscribers are
    /// ignored; `sub` stays registered).
    #[pyo3(
        signature = (sub, project_ids, sprint_ids = None),
        text_signature = "(self, sub, project_ids, sprint_ids=())"
    )]
    fn unsubscribe(
        slf: &Bound<'_, Self>,
        sub: &Bound<'_, PyAny>,
        project_ids: &Bound<'_, PyAny>,
        sprint_ids: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        if slf.try_borrow()?.number(sub).is_none() {
            return Ok(());
        }
        let projects = ids(Some(project_ids))?;
        let sprints = ids(sprint_ids)?;
        let mut me = slf.try_borrow_mut()?;
        // the iterables may have run Python code: look the subscriber up again
        let Some(number) = me.number(sub) else {
            return Ok(());
        };
        for key in &projects {
            me.index.unsubscribe(number, Scope::Project, key);
        }
        for key in &sprints {
            me.index.unsubscribe(number, Scope::Sprint, key);
        }
        Ok(())
    }

    /// Forgets `sub` and every subscription of it (and drops the hub's reference to it).
    fn remove(slf: &Bound<'_, Self>, sub: &Bound<'_, PyAny>) -> PyResult<()> {
        let target = {
            let mut me = slf.try_borrow_mut()?;
            let Some(number) = me.numbers.remove(&address(sub)) else {
                return Ok(());
            };
            me.index.remove(number);
            me.free.push(number);
            me.targets[number as usize].take()
        };
        drop(target); // after the borrow: dropping it may run Python code
        Ok(())
    }

    /// `(project ids, sprint ids)` that `sub` is subscribed to, as new sets.
    fn subscriptions<'py>(
        slf: &Bound<'py, Self>,
        sub: &Bound<'py, PyAny>,
    ) -> PyResult<(Bound<'py, PySet>, Bound<'py, PySet>)> {
        let py = slf.py();
        let me = slf.try_borrow()?;
        let own = me.number(sub).and_then(|n| me.index.subscriptions(n));
        match own {
            Some(own) => Ok((
                PySet::new(py, own.projects.iter().map(|k| &**k))?,
                PySet::new(py, own.sprints.iter().map(|k| &**k))?,
            )),
            None => Ok((PySet::empty(py)?, PySet::empty(py)?)),
        }
    }

    /// Each event, in order, to the subscribers of its project (`project_id`) and of its
    /// sprint (`extra["sprint_id"]` when a string): encoded once, only when somebody
    /// listens, and skipped when the encoder returns None.
    fn publish(slf: &Bound<'_, Self>, events: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = slf.py();
        let encoder = {
            let me = slf.try_borrow()?;
            match &me.encoder {
                Some(encoder) if !me.index.is_empty() => encoder.clone_ref(py),
                _ => return Ok(()),
            }
        };
        let encoder = encoder.bind(py);
        let mut scratch = Vec::new();
        let mut targets = Vec::new();
        for event in events.try_iter()? {
            let event = event?;
            let project = event.getattr(intern!(py, "project_id"))?;
            let extra = event.getattr(intern!(py, "extra"))?;
            let sprint = match extra.cast::<PyDict>() {
                Ok(extra) => extra.get_item(intern!(py, "sprint_id"))?,
                Err(_) => {
                    Some(extra.call_method1(intern!(py, "get"), (intern!(py, "sprint_id"),))?)
                }
            };
            let sprint = sprint.as_ref().and_then(as_str);
            slf.try_borrow()?
                .recipients(py, as_str(&project), sprint, &mut scratch, &mut targets);
            if targets.is_empty() {
                continue;
            }
            let frame = encoder.call1((&event,));
            let frame = match frame {
                Ok(frame) if frame.is_none() => {
                    targets.clear();
                    continue;
                }
                Ok(frame) => frame,
                Err(err) => {
                    targets.clear();
                    return Err(err);
                }
            };
            let reached = targets.len() as u64;
            let kind = event.getattr(intern!(py, "kind"))?;
            if let Ok(kind) = kind.cast::<PyString>() {
                let kind = kind.to_str()?;
                let mut me = slf.try_borrow_mut()?;
                match me.sent.get_mut(kind) {
                    Some(counts) => {
                        counts.0 += 1;
                        counts.1 += reached;
                    }
                    None => {
                        me.sent.insert(kind.to_owned(), (1, reached));
                    }
                }
            }
            let mut failed = None;
            for target in targets.drain(..) {
                if failed.is_none() {
                    failed = target.deliver(py, &frame).err();
                }
            }
            if let Some(err) = failed {
                return Err(err);
            }
        }
        Ok(())
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        for target in self.targets.iter().flatten() {
            visit.call(&target.obj)?;
            visit.call(&target.send_queue)?;
        }
        visit.call(&self.encoder)
    }

    fn __clear__(&mut self) {
        self.index = Index::new();
        self.numbers.clear();
        self.targets.clear();
        self.free.clear();
        self.encoder = None;
    }
}
