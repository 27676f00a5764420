//! Reading a history from JSON Lines text (`HISTORY-FORMAT.md`, version 1).

use std::collections::BTreeMap;
use std::fmt;

use crate::history::{Event, EventKind, History, ModelKind, Value};
use crate::json::{self, Json, Spanned};
use crate::wellformed::{Field, Validator, WellFormedError};

/// The `format` value a header must carry.
pub const FORMAT_NAME: &str = "faultline-history";
/// The only format version this crate reads and writes.
pub const FORMAT_VERSION: i64 = 1;

/// Why a history could not be read: where (`file:line:column`, both from 1; the column
/// counts characters and points at the offending token, or is 1 when the problem is a
/// missing field) and what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub kind: ParseErrorKind,
}

/// What went wrong, without the position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// The line is not valid JSON.
    Syntax { expected: String, found: String },
    /// The text has no header line (it is empty or only whitespace).
    MissingHeader,
    /// The line is JSON but not an object.
    NotAnObject { found: String },
    /// A required field is absent.
    MissingField {
        field: &'static str,
        expected: &'static str,
    },
    /// A field has the wrong type or an unknown value.
    WrongValue {
        field: &'static str,
        expected: String,
        found: String,
    },
    /// A number with a fraction or exponent where a v1 value was expected.
    Float { field: &'static str, found: String },
    /// A field this format does not have (a misspelling, say): rejected, not ignored.
    UnknownField {
        field: String,
        expected: &'static str,
    },
    /// The event breaks a well-formedness rule (or the `time` rules).
    WellFormed(WellFormedError),
}

/// The fields of a header: the format's own, then provenance fields that writers add
/// (`run --history-out` writes `scenario` and `seed`; converted histories `source` and
/// `expected`), which the checker does not read.
pub const HEADER_FIELDS: &[&str] = &[
    "format",
    "version",
    "model",
    "init",
    "processes",
    "scenario",
    "seed",
    "source",
    "expected",
];

/// The fields of an event line.
pub const EVENT_FIELDS: &[&str] = &["process", "type", "f", "key", "value", "time", "error"];

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseErrorKind::Syntax { expected, found } => {
                write!(out, "invalid JSON: expected {expected}, found {found}")
            }
            ParseErrorKind::MissingHeader => write!(
                out,
                "expected a header line {{\"format\":\"{FORMAT_NAME}\",\"version\":1,\"model\":...}}, found no lines"
            ),
            ParseErrorKind::NotAnObject { found } => {
                write!(out, "expected a JSON object, found {found}")
            }
            ParseErrorKind::MissingField { field, expected } => {
                write!(out, "expected field {field:?} ({expected}), found none")
            }
            ParseErrorKind::WrongValue {
                field,
                expected,
                found,
            } => write!(out, "expected {field:?} to be {expected}, found {found}"),
            ParseErrorKind::Float { field, found } => write!(
                out,
                "expected {field:?} to hold integers, strings, null, booleans or arrays (floats are not allowed), found {found}"
            ),
            ParseErrorKind::UnknownField { field, expected } => {
                write!(out, "unknown field {field:?}, expected one of {expected}")
            }
            ParseErrorKind::WellFormed(e) => write!(out, "{e}"),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            out,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.kind
        )
    }
}

impl std::error::Error for ParseError {}

/// Options for [`parse_history_with`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// Use this model instead of the header's (the header must still be valid).
    /// Rules 4 and the `f` names are checked against the model in effect.
    pub model: Option<ModelKind>,
}

/// Reads a history, using the header's model. `file` is only used in error messages.
///
/// Never panics; every problem is a [`ParseError`].
pub fn parse_history(text: &str, file: &str) -> Result<History, ParseError> {
    parse_history_with(text, file, &ParseOptions::default())
}

/// Reads a history with [`ParseOptions`] (e.g. a model override).
pub fn parse_history_with(
    text: &str,
    file: &str,
    options: &ParseOptions,
) -> Result<History, ParseError> {
    // A UTF-8 byte-order mark (some Windows tools write one) is not part of the header.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text
        .split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
        .filter(|(_, l)| !l.trim_matches([' ', '\t', '\r']).is_empty());
    let Some((hline, htext)) = lines.next() else {
        return Err(ParseError {
            file: file.to_string(),
            line: 1,
            column: 1,
            kind: ParseErrorKind::MissingHeader,
        });
    };
    let header = LineCtx {
        file,
        line: hline,
        text: htext,
    };
    let (header_model, init, process_names) = header.header()?;
    let model = options.model.unwrap_or(header_model);
    let mut validator = Validator::new(Some(model));
    // One event a line, at most: reserve once instead of growing.
    let mut events = Vec::with_capacity(memchr_count(text.as_bytes()));
    for (line, ltext) in lines {
        let ctx = LineCtx {
            file,
            line,
            text: ltext,
        };
        let (event, fields) = match fast_event(ltext) {
            Some(event) => (event, None),
            None => {
                let (event, fields) = ctx.event()?;
                (event, Some(fields))
            }
        };
        if let Err(e) = validator.event(&event, line, &events) {
            // The fast path keeps no offsets: read the line again for the column.
            let fields = match fields {
                Some(fields) => fields,
                None => ctx.event()?.1,
            };
            let offset = fields.offset(e.field());
            return Err(ctx.error_at(offset, ParseErrorKind::WellFormed(e)));
        }
        events.push(event);
    }
    Ok(History {
        model,
        init,
        events,
        process_names,
    })
}

/// The number of `\n` in `bytes` (a bound on the number of events).
fn memchr_count(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count() + 1
}

/// Where each known field of an event line starts (byte offsets), for error columns.
#[derive(Default)]
struct FieldOffsets {
    at: [Option<usize>; 6],
}

