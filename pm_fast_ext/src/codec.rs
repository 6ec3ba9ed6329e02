//! The WebSocket protocol's protobuf wire format (`pm_fast/api/pm.proto`), for encoding.
//!
//! Plain Rust with no Python types, so `cargo test` covers it directly. Two parts:
//!
//! * the schema: every message of `pm.proto` as a table, its field numbers, its enums,
//!   and the events (which payload announces which domain event, and how it is filled),
//!   all generated from `pm.proto` into `codec_schema.rs` by `build/gen_proto`;
//! * an encoder, [`Writer`], that produces exactly the bytes upb's `SerializeToString`
//!   produces for the same content.
//!
//! There is no decoder: the server parses client frames with upb (`pm_pb2`).
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
//! included (no repeated field the encoder writes is numeric, so nothing is packed); a
//! set message field is written even when empty (`0a 00`), and so is the envelope's
//! payload. Negative `int32` values (and enums) are sign-extended to ten-byte varints,
//! like `int64`.

#[path = "codec_schema.rs"]
mod schema;
pub use schema::*;

// ---------------------------------------------------------------------------- schema

/// The type of a field, as far as the wire is concerned.
#[derive(Clone, Copy, Debug)]
pub enum Type {
    Str,
    Int32,
    Int64,
    Uint64,
    Bool,
    /// An open enum: any `int32` value is valid on the wire.
    Enum(&'static EnumValues),
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

/// The values of an enum other than 0, by the name the domain (and `ws_codec`) gives
/// them: `PROJECT_STATUS_ACTIVE` is "active", `RELATES_TO` is "relates_to".
#[derive(Debug)]
pub struct EnumValues {
    pub name: &'static str,
    pub values: &'static [(&'static str, i32)],
}

const fn field(number: u32, name: &'static str, ty: Type, label: Label) -> Field {
    Field {
        number,
        name,
        ty,
        label,
    }
}

impl EnumValues {
    /// The number a domain value maps to (`ws_codec`'s `PROJECT_STATUS.get(s, 0)` &c.).
    pub fn value(&self, name: &str) -> i32 {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, v)| *v)
    }
}

impl Message {
    /// The fields `ws_codec` reads from a domain entity of this message, with their
    /// index in `fields`: every singular scalar except `deleted_at`, each from the
    /// entity attribute of the same name (`None` leaves the field unset; an enum maps
    /// the attribute's string through its [`EnumValues`], anything else is 0).
    /// Repeated fields are not read from the entity (see [`Body::Entity::ancestry`]).
    pub fn entity_fields(&self) -> impl Iterator<Item = (usize, &'static Field)> {
        self.fields.iter().enumerate().filter(|(_, f)| {
            matches!(f.label, Label::Plain | Label::Optional)
                && !matches!(f.ty, Type::Msg(_))
                && f.name != "deleted_at"
        })
    }
}

/// The envelope: every frame, in both directions, is one of these.
pub static ENVELOPE: &Message = &WEB_SOCKET_MESSAGE;

/// Field numbers of the envelope's `message_id` and `timestamp`.
pub const MESSAGE_ID: u32 = numbers::web_socket_message::MESSAGE_ID;
pub const TIMESTAMP: u32 = numbers::web_socket_message::TIMESTAMP;

// ---------------------------------------------------------------------------- encoding

const VARINT: u8 = 0;
const LEN: u8 = 2;

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

/// `WorkItem.ancestor_ids` and `WorkItem.descendant_ids`: the only repeated fields of an
/// entity message, numbered after all its singular fields.
pub const ANCESTOR_IDS: u32 = numbers::work_item::ANCESTOR_IDS;
pub const DESCENDANT_IDS: u32 = numbers::work_item::DESCENDANT_IDS;
/// `WorkItemsList.work_items` and `WorkItemsList.as_of_timestamp`.
pub const WORK_ITEMS: u32 = numbers::work_items_list::WORK_ITEMS;
pub const AS_OF_TIMESTAMP: u32 = numbers::work_items_list::AS_OF_TIMESTAMP;
/// The envelope's `work_items_list` case.
pub const WORK_ITEMS_LIST_CASE: u32 = numbers::web_socket_message::WORK_ITEMS_LIST;
/// `FieldChange`'s fields.
pub const FIELD_NAME: u32 = numbers::field_change::FIELD_NAME;
pub const OLD_VALUE: u32 = numbers::field_change::OLD_VALUE;
pub const NEW_VALUE: u32 = numbers::field_change::NEW_VALUE;

