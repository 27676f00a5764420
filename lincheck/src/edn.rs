//! Knossos/Jepsen EDN histories (`history.edn`) for the register and cas-register models.
//!
//! The file holds op maps, one after another, optionally inside one `[...]` or `(...)`
//! (a `#tag` before a map, like `#jepsen.history.Op`, is ignored). Each map becomes one
//! event:
//!
//! | EDN | faultline history |
//! |---|---|
//! | `:process 3` | `"process": 3` (a non-integer process such as `:nemesis`: the op is skipped) |
//! | `:type :invoke` / `:ok` / `:fail` / `:info` | `"type"` |
//! | `:f :read` / `:write` / `:cas` | `"f"` |
//! | `:value 5`, `nil`, `[1 2]`, `"s"`, `true` | `"value"`: 5, null, [1, 2], "s", true (a read's invoke: always null, its value is ignored as in Knossos) |
//! | `:time 123` (non-negative integer) | `"time": 123` |
//! | anything else (`:index`, `:error`, ...) | ignored |
//!
//! The model is cas-register if any op is a `:cas`, else register (or the one asked for);
//! the initial value is `nil` as in Knossos. **Knossos semantics:** an `:ok` read whose
//! value is `nil` means "value unknown" there and is always legal. Such reads (their
//! invoke and completion) are dropped on import, and [`parse_edn_history`] says how many.

use std::fmt;

use crate::history::{Event, EventKind, History, ModelKind, Value};

/// A bad EDN history: file, line, column and what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdnError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for EdnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

impl std::error::Error for EdnError {}

/// `true` if `text` looks like EDN rather than JSON Lines (starts with `[`, `(`, `#` or
/// `{:`).
pub fn looks_like_edn(text: &str) -> bool {
    let mut chars = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ',')
        .take(2);
    match chars.next() {
        Some('[' | '(' | '#' | ';') => true,
        Some('{') => chars.next() == Some(':'),
        _ => false,
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Edn {
    Nil,
    Bool(bool),
    Int(i64),
    Str(String),
    Keyword(String),
    Symbol(String),
    List(Vec<Edn>),
    Map(Vec<(Edn, Edn)>),
}

struct Reader<'a> {
    src: &'a [u8],
    at: usize,
    line: usize,
    col: usize,
    file: &'a str,
}

impl Reader<'_> {
    fn err(&self, message: impl Into<String>) -> EdnError {
        EdnError {
            file: self.file.to_string(),
            line: self.line,
            column: self.col,
            message: message.into(),
        }
    }
    fn peek(&self) -> Option<u8> {
        self.src.get(self.at).copied()
    }
    fn bump(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.at += 1;
        if c == b'\n' {
            self.line += 1;
            self.col = 1;
        } else if c & 0xC0 != 0x80 {
            self.col += 1;
        }
        Some(c)
    }
    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_ascii_whitespace() || c == b',' {
                self.bump();
            } else if c == b';' {
                while self.peek().is_some_and(|c| c != b'\n') {
                    self.bump();
                }
            } else {
                break;
            }
        }
    }
    fn token(&mut self) -> String {
        let start = self.at;
        while let Some(c) = self.peek() {
            if c.is_ascii_whitespace() || b",()[]{}\";".contains(&c) {
                break;
            }
            self.bump();
        }
        String::from_utf8_lossy(&self.src[start..self.at]).into_owned()
    }
    /// One value; `None` at the end of input.
    fn value(&mut self) -> Result<Option<Edn>, EdnError> {
        self.skip_ws();
        let Some(c) = self.peek() else {
            return Ok(None);
        };
        let v = match c {
            b'[' | b'(' => {
                let close = if c == b'[' { b']' } else { b')' };
                self.bump();
                Edn::List(self.items(close)?)
            }
            b'{' => {
                self.bump();
                let items = self.items(b'}')?;
                if items.len() % 2 != 0 {
                    return Err(self.err("expected a map with an even number of forms"));
                }
                let mut it = items.into_iter();
                let mut pairs = Vec::new();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    pairs.push((k, v));
                }
                Edn::Map(pairs)
            }
            b'#' => {
                self.bump();
                if self.peek() == Some(b'{') {
                    // A set: read it as a list.
                    self.bump();
                    Edn::List(self.items(b'}')?)
                } else {
                    // A tagged value: `#tag form` reads as `form`.
                    self.token();
                    return match self.value()? {
                        Some(v) => Ok(Some(v)),
                        None => Err(self.err("expected a value after a #tag")),
                    };
                }
            }
            b'"' => {
                self.bump();
                let mut s = Vec::new();
                loop {
                    match self.bump() {
                        None => return Err(self.err("expected the end of a string")),
                        Some(b'"') => break,
                        Some(b'\\') => match self.bump() {
                            Some(b'n') => s.push(b'\n'),
                            Some(b't') => s.push(b'\t'),
                            Some(b'r') => s.push(b'\r'),
                            Some(c) => s.push(c),
                            None => return Err(self.err("expected the end of a string")),
                        },
                        Some(c) => s.push(c),
                    }
                }
                Edn::Str(String::from_utf8_lossy(&s).into_owned())
            }
            b')' | b']' | b'}' => {
                return Err(self.err(format!("unexpected {:?}", c as char)));
            }
            b':' => {
                self.bump();
                Edn::Keyword(self.token())
            }
            _ => {
                let (line, col) = (self.line, self.col);
                let t = self.token();
                match t.as_str() {
                    "nil" => Edn::Nil,
                    "true" => Edn::Bool(true),
                    "false" => Edn::Bool(false),
                    _ if t.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+')
                        && t.len() > usize::from(!t.starts_with(|c: char| c.is_ascii_digit())) =>
                    {
                        let digits = t.trim_end_matches('N');
                        match digits.parse::<i64>() {
                            Ok(n) => Edn::Int(n),
                            Err(_) => {
                                return Err(EdnError {
                                    file: self.file.to_string(),
                                    line,
                                    column: col,
                                    message: format!(
                                        "expected an integer (64-bit; floats are not values of these models), found {t}"
                                    ),
                                });
                            }
                        }
                    }
                    _ => Edn::Symbol(t),
                }
            }
        };
        Ok(Some(v))
    }
    fn items(&mut self, close: u8) -> Result<Vec<Edn>, EdnError> {
        let mut out = Vec::new();
        loop {
            self.skip_ws();
            if self.peek() == Some(close) {
                self.bump();
                return Ok(out);
            }
            match self.value()? {
                Some(v) => out.push(v),
                None => {
                    return Err(self.err(format!("expected {:?} before the end", close as char)));
                }
            }
        }
    }
}

