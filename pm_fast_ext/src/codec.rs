//! The WebSocket protocol's protobuf wire format (`pm_fast/api/pm.proto`), written out.
//!
//! Plain Rust with no Python types, so `cargo test` covers it directly. Three parts:
//!
//! * the schema: every message of `pm.proto` as a table (checked against the `.proto`
//!   file itself by the tests below);
//! * an encoder, [`Writer`], that produces exactly the bytes upb's `SerializeToString`
//!   produces for the same content, and the tables saying which entity attribute goes
//!   where in each event ([`event`], [`Entity`]);
//! * a decoder, [`decode`], that accepts and rejects exactly what upb's parser accepts
//!   and rejects, and reads the same values.
//!
//! The pure-Python twin is `pm_fast/api/codec_twin.py` (upb through `pm_pb2`, with the
//! entity mapping of `pm_fast/api/ws_codec.py`); `tests/unit/test_codec_twins.py`
//! checks byte-for-byte agreement.
//!
//! # What upb does, and so what this does
//!
//! Encoding (proto3): fields in field-number order, whatever the declaration order
//! (`Sprint.version = 13` is declared before 8–12 and still goes last); a plain scalar
//! equal to its default is left out, an `optional` one that is set is written even when
//! it is the default; every element of a repeated field is written, empty strings
//! included (no repeated field here is numeric, so nothing is packed); a set message
//! field is written even when empty (`0a 00`), and so is the envelope's payload. Negative
//! `int32` values (and enums) are sign-extended to ten-byte varints, like `int64`.
//!
//! Decoding: a field whose wire type does not match its declaration is an unknown field
//! and is skipped (never an error); the last occurrence of a singular scalar wins, and
//! repeated fields accumulate; a singular message field that occurs again is merged into
//! the first; a `oneof` case that occurs again is merged, but another case in between
//! clears it. Every string of every known field must be valid UTF-8, even in a message
//! that a later field replaces, but unknown fields are not looked into. Errors: a varint
//! of more than ten bytes (the tenth byte's high bits are dropped), a tag or length of
//! more than five bytes or above `u32::MAX`, field number 0 (but upb lets it pass
//! inside an unknown group and in a message without fields, such as
//! `ListProjectsRequest`), wire types 6 and 7, an
//! end-group outside its group or with another field number, a length beyond the end,
//! and nesting (sub-messages plus groups) deeper than 100.

use std::fmt;

// ---------------------------------------------------------------------------- schema

/// The type of a field, as far as the wire and the decoded value are concerned.
#[derive(Clone, Copy, Debug)]
pub enum Type {
    Str,
    Int32,
    Int64,
    Bool,
    /// An open enum: any `int32` value decodes.
    Enum,
    Msg(&'static Message),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Label {
    /// proto3 scalar without presence: the default value is not written, and an absent
    /// field reads as the default.
    Plain,
    /// `optional` (or a message field): explicit presence.
    Optional,
    Repeated,
    /// A case of the envelope's `oneof payload`.
    Oneof,
}

#[derive(Debug)]
pub struct Field {
    pub number: u32,
    pub name: &'static str,
    pub ty: Type,
    pub label: Label,
}

#[derive(Debug)]
pub struct Message {
    /// Index in [`MESSAGES`].
    pub id: usize,
    pub name: &'static str,
    /// In field-number order.
    pub fields: &'static [Field],
}

const fn field(number: u32, name: &'static str, ty: Type, label: Label) -> Field {
    Field {
        number,
        name,
        ty,
        label,
    }
}

impl Type {
    /// The wire type this field type is read from.
    fn wire(self) -> u8 {
        match self {
            Type::Str | Type::Msg(_) => LEN,
            Type::Int32 | Type::Int64 | Type::Bool | Type::Enum => VARINT,
        }
    }
}

impl Message {
    /// The index in `fields` of field `number`.
    pub fn index_of(&self, number: u32) -> Option<usize> {
        // Most messages number their fields 1, 2, 3, … without gaps.
        let guess = (number as usize).wrapping_sub(1);
        match self.fields.get(guess) {
            Some(f) if f.number == number => Some(guess),
            _ => self.fields.binary_search_by_key(&number, |f| f.number).ok(),
        }
    }
}

/// The envelope: every frame, in both directions, is one of these.
pub static ENVELOPE: &Message = &WEB_SOCKET_MESSAGE;

/// Field numbers of the envelope's `message_id` and `timestamp`.
pub const MESSAGE_ID: u32 = 1;
pub const TIMESTAMP: u32 = 2;

/// Is envelope field `number` a client→server request (the 31 cases of
/// `pm_fast.api.proto_names.REQUEST_CASES`)?
pub fn is_request(number: u32) -> bool {
    matches!(
        number,
        10 | 20 | 21 | 30..=33 | 50..=53 | 70..=73 | 90..=93 | 110..=116 | 130..=132 | 140 | 143
    )
}

// ---------------------------------------------------------------------------- encoding

const VARINT: u8 = 0;
const I64: u8 = 1;
const LEN: u8 = 2;
const START_GROUP: u8 = 3;
const END_GROUP: u8 = 4;
const I32: u8 = 5;

fn varint_len(v: u64) -> usize {
    // 1 byte per 7 bits, at least one
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

fn tag_len(field: u32) -> usize {
    varint_len(u64::from(field) << 3)
}

/// One step of an encoding: a field, or the start or end of a nested message.
#[derive(Debug)]
enum Op<S> {
    Str(u32, S),
    Varint(u32, u64),
    Open(u32),
    Close,
}

/// Collects the fields of a message in write order, then encodes them in one exact-size
/// pass. Strings are kept as `S` (the PyO3 layer uses Python strings, so nothing is
/// copied until the final write).
///
/// The caller writes fields in field-number order, as upb does.
#[derive(Debug)]
pub struct Writer<S> {
    ops: Vec<Op<S>>,
    open: usize,
}

impl<S: AsRef<str>> Default for Writer<S> {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl<S: AsRef<str>> Writer<S> {
    pub fn with_capacity(ops: usize) -> Self {
        Writer {
            ops: Vec::with_capacity(ops),
            open: 0,
        }
    }

    /// A string field. `present`: the field has explicit presence (`optional`, or an
    /// element of a repeated field) and is written even when empty.
    pub fn string(&mut self, field: u32, value: S, present: bool) {
        if present || !value.as_ref().is_empty() {
            self.ops.push(Op::Str(field, value));
        }
    }

    /// An `int32`, `int64` or enum field. Negative values take ten bytes whatever the
    /// declared width (protobuf sign-extends `int32` to 64 bits).
    pub fn int(&mut self, field: u32, value: i64, present: bool) {
        if present || value != 0 {
            self.ops.push(Op::Varint(field, value as u64));
        }
    }

    /// Starts a message field (always written, even if nothing follows before
    /// [`Writer::close`]).
    pub fn open(&mut self, field: u32) {
        self.ops.push(Op::Open(field));
        self.open += 1;
    }

    pub fn close(&mut self) {
        assert!(self.open > 0, "close without open");
        self.open -= 1;
        self.ops.push(Op::Close);
    }

    /// Measures every nested message; the result knows its exact encoded size.
    pub fn finish(self) -> Encoding<S> {
        assert_eq!(self.open, 0, "unclosed message");
        let mut lens = Vec::new();
        // (index in lens, size of the enclosing message so far, field number)
        let mut stack: Vec<(usize, usize, u32)> = Vec::new();
        let mut size = 0usize;
        for op in &self.ops {
            match op {
                Op::Str(field, s) => {
                    let n = s.as_ref().len();
                    size += tag_len(*field) + varint_len(n as u64) + n;
                }
                Op::Varint(field, v) => size += tag_len(*field) + varint_len(*v),
                Op::Open(field) => {
                    stack.push((lens.len(), size, *field));
                    lens.push(0);
                    size = 0;
                }
                Op::Close => {
                    let (slot, outer, field) = stack.pop().expect("balanced by construction");
                    lens[slot] = size;
                    size = outer + tag_len(field) + varint_len(size as u64) + size;
                }
            }
        }
        Encoding {
            ops: self.ops,
            lens,
            size,
        }
    }
}

/// A measured message, ready to write.
#[derive(Debug)]
pub struct Encoding<S> {
    ops: Vec<Op<S>>,
    /// Content size of each nested message, in order of opening.
    lens: Vec<usize>,
    size: usize,
}

struct Out<'o> {
    buf: &'o mut [u8],
    at: usize,
}

impl Out<'_> {
    fn put(&mut self, bytes: &[u8]) {
        self.buf[self.at..self.at + bytes.len()].copy_from_slice(bytes);
        self.at += bytes.len();
    }

    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf[self.at] = (v as u8) | 0x80;
            self.at += 1;
            v >>= 7;
        }
        self.buf[self.at] = v as u8;
        self.at += 1;
    }

    fn tag(&mut self, field: u32, wire: u8) {
        self.varint(u64::from(field) << 3 | u64::from(wire));
    }
}

impl<S: AsRef<str>> Encoding<S> {
    /// The encoded size in bytes.
    pub fn len(&self) -> usize {
        self.size
    }

    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// Writes the encoding into `out`, which must be exactly [`Encoding::len`] bytes.
    pub fn write(&self, out: &mut [u8]) {
        assert_eq!(out.len(), self.size, "output buffer of the wrong size");
        let mut out = Out { buf: out, at: 0 };
        let mut lens = self.lens.iter();
        for op in &self.ops {
            match op {
                Op::Str(field, s) => {
                    let s = s.as_ref().as_bytes();
                    out.tag(*field, LEN);
                    out.varint(s.len() as u64);
                    out.put(s);
                }
                Op::Varint(field, v) => {
                    out.tag(*field, VARINT);
                    out.varint(*v);
                }
                Op::Open(field) => {
                    out.tag(*field, LEN);
                    out.varint(*lens.next().expect("measured") as u64);
                }
                Op::Close => {}
            }
        }
        debug_assert_eq!(out.at, self.size);
    }

    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = vec![0; self.size];
        self.write(&mut out);
        out
    }
}

// ------------------------------------------------------------- entities and events