/// The payload message of an event, as `ws_codec.event_payload` builds it (the
/// generator derives it from the payload message and checks that it has this shape).
#[derive(Debug)]
pub enum Body {
    /// The entity's message in field 1; then, if `changes`, the `FieldChange`s in field
    /// 2; then, if `actor`, the actor as `user_id` in the next field. With `ancestry`,
    /// the entity message also carries `extra["ancestor_ids"]` and
    /// `extra["descendant_ids"]`.
    Entity {
        message: &'static Message,
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

#[cfg(test)]
mod tests {
    use super::*;

    // ---------------------------------------------------------------------- schema

    fn by_number(message: &Message, number: u32) -> &'static Field {
        let fields: &'static [Field] = message.fields;
        fields.iter().find(|f| f.number == number).unwrap()
    }

    #[test]
    fn message_ids_and_field_order() {
        for (i, message) in MESSAGES.iter().enumerate() {
            assert_eq!(message.id, i, "{}", message.name);
            assert!(message.fields.windows(2).all(|w| w[0].number < w[1].number));
        }
        assert_eq!(ENVELOPE.fields[0].number, MESSAGE_ID);
        assert_eq!(ENVELOPE.fields[1].number, TIMESTAMP);
        // declared before 8-12, encoded last
        assert_eq!(SPRINT.fields.last().unwrap().name, "version");
    }

    #[test]
    fn events_match_their_payload_messages() {
        let mut kinds: Vec<&str> = EVENTS.iter().map(|e| e.kind).collect();
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(kinds.len(), EVENTS.len());
        for e in &EVENTS {
            assert!(std::ptr::eq(event(e.kind).unwrap(), e));
            let case = by_number(ENVELOPE, e.case);
            assert_eq!(case.label, Label::Oneof);
            let Type::Msg(payload) = case.ty else {
                panic!()
            };
            match &e.body {
                Body::Entity {
                    message,
                    changes,
                    actor,
                    ancestry,
                } => {
                    let Type::Msg(m) = by_number(payload, 1).ty else {
                        panic!("{}", e.kind)
                    };
                    assert_eq!(m.id, message.id, "{}", e.kind);
                    if *changes {
                        let Type::Msg(m) = by_number(payload, 2).ty else {
                            panic!()
                        };
                        assert_eq!(m.name, "FieldChange");
                    }
                    let expected = 1 + usize::from(*changes) + usize::from(*actor);
                    assert_eq!(payload.fields.len(), expected, "{}", e.kind);
                    if *actor {
                        assert_eq!(by_number(payload, e.body.actor_field()).name, "user_id");
                    }
                    assert_eq!(*ancestry, message.name == "WorkItem");
                }
                Body::Ids(attrs) => {
                    assert_eq!(payload.fields.len(), attrs.len() + 1, "{}", e.kind);
                    for f in payload.fields {
                        assert!(matches!((f.ty, f.label), (Type::Str, Label::Plain)));
                    }
                    assert_eq!(by_number(payload, e.body.actor_field()).name, "user_id");
                }
            }
        }
        assert!(event("work_item.moved").is_none());
        assert_eq!(event("activity.created").unwrap().case, 142);
    }

    #[test]
    fn entities_read_every_singular_field_but_deleted_at() {
        let read: Vec<&str> = WORK_ITEM.entity_fields().map(|(_, f)| f.name).collect();
        assert_eq!(read.len(), 18);
        assert!(!read.contains(&"deleted_at"));
        assert!(WORK_ITEM
            .entity_fields()
            .all(|(_, f)| f.number < ANCESTOR_IDS));
        let repeated: Vec<u32> = WORK_ITEM
            .fields
            .iter()
            .filter(|f| f.label == Label::Repeated)
            .map(|f| f.number)
            .collect();
        assert_eq!(repeated, [ANCESTOR_IDS, DESCENDANT_IDS]);
        assert_eq!(SPRINT_STATUS_VALUES.value("cancelled"), 4);
        assert_eq!(SPRINT_STATUS_VALUES.value("Cancelled"), 0);
        assert_eq!(WORK_ITEM_TYPE_VALUES.value("epic"), 2);
        assert_eq!(DEPENDENCY_TYPE_VALUES.value("relates_to"), 2);
        assert_eq!(COMMENT.entity_fields().count(), 7);
        // the PyO3 layer reads strings, integers and enums only
        for e in &EVENTS {
            if let Body::Entity { message, .. } = &e.body {
                for (_, f) in message.entity_fields() {
                    assert!(matches!(
                        f.ty,
                        Type::Str | Type::Int32 | Type::Int64 | Type::Enum(_)
                    ));
                }
            }
        }
    }

    // ---------------------------------------------------------------------- encoding

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
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
}