impl FieldOffsets {
    fn index(f: Field) -> usize {
        match f {
            Field::Process => 0,
            Field::Type => 1,
            Field::F => 2,
            Field::Key => 3,
            Field::Value => 4,
            Field::Time => 5,
        }
    }
    fn offset(&self, f: Field) -> Option<usize> {
        self.at[Self::index(f)]
    }
}

pub(crate) struct LineCtx<'a> {
    pub(crate) file: &'a str,
    pub(crate) line: usize,
    pub(crate) text: &'a str,
}

fn describe(v: &Spanned) -> String {
    match &v.json {
        Json::Null => "null".to_string(),
        Json::Bool(b) => b.to_string(),
        Json::Int(Some(i)) => i.to_string(),
        Json::Int(None) => "an integer too large".to_string(),
        Json::Float(s) => s.clone(),
        Json::Str(s) if s.chars().count() > 60 => {
            format!("{:?}...", s.chars().take(57).collect::<String>())
        }
        Json::Str(s) => format!("{s:?}"),
        Json::Array(_) => "an array".to_string(),
        Json::Object(_) => "an object".to_string(),
    }
}

type Members = Vec<(String, Spanned)>;

/// What a header line gives: the model, `init`, the process names.
pub(crate) type Header = (ModelKind, Option<Value>, BTreeMap<u64, String>);

impl LineCtx<'_> {
    fn error_at(&self, offset: Option<usize>, kind: ParseErrorKind) -> ParseError {
        let column = offset.map_or(1, |o| {
            self.text
                .get(..o)
                .map_or(o, |prefix| prefix.chars().count())
                + 1
        });
        ParseError {
            file: self.file.to_string(),
            line: self.line,
            column,
            kind,
        }
    }

    fn object(&self) -> Result<Members, ParseError> {
        let v = json::parse_line(self.text).map_err(|e| {
            self.error_at(
                Some(e.offset),
                ParseErrorKind::Syntax {
                    expected: e.expected,
                    found: e.found,
                },
            )
        })?;
        match v.json {
            Json::Object(m) => Ok(m),
            _ => Err(self.error_at(
                Some(v.offset),
                ParseErrorKind::NotAnObject {
                    found: describe(&v),
                },
            )),
        }
    }

    /// Rejects the first member of `m` not in `known`, pointing at its name.
    fn known_fields(
        &self,
        m: &Members,
        known: &[&str],
        expected: &'static str,
    ) -> Result<(), ParseError> {
        let Some((name, v)) = m.iter().find(|(n, _)| !known.contains(&n.as_str())) else {
            return Ok(());
        };
        let quoted = crate::history::json_text(name);
        let at = self
            .text
            .get(..v.offset)
            .and_then(|before| before.rfind(&quoted))
            .unwrap_or(v.offset);
        Err(self.error_at(
            Some(at),
            ParseErrorKind::UnknownField {
                field: name.clone(),
                expected,
            },
        ))
    }

    fn wrong(&self, field: &'static str, v: &Spanned, expected: &str) -> ParseError {
        self.error_at(
            Some(v.offset),
            ParseErrorKind::WrongValue {
                field,
                expected: expected.to_string(),
                found: describe(v),
            },
        )
    }

    fn required<'m>(
        &self,
        m: &'m Members,
        field: &'static str,
        expected: &'static str,
    ) -> Result<&'m Spanned, ParseError> {
        get(m, field)
            .ok_or_else(|| self.error_at(None, ParseErrorKind::MissingField { field, expected }))
    }

    fn value(&self, field: &'static str, v: &Spanned) -> Result<Value, ParseError> {
        Ok(match &v.json {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Int(Some(i)) => match i64::try_from(*i) {
                Ok(i) => Value::Int(i),
                Err(_) => return Err(self.wrong(field, v, "within the 64-bit signed range")),
            },
            Json::Int(None) => return Err(self.wrong(field, v, "within the 64-bit signed range")),
            Json::Float(s) => {
                return Err(self.error_at(
                    Some(v.offset),
                    ParseErrorKind::Float {
                        field,
                        found: s.clone(),
                    },
                ));
            }
            Json::Str(s) => Value::Str(s.clone()),
            Json::Array(items) => Value::List(
                items
                    .iter()
                    .map(|i| self.value(field, i))
                    .collect::<Result<_, _>>()?,
            ),
            Json::Object(_) => {
                return Err(self.wrong(
                    field,
                    v,
                    "an integer, string, null, boolean or array (objects are not allowed)",
                ));
            }
        })
    }

    fn uint(&self, field: &'static str, v: &Spanned) -> Result<u64, ParseError> {
        match &v.json {
            Json::Int(Some(i)) => u64::try_from(*i)
                .map_err(|_| self.wrong(field, v, "an integer between 0 and 2^64-1")),
            _ => Err(self.wrong(field, v, "an integer >= 0")),
        }
    }

    fn model(&self, v: &Spanned) -> Result<ModelKind, ParseError> {
        let expected = "one of register, cas-register, kv";
        match &v.json {
            Json::Str(s) => s.parse().map_err(|_| self.wrong("model", v, expected)),
            _ => Err(self.wrong("model", v, expected)),
        }
    }

    pub(crate) fn header(&self) -> Result<Header, ParseError> {
        let m = self.object()?;
        self.known_fields(
            &m,
            HEADER_FIELDS,
            "format, version, model, init, processes, scenario, seed, source, expected",
        )?;
        let format = self.required(&m, "format", "\"faultline-history\"")?;
        if format.json != Json::Str(FORMAT_NAME.to_string()) {
            return Err(self.wrong("format", format, "\"faultline-history\""));
        }
        let version = self.required(&m, "version", "the integer 1")?;
        if version.json != Json::Int(Some(FORMAT_VERSION.into())) {
            return Err(self.wrong("version", version, "1"));
        }
        let model =
            self.model(self.required(&m, "model", "one of register, cas-register, kv")?)?;
        let init = get(&m, "init").map(|v| self.value("init", v)).transpose()?;
        let mut names = BTreeMap::new();
        if let Some(p) = get(&m, "processes") {
            let expected = "an object of process names, e.g. {\"0\":\"c1\"}";
            let Json::Object(members) = &p.json else {
                return Err(self.wrong("processes", p, expected));
            };
            for (process, name) in members {
                match (process.parse::<u64>(), &name.json) {
                    (Ok(process), Json::Str(name)) => {
                        names.insert(process, name.clone());
                    }
                    _ => return Err(self.wrong("processes", name, expected)),
                }
            }
        }
        Ok((model, init, names))
    }

    fn event(&self) -> Result<(Event, FieldOffsets), ParseError> {
        let m = self.object()?;
        self.known_fields(
            &m,
            EVENT_FIELDS,
            "process, type, f, key, value, time, error",
        )?;
        let mut offsets = FieldOffsets::default();
        let mut note = |f: Field, v: Option<&Spanned>| {
            offsets.at[FieldOffsets::index(f)] = v.map(|v| v.offset);
        };
        let process = self.required(&m, "process", "an integer >= 0")?;
        note(Field::Process, Some(process));
        let process = self.uint("process", process)?;

        let kinds = "one of invoke, ok, fail, info";
        let ty = self.required(&m, "type", kinds)?;
        note(Field::Type, Some(ty));
        let kind = match &ty.json {
            Json::Str(s) => match s.as_str() {
                "invoke" => EventKind::Invoke,
                "ok" => EventKind::Ok,
                "fail" => EventKind::Fail,
                "info" => EventKind::Info,
                _ => return Err(self.wrong("type", ty, kinds)),
            },
            _ => return Err(self.wrong("type", ty, kinds)),
        };

        let f = self.required(&m, "f", "a string")?;
        note(Field::F, Some(f));
        let f = match &f.json {
            Json::Str(s) => s.clone(),
            _ => return Err(self.wrong("f", f, "a string")),
        };

        let key = get(&m, "key");
        note(Field::Key, key);
        let key = match key {
            None => None,
            Some(k) => match &k.json {
                Json::Null | Json::Str(_) | Json::Int(_) => Some(self.value("key", k)?),
                _ => return Err(self.wrong("key", k, "a string, an integer or null")),
            },
        };

        let value = get(&m, "value");
        note(Field::Value, value);
        let value = match value {
            None => Value::Null,
            Some(v) => self.value("value", v)?,
        };

        let time = get(&m, "time");
        note(Field::Time, time);
        let time = match time {
            None => None,
            Some(t) if t.json == Json::Null => None,
            Some(t) => Some(self.uint("time", t)?),
        };

        let error = match get(&m, "error") {
            None => None,
            Some(e) => match &e.json {
                Json::Null => None,
                Json::Str(s) => Some(s.clone()),
                _ => return Err(self.wrong("error", e, "a string")),
            },
        };
        let event = Event {
            process,
            kind,
            f,
            key,
            value,
            time,
            error,
        };
        Ok((event, offsets))
    }
}