/// How `ws_codec` turns a domain entity into its message: every singular field of
/// `message` except `deleted_at` comes from the entity attribute of the same name
/// (`None` leaves the field unset); the one enum field maps the attribute's string
/// through `enum_values` (anything else is 0). Repeated fields are not read from the
/// entity (see [`Body::Entity::ancestry`]).
#[derive(Debug)]
pub struct Entity {
    pub message: &'static Message,
    pub enum_values: &'static [(&'static str, i32)],
}

impl Entity {
    /// The fields read from the entity, with their index in `message.fields`.
    pub fn fields(&self) -> impl Iterator<Item = (usize, &'static Field)> {
        self.message.fields.iter().enumerate().filter(|(_, f)| {
            matches!(f.label, Label::Plain | Label::Optional)
                && !matches!(f.ty, Type::Msg(_))
                && f.name != "deleted_at"
        })
    }

    /// The number an enum attribute maps to (`ws_codec`'s `PROJECT_STATUS.get(s, 0)` &c.).
    pub fn enum_value(&self, name: &str) -> i32 {
        self.enum_values
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, v)| *v)
    }
}

pub static PROJECT_ENTITY: Entity = Entity {
    message: &PROJECT,
    enum_values: &[("active", 1), ("archived", 2)],
};
pub static WORK_ITEM_ENTITY: Entity = Entity {
    message: &WORK_ITEM,
    enum_values: &[("epic", 2), ("story", 3), ("task", 4)],
};
pub static SPRINT_ENTITY: Entity = Entity {
    message: &SPRINT,
    enum_values: &[
        ("planned", 1),
        ("active", 2),
        ("completed", 3),
        ("cancelled", 4),
    ],
};
pub static COMMENT_ENTITY: Entity = Entity {
    message: &COMMENT,
    enum_values: &[],
};
pub static TIME_ENTRY_ENTITY: Entity = Entity {
    message: &TIME_ENTRY,
    enum_values: &[],
};
pub static DEPENDENCY_ENTITY: Entity = Entity {
    message: &DEPENDENCY,
    enum_values: &[("blocks", 1), ("relates_to", 2)],
};
pub static ACTIVITY_ENTITY: Entity = Entity {
    message: &ACTIVITY_LOG_ENTRY,
    enum_values: &[],
};

/// `WorkItem.ancestor_ids` and `WorkItem.descendant_ids`: the only repeated fields of an
/// entity message, numbered after all its singular fields.
pub const ANCESTOR_IDS: u32 = 20;
pub const DESCENDANT_IDS: u32 = 21;
/// `WorkItemsList.work_items` and `WorkItemsList.as_of_timestamp`.
pub const WORK_ITEMS: u32 = 1;
pub const AS_OF_TIMESTAMP: u32 = 2;
/// The envelope's `work_items_list` case.
pub const WORK_ITEMS_LIST_CASE: u32 = 43;
/// `FieldChange`'s fields.
pub const FIELD_NAME: u32 = 1;
pub const OLD_VALUE: u32 = 2;
pub const NEW_VALUE: u32 = 3;

/// The payload message of an event, as `ws_codec.event_payload` builds it.
#[derive(Debug)]
pub enum Body {
    /// The entity's message in field 1; then, if `changes`, the `FieldChange`s in field
    /// 2; then, if `actor`, the actor as `user_id` in the next field. With `ancestry`,
    /// the entity message also carries `extra["ancestor_ids"]` and
    /// `extra["descendant_ids"]`.
    Entity {
        entity: &'static Entity,
        changes: bool,
        actor: bool,
        ancestry: bool,
    },
    /// These entity attributes (strings) in fields 1, 2, …, then the actor.
    Ids(&'static [&'static str]),
}

#[derive(Debug)]
pub struct Event {
    pub kind: &'static str,
    /// The envelope's payload case (field number).
    pub case: u32,
    pub body: Body,
}

impl Body {
    /// The field number of the changes and of `user_id`.
    pub fn changes_field(&self) -> u32 {
        2
    }

    pub fn actor_field(&self) -> u32 {
        match self {
            Body::Entity { changes, .. } => 2 + u32::from(*changes),
            Body::Ids(attrs) => attrs.len() as u32 + 1,
        }
    }
}

const fn created(kind: &'static str, case: u32, entity: &'static Entity) -> Event {
    Event {
        kind,
        case,
        body: Body::Entity {
            entity,
            changes: false,
            actor: true,
            ancestry: false,
        },
    }
}

const fn updated(kind: &'static str, case: u32, entity: &'static Entity) -> Event {
    Event {
        kind,
        case,
        body: Body::Entity {
            entity,
            changes: true,
            actor: true,
            ancestry: false,
        },
    }
}

const fn deleted(kind: &'static str, case: u32, attrs: &'static [&'static str]) -> Event {
    Event {
        kind,
        case,
        body: Body::Ids(attrs),
    }
}

/// Every event kind `ws_codec.event_payload` encodes.
pub static EVENTS: [Event; 18] = [
    Event {
        kind: "activity.created",
        case: 142,
        body: Body::Entity {
            entity: &ACTIVITY_ENTITY,
            changes: false,
            actor: false,
            ancestry: false,
        },
    },
    Event {
        kind: "work_item.created",
        case: 40,
        body: Body::Entity {
            entity: &WORK_ITEM_ENTITY,
            changes: false,
            actor: true,
            ancestry: true,
        },
    },
    Event {
        kind: "work_item.updated",
        case: 41,
        body: Body::Entity {
            entity: &WORK_ITEM_ENTITY,
            changes: true,
            actor: true,
            ancestry: true,
        },
    },
    deleted("work_item.deleted", 42, &["id"]),
    created("sprint.created", 60, &SPRINT_ENTITY),
    updated("sprint.updated", 61, &SPRINT_ENTITY),
    deleted("sprint.deleted", 62, &["id"]),
    created("comment.created", 80, &COMMENT_ENTITY),
    // CommentUpdated carries no changes
    created("comment.updated", 81, &COMMENT_ENTITY),
    deleted("comment.deleted", 82, &["id"]),
    created("project.created", 94, &PROJECT_ENTITY),
    updated("project.updated", 95, &PROJECT_ENTITY),
    deleted("project.deleted", 96, &["id"]),
    created("time_entry.created", 122, &TIME_ENTRY_ENTITY),
    created("time_entry.updated", 123, &TIME_ENTRY_ENTITY),
    deleted("time_entry.deleted", 124, &["id", "work_item_id"]),
    created("dependency.created", 135, &DEPENDENCY_ENTITY),
    deleted(
        "dependency.deleted",
        136,
        &["id", "blocking_item_id", "blocked_item_id"],
    ),
];

/// How to encode an event of `kind`, or None for kinds that are not broadcast.
pub fn event(kind: &str) -> Option<&'static Event> {
    EVENTS.iter().find(|e| e.kind == kind)
}

/// The attribute names whose change values are Unix times, shown as RFC 3339.
pub fn is_date_field(name: &str) -> bool {
    name == "start_date" || name == "end_date"
}

/// First and last second Python's `datetime` can represent (years 1 to 9999).
const MIN_DATETIME: i64 = -62_135_596_800;
const MAX_DATETIME: i64 = 253_402_300_799;

/// `datetime.fromtimestamp(secs, UTC).isoformat()`, e.g. `2026-01-31T00:00:00+00:00`;
/// None outside the years 1 to 9999, where Python raises.
pub fn iso_utc(secs: i64) -> Option<String> {
    if !(MIN_DATETIME..=MAX_DATETIME).contains(&secs) {
        return None;
    }
    let days = secs.div_euclid(86_400);
    let second_of_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_date(days);
    Some(format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}+00:00",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    ))
}

/// The proleptic Gregorian date `days` after 1970-01-01.
fn civil_date(days: i64) -> (i64, i64, i64) {
    // Count from 0000-03-01, so that the leap day ends each 400/100/4-year cycle.
    let from_march = days + 719_468;
    let cycle = from_march.div_euclid(146_097); // 400-year cycles
    let day_of_cycle = from_march.rem_euclid(146_097);
    let year_of_cycle =
        (day_of_cycle - day_of_cycle / 1460 + day_of_cycle / 36_524 - day_of_cycle / 146_096) / 365;
    let day_of_year =
        day_of_cycle - (365 * year_of_cycle + year_of_cycle / 4 - year_of_cycle / 100);
    let month_from_march = (5 * day_of_year + 2) / 153; // 0 = March … 11 = February
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_cycle + cycle * 400 + i64::from(month <= 2);
    (year, month, day)
}

// ---------------------------------------------------------------------------- decoding

/// Why bytes are not a valid message (upb's two reasons).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    Malformed,
    BadUtf8,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match self {
            Error::Malformed => "Wire format was corrupt",
            Error::BadUtf8 => "String field had bad UTF-8",
        };
        write!(
            f,
            "Error parsing message with type 'pm.WebSocketMessage': {why}"
        )
    }
}

impl std::error::Error for Error {}

/// upb's default nesting limit: sub-messages and groups together.
const MAX_DEPTH: u32 = 100;

/// A decoded message.
#[derive(Debug)]
pub struct Decoded<'a> {
    pub desc: &'static Message,
    /// One slot per field of `desc`, in the same order, except the `oneof` cases (which
    /// come after all other fields).
    pub slots: Vec<Slot<'a>>,
    /// The `oneof` case that is set: its index in `desc.fields`, and its message.
    pub case: Option<(usize, Box<Decoded<'a>>)>,
}