fn to_value(e: &Edn) -> Option<Value> {
    Some(match e {
        Edn::Nil => Value::Null,
        Edn::Bool(b) => Value::Bool(*b),
        Edn::Int(n) => Value::Int(*n),
        Edn::Str(s) | Edn::Keyword(s) | Edn::Symbol(s) => Value::Str(s.clone()),
        Edn::List(l) => Value::List(l.iter().map(to_value).collect::<Option<_>>()?),
        Edn::Map(_) => return None,
    })
}

/// Reads a Knossos/Jepsen EDN history. Returns it with the number of `:ok` reads of
/// `nil` that were dropped (see the module docs). `model` overrides the inferred one.
pub fn parse_edn_history(
    text: &str,
    file: &str,
    model: Option<ModelKind>,
) -> Result<(History, usize), EdnError> {
    let mut r = Reader {
        src: text.as_bytes(),
        at: 0,
        line: 1,
        col: 1,
        file,
    };
    // Top-level: maps, or one list of maps.
    let mut maps: Vec<(usize, usize, Edn)> = Vec::new();
    r.skip_ws();
    // One top-level list: read its items one by one, so each keeps its own position.
    let close = match r.peek() {
        Some(b'[') => Some(b']'),
        Some(b'(') => Some(b')'),
        _ => None,
    };
    if close.is_some() {
        r.bump();
    }
    loop {
        r.skip_ws();
        if close.is_some() && r.peek() == close {
            r.bump();
            r.skip_ws();
            if r.peek().is_some() {
                return Err(r.err("expected the end of the file after the list of ops"));
            }
            break;
        }
        let (line, col) = (r.line, r.col);
        match r.value()? {
            None if close.is_some() => {
                return Err(r.err(format!(
                    "expected {:?} before the end",
                    close.map_or(' ', char::from)
                )));
            }
            None => break,
            Some(m) => maps.push((line, col, m)),
        }
    }
    let mut events: Vec<Option<(Event, usize, usize)>> = Vec::new();
    let mut open: std::collections::BTreeMap<u64, usize> = std::collections::BTreeMap::new();
    let mut dropped = 0;
    let mut any_cas = false;
    for (line, column, m) in maps {
        let at = |message: String| EdnError {
            file: file.to_string(),
            line,
            column,
            message,
        };
        let Edn::Map(pairs) = m else {
            return Err(at(
                "expected an op map like {:process 0, :type :invoke, :f :read, :value nil}".into(),
            ));
        };
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(key, _)| *key == Edn::Keyword(k.into()))
                .map(|(_, v)| v)
        };
        let process = match get("process") {
            Some(Edn::Int(p)) if *p >= 0 => *p as u64,
            // The nemesis and other non-client processes make no ops of the model.
            Some(Edn::Keyword(_) | Edn::Symbol(_) | Edn::Str(_)) => continue,
            other => {
                return Err(at(format!(
                    "expected :process to be a non-negative integer, found {other:?}"
                )));
            }
        };
        let kind = match get("type") {
            Some(Edn::Keyword(t)) => match t.as_str() {
                "invoke" => EventKind::Invoke,
                "ok" => EventKind::Ok,
                "fail" => EventKind::Fail,
                "info" => EventKind::Info,
                other => {
                    return Err(at(format!(
                        "expected :type to be one of :invoke, :ok, :fail, :info, found :{other}"
                    )));
                }
            },
            other => {
                return Err(at(format!(
                    "expected :type to be one of :invoke, :ok, :fail, :info, found {other:?}"
                )));
            }
        };
        let f = match get("f") {
            Some(Edn::Keyword(f) | Edn::Symbol(f) | Edn::Str(f)) => f.clone(),
            other => return Err(at(format!("expected :f to be a keyword, found {other:?}"))),
        };
        any_cas |= f == "cas";
        let value = get("value").map_or(Some(Value::Null), to_value);
        let Some(value) = value else {
            return Err(at(
                "expected :value to be nil, a number, a string or a vector".into(),
            ));
        };
        let time = match get("time") {
            Some(Edn::Int(t)) if *t >= 0 => Some(*t as u64),
            _ => None,
        };
        // Knossos fills a read's invoke with the value it completes with; the invoke's own
        // value means nothing (and is often the expected value): the format wants null.
        let value = if kind == EventKind::Invoke && f == "read" {
            Value::Null
        } else {
            value
        };
        let ev = Event {
            process,
            kind,
            f: f.clone(),
            key: None,
            value,
            time,
            error: None,
        };
        if kind == EventKind::Invoke {
            open.insert(process, events.len());
        } else if let Some(inv) = open.remove(&process) {
            if kind == EventKind::Ok && f == "read" && ev.value == Value::Null {
                // Knossos: an ok read of nil means the value is unknown. Drop the op.
                events[inv] = None;
                dropped += 1;
                continue;
            }
        }
        events.push(Some((ev, line, column)));
    }
    let (mut events, at): (Vec<Event>, Vec<(usize, usize)>) = events
        .into_iter()
        .flatten()
        .map(|(e, l, c)| (e, (l, c)))
        .unzip();
    // Times must not go backwards; Jepsen's relative times do not, but drop them if so.
    if events
        .windows(2)
        .any(|w| matches!((w[0].time, w[1].time), (Some(a), Some(b)) if b < a))
        || events.iter().any(|e| e.time.is_none())
    {
        for e in &mut events {
            e.time = None;
        }
    }
    let model = model.unwrap_or(if any_cas {
        ModelKind::CasRegister
    } else {
        ModelKind::Register
    });
    let history = History {
        model,
        init: None,
        events,
        process_names: Default::default(),
    };
    history.validate().map_err(|e| {
        let (line, column) = at.get(e.event).copied().unwrap_or((0, 0));
        EdnError {
            file: file.to_string(),
            line,
            column,
            message: format!("as a {model} history: {}", e.error),
        }
    })?;
    Ok((history, dropped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_knossos_ops_and_drops_nil_reads() {
        let text = r#"[{:process 0, :type :invoke, :f :write, :value 1}
 {:process 1, :type :invoke, :f :read, :value nil}
 {:process 0, :type :ok, :f :write, :value 1}
 {:process 1, :type :ok, :f :read, :value nil}
 {:process :nemesis, :type :info, :f :start, :value nil}
 {:process 2, :type :invoke, :f :cas, :value [1 2], :time 5}
 {:process 2, :type :fail, :f :cas, :value [1 2]}]"#;
        assert!(looks_like_edn(text));
        assert!(!looks_like_edn("{\"format\":\"faultline-history\"}"));
        let (h, dropped) = parse_edn_history(text, "h.edn", None).expect("valid");
        assert_eq!(dropped, 1);
        assert_eq!(h.model, ModelKind::CasRegister);
        assert_eq!(h.events.len(), 4);
        assert_eq!(
            h.events[2].value,
            Value::List(vec![Value::Int(1), Value::Int(2)])
        );
        assert!(h.events.iter().all(|e| e.time.is_none()));
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = parse_edn_history(
            "{:process 0, :type :invoke}\n{:process 0 :type :okay :f :read}",
            "x.edn",
            None,
        )
        .unwrap_err();
        assert_eq!(e.line, 1, "{e}");
        let e = parse_edn_history(
            "{:process 0, :type :invoke, :f :read, :value nil}\n{:process 0 :type :okay :f :read}",
            "x.edn",
            None,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.edn:2:1: expected :type to be one of :invoke, :ok, :fail, :info, found :okay"
        );
        let e = parse_edn_history("[{:process 0", "x.edn", None).unwrap_err();
        assert!(e.to_string().starts_with("x.edn:1:"), "{e}");
        // Inside one top-level list, each op keeps its own line and column.
        let e = parse_edn_history(
            "[{:process 0, :type :invoke, :f :write, :value 1}\n {:process 0 :type :ok :f :frob}]",
            "x.edn",
            None,
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("x.edn:2:2: "), "{e}");
        let e = parse_edn_history("[{:process 0, :type :invoke, :f :write}] {}", "x.edn", None)
            .unwrap_err();
        assert!(e.message.contains("end of the file"), "{e}");
    }

    /// Knossos fills a read's invoke with its result; the invoke's value is ignored.
    #[test]
    fn a_read_invoke_value_is_ignored() {
        let text = "[{:process 1, :type :invoke, :f :read, :value 4}\n {:process 1, :type :ok, :f :read, :value 4}]";
        let (h, _) = parse_edn_history(text, "r.edn", None).expect("valid");
        assert_eq!(h.events[0].value, Value::Null);
        assert_eq!(h.events[1].value, Value::Int(4));
    }
}