/// A key as an event line writes it, borrowed from the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum KeyRef<'t> {
    /// No `key` field.
    Absent,
    Null,
    Int(i64),
    /// A string without escapes (the line's own bytes).
    Str(&'t str),
}

/// An event line as the fast path reads it, borrowed from the line: `f`, the key and
/// `error` are slices of it, and `value` is the value's text, read (and allocated) only
/// when asked for with [`RawEvent::value`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RawEvent<'t> {
    pub process: u64,
    pub kind: EventKind,
    pub f: &'t str,
    pub key: KeyRef<'t>,
    /// The value's text, already checked to be one the fast path reads; `None`: absent.
    value: Option<&'t str>,
    pub time: Option<u64>,
    pub error: Option<&'t str>,
}

impl RawEvent<'_> {
    /// The event's value (`null` when absent).
    pub(crate) fn value(&self) -> Option<Value> {
        match self.value {
            None | Some("null") => Some(Value::Null),
            // A string the reading took as a plain one (no escapes): its text is between
            // the quotes, with nothing to read again.
            Some(text) if text.as_bytes()[0] == b'"' => {
                debug_assert!(text.len() >= 2 && text.ends_with('"'));
                Some(Value::Str(text[1..text.len() - 1].to_string()))
            }
            Some(text) => Fast::at(text, 0).value(0, true),
        }
    }

    /// `true` if the value is absent or `null` (no allocation).
    pub(crate) fn value_is_null(&self) -> bool {
        matches!(self.value, None | Some("null"))
    }

    fn into_event(self) -> Option<Event> {
        Some(Event {
            process: self.process,
            kind: self.kind,
            f: self.f.to_string(),
            key: match self.key {
                KeyRef::Absent => None,
                KeyRef::Null => Some(Value::Null),
                KeyRef::Int(i) => Some(Value::Int(i)),
                KeyRef::Str(s) => Some(Value::Str(s.to_string())),
            },
            value: self.value()?,
            time: self.time,
            error: self.error.map(str::to_string),
        })
    }
}

/// The fast path for an event line: reads the common, well-formed case straight into an
/// [`Event`], without building a JSON tree or allocating member names. Returns `None`
/// for anything it does not handle (escapes in names or `f`, floats, objects, integers
/// out of range, unknown or repeated fields, a missing required field, bad JSON): the
/// caller then reads the line with the full parser, which gives the error (or the same
/// event). `fast_event_agrees_with_the_full_parser` checks that whatever this accepts,
/// the full parser reads to the same event.
pub(crate) fn fast_event(text: &str) -> Option<Event> {
    raw_event(text)?.into_event()
}

/// The fast path's reading of an event line, borrowed ([`RawEvent`]); `None` exactly
/// when [`fast_event`] gives `None`.
pub(crate) fn raw_event(text: &str) -> Option<RawEvent<'_>> {
    written_event(text).or_else(|| any_order_event(text))
}