#[derive(Debug)]
pub enum Slot<'a> {
    Absent,
    One(Value<'a>),
    Many(Vec<Value<'a>>),
}

#[derive(Debug)]
pub enum Value<'a> {
    Str(&'a str),
    /// Every integer type and enums, already narrowed to the field's width.
    Int(i64),
    Bool(bool),
    Msg(Box<Decoded<'a>>),
}

impl<'a> Decoded<'a> {
    fn new(desc: &'static Message) -> Self {
        let oneof = desc.fields.iter().position(|f| f.label == Label::Oneof);
        let slots = desc.fields[..oneof.unwrap_or(desc.fields.len())]
            .iter()
            .map(|f| match f.label {
                Label::Repeated => Slot::Many(Vec::new()),
                _ => Slot::Absent,
            })
            .collect();
        Decoded {
            desc,
            slots,
            case: None,
        }
    }

    /// Field `index` as a string ("" when absent or not a string).
    pub fn str(&self, index: usize) -> &'a str {
        match self.slots[index] {
            Slot::One(Value::Str(s)) => s,
            _ => "",
        }
    }

    /// Field `index` as an integer (0 when absent or not an integer).
    pub fn int(&self, index: usize) -> i64 {
        match self.slots[index] {
            Slot::One(Value::Int(v)) => v,
            _ => 0,
        }
    }

    /// The envelope's `message_id`.
    pub fn message_id(&self) -> &'a str {
        self.str(0)
    }

    /// The envelope's `timestamp`.
    pub fn timestamp(&self) -> i64 {
        self.int(1)
    }

    /// The `oneof` case that is set: its index in `desc.fields`, its field, its message.
    pub fn payload(&self) -> Option<(usize, &'static Field, &Decoded<'a>)> {
        let (index, message) = self.case.as_ref()?;
        Some((*index, &self.desc.fields[*index], message))
    }

    /// The messages of repeated message field `number` (none if there is no such field).
    pub fn messages(&self, number: u32) -> impl Iterator<Item = &Decoded<'a>> {
        let values: &[Value<'a>] = match self.desc.index_of(number).map(|i| &self.slots[i]) {
            Some(Slot::Many(values)) => values,
            _ => &[],
        };
        values.iter().filter_map(|v| match v {
            Value::Msg(m) => Some(&**m),
            _ => None,
        })
    }
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn done(&self) -> bool {
        self.at >= self.data.len()
    }

    fn byte(&mut self) -> Result<u8, Error> {
        let b = *self.data.get(self.at).ok_or(Error::Malformed)?;
        self.at += 1;
        Ok(b)
    }

    /// A varint of up to `max_bytes` bytes; bits beyond 64 are dropped.
    fn varint_of(&mut self, max_bytes: u32) -> Result<u64, Error> {
        let mut value = 0u64;
        for i in 0..max_bytes {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f).checked_shl(7 * i).unwrap_or(0);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Error::Malformed)
    }

    fn varint(&mut self) -> Result<u64, Error> {
        self.varint_of(10)
    }

    /// A tag or a length: at most five bytes and 32 bits.
    fn varint32(&mut self) -> Result<u32, Error> {
        u32::try_from(self.varint_of(5)?).map_err(|_| Error::Malformed)
    }

    /// A field's number and wire type. Field number 0 is left to the caller: upb
    /// refuses it in a message but not inside an unknown group.
    fn tag(&mut self) -> Result<(u32, u8), Error> {
        let tag = self.varint32()?;
        let (number, wire) = (tag >> 3, (tag & 7) as u8);
        if wire > I32 {
            return Err(Error::Malformed);
        }
        Ok((number, wire))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self.at.checked_add(n).ok_or(Error::Malformed)?;
        let bytes = self.data.get(self.at..end).ok_or(Error::Malformed)?;
        self.at = end;
        Ok(bytes)
    }

    fn delimited(&mut self) -> Result<&'a [u8], Error> {
        let n = self.varint32()?;
        self.take(n as usize)
    }

    /// Skips the value of an unknown field (a whole group for a start-group tag).
    fn skip(&mut self, number: u32, wire: u8, depth: u32) -> Result<(), Error> {
        match wire {
            VARINT => self.varint().map(drop),
            I64 => self.take(8).map(drop),
            LEN => self.delimited().map(drop),
            I32 => self.take(4).map(drop),
            START_GROUP => {
                let depth = depth.checked_sub(1).ok_or(Error::Malformed)?;
                loop {
                    if self.done() {
                        return Err(Error::Malformed);
                    }
                    let (inner, wire) = self.tag()?;
                    if wire == END_GROUP {
                        return if inner == number {
                            Ok(())
                        } else {
                            Err(Error::Malformed)
                        };
                    }
                    self.skip(inner, wire, depth)?;
                }
            }
            // END_GROUP outside its group
            _ => Err(Error::Malformed),
        }
    }
}

/// Parses `data` as a `pm.WebSocketMessage`.
pub fn decode(data: &[u8]) -> Result<Decoded<'_>, Error> {
    let mut out = Decoded::new(ENVELOPE);
    merge(&mut out, data, MAX_DEPTH)?;
    Ok(out)
}