/// [`any_order_event`] for a line as [`History::to_jsonl`](crate::History::to_jsonl)
/// writes it (the fields in its order, no spaces), read without dispatching on member
/// names; `None` for any other line, which [`any_order_event`] then reads.
/// `written_event_reads_as_any_order_event` checks the two agree.
fn written_event(text: &str) -> Option<RawEvent<'_>> {
    written_event_from(text, 0)
        .filter(|&(_, end)| end == text.len())
        .map(|(e, _)| e)
}

/// The eight bytes of `w` (little-endian) tested at once for a `"`, a `\\` or a control
/// byte (below 0x20): the high bit of each such byte is set in the answer, and of
/// others only above (more significant than) the lowest one set, whose byte is then
/// exactly the first hit (borrows run upward only). `0`: none.
#[inline]
fn plain_hits(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let q = w ^ (ONES * u64::from(b'"'));
    let b = w ^ (ONES * u64::from(b'\\'));
    let zero_q = q.wrapping_sub(ONES) & !q;
    let zero_b = b.wrapping_sub(ONES) & !b;
    let below = w.wrapping_sub(ONES * 0x20) & !w;
    (zero_q | zero_b | below) & HIGH
}

/// Where the first `"`, `\\` or control byte (below 0x20) of `s` is; `None` if there is
/// none. Eight bytes at a time while eight are left (a word's bytes tested at once: the
/// lowest byte flagged is exact, borrows only flag bytes above a true hit), then byte by
/// byte. Only the values' strings are scanned so ([`Fast::skip_value`]): for the short
/// op names and keys the byte loop costs less. `plain_len_is_the_byte_scan` checks it.
#[inline]
fn plain_len(s: &[u8]) -> Option<usize> {
    let mut at = 0;
    while let Some(c) = s.get(at..).and_then(|r| r.first_chunk::<8>()) {
        let hit = plain_hits(u64::from_le_bytes(*c));
        if hit != 0 {
            return Some(at + (hit.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    s[at..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|n| at + n)
}

/// [`written_event`] of the line of `text` that starts at `start`, without looking for
/// the line's end first: the event and the index just past its `}`. The line is
/// `text[start..end]` when that is where it ends (a `\n`, `\r\n`, `\r` and the end, or
/// the end follow); the reading never goes past a `\n` ([`Fast::ws`] does not skip one,
/// no token holds one), so then this is `written_event` of that line.
pub(crate) fn written_event_from(text: &str, start: usize) -> Option<(RawEvent<'_>, usize)> {
    let mut r = Fast::at(text, start);
    r.word(b"{\"process\":")?;
    // Each integer here is followed by a fixed word (`,"type"`, `,"error"` or `}`), which
    // a fraction, an exponent or a digit after a leading zero fails.
    let process = r.written_uint()?;
    r.word(b",\"type\":\"")?;
    let kind = match r.peek()? {
        b'i' if r.word(b"invoke\"").is_some() => EventKind::Invoke,
        b'i' => {
            r.word(b"info\"")?;
            EventKind::Info
        }
        b'o' => {
            r.word(b"ok\"")?;
            EventKind::Ok
        }
        _ => {
            r.word(b"fail\"")?;
            EventKind::Fail
        }
    };
    r.word(b",\"f\":")?;
    let f = r.op_name()?;
    let mut key = KeyRef::Absent;
    if r.word(b",\"key\":").is_some() {
        key = r.key()?;
    }
    let mut value = None;
    if r.word(b",\"value\":").is_some() {
        let start = r.i;
        r.skip_value()?;
        value = Some(text.get(start..r.i)?);
    }
    let mut time = None;
    if r.word(b",\"time\":").is_some() {
        time = if r.peek()? == b'n' {
            r.word(b"null")?;
            None
        } else {
            Some(r.written_uint()?)
        };
    }
    let mut error = None;
    if r.word(b",\"error\":").is_some() {
        error = match r.peek()? {
            b'n' => {
                r.word(b"null")?;
                None
            }
            b'"' => Some(r.plain_str()?),
            _ => return None,
        };
    }
    r.word(b"}")?;
    Some((
        RawEvent {
            process,
            kind,
            f,
            key,
            value,
            time,
            error,
        },
        r.i,
    ))
}

/// The fast path for an event line with its members in any order.
fn any_order_event(text: &str) -> Option<RawEvent<'_>> {
    let mut r = Fast::at(text, 0);
    r.ws();
    r.eat(b'{')?;
    let mut seen = 0u8;
    let (mut process, mut kind, mut f) = (None, None, None);
    let (mut key, mut value, mut time, mut error) = (KeyRef::Absent, None, None, None);
    r.ws();
    if r.peek()? != b'}' {
        loop {
            r.ws();
            let name = r.plain_str()?;
            r.ws();
            r.eat(b':')?;
            r.ws();
            let bit = match name {
                "process" => {
                    process = Some(r.uint()?);
                    1
                }
                "type" => {
                    kind = Some(match r.plain_str()? {
                        "invoke" => EventKind::Invoke,
                        "ok" => EventKind::Ok,
                        "fail" => EventKind::Fail,
                        "info" => EventKind::Info,
                        _ => return None,
                    });
                    2
                }
                "f" => {
                    f = Some(r.plain_str()?);
                    4
                }
                "key" => {
                    key = r.key()?;
                    8
                }
                "value" => {
                    let start = r.i;
                    r.skip_value()?;
                    value = Some(text.get(start..r.i)?);
                    16
                }
                "time" => {
                    time = if r.peek()? == b'n' {
                        r.word(b"null")?;
                        None
                    } else {
                        Some(r.uint()?)
                    };
                    32
                }
                "error" => {
                    error = match r.peek()? {
                        b'n' => {
                            r.word(b"null")?;
                            None
                        }
                        b'"' => Some(r.plain_str()?),
                        _ => return None,
                    };
                    64
                }
                _ => return None,
            };
            if seen & bit != 0 {
                return None;
            }
            seen |= bit;
            r.ws();
            match r.peek()? {
                b',' => r.i += 1,
                b'}' => break,
                _ => return None,
            }
        }
    }
    r.i += 1; // '}'
    r.ws();
    if r.i != r.s.len() {
        return None;
    }
    Some(RawEvent {
        process: process?,
        kind: kind?,
        f: f?,
        key,
        value,
        time,
        error,
    })
}

struct Fast<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
}

impl<'a> Fast<'a> {
    /// A reader of `text` from byte `i`.
    #[inline]
    fn at(text: &'a str, i: usize) -> Self {
        Fast {
            s: text.as_bytes(),
            text,
            i,
        }
    }

    /// Skips spaces, tabs and `\r`, not `\n`: the fast path reads one line (a line has
    /// none; [`written_event_from`] reads in the whole text and must stop at its end).
    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\r') = self.s.get(self.i) {
            self.i += 1;
        }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    #[inline]
    fn eat(&mut self, b: u8) -> Option<()> {
        (self.peek()? == b).then(|| self.i += 1)
    }

    #[inline]
    fn word<const N: usize>(&mut self, w: &[u8; N]) -> Option<()> {
        // As arrays of a size known at compile time: a few word loads and compares, no
        // byte loop and no call to memcmp.
        let end = self.i.checked_add(N)?;
        let s: &[u8; N] = self.s.get(self.i..end)?.try_into().ok()?;
        (s == w).then(|| self.i = end)
    }

    /// A key: a plain string, `null` or an integer; `None` for anything else.
    #[inline]
    fn key(&mut self) -> Option<KeyRef<'a>> {
        Some(match self.peek()? {
            b'"' => KeyRef::Str(self.short_plain_str()?),
            b'n' => {
                self.word(b"null")?;
                KeyRef::Null
            }
            b'-' | b'0'..=b'9' => KeyRef::Int(self.int()?),
            _ => return None,
        })
    }

    /// A string without escapes or control characters, borrowed from the line.
    #[inline]
    fn plain_str(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.i;
        let len = self.s[start..]
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
        self.i += len;
        if self.s[self.i] != b'"' {
            return None;
        }
        // Both ends are ASCII quotes, so the slice keeps char boundaries.
        let s = self.text.get(start..self.i)?;
        self.i += 1;
        Some(s)
    }

    /// [`Fast::plain_str`] at a `"`, for a short string (a key): when eight bytes follow
    /// the quote and one of them ends the string, one word test ([`plain_hits`]) finds
    /// it; otherwise the byte loop. `short_plain_str_is_plain_str` checks it.
    #[inline]
    fn short_plain_str(&mut self) -> Option<&'a str> {
        let start = self.i + 1;
        if let Some(c) = self.s.get(start..).and_then(|r| r.first_chunk::<8>()) {
            let hit = plain_hits(u64::from_le_bytes(*c));
            if hit != 0 {
                let end = start + (hit.trailing_zeros() / 8) as usize;
                if self.s[end] != b'"' {
                    return None;
                }
                let s = self.text.get(start..end)?;
                self.i = end + 1;
                return Some(s);
            }
        }
        self.plain_str()
    }

    /// An integer literal as JSON writes it (no leading zeros), within `i64`.
    #[inline]
    fn int(&mut self) -> Option<i64> {
        let neg = self.peek()? == b'-';
        if neg {
            self.i += 1;
        }
        let start = self.i;
        let mut n: i64 = 0;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            let d = i64::from(d - b'0');
            n = n.checked_mul(10)?;
            n = if neg {
                n.checked_sub(d)?
            } else {
                n.checked_add(d)?
            };
            self.i += 1;
        }
        let len = self.i - start;
        if len == 0 || (len > 1 && self.s[start] == b'0') {
            return None;
        }
        // A fraction or an exponent: a float, for the full parser to reject.
        if let Some(b'.' | b'e' | b'E') = self.peek() {
            return None;
        }
        Some(n)
    }

    #[inline]
    fn uint(&mut self) -> Option<u64> {
        let start = self.i;
        let mut end = start;
        let mut n: u64 = 0;
        while let Some(&d @ b'0'..=b'9') = self.s.get(end) {
            n = n.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
            end += 1;
        }
        let len = end - start;
        if len == 0 || (len > 1 && self.s[start] == b'0') {
            return None;
        }
        // Up to 19 digits fit in a u64 (10^19 - 1 < 2^64); past them it may have wrapped:
        // read again with checks.
        if len > 19 {
            n = self.s[start..end].iter().try_fold(0u64, |n, &d| {
                n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
            })?;
        }
        self.i = end;
        if let Some(b'.' | b'e' | b'E') = self.peek() {
            return None;
        }
        Some(n)
    }

    /// [`Fast::uint`] for an integer that the caller checks is followed by a fixed word
    /// not starting with a digit, `.`, `e` or `E` ([`written_event_from`]): a leading `0`
    /// is read alone (a digit after it then fails the caller's word), no fraction or
    /// exponent test, and more than 19 digits give `None` (the any-order reader, with
    /// checks, then reads the line). `written_uint_is_uint_before_a_word` checks it.
    #[inline]
    fn written_uint(&mut self) -> Option<u64> {
        let s = self.s;
        let mut i = self.i;
        let first = s.get(i)?.wrapping_sub(b'0');
        if first > 9 {
            return None;
        }
        i += 1;
        let mut n = u64::from(first);
        if first != 0 {
            while let Some(d) = s.get(i).map(|b| b.wrapping_sub(b'0')).filter(|&d| d <= 9) {
                n = n.wrapping_mul(10).wrapping_add(u64::from(d));
                i += 1;
            }
            if i - self.i > 19 {
                return None;
            }
        }
        self.i = i;
        Some(n)
    }

    /// [`Fast::plain_str`] for an op name: the built-in models' names are matched whole,
    /// with their quotes (one word compare each, no byte loop), anything else read as a
    /// plain string. `op_name_is_plain_str` checks it.
    #[inline]
    fn op_name(&mut self) -> Option<&'a str> {
        let name: &'static str = match self.s.get(self.i + 1)? {
            b'g' if self.word(b"\"get\"").is_some() => "get",
            b'p' if self.word(b"\"put\"").is_some() => "put",
            b'a' if self.word(b"\"append\"").is_some() => "append",
            b'r' if self.word(b"\"read\"").is_some() => "read",
            b'w' if self.word(b"\"write\"").is_some() => "write",
            b'c' if self.word(b"\"cas\"").is_some() => "cas",
            _ => return self.plain_str(),
        };
        Some(name)
    }

    /// [`Fast::plain_str`] for a value that is only skipped, by words ([`plain_len`]). Not
    /// inlined: in `skip_value` it made the other values' path (nulls and integers, the
    /// register histories) slower.
    #[inline(never)]
    fn skip_plain_str(&mut self) -> Option<()> {
        let len = plain_len(self.s.get(self.i + 1..)?)?;
        let end = self.i + 1 + len;
        (self.s[end] == b'"').then(|| self.i = end + 1)
    }

    /// [`Fast::value`] without building it, the common cases (a plain string, `null`)
    /// first.
    #[inline]
    fn skip_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_plain_str(),
            b'n' => self.word(b"null"),
            _ => self.value(0, false).map(drop),
        }
    }

    /// A v1 value: null, a boolean, an integer, a plain string, or an array of these.
    /// With `build` false the value is only checked (nothing allocated; `Null` returned).
    fn value(&mut self, depth: usize, build: bool) -> Option<Value> {
        Some(match self.peek()? {
            b'n' => {
                self.word(b"null")?;
                Value::Null
            }
            b't' => {
                self.word(b"true")?;
                Value::Bool(true)
            }
            b'f' => {
                self.word(b"false")?;
                Value::Bool(false)
            }
            b'"' => {
                let s = self.plain_str()?;
                if !build {
                    return Some(Value::Null);
                }
                Value::Str(s.to_string())
            }
            b'-' | b'0'..=b'9' => Value::Int(self.int()?),
            b'[' => {
                if depth + 1 >= json::MAX_DEPTH {
                    return None;
                }
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.peek()? == b']' {
                    self.i += 1;
                    return Some(Value::List(items));
                }
                loop {
                    self.ws();
                    let item = self.value(depth + 1, build)?;
                    if build {
                        items.push(item);
                    }
                    self.ws();
                    match self.peek()? {
                        b',' => self.i += 1,
                        b']' => {
                            self.i += 1;
                            break;
                        }
                        _ => return None,
                    }
                }
                Value::List(items)
            }
            _ => return None,
        })
    }
}