/// Parses `data` as fields of `out.desc`, merging them into `out` as protobuf does.
fn merge<'a>(out: &mut Decoded<'a>, data: &'a [u8], depth: u32) -> Result<(), Error> {
    let desc = out.desc;
    let mut r = Reader { data, at: 0 };
    while !r.done() {
        let (number, wire) = r.tag()?;
        // upb skips over the content of a message without fields as it skips a group
        if number == 0 && !desc.fields.is_empty() {
            return Err(Error::Malformed);
        }
        let Some(index) = desc
            .index_of(number)
            .filter(|&i| desc.fields[i].ty.wire() == wire)
        else {
            r.skip(number, wire, depth)?;
            continue;
        };
        let field = &desc.fields[index];
        let value = match field.ty {
            Type::Str => {
                let bytes = r.delimited()?;
                Value::Str(std::str::from_utf8(bytes).map_err(|_| Error::BadUtf8)?)
            }
            Type::Int32 | Type::Enum => Value::Int(i64::from(r.varint()? as i32)),
            Type::Int64 => Value::Int(r.varint()? as i64),
            Type::Bool => Value::Bool(r.varint()? != 0),
            Type::Msg(sub) => {
                let bytes = r.delimited()?;
                let depth = depth.checked_sub(1).ok_or(Error::Malformed)?;
                if field.label == Label::Oneof {
                    match &mut out.case {
                        Some((case, existing)) if *case == index => merge(existing, bytes, depth)?,
                        // another case (or none) before: this one starts afresh
                        case => {
                            let mut inner = Decoded::new(sub);
                            merge(&mut inner, bytes, depth)?;
                            *case = Some((index, Box::new(inner)));
                        }
                    }
                    continue;
                }
                if field.label != Label::Repeated {
                    if let Slot::One(Value::Msg(existing)) = &mut out.slots[index] {
                        merge(existing, bytes, depth)?;
                        continue;
                    }
                }
                let mut inner = Decoded::new(sub);
                merge(&mut inner, bytes, depth)?;
                Value::Msg(Box::new(inner))
            }
        };
        match &mut out.slots[index] {
            Slot::Many(values) => values.push(value),
            slot => *slot = Slot::One(value),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------- the schema
//
// pm.proto as tables, messages in declaration order, fields in field-number order.

use Label::{Oneof, Optional, Plain, Repeated};
use Type::{Bool, Enum, Int32, Int64, Msg, Str};

pub static WEB_SOCKET_MESSAGE: Message = Message {
    id: 0,
    name: "WebSocketMessage",
    fields: &[
        field(1, "message_id", Str, Plain),
        field(2, "timestamp", Int64, Plain),
        field(10, "ping", Msg(&PING), Oneof),
        field(11, "pong", Msg(&PONG), Oneof),
        field(20, "subscribe", Msg(&SUBSCRIBE), Oneof),
        field(21, "unsubscribe", Msg(&UNSUBSCRIBE), Oneof),
        field(
            30,
            "create_work_item_request",
            Msg(&CREATE_WORK_ITEM_REQUEST),
            Oneof,
        ),
        field(
            31,
            "update_work_item_request",
            Msg(&UPDATE_WORK_ITEM_REQUEST),
            Oneof,
        ),
        field(
            32,
            "delete_work_item_request",
            Msg(&DELETE_WORK_ITEM_REQUEST),
            Oneof,
        ),
        field(
            33,
            "get_work_items_request",
            Msg(&GET_WORK_ITEMS_REQUEST),
            Oneof,
        ),
        field(40, "work_item_created", Msg(&WORK_ITEM_CREATED), Oneof),
        field(41, "work_item_updated", Msg(&WORK_ITEM_UPDATED), Oneof),
        field(42, "work_item_deleted", Msg(&WORK_ITEM_DELETED), Oneof),
        field(43, "work_items_list", Msg(&WORK_ITEMS_LIST), Oneof),
        field(
            50,
            "create_sprint_request",
            Msg(&CREATE_SPRINT_REQUEST),
            Oneof,
        ),
        field(
            51,
            "update_sprint_request",
            Msg(&UPDATE_SPRINT_REQUEST),
            Oneof,
        ),
        field(
            52,
            "delete_sprint_request",
            Msg(&DELETE_SPRINT_REQUEST),
            Oneof,
        ),
        field(53, "get_sprints_request", Msg(&GET_SPRINTS_REQUEST), Oneof),
        field(60, "sprint_created", Msg(&SPRINT_CREATED), Oneof),
        field(61, "sprint_updated", Msg(&SPRINT_UPDATED), Oneof),
        field(62, "sprint_deleted", Msg(&SPRINT_DELETED), Oneof),
        field(63, "sprints_list", Msg(&SPRINTS_LIST), Oneof),
        field(
            70,
            "create_comment_request",
            Msg(&CREATE_COMMENT_REQUEST),
            Oneof,
        ),
        field(
            71,
            "update_comment_request",
            Msg(&UPDATE_COMMENT_REQUEST),
            Oneof,
        ),
        field(
            72,
            "delete_comment_request",
            Msg(&DELETE_COMMENT_REQUEST),
            Oneof,
        ),
        field(
            73,
            "get_comments_request",
            Msg(&GET_COMMENTS_REQUEST),
            Oneof,
        ),
        field(80, "comment_created", Msg(&COMMENT_CREATED), Oneof),
        field(81, "comment_updated", Msg(&COMMENT_UPDATED), Oneof),
        field(82, "comment_deleted", Msg(&COMMENT_DELETED), Oneof),
        field(83, "comments_list", Msg(&COMMENTS_LIST), Oneof),
        field(
            90,
            "create_project_request",
            Msg(&CREATE_PROJECT_REQUEST),
            Oneof,
        ),
        field(
            91,
            "update_project_request",
            Msg(&UPDATE_PROJECT_REQUEST),
            Oneof,
        ),
        field(
            92,
            "delete_project_request",
            Msg(&DELETE_PROJECT_REQUEST),
            Oneof,
        ),
        field(
            93,
            "list_projects_request",
            Msg(&LIST_PROJECTS_REQUEST),
            Oneof,
        ),
        field(94, "project_created", Msg(&PROJECT_CREATED), Oneof),
        field(95, "project_updated", Msg(&PROJECT_UPDATED), Oneof),
        field(96, "project_deleted", Msg(&PROJECT_DELETED), Oneof),
        field(97, "project_list", Msg(&PROJECT_LIST), Oneof),
        field(100, "error", Msg(&ERROR), Oneof),
        field(110, "start_timer_request", Msg(&START_TIMER_REQUEST), Oneof),
        field(111, "stop_timer_request", Msg(&STOP_TIMER_REQUEST), Oneof),
        field(
            112,
            "create_time_entry_request",
            Msg(&CREATE_TIME_ENTRY_REQUEST),
            Oneof,
        ),
        field(
            113,
            "update_time_entry_request",
            Msg(&UPDATE_TIME_ENTRY_REQUEST),
            Oneof,
        ),
        field(
            114,
            "delete_time_entry_request",
            Msg(&DELETE_TIME_ENTRY_REQUEST),
            Oneof,
        ),
        field(
            115,
            "get_time_entries_request",
            Msg(&GET_TIME_ENTRIES_REQUEST),
            Oneof,
        ),
        field(
            116,
            "get_running_timer_request",
            Msg(&GET_RUNNING_TIMER_REQUEST),
            Oneof,
        ),
        field(120, "timer_started", Msg(&TIMER_STARTED), Oneof),
        field(121, "timer_stopped", Msg(&TIMER_STOPPED), Oneof),
        field(122, "time_entry_created", Msg(&TIME_ENTRY_CREATED), Oneof),
        field(123, "time_entry_updated", Msg(&TIME_ENTRY_UPDATED), Oneof),
        field(124, "time_entry_deleted", Msg(&TIME_ENTRY_DELETED), Oneof),
        field(125, "time_entries_list", Msg(&TIME_ENTRIES_LIST), Oneof),
        field(
            126,
            "running_timer_response",
            Msg(&RUNNING_TIMER_RESPONSE),
            Oneof,
        ),
        field(
            130,
            "create_dependency_request",
            Msg(&CREATE_DEPENDENCY_REQUEST),
            Oneof,
        ),
        field(
            131,
            "delete_dependency_request",
            Msg(&DELETE_DEPENDENCY_REQUEST),
            Oneof,
        ),
        field(
            132,
            "get_dependencies_request",
            Msg(&GET_DEPENDENCIES_REQUEST),
            Oneof,
        ),
        field(135, "dependency_created", Msg(&DEPENDENCY_CREATED), Oneof),
        field(136, "dependency_deleted", Msg(&DEPENDENCY_DELETED), Oneof),
        field(137, "dependencies_list", Msg(&DEPENDENCIES_LIST), Oneof),
        field(
            140,
            "get_activity_log_request",
            Msg(&GET_ACTIVITY_LOG_REQUEST),
            Oneof,
        ),
        field(141, "activity_log_list", Msg(&ACTIVITY_LOG_LIST), Oneof),
        field(
            142,
            "activity_log_created",
            Msg(&ACTIVITY_LOG_CREATED),
            Oneof,
        ),
        field(
            143,
            "get_llm_context_request",
            Msg(&GET_LLM_CONTEXT_REQUEST),
            Oneof,
        ),
        field(144, "llm_context_list", Msg(&LLM_CONTEXT_LIST), Oneof),
    ],
};
pub static PROJECT: Message = Message {
    id: 1,
    name: "Project",
    fields: &[
        field(1, "id", Str, Plain),
        field(2, "title", Str, Plain),
        field(3, "description", Str, Optional),
        field(4, "key", Str, Plain),
        field(5, "status", Enum, Plain),
        field(6, "version", Int32, Plain),
        field(7, "created_at", Int64, Plain),
        field(8, "updated_at", Int64, Plain),
        field(9, "created_by", Str, Plain),
        field(10, "updated_by", Str, Plain),
        field(11, "deleted_at", Int64, Optional),
        field(12, "next_work_item_number", Int32, Plain),
    ],
};
pub static WORK_ITEM: Message = Message {
    id: 2,
    name: "WorkItem",
    fields: &[
        field(1, "id", Str, Plain),
        field(2, "item_type", Enum, Plain),
        field(3, "parent_id", Str, Optional),
        field(4, "project_id", Str, Plain),
        field(5, "position", Int32, Plain),
        field(6, "title", Str, Plain),
        field(7, "description", Str, Optional),
        field(8, "status", Str, Plain),
        field(9, "assignee_id", Str, Optional),
        field(10, "sprint_id", Str, Optional),
        field(11, "created_at", Int64, Plain),
        field(12, "updated_at", Int64, Plain),
        field(13, "created_by", Str, Plain),
        field(14, "updated_by", Str, Plain),
        field(15, "deleted_at", Int64, Optional),
        field(16, "priority", Str, Plain),
        field(17, "story_points", Int32, Optional),
        field(18, "version", Int32, Plain),
        field(19, "item_number", Int32, Plain),
        field(20, "ancestor_ids", Str, Repeated),
        field(21, "descendant_ids", Str, Repeated),
    ],
};
pub static SPRINT: Message = Message {
    id: 3,
    name: "Sprint",
    fields: &[
        field(1, "id", Str, Plain),
        field(2, "project_id", Str, Plain),
        field(3, "name", Str, Plain),
        field(4, "goal", Str, Optional),
        field(5, "start_date", Int64, Plain),
        field(6, "end_date", Int64, Plain),
        field(7, "status", Enum, Plain),
        field(8, "created_at", Int64, Plain),
        field(9, "updated_at", Int64, Plain),
        field(10, "created_by", Str, Plain),
        field(11, "updated_by", Str, Plain),
        field(12, "deleted_at", Int64, Optional),
        field(13, "version", Int32, Plain),
    ],
};
pub static COMMENT: Message = Message {
    id: 4,
    name: "Comment",
    fields: &[
        field(1, "id", Str, Plain),
        field(2, "work_item_id", Str, Plain),
        field(3, "content", Str, Plain),
        field(4, "created_at", Int64, Plain),
        field(5, "updated_at", Int64, Plain),
        field(6, "created_by", Str, Plain),
        field(7, "updated_by", Str, Plain),
        field(8, "deleted_at", Int64, Optional),
    ],
};
pub static TIME_ENTRY: Message = Message {
    id: 5,
    name: "TimeEntry",
    fields: &[
        field(1, "id", Str, Plain),
        field(2, "work_item_id", Str, Plain),
        field(3, "user_id", Str, Plain),
        field(4, "started_at", Int64, Plain),
        field(5, "ended_at", Int64, Optional),
        field(6, "duration_seconds", Int32, Optional),
        field(7, "description", Str, Optional),
        field(8, "created_at", Int64, Plain),
        field(9, "updated_at", Int64, Plain),
        field(10, "deleted_at", Int64, Optional),
    ],
};
pub static DEPENDENCY: Message = Message {
    id: 6,
    name: "Dependency",
    fields: &[
        field(1, "id", Str, Plain),
        field(2, "blocking_item_id", Str, Plain),
        field(3, "blocked_item_id", Str, Plain),
        field(4, "dependency_type", Enum, Plain),
        field(5, "created_at", Int64, Plain),
        field(6, "created_by", Str, Plain),
        field(7, "deleted_at", Int64, Optional),
    ],
};
pub static SWIM_LANE: Message = Message {
    id: 7,
    name: "SwimLane",
    fields: &[
        field(1, "id", Str, Plain),
        field(2, "project_id", Str, Plain),
        field(3, "name", Str, Plain),
        field(4, "status_value", Str, Plain),
        field(5, "position", Int32, Plain),
        field(6, "is_default", Bool, Plain),
        field(7, "created_at", Int64, Plain),
        field(8, "updated_at", Int64, Plain),
        field(9, "deleted_at", Int64, Optional),
    ],
};
pub static FIELD_CHANGE: Message = Message {
    id: 8,
    name: "FieldChange",
    fields: &[
        field(1, "field_name", Str, Plain),
        field(2, "old_value", Str, Optional),
        field(3, "new_value", Str, Optional),
    ],
};
pub static ACTIVITY_LOG_ENTRY: Message = Message {
    id: 9,
    name: "ActivityLogEntry",
    fields: &[
        field(1, "id", Str, Plain),
        field(2, "entity_type", Str, Plain),
        field(3, "entity_id", Str, Plain),
        field(4, "action", Str, Plain),
        field(5, "field_name", Str, Optional),
        field(6, "old_value", Str, Optional),
        field(7, "new_value", Str, Optional),
        field(8, "user_id", Str, Plain),
        field(9, "timestamp", Int64, Plain),
        field(10, "comment", Str, Optional),
    ],
};
pub static LLM_CONTEXT_ENTRY: Message = Message {
    id: 10,
    name: "LlmContextEntry",
    fields: &[
        field(1, "id", Str, Plain),
        field(2, "context_type", Str, Plain),
        field(3, "category", Str, Plain),
        field(4, "title", Str, Plain),
        field(5, "content", Str, Plain),
        field(6, "example_sql", Str, Optional),
        field(7, "example_description", Str, Optional),
        field(8, "priority", Int32, Plain),
    ],
};
pub static PING: Message = Message {
    id: 11,
    name: "Ping",
    fields: &[field(1, "timestamp", Int64, Plain)],
};
pub static PONG: Message = Message {
    id: 12,
    name: "Pong",
    fields: &[field(1, "timestamp", Int64, Plain)],
};
pub static SUBSCRIBE: Message = Message {
    id: 13,
    name: "Subscribe",
    fields: &[
        field(1, "project_ids", Str, Repeated),
        field(2, "sprint_ids", Str, Repeated),
    ],
};
pub static UNSUBSCRIBE: Message = Message {
    id: 14,
    name: "Unsubscribe",
    fields: &[
        field(1, "project_ids", Str, Repeated),
        field(2, "sprint_ids", Str, Repeated),
    ],
};
pub static ERROR: Message = Message {
    id: 15,
    name: "Error",
    fields: &[
        field(1, "code", Str, Plain),
        field(2, "message", Str, Plain),
        field(3, "field", Str, Optional),
    ],
};
pub static CREATE_PROJECT_REQUEST: Message = Message {
    id: 16,
    name: "CreateProjectRequest",
    fields: &[
        field(1, "title", Str, Plain),
        field(2, "description", Str, Optional),
        field(3, "key", Str, Plain),
    ],
};
pub static UPDATE_PROJECT_REQUEST: Message = Message {
    id: 17,
    name: "UpdateProjectRequest",
    fields: &[
        field(1, "project_id", Str, Plain),
        field(2, "expected_version", Int32, Plain),
        field(3, "title", Str, Optional),
        field(4, "description", Str, Optional),
        field(5, "status", Enum, Optional),
    ],
};
pub static DELETE_PROJECT_REQUEST: Message = Message {
    id: 18,
    name: "DeleteProjectRequest",
    fields: &[
        field(1, "project_id", Str, Plain),
        field(2, "expected_version", Int32, Plain),
    ],
};
pub static LIST_PROJECTS_REQUEST: Message = Message {
    id: 19,
    name: "ListProjectsRequest",
    fields: &[],
};
pub static PROJECT_CREATED: Message = Message {
    id: 20,
    name: "ProjectCreated",
    fields: &[
        field(1, "project", Msg(&PROJECT), Optional),
        field(2, "user_id", Str, Plain),
    ],
};
pub static PROJECT_UPDATED: Message = Message {
    id: 21,
    name: "ProjectUpdated",
    fields: &[
        field(1, "project", Msg(&PROJECT), Optional),
        field(2, "changes", Msg(&FIELD_CHANGE), Repeated),
        field(3, "user_id", Str, Plain),
    ],
};
pub static PROJECT_DELETED: Message = Message {
    id: 22,
    name: "ProjectDeleted",
    fields: &[
        field(1, "project_id", Str, Plain),
        field(2, "user_id", Str, Plain),
    ],
};
pub static PROJECT_LIST: Message = Message {
    id: 23,
    name: "ProjectList",
    fields: &[field(1, "projects", Msg(&PROJECT), Repeated)],
};
pub static CREATE_WORK_ITEM_REQUEST: Message = Message {
    id: 24,
    name: "CreateWorkItemRequest",
    fields: &[
        field(1, "item_type", Enum, Plain),
        field(2, "title", Str, Plain),
        field(3, "description", Str, Optional),
        field(4, "parent_id", Str, Optional),
        field(5, "project_id", Str, Plain),
        field(6, "status", Str, Optional),
        field(7, "priority", Str, Optional),
    ],
};
pub static UPDATE_WORK_ITEM_REQUEST: Message = Message {
    id: 25,
    name: "UpdateWorkItemRequest",
    fields: &[
        field(1, "work_item_id", Str, Plain),
        field(2, "expected_version", Int32, Plain),
        field(3, "title", Str, Optional),
        field(4, "description", Str, Optional),
        field(5, "status", Str, Optional),
        field(6, "assignee_id", Str, Optional),
        field(7, "sprint_id", Str, Optional),
        field(8, "position", Int32, Optional),
        field(9, "priority", Str, Optional),
        field(10, "story_points", Int32, Optional),
        field(11, "parent_id", Str, Optional),
        field(12, "update_parent", Bool, Plain),
    ],
};
pub static DELETE_WORK_ITEM_REQUEST: Message = Message {
    id: 26,
    name: "DeleteWorkItemRequest",
    fields: &[field(1, "work_item_id", Str, Plain)],
};
pub static GET_WORK_ITEMS_REQUEST: Message = Message {
    id: 27,
    name: "GetWorkItemsRequest",
    fields: &[
        field(1, "project_id", Str, Plain),
        field(2, "since_timestamp", Int64, Optional),
    ],
};
pub static WORK_ITEM_CREATED: Message = Message {
    id: 28,
    name: "WorkItemCreated",
    fields: &[
        field(1, "work_item", Msg(&WORK_ITEM), Optional),
        field(2, "user_id", Str, Plain),
    ],
};
pub static WORK_ITEM_UPDATED: Message = Message {
    id: 29,
    name: "WorkItemUpdated",
    fields: &[
        field(1, "work_item", Msg(&WORK_ITEM), Optional),
        field(2, "changes", Msg(&FIELD_CHANGE), Repeated),
        field(3, "user_id", Str, Plain),
    ],
};
pub static WORK_ITEM_DELETED: Message = Message {
    id: 30,
    name: "WorkItemDeleted",
    fields: &[
        field(1, "work_item_id", Str, Plain),
        field(2, "user_id", Str, Plain),
    ],
};
pub static WORK_ITEMS_LIST: Message = Message {
    id: 31,
    name: "WorkItemsList",
    fields: &[
        field(1, "work_items", Msg(&WORK_ITEM), Repeated),
        field(2, "as_of_timestamp", Int64, Plain),
    ],
};
pub static CREATE_SPRINT_REQUEST: Message = Message {
    id: 32,
    name: "CreateSprintRequest",
    fields: &[
        field(1, "project_id", Str, Plain),
        field(2, "name", Str, Plain),
        field(3, "goal", Str, Optional),
        field(4, "start_date", Int64, Plain),
        field(5, "end_date", Int64, Plain),
    ],
};
pub static UPDATE_SPRINT_REQUEST: Message = Message {
    id: 33,
    name: "UpdateSprintRequest",
    fields: &[
        field(1, "sprint_id", Str, Plain),
        field(2, "expected_version", Int32, Plain),
        field(3, "name", Str, Optional),
        field(4, "goal", Str, Optional),
        field(5, "start_date", Int64, Optional),
        field(6, "end_date", Int64, Optional),
        field(7, "status", Enum, Optional),
    ],
};
pub static DELETE_SPRINT_REQUEST: Message = Message {
    id: 34,
    name: "DeleteSprintRequest",
    fields: &[field(1, "sprint_id", Str, Plain)],
};
pub static GET_SPRINTS_REQUEST: Message = Message {
    id: 35,
    name: "GetSprintsRequest",
    fields: &[field(1, "project_id", Str, Plain)],
};
pub static SPRINT_CREATED: Message = Message {
    id: 36,
    name: "SprintCreated",
    fields: &[
        field(1, "sprint", Msg(&SPRINT), Optional),
        field(2, "user_id", Str, Plain),
    ],
};
pub static SPRINT_UPDATED: Message = Message {
    id: 37,
    name: "SprintUpdated",
    fields: &[
        field(1, "sprint", Msg(&SPRINT), Optional),
        field(2, "changes", Msg(&FIELD_CHANGE), Repeated),
        field(3, "user_id", Str, Plain),
    ],
};
pub static SPRINT_DELETED: Message = Message {
    id: 38,
    name: "SprintDeleted",
    fields: &[
        field(1, "sprint_id", Str, Plain),
        field(2, "user_id", Str, Plain),
    ],
};
pub static SPRINTS_LIST: Message = Message {
    id: 39,
    name: "SprintsList",
    fields: &[field(1, "sprints", Msg(&SPRINT), Repeated)],
};
pub static CREATE_COMMENT_REQUEST: Message = Message {
    id: 40,
    name: "CreateCommentRequest",
    fields: &[
        field(1, "work_item_id", Str, Plain),
        field(2, "content", Str, Plain),
    ],
};
pub static UPDATE_COMMENT_REQUEST: Message = Message {
    id: 41,
    name: "UpdateCommentRequest",
    fields: &[
        field(1, "comment_id", Str, Plain),
        field(2, "content", Str, Plain),
    ],
};
pub static DELETE_COMMENT_REQUEST: Message = Message {
    id: 42,
    name: "DeleteCommentRequest",
    fields: &[field(1, "comment_id", Str, Plain)],
};
pub static GET_COMMENTS_REQUEST: Message = Message {
    id: 43,
    name: "GetCommentsRequest",
    fields: &[field(1, "work_item_id", Str, Plain)],
};
pub static COMMENT_CREATED: Message = Message {
    id: 44,
    name: "CommentCreated",
    fields: &[
        field(1, "comment", Msg(&COMMENT), Optional),
        field(2, "user_id", Str, Plain),
    ],
};
pub static COMMENT_UPDATED: Message = Message {
    id: 45,
    name: "CommentUpdated",
    fields: &[
        field(1, "comment", Msg(&COMMENT), Optional),
        field(2, "user_id", Str, Plain),
    ],
};
pub static COMMENT_DELETED: Message = Message {
    id: 46,
    name: "CommentDeleted",
    fields: &[
        field(1, "comment_id", Str, Plain),
        field(2, "user_id", Str, Plain),
    ],
};
pub static COMMENTS_LIST: Message = Message {
    id: 47,
    name: "CommentsList",
    fields: &[field(1, "comments", Msg(&COMMENT), Repeated)],
};
pub static START_TIMER_REQUEST: Message = Message {
    id: 48,
    name: "StartTimerRequest",
    fields: &[
        field(1, "work_item_id", Str, Plain),
        field(2, "description", Str, Optional),
    ],
};
pub static STOP_TIMER_REQUEST: Message = Message {
    id: 49,
    name: "StopTimerRequest",
    fields: &[field(1, "time_entry_id", Str, Plain)],
};
pub static CREATE_TIME_ENTRY_REQUEST: Message = Message {
    id: 50,
    name: "CreateTimeEntryRequest",
    fields: &[
        field(1, "work_item_id", Str, Plain),
        field(2, "started_at", Int64, Plain),
        field(3, "ended_at", Int64, Plain),
        field(4, "description", Str, Optional),
    ],
};
pub static UPDATE_TIME_ENTRY_REQUEST: Message = Message {
    id: 51,
    name: "UpdateTimeEntryRequest",
    fields: &[
        field(1, "time_entry_id", Str, Plain),
        field(2, "started_at", Int64, Optional),
        field(3, "ended_at", Int64, Optional),
        field(4, "description", Str, Optional),
    ],
};
pub static DELETE_TIME_ENTRY_REQUEST: Message = Message {
    id: 52,
    name: "DeleteTimeEntryRequest",
    fields: &[field(1, "time_entry_id", Str, Plain)],
};
pub static GET_TIME_ENTRIES_REQUEST: Message = Message {
    id: 53,
    name: "GetTimeEntriesRequest",
    fields: &[
        field(1, "work_item_id", Str, Plain),
        field(2, "limit", Int32, Optional),
        field(3, "offset", Int32, Optional),
    ],
};
pub static GET_RUNNING_TIMER_REQUEST: Message = Message {
    id: 54,
    name: "GetRunningTimerRequest",
    fields: &[],
};
pub static TIMER_STARTED: Message = Message {
    id: 55,
    name: "TimerStarted",
    fields: &[
        field(1, "time_entry", Msg(&TIME_ENTRY), Optional),
        field(2, "user_id", Str, Plain),
        field(3, "stopped_entry", Msg(&TIME_ENTRY), Optional),
    ],
};
pub static TIMER_STOPPED: Message = Message {
    id: 56,
    name: "TimerStopped",
    fields: &[
        field(1, "time_entry", Msg(&TIME_ENTRY), Optional),
        field(2, "user_id", Str, Plain),
    ],
};
pub static TIME_ENTRY_CREATED: Message = Message {
    id: 57,
    name: "TimeEntryCreated",
    fields: &[
        field(1, "time_entry", Msg(&TIME_ENTRY), Optional),
        field(2, "user_id", Str, Plain),
    ],
};
pub static TIME_ENTRY_UPDATED: Message = Message {
    id: 58,
    name: "TimeEntryUpdated",
    fields: &[
        field(1, "time_entry", Msg(&TIME_ENTRY), Optional),
        field(2, "user_id", Str, Plain),
    ],
};
pub static TIME_ENTRY_DELETED: Message = Message {
    id: 59,
    name: "TimeEntryDeleted",
    fields: &[
        field(1, "time_entry_id", Str, Plain),
        field(2, "work_item_id", Str, Plain),
        field(3, "user_id", Str, Plain),
    ],
};
pub static TIME_ENTRIES_LIST: Message = Message {
    id: 60,
    name: "TimeEntriesList",
    fields: &[
        field(1, "time_entries", Msg(&TIME_ENTRY), Repeated),
        field(2, "total_count", Int32, Plain),
    ],
};
pub static RUNNING_TIMER_RESPONSE: Message = Message {
    id: 61,
    name: "RunningTimerResponse",
    fields: &[field(1, "time_entry", Msg(&TIME_ENTRY), Optional)],
};
pub static CREATE_DEPENDENCY_REQUEST: Message = Message {
    id: 62,
    name: "CreateDependencyRequest",
    fields: &[
        field(1, "blocking_item_id", Str, Plain),
        field(2, "blocked_item_id", Str, Plain),
        field(3, "dependency_type", Enum, Plain),
    ],
};
pub static DELETE_DEPENDENCY_REQUEST: Message = Message {
    id: 63,
    name: "DeleteDependencyRequest",
    fields: &[field(1, "dependency_id", Str, Plain)],
};
pub static GET_DEPENDENCIES_REQUEST: Message = Message {
    id: 64,
    name: "GetDependenciesRequest",
    fields: &[field(1, "work_item_id", Str, Plain)],
};
pub static DEPENDENCY_CREATED: Message = Message {
    id: 65,
    name: "DependencyCreated",
    fields: &[
        field(1, "dependency", Msg(&DEPENDENCY), Optional),
        field(2, "user_id", Str, Plain),
    ],
};
pub static DEPENDENCY_DELETED: Message = Message {
    id: 66,
    name: "DependencyDeleted",
    fields: &[
        field(1, "dependency_id", Str, Plain),
        field(2, "blocking_item_id", Str, Plain),
        field(3, "blocked_item_id", Str, Plain),
        field(4, "user_id", Str, Plain),
    ],
};
pub static DEPENDENCIES_LIST: Message = Message {
    id: 67,
    name: "DependenciesList",
    fields: &[
        field(1, "blocking", Msg(&DEPENDENCY), Repeated),
        field(2, "blocked", Msg(&DEPENDENCY), Repeated),
    ],
};
pub static GET_ACTIVITY_LOG_REQUEST: Message = Message {
    id: 68,
    name: "GetActivityLogRequest",
    fields: &[
        field(1, "entity_type", Str, Plain),
        field(2, "entity_id", Str, Plain),
        field(3, "limit", Int32, Plain),
        field(4, "offset", Int32, Plain),
    ],
};
pub static ACTIVITY_LOG_LIST: Message = Message {
    id: 69,
    name: "ActivityLogList",
    fields: &[
        field(1, "entries", Msg(&ACTIVITY_LOG_ENTRY), Repeated),
        field(2, "total_count", Int32, Plain),
        field(3, "has_more", Bool, Plain),
    ],
};
pub static ACTIVITY_LOG_CREATED: Message = Message {
    id: 70,
    name: "ActivityLogCreated",
    fields: &[field(1, "entry", Msg(&ACTIVITY_LOG_ENTRY), Optional)],
};
pub static GET_LLM_CONTEXT_REQUEST: Message = Message {
    id: 71,
    name: "GetLlmContextRequest",
    fields: &[
        field(1, "category", Str, Optional),
        field(2, "context_type", Str, Optional),
        field(3, "min_priority", Int32, Optional),
    ],
};
pub static LLM_CONTEXT_LIST: Message = Message {
    id: 72,
    name: "LlmContextList",
    fields: &[field(1, "entries", Msg(&LLM_CONTEXT_ENTRY), Repeated)],
};

/// Every message of the schema; `MESSAGES[m.id]` is `m`.
pub static MESSAGES: [&Message; 73] = [
    &WEB_SOCKET_MESSAGE,
    &PROJECT,
    &WORK_ITEM,
    &SPRINT,
    &COMMENT,
    &TIME_ENTRY,
    &DEPENDENCY,
    &SWIM_LANE,
    &FIELD_CHANGE,
    &ACTIVITY_LOG_ENTRY,
    &LLM_CONTEXT_ENTRY,
    &PING,
    &PONG,
    &SUBSCRIBE,
    &UNSUBSCRIBE,
    &ERROR,
    &CREATE_PROJECT_REQUEST,
    &UPDATE_PROJECT_REQUEST,
    &DELETE_PROJECT_REQUEST,
    &LIST_PROJECTS_REQUEST,
    &PROJECT_CREATED,
    &PROJECT_UPDATED,
    &PROJECT_DELETED,
    &PROJECT_LIST,
    &CREATE_WORK_ITEM_REQUEST,
    &UPDATE_WORK_ITEM_REQUEST,
    &DELETE_WORK_ITEM_REQUEST,
    &GET_WORK_ITEMS_REQUEST,
    &WORK_ITEM_CREATED,
    &WORK_ITEM_UPDATED,
    &WORK_ITEM_DELETED,
    &WORK_ITEMS_LIST,
    &CREATE_SPRINT_REQUEST,
    &UPDATE_SPRINT_REQUEST,
    &DELETE_SPRINT_REQUEST,
    &GET_SPRINTS_REQUEST,
    &SPRINT_CREATED,
    &SPRINT_UPDATED,
    &SPRINT_DELETED,
    &SPRINTS_LIST,
    &CREATE_COMMENT_REQUEST,
    &UPDATE_COMMENT_REQUEST,
    &DELETE_COMMENT_REQUEST,
    &GET_COMMENTS_REQUEST,
    &COMMENT_CREATED,
    &COMMENT_UPDATED,
    &COMMENT_DELETED,
    &COMMENTS_LIST,
    &START_TIMER_REQUEST,
    &STOP_TIMER_REQUEST,
    &CREATE_TIME_ENTRY_REQUEST,
    &UPDATE_TIME_ENTRY_REQUEST,
    &DELETE_TIME_ENTRY_REQUEST,
    &GET_TIME_ENTRIES_REQUEST,
    &GET_RUNNING_TIMER_REQUEST,
    &TIMER_STARTED,
    &TIMER_STOPPED,
    &TIME_ENTRY_CREATED,
    &TIME_ENTRY_UPDATED,
    &TIME_ENTRY_DELETED,
    &TIME_ENTRIES_LIST,
    &RUNNING_TIMER_RESPONSE,
    &CREATE_DEPENDENCY_REQUEST,
    &DELETE_DEPENDENCY_REQUEST,
    &GET_DEPENDENCIES_REQUEST,
    &DEPENDENCY_CREATED,
    &DEPENDENCY_DELETED,
    &DEPENDENCIES_LIST,
    &GET_ACTIVITY_LOG_REQUEST,
    &ACTIVITY_LOG_LIST,
    &ACTIVITY_LOG_CREATED,
    &GET_LLM_CONTEXT_REQUEST,
    &LLM_CONTEXT_LIST,
];

#[cfg(test)]
mod tests {
    use super::*;

    // ------------------------------------------------------------ schema vs pm.proto

    /// The messages of pm.proto as (name, [(number, name, type name, label)]), read with
    /// a parser just good enough for that file.
    /// (field number, name, type name as written, label)
    type ProtoField = (u32, String, String, Label);

    fn proto_messages() -> Vec<(String, Vec<ProtoField>)> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../pm_fast/api/pm.proto");
        let text = std::fs::read_to_string(path).expect("pm.proto next to the crate");
        let mut tokens = Vec::new();
        for line in text.lines() {
            let line = line.split("//").next().unwrap();
            let spaced = line
                .replace('{', " { ")
                .replace('}', " } ")
                .replace(';', " ; ")
                .replace('=', " = ");
            tokens.extend(spaced.split_whitespace().map(str::to_owned));
        }
        let mut messages = Vec::new();
        let mut i = 0;
        while i < tokens.len() {
            match tokens[i].as_str() {
                "message" => {
                    let name = tokens[i + 1].clone();
                    assert_eq!(tokens[i + 2], "{");
                    i += 3;
                    let mut fields = Vec::new();
                    let mut in_oneof = false;
                    loop {
                        match tokens[i].as_str() {
                            "}" if in_oneof => {
                                in_oneof = false;
                                i += 1;
                            }
                            "}" => {
                                i += 1;
                                break;
                            }
                            "oneof" => {
                                in_oneof = true;
                                i += 3;
                            }
                            "reserved" => {
                                while tokens[i] != ";" {
                                    i += 1;
                                }
                                i += 1;
                            }
                            _ => {
                                let label = match tokens[i].as_str() {
                                    "optional" => {
                                        i += 1;
                                        Label::Optional
                                    }
                                    "repeated" => {
                                        i += 1;
                                        Label::Repeated
                                    }
                                    _ if in_oneof => Label::Oneof,
                                    _ => Label::Plain,
                                };
                                let ty = tokens[i].clone();
                                let field_name = tokens[i + 1].clone();
                                assert_eq!(tokens[i + 2], "=");
                                let number = tokens[i + 3].parse().unwrap();
                                assert_eq!(tokens[i + 4], ";");
                                i += 5;
                                fields.push((number, field_name, ty, label));
                            }
                        }
                    }
                    messages.push((name, fields));
                }
                "enum" => {
                    while tokens[i] != "}" {
                        i += 1;
                    }
                    i += 1;
                }
                _ => i += 1,
            }
        }
        messages
    }

    fn enum_names() -> Vec<&'static str> {
        vec![
            "ProjectStatus",
            "WorkItemType",
            "SprintStatus",
            "DependencyType",
        ]
    }

    /// pm-fast's own additions to `pm.proto` (docs/events.md): new numbers only, encoded
    /// and read in Python; this codec speaks the original's schema and skips them as
    /// unknown fields.
    const EXTENSION_MESSAGES: &[&str] = &["EventPosition"];
    const EXTENSION_FIELDS: &[(&str, &str)] = &[
        ("WebSocketMessage", "event"),
        ("WebSocketMessage", "positions"),
        ("Subscribe", "resume"),
    ];

    #[test]
    fn schema_matches_pm_proto() {
        let proto: Vec<_> = proto_messages()
            .into_iter()
            .filter(|(name, _)| !EXTENSION_MESSAGES.contains(&name.as_str()))
            .map(|(name, fields)| {
                let original = fields
                    .into_iter()
                    .filter(|f| !EXTENSION_FIELDS.contains(&(name.as_str(), f.1.as_str())))
                    .collect::<Vec<_>>();
                (name, original)
            })
            .collect();
        assert_eq!(proto.len(), MESSAGES.len());
        for (name, mut fields) in proto {
            let message = MESSAGES
                .iter()
                .find(|m| m.name == name)
                .unwrap_or_else(|| panic!("{name} missing from the schema"));
            fields.sort_by_key(|f| f.0);
            assert_eq!(message.fields.len(), fields.len(), "{name}");
            for (ours, (number, field_name, ty, label)) in message.fields.iter().zip(&fields) {
                assert_eq!(ours.number, *number, "{name}.{field_name}");
                assert_eq!(ours.name, field_name, "{name}.{field_name}");
                // proto3 message fields always have presence
                let label = match (label, ours.ty) {
                    (Label::Plain, Type::Msg(_)) => Label::Optional,
                    _ => *label,
                };
                assert_eq!(ours.label, label, "{name}.{field_name}");
                let ours_ty = match ours.ty {
                    Type::Str => "string",
                    Type::Int32 => "int32",
                    Type::Int64 => "int64",
                    Type::Bool => "bool",
                    Type::Enum => {
                        assert!(enum_names().contains(&ty.as_str()), "{name}.{field_name}");
                        continue;
                    }
                    Type::Msg(m) => m.name,
                };
                assert_eq!(ours_ty, ty, "{name}.{field_name}");
            }
        }
    }

    #[test]
    fn message_ids_and_field_order() {
        for (i, message) in MESSAGES.iter().enumerate() {
            assert_eq!(message.id, i, "{}", message.name);
            assert!(message.fields.windows(2).all(|w| w[0].number < w[1].number));
            for (index, field) in message.fields.iter().enumerate() {
                assert_eq!(message.index_of(field.number), Some(index));
            }
            assert_eq!(message.index_of(0), None);
            assert_eq!(message.index_of(10_000), None);
        }
        // oneof cases are messages and come last (Decoded keeps no slots for them)
        for message in MESSAGES {
            let first = message.fields.iter().position(|f| f.label == Label::Oneof);
            for f in &message.fields[first.unwrap_or(message.fields.len())..] {
                assert!(f.label == Label::Oneof && matches!(f.ty, Type::Msg(_)));
            }
        }
        // Decoded::message_id and Decoded::timestamp read slots 0 and 1
        assert_eq!(ENVELOPE.index_of(MESSAGE_ID), Some(0));
        assert_eq!(ENVELOPE.index_of(TIMESTAMP), Some(1));
    }

    #[test]
    fn the_31_requests() {
        let requests: Vec<&Field> = ENVELOPE
            .fields
            .iter()
            .filter(|f| is_request(f.number))
            .collect();
        assert_eq!(requests.len(), 31);
        for f in ENVELOPE.fields.iter().filter(|f| f.label == Label::Oneof) {
            let by_name = f.name.ends_with("_request")
                || ["ping", "subscribe", "unsubscribe"].contains(&f.name);
            assert_eq!(is_request(f.number), by_name, "{}", f.name);
        }
    }

    #[test]
    fn events_match_their_payload_messages() {
        let mut kinds: Vec<&str> = EVENTS.iter().map(|e| e.kind).collect();
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(kinds.len(), EVENTS.len());
        for event in &EVENTS {
            let case = &ENVELOPE.fields[ENVELOPE.index_of(event.case).unwrap()];
            assert!(!is_request(event.case));
            let Type::Msg(payload) = case.ty else {
                panic!()
            };
            let field = |n: u32| &payload.fields[payload.index_of(n).unwrap()];
            match &event.body {
                Body::Entity {
                    entity,
                    changes,
                    actor,
                    ancestry,
                } => {
                    let Type::Msg(m) = field(1).ty else {
                        panic!("{}", event.kind)
                    };
                    assert_eq!(m.id, entity.message.id, "{}", event.kind);
                    if *changes {
                        let Type::Msg(m) = field(2).ty else { panic!() };
                        assert_eq!(m.name, "FieldChange");
                    }
                    let expected = 1 + usize::from(*changes) + usize::from(*actor);
                    assert_eq!(payload.fields.len(), expected, "{}", event.kind);
                    if *actor {
                        assert_eq!(field(event.body.actor_field()).name, "user_id");
                    }
                    assert_eq!(*ancestry, entity.message.name == "WorkItem");
                }
                Body::Ids(attrs) => {
                    assert_eq!(payload.fields.len(), attrs.len() + 1, "{}", event.kind);
                    for f in payload.fields {
                        assert!(matches!((f.ty, f.label), (Type::Str, Label::Plain)));
                    }
                    assert_eq!(field(event.body.actor_field()).name, "user_id");
                }
            }
        }
        assert!(event("work_item.moved").is_none());
    }

    #[test]
    fn entities_read_every_singular_field_but_deleted_at() {
        let read: Vec<&str> = WORK_ITEM_ENTITY.fields().map(|(_, f)| f.name).collect();
        assert_eq!(read.len(), 18);
        assert!(!read.contains(&"deleted_at"));
        assert!(WORK_ITEM_ENTITY
            .fields()
            .all(|(_, f)| f.number < ANCESTOR_IDS));
        let repeated: Vec<u32> = WORK_ITEM
            .fields
            .iter()
            .filter(|f| f.label == Label::Repeated)
            .map(|f| f.number)
            .collect();
        assert_eq!(repeated, [ANCESTOR_IDS, DESCENDANT_IDS]);
        assert_eq!(SPRINT_ENTITY.enum_value("cancelled"), 4);
        assert_eq!(SPRINT_ENTITY.enum_value("Cancelled"), 0);
        assert_eq!(COMMENT_ENTITY.fields().count(), 7);
        // the PyO3 layer reads strings, integers and enums only
        for event in &EVENTS {
            if let Body::Entity { entity, .. } = &event.body {
                for (_, f) in entity.fields() {
                    assert!(matches!(
                        f.ty,
                        Type::Str | Type::Int32 | Type::Int64 | Type::Enum
                    ));
                }
            }
        }
        for e in [
            &PROJECT_ENTITY,
            &WORK_ITEM_ENTITY,
            &SPRINT_ENTITY,
            &DEPENDENCY_ENTITY,
        ] {
            assert_eq!(
                e.fields()
                    .filter(|(_, f)| matches!(f.ty, Type::Enum))
                    .count(),
                1
            );
        }
    }

    // ---------------------------------------------------------------------- encoding

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn varint_lengths() {
        for (v, n) in [
            (0u64, 1),
            (127, 1),
            (128, 2),
            (16_383, 2),
            (16_384, 3),
            (u64::MAX, 10),
        ] {
            assert_eq!(varint_len(v), n, "{v}");
        }
        assert_eq!(tag_len(15), 1);
        assert_eq!(tag_len(16), 2);
    }

    #[test]
    fn defaults_are_left_out_unless_present() {
        let mut w: Writer<&str> = Writer::default();
        w.string(1, "", false);
        w.int(2, 0, false);
        w.string(3, "", true);
        w.int(4, 0, true);
        assert_eq!(hex(&w.finish().to_vec()), "1a002000");
    }

    #[test]
    fn negative_int32_takes_ten_bytes() {
        // upb: WorkItem(position=-1) → 28 ff ff ff ff ff ff ff ff ff 01
        let mut w: Writer<&str> = Writer::default();
        w.int(5, -1, false);
        assert_eq!(hex(&w.finish().to_vec()), "28ffffffffffffffffff01");
    }

    #[test]
    fn nested_messages_and_two_byte_lengths() {
        let long = "x".repeat(200);
        let mut w: Writer<&str> = Writer::default();
        w.string(1, "id", false);
        w.open(43);
        w.open(1); // empty, still written
        w.close();
        w.open(1);
        w.string(6, &long, false);
        w.close();
        w.int(2, 7, false);
        w.close();
        let e = w.finish();
        let bytes = e.to_vec();
        assert_eq!(bytes.len(), e.len());
        // 0a 02 "id" | da 02 <len 210 = d2 01> | 0a 00 | 0a cb 01 | 32 c8 01 x*200 | 10 07
        let expected = format!("0a026964da02d2010a000acb0132c801{}1007", "78".repeat(200));
        assert_eq!(hex(&bytes), expected);
        // and the decoder reads back what the encoder wrote
        let decoded = decode(&bytes).unwrap();
        assert_eq!(decoded.str(0), "id");
        let (_, case, list) = decoded.payload().unwrap();
        assert_eq!(case.name, "work_items_list");
        let items: Vec<_> = list.messages(WORK_ITEMS).collect();
        assert_eq!(items.len(), 2);
        assert_eq!(items[1].str(WORK_ITEM.index_of(6).unwrap()), long);
        assert_eq!(list.int(1), 7);
    }

    #[test]
    fn iso_dates() {
        for (secs, text) in [
            (0, "1970-01-01T00:00:00+00:00"),
            (-1, "1969-12-31T23:59:59+00:00"),
            (951_782_400, "2000-02-29T00:00:00+00:00"),
            (-2_203_891_200, "1900-03-01T00:00:00+00:00"),
            (1_767_225_599, "2025-12-31T23:59:59+00:00"),
            (MIN_DATETIME, "0001-01-01T00:00:00+00:00"),
            (MAX_DATETIME, "9999-12-31T23:59:59+00:00"),
        ] {
            assert_eq!(iso_utc(secs).as_deref(), Some(text), "{secs}");
        }
        assert_eq!(iso_utc(MIN_DATETIME - 1), None);
        assert_eq!(iso_utc(MAX_DATETIME + 1), None);
        assert_eq!(iso_utc(i64::MIN), None);
    }

    // ---------------------------------------------------------------------- decoding

    /// What upb 7.36.2 does with each frame (checked in Python when this was written):
    /// Ok((message_id, timestamp, case)) or the error.
    #[test]
    fn decoding_follows_upb() {
        type Outcome = Result<(&'static str, i64, Option<&'static str>), Error>;
        let cases: [(&str, &str, Outcome); 35] = [
            ("empty", "", Ok(("", 0, None))),
            (
                "10-byte varint",
                "10ffffffffffffffffff7f",
                Ok(("", -1, None)),
            ),
            ("10th byte 01", "10ffffffffffffffffff01", Ok(("", -1, None))),
            (
                "11-byte varint",
                "10ffffffffffffffffffff01",
                Err(Error::Malformed),
            ),
            ("tag 2 bytes", "8a000161", Ok(("a", 0, None))),
            ("tag 5 bytes", "8a808080000161", Ok(("a", 0, None))),
            ("tag 6 bytes", "8a80808080000161", Err(Error::Malformed)),
            ("tag > 32 bits", "8a80808070", Err(Error::Malformed)),
            ("largest tag", "faffffff0f00", Ok(("", 0, None))),
            ("field 0", "0200", Err(Error::Malformed)),
            ("field 0 in a group", "0b00000c", Ok(("", 0, None))),
            ("group 0 in a group", "0b03040c", Ok(("", 0, None))),
            ("field 0 in a payload", "da02020000", Err(Error::Malformed)),
            (
                "field 0 in an empty payload",
                "ea05020000",
                Ok(("", 0, Some("list_projects_request"))),
            ),
            (
                "6-byte tag in a group",
                "0b888080808000000c",
                Err(Error::Malformed),
            ),
            ("wire type 6", "0e", Err(Error::Malformed)),
            ("wire type 7", "0f", Err(Error::Malformed)),
            ("end group at top", "0c", Err(Error::Malformed)),
            ("group", "1b0c", Err(Error::Malformed)),
            ("group, known number", "0b0c", Ok(("", 0, None))),
            ("group", "1b1c", Ok(("", 0, None))),
            ("unterminated group", "1b", Err(Error::Malformed)),
            (
                "length 6 bytes",
                "0a838080808000616263",
                Err(Error::Malformed),
            ),
            ("length 5 bytes", "0a8380808000616263", Ok(("abc", 0, None))),
            ("length beyond end", "0a05616263", Err(Error::Malformed)),
            ("string as varint", "0a01610805", Ok(("a", 0, None))),
            ("int as bytes", "1001120100", Ok(("", 1, None))),
            ("bad UTF-8", "0a01ff", Err(Error::BadUtf8)),
            ("surrogate", "0a03eda080", Err(Error::BadUtf8)),
            ("overlong", "0a02c080", Err(Error::BadUtf8)),
            ("fixed32 cut", "1d0000", Err(Error::Malformed)),
            ("fixed64", "190000000000000000", Ok(("", 0, None))),
            ("payload as varint", "f00101", Ok(("", 0, None))),
            ("gap case", "9a0200", Ok(("", 0, None))),
            ("gap case, bad UTF-8 inside", "9a0201ff", Ok(("", 0, None))),
        ];
        for (what, data, expected) in cases {
            let got = decode(&unhex(data)).map(|d| {
                (
                    d.message_id().to_owned(),
                    d.timestamp(),
                    d.payload().map(|(_, f, _)| f.name),
                )
            });
            let expected = expected.map(|(m, t, c)| (m.to_owned(), t, c));
            assert_eq!(got, expected, "{what}");
        }
    }

    fn field_bytes(number: u32, wire: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![0; varint_len(u64::from(number) << 3)];
        Out {
            buf: &mut out,
            at: 0,
        }
        .tag(number, wire);
        out.extend_from_slice(body);
        out
    }

    fn len_field(number: u32, body: &[u8]) -> Vec<u8> {
        let mut n = vec![0; varint_len(body.len() as u64)];
        Out { buf: &mut n, at: 0 }.varint(body.len() as u64);
        n.extend_from_slice(body);
        field_bytes(number, LEN, &n)
    }

    fn groups(number: u32, depth: usize) -> Vec<u8> {
        let mut out = field_bytes(number, START_GROUP, &[]).repeat(depth);
        out.extend(field_bytes(number, END_GROUP, &[]).repeat(depth));
        out
    }

    #[test]
    fn nesting_limit_counts_messages_and_groups() {
        assert!(decode(&groups(5, 100)).is_ok());
        assert_eq!(decode(&groups(5, 101)).unwrap_err(), Error::Malformed);
        assert!(decode(&len_field(30, &groups(5, 99))).is_ok());
        assert!(decode(&len_field(30, &groups(5, 100))).is_err());
        let item = |d| len_field(43, &len_field(1, &groups(5, d)));
        assert!(decode(&item(98)).is_ok());
        assert!(decode(&item(99)).is_err());
    }

    #[test]
    fn oneof_cases_merge_or_reset() {
        let update = |body: &[u8]| len_field(31, body);
        let title = len_field(3, b"t1");
        let version = field_bytes(2, VARINT, &[5]);
        let description = len_field(4, b"d2");
        let a = update(&[title.clone(), version].concat());
        let b = update(&description);
        let other = len_field(40, &len_field(2, b"u"));

        let merged = [a.clone(), b.clone()].concat();
        let d = decode(&merged).unwrap();
        let (_, _, m) = d.payload().unwrap();
        assert_eq!(m.str(2), "t1");
        assert_eq!(m.int(1), 5);
        assert_eq!(m.str(3), "d2");

        let reset = [a, other, b].concat();
        let d = decode(&reset).unwrap();
        let (_, case, m) = d.payload().unwrap();
        assert_eq!(case.name, "update_work_item_request");
        assert!(matches!(m.slots[2], Slot::Absent));
        assert_eq!(m.str(3), "d2");
    }

    #[test]
    fn integers_narrow_like_upb() {
        let long = |v: u64| {
            let mut b = vec![0; varint_len(v)];
            Out { buf: &mut b, at: 0 }.varint(v);
            b
        };
        let decode_update = |body: Vec<u8>| {
            let bytes = len_field(31, &body);
            let d = decode(&bytes).unwrap();
            let (_, _, m) = d.payload().unwrap();
            (
                m.int(1),
                matches!(m.slots[11], Slot::One(Value::Bool(true))),
            )
        };
        assert_eq!(
            decode_update(field_bytes(2, VARINT, &long(1 << 32 | 5))).0,
            5
        );
        assert_eq!(
            decode_update(field_bytes(2, VARINT, &long(1 << 31))).0,
            -(1 << 31)
        );
        assert_eq!(decode_update(field_bytes(2, VARINT, &long(u64::MAX))).0, -1);
        assert!(decode_update(field_bytes(12, VARINT, &long(1 << 32))).1);
        // a length-delimited int32 (packed form) is an unknown field for a singular one
        assert_eq!(decode_update(len_field(2, &[7])).0, 0);
    }

    #[test]
    fn every_string_is_checked_even_when_replaced() {
        let bad_item = len_field(40, &len_field(1, &len_field(6, b"\xff")));
        assert_eq!(decode(&bad_item).unwrap_err(), Error::BadUtf8);
        let replaced = [bad_item, len_field(30, b"")].concat();
        assert_eq!(decode(&replaced).unwrap_err(), Error::BadUtf8);
        // unknown fields are not looked into
        let unknown = len_field(40, &len_field(1, &len_field(66, b"\xff")));
        assert!(decode(&unknown).is_ok());
        // an end-group inside a sub-message, or a group across its end
        assert!(decode(&len_field(31, &field_bytes(5, END_GROUP, &[]))).is_err());
        let across = [
            len_field(31, &field_bytes(5, START_GROUP, &[])),
            field_bytes(5, END_GROUP, &[]),
        ]
        .concat();
        assert!(decode(&across).is_err());
    }
}