fn get<'m>(m: &'m Members, name: &str) -> Option<&'m Spanned> {
    m.iter().find(|(n, _)| n == name).map(|(_, v)| v)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `plain_len` (eight bytes at a time) finds what the byte loop finds, on random byte
    /// strings of 0-40 bytes drawn mostly from the bytes near its tests (the quote, the
    /// backslash, 0x1f, 0x20, 0x21, 0x5b-0x5d, 0x7f-0x81, 0xff, letters), at three offsets.
    #[test]
    fn plain_len_is_the_byte_scan() {
        let plain = |s: &[u8]| s.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20);
        let near = [
            b'"', b'\\', 0x1f, 0x20, 0x21, 0x00, 0x01, 0x5b, 0x5d, 0x7f, 0x80, 0x81, 0xa0, 0xff,
            b'#', b'a', b'p', b'.', b'0',
        ];
        let mut rng = crate::generate::Rng::new(1826);
        let (mut found, mut none, mut far) = (0, 0, 0);
        for _ in 0..200_000 {
            let n = rng.below(41) as usize;
            let hits = rng.below(4);
            let s: Vec<u8> = (0..n)
                .map(|_| match rng.below(8) {
                    // Mostly letters, so that the first hit lands anywhere in a word.
                    0 if hits > 0 => near[rng.below(near.len() as u64) as usize],
                    1 => rng.below(256) as u8,
                    _ => b'a' + rng.below(26) as u8,
                })
                .collect();
            for at in [0, 1.min(n), n / 2] {
                let got = plain_len(&s[at..]);
                assert_eq!(got, plain(&s[at..]), "{:?}", &s[at..]);
                found += usize::from(got.is_some());
                none += usize::from(got.is_none());
                far += usize::from(got.is_some_and(|k| k >= 8));
            }
        }
        assert!(
            found > 100_000 && none > 50_000 && far > 20_000,
            "{found} {none} {far}"
        );
    }

    /// What the full parser reads from one event line.
    /// The vendored Porcupine histories (`tests/data/porcupine/jsonl`), sorted; a test
    /// that reads them fails when they are missing instead of running on fewer.
    pub(crate) fn porcupine_files() -> Vec<std::path::PathBuf> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/porcupine/jsonl");
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .flatten()
            .map(|e| e.path())
            .collect();
        assert!(files.len() >= 100, "{dir}: only {} histories", files.len());
        files.sort();
        files
    }

    /// `line` and 24 mutations of it (a byte deleted, replaced or inserted), those that
    /// are still UTF-8.
    fn with_mutations(line: &str, rng: &mut crate::generate::Rng) -> Vec<String> {
        let alphabet = b" \t\"\\,:{}[]-0123456789.eEnultrfsaxk\x01";
        let mut variants = vec![line.to_string()];
        for _ in 0..24 {
            let mut b = line.as_bytes().to_vec();
            let at = rng.below(b.len() as u64 + 1) as usize;
            let c = alphabet[rng.below(alphabet.len() as u64) as usize];
            match rng.below(3) {
                0 if at < b.len() => {
                    b.remove(at);
                }
                1 if at < b.len() => b[at] = c,
                _ => b.insert(at, c),
            }
            if let Ok(s) = String::from_utf8(b) {
                variants.push(s);
            }
        }
        variants
    }

    fn full(text: &str) -> Result<Event, ParseError> {
        let ctx = LineCtx {
            file: "t",
            line: 1,
            text,
        };
        ctx.event().map(|(e, _)| e)
    }

    /// Event lines: the shared Porcupine histories, generated ones of every model, and
    /// hand-written edge cases (escapes, floats, big integers, odd keys and values).
    fn corpus() -> Vec<String> {
        let mut lines = Vec::new();
        let files = porcupine_files();
        for f in files.iter().take(6) {
            let text = std::fs::read_to_string(f).expect("readable");
            lines.extend(text.lines().skip(1).take(300).map(str::to_string));
        }
        for h in [
            crate::generate::kv(3, 200, 3, 5, 1),
            crate::generate::register(3, 200, 5, 100),
            crate::generate::info_writes(3, 10, 5, true),
        ] {
            lines.extend(h.to_jsonl().lines().skip(1).map(str::to_string));
        }
        for l in [
            r#"{"process":0,"type":"invoke","f":"write","value":"a\"b"}"#,
            r#"{"process":0,"type":"invoke","f":"write","value":1.5}"#,
            r#"{"process":0,"type":"invoke","f":"write","value":9223372036854775808}"#,
            r#"{"process":0,"type":"invoke","f":"write","value":-9223372036854775808}"#,
            r#"{"process":0,"type":"invoke","f":"write","value":-0}"#,
            r#"{"process":0,"type":"invoke","f":"write","value":[1,[2,[true,null]],"x"]}"#,
            r#"{"process":0,"type":"invoke","f":"write","value":{"a":1}}"#,
            r#"{"process":18446744073709551615,"type":"ok","f":"write","key":null,"value":1,"time":0,"error":null}"#,
            r#"{"process":18446744073709551616,"type":"ok","f":"write","value":1}"#,
            r#"{"process":0,"type":"fail","f":"read","key":-3,"value":null,"error":"timeout"}"#,
            r#" { "process" : 0 , "type" : "info" , "f" : "read" , "key" : "k" } "#,
            r#"{"process":0,"type":"invoke","f":"read","key":true}"#,
            r#"{"process":0,"type":"invoke","f":"read","time":null}"#,
            r#"{"process":0,"type":"invoke","f":"read","process":1}"#,
            r#"{"process":0,"type":"invoke","f":"réad","value":"é"}"#,
            r#"{"type":"invoke","f":"read"}"#,
            r#"{}"#,
        ] {
            lines.push(l.to_string());
        }
        lines
    }

    #[test]
    fn fast_event_agrees_with_the_full_parser() {
        let lines = corpus();
        let mut rng = crate::generate::Rng::new(18);
        let (mut fast_hits, mut checked) = (0, 0);
        for line in &lines {
            // The line itself, then mutations of it: a byte deleted, replaced or inserted.
            let variants = with_mutations(line, &mut rng);
            for v in variants {
                checked += 1;
                let full = full(&v);
                if let Some(e) = fast_event(&v) {
                    fast_hits += 1;
                    assert_eq!(full.as_ref(), Ok(&e), "the fast path disagrees on {v}");
                }
            }
        }
        // Most mutations break the line; those that do not (whitespace, a digit) are
        // still taken by the fast path, and every taken one agreed.
        assert!(fast_hits > lines.len(), "{fast_hits} of {checked}");
        for l in lines.iter().filter(|l| l.starts_with("{\"process\"")) {
            if full(l).is_ok() && !l.contains('\\') && !l.contains('.') {
                assert!(fast_event(l).is_some(), "the fast path refused {l}");
            }
        }
    }

    /// `Fast::uint` (unchecked up to 19 digits) against the checked reading it
    /// replaced, on digit strings of 0 to 22 digits (leading zeros, around 2^64, signs
    /// and fractions after): the same number or refusal, and the same end.
    #[test]
    fn uint_is_the_checked_reading() {
        fn checked(s: &[u8]) -> Option<(u64, usize)> {
            if s.first() == Some(&b'-') {
                return None;
            }
            let mut n: u64 = 0;
            let mut i = 0;
            while let Some(d @ b'0'..=b'9') = s.get(i).copied() {
                n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
                i += 1;
            }
            if i == 0 || (i > 1 && s[0] == b'0') || matches!(s.get(i), Some(b'.' | b'e' | b'E')) {
                return None;
            }
            Some((n, i))
        }
        let mut rng = crate::generate::Rng::new(1812);
        let mut cases: Vec<String> = vec![
            u64::MAX.to_string(),
            (u128::from(u64::MAX) + 1).to_string(),
            "9999999999999999999".into(),
            "99999999999999999999".into(),
            "18446744073709551616".into(),
            "00".into(),
            "0".into(),
            String::new(),
        ];
        for _ in 0..20_000 {
            let n = rng.below(23);
            let mut c: String = (0..n)
                .map(|_| char::from(b'0' + rng.below(10) as u8))
                .collect();
            if rng.below(4) == 0 {
                c = format!("1844674407370955{}", &c[..c.len().min(5)]);
            }
            match rng.below(6) {
                0 => c.insert(0, '-'),
                1 => c.push('.'),
                2 => c.push(','),
                _ => {}
            }
            cases.push(c);
        }
        for c in &cases {
            let mut r = Fast::at(c, 0);
            let got = r.uint().map(|n| (n, r.i));
            assert_eq!(got, checked(c.as_bytes()), "{c:?}");
        }
    }

    /// `written_uint` followed by the check of a word (as [`written_event_from`] does)
    /// accepts exactly what `uint` accepts there, with the same number and end, on
    /// random digit strings (leading zeros, 18-21 digits, near `u64::MAX`) followed by
    /// `,`, `}`, a digit, `.`, `e`, `E`, `-` or nothing.
    #[test]
    fn written_uint_is_uint_before_a_word() {
        let mut rng = crate::generate::Rng::new(1830);
        let (mut read, mut declined) = (0, 0);
        for _ in 0..100_000 {
            let n = rng.below(23) as usize;
            let mut c: String = (0..n)
                .map(|_| char::from(b'0' + rng.below(10) as u8))
                .collect();
            match rng.below(5) {
                0 => c = format!("1844674407370955{}", &c[..n.min(5)]),
                1 => c.insert(0, '0'),
                _ => {}
            }
            let after = [",", "}", "0", "7", ".", "e", "E", "-", ""];
            c.push_str(after[rng.below(after.len() as u64) as usize]);
            let followed =
                |r: &mut Fast| (r.word(b",").is_some() || r.word(b"}").is_some()).then_some(());
            let mut a = Fast::at(&c, 0);
            let ours = a
                .written_uint()
                .and_then(|n| followed(&mut a).map(|()| (n, a.i)));
            let mut b = Fast::at(&c, 0);
            let theirs = b.uint().and_then(|n| followed(&mut b).map(|()| (n, b.i)));
            // Past 19 digits ours declines (the any-order reader reads them).
            if ours.is_none() && theirs.is_some() {
                let digits = c.bytes().take_while(u8::is_ascii_digit).count();
                assert!(digits > 19, "{c:?}");
                declined += 1;
                continue;
            }
            assert_eq!(ours, theirs, "{c:?}");
            read += usize::from(ours.is_some());
        }
        assert!(read > 8_000 && declined > 30, "{read} {declined}");
    }

    /// `op_name` reads what `plain_str` reads, to the same end, on the models' names and
    /// near misses, with their quotes cut, changed or followed by more.
    #[test]
    fn op_name_is_plain_str() {
        let names = [
            "get", "put", "append", "read", "write", "cas", "ge", "gets", "pu", "appen", "appends",
            "rea", "reads", "writ", "writes", "ca", "cass", "x", "", "g\\et",
        ];
        let ends = ["\"", "\",", "\"}", "", "x\"", "\\\"", "\u{1}\""];
        let mut seen = 0;
        for name in names {
            for end in ends {
                for start in ["\"", "", "'"] {
                    let t = format!("{start}{name}{end}");
                    let mut a = Fast::at(&t, 0);
                    let mut b = Fast::at(&t, 0);
                    let ours = a.op_name().map(|s| (s, a.i));
                    let theirs = b.plain_str().map(|s| (s, b.i));
                    assert_eq!(ours, theirs, "{t:?}");
                    seen += usize::from(ours.is_some());
                }
            }
        }
        assert!(seen > 50, "{seen}");
    }

    /// `short_plain_str` reads what `plain_str` reads, to the same end, on random
    /// quoted byte strings of 0-20 bytes rich in the bytes near its word test (so the
    /// end lands anywhere in the word, or past it, or the text ends first).
    #[test]
    fn short_plain_str_is_plain_str() {
        let near = [
            b'"', b'\\', 0x1f, 0x20, 0x21, 0x00, 0x7f, 0x80, 0xc3, 0xa9, 0xff, b'k', b'1',
        ];
        let mut rng = crate::generate::Rng::new(1831);
        let (mut read, mut word) = (0, 0);
        for _ in 0..200_000 {
            let n = rng.below(21) as usize;
            let mut b = vec![b'"'];
            b.extend((0..n).map(|_| match rng.below(6) {
                0 => near[rng.below(near.len() as u64) as usize],
                1 => rng.below(256) as u8,
                _ => b'a' + rng.below(26) as u8,
            }));
            let t = String::from_utf8_lossy(&b).into_owned();
            let mut x = Fast::at(&t, 0);
            let mut y = Fast::at(&t, 0);
            let ours = x.short_plain_str().map(|s| (s, x.i));
            let theirs = y.plain_str().map(|s| (s, y.i));
            assert_eq!(ours, theirs, "{t:?}");
            read += usize::from(ours.is_some());
            word += usize::from(ours.is_some() && t.len() >= 9);
        }
        assert!(read > 10_000 && word > 5_000, "{read} {word}");
    }

    /// The reader of lines as the writer writes them gives what the reader of members
    /// in any order gives, on the corpus and mutations of it (which it mostly declines).
    #[test]
    fn written_event_reads_as_any_order_event() {
        let lines = corpus();
        let mut rng = crate::generate::Rng::new(1819);
        let mut taken = 0;
        for line in &lines {
            let variants = with_mutations(line, &mut rng);
            for v in variants {
                if let Some(e) = written_event(&v) {
                    taken += 1;
                    assert_eq!(any_order_event(&v), Some(e), "on {v}");
                }
            }
        }
        // Every generated line is in the writer's form.
        assert!(taken > lines.len(), "{taken} of {}", lines.len());
    }

    #[test]
    fn errors_after_the_fast_path_keep_their_columns() {
        let text = concat!(
            r#"{"format":"faultline-history","version":1,"model":"register"}"#,
            "\n",
            r#"{"process":0,"type":"invoke","f":"write","value":1}"#,
            "\n",
            r#"{"process":0,"type":"ok","f":"read","value":1}"#,
            "\n"
        );
        let e = parse_history(text, "h.jsonl").unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"h.jsonl:3:30: expected "f" to match the invoke at line 2 ("write"), found "read""#
        );
    }
}
