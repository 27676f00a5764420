//! A small JSON reader that remembers where every value starts.
//!
//! `serde_json` reports the position where it *stopped*, not where the offending token
//! began, and it silently accepts floats. The history format wants both exact columns and
//! float rejection, so each line is read here into a tree of [`Spanned`] values. The
//! reader never recurses deeper than [`MAX_DEPTH`] and never panics.

/// Arrays and objects nested deeper than this are rejected (a stack guard).
pub(crate) const MAX_DEPTH: usize = 64;

/// A JSON value and the byte offset (within its line) where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Spanned {
    pub offset: usize,
    pub json: Json,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    /// An integer literal; `None` if it does not fit in an `i128` (reported as out of range).
    Int(Option<i128>),
    /// A number with a fraction or an exponent, kept as written.
    Float(String),
    Str(String),
    Array(Vec<Spanned>),
    /// Members in the order written (duplicates are rejected by the reader).
    Object(Vec<(String, Spanned)>),
}

/// A syntax error: byte offset within the line and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub offset: usize,
    pub expected: String,
    pub found: String,
}

/// Reads one complete JSON value from `text` (surrounding whitespace allowed).
pub(crate) fn parse_line(text: &str) -> Result<Spanned, SyntaxError> {
    let mut r = Reader {
        s: text.as_bytes(),
        text,
        i: 0,
    };
    r.ws();
    let v = r.value(0)?;
    r.ws();
    if r.i < r.s.len() {
        return Err(r.err("end of line after the JSON value"));
    }
    Ok(v)
}

struct Reader<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
}

impl Reader<'_> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.i) {
            self.i += 1;
        }
    }

    fn found(&self) -> String {
        match self.text.get(self.i..).and_then(|t| t.chars().next()) {
            None => "end of line".to_string(),
            Some(c) => format!("{c:?}"),
        }
    }

    fn err(&self, expected: &str) -> SyntaxError {
        SyntaxError {
            offset: self.i,
            expected: expected.to_string(),
            found: self.found(),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Spanned, SyntaxError> {
        let offset = self.i;
        let json = match self.s.get(self.i) {
            Some(b'{') => self.object(depth)?,
            Some(b'[') => self.array(depth)?,
            Some(b'"') => Json::Str(self.string()?),
            Some(b'-' | b'0'..=b'9') => self.number()?,
            Some(b't') => self.literal("true", Json::Bool(true))?,
            Some(b'f') => self.literal("false", Json::Bool(false))?,
            Some(b'n') => self.literal("null", Json::Null)?,
            _ => return Err(self.err("a JSON value")),
        };
        Ok(Spanned { offset, json })
    }

    fn literal(&mut self, word: &str, v: Json) -> Result<Json, SyntaxError> {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(self.err("a JSON value"))
        }
    }

    fn nest(&self, depth: usize) -> Result<usize, SyntaxError> {
        if depth >= MAX_DEPTH {
            Err(self.err(&format!("at most {MAX_DEPTH} levels of nesting")))
        } else {
            Ok(depth + 1)
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json, SyntaxError> {
        let depth = self.nest(depth)?;
        self.i += 1; // '['
        let mut items = Vec::new();
        self.ws();
        if self.s.get(self.i) == Some(&b']') {
            self.i += 1;
            return Ok(Json::Array(items));
        }
        loop {
            self.ws();
            items.push(self.value(depth)?);
            self.ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Json::Array(items));
                }
                _ => return Err(self.err("',' or ']'")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json, SyntaxError> {
        let depth = self.nest(depth)?;
        self.i += 1; // '{'
        let mut members: Vec<(String, Spanned)> = Vec::new();
        self.ws();
        if self.s.get(self.i) == Some(&b'}') {
            self.i += 1;
            return Ok(Json::Object(members));
        }
        loop {
            self.ws();
            if self.s.get(self.i) != Some(&b'"') {
                return Err(self.err("a string (member name)"));
            }
            let name_at = self.i;
            let name = self.string()?;
            if members.iter().any(|(n, _)| *n == name) {
                return Err(SyntaxError {
                    offset: name_at,
                    expected: "each member name at most once".to_string(),
                    found: format!("a second {name:?}"),
                });
            }
            self.ws();
            if self.s.get(self.i) != Some(&b':') {
                return Err(self.err("':'"));
            }
            self.i += 1;
            self.ws();
            let v = self.value(depth)?;
            members.push((name, v));
            self.ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Json::Object(members));
                }
                _ => return Err(self.err("',' or '}'")),
            }
        }
    }

    fn string(&mut self) -> Result<String, SyntaxError> {
        self.i += 1; // opening quote
        let mut out = String::new();
        loop {
            let start = self.i;
            while let Some(&b) = self.s.get(self.i) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.i += 1;
            }
            // Slicing at ASCII bytes of a &str keeps char boundaries.
            out.push_str(self.text.get(start..self.i).unwrap_or(""));
            match self.s.get(self.i) {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    let c = match self.s.get(self.i) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.i += 1;
                            out.push(self.unicode_escape()?);
                            continue;
                        }
                        _ => return Err(self.err("an escape character (one of \"\\/bfnrtu)")),
                    };
                    self.i += 1;
                    out.push(c);
                }
                None => return Err(self.err("'\"' to close the string")),
                Some(_) => {
                    return Err(self.err("a string character (control characters must be escaped)"));
                }
            }
        }
    }

    /// After `\u`: four hex digits, possibly a surrogate pair.
    fn unicode_escape(&mut self) -> Result<char, SyntaxError> {
        let hi = self.hex4()?;
        if (0xD800..0xDC00).contains(&hi) {
            if self.s.get(self.i) == Some(&b'\\') && self.s.get(self.i + 1) == Some(&b'u') {
                self.i += 2;
                let lo = self.hex4()?;
                if (0xDC00..0xE000).contains(&lo) {
                    let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                    return char::from_u32(c).ok_or_else(|| self.err("a valid \\u escape"));
                }
            }
            return Err(self.err("a low surrogate \\uDC00-\\uDFFF after a high surrogate"));
        }
        char::from_u32(hi).ok_or_else(|| self.err("a valid \\u escape (not a lone surrogate)"))
    }

    fn hex4(&mut self) -> Result<u32, SyntaxError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = match self.s.get(self.i) {
                Some(b) if b.is_ascii_hexdigit() => (*b as char).to_digit(16).unwrap_or(0),
                _ => return Err(self.err("four hex digits after \\u")),
            };
            v = v * 16 + d;
            self.i += 1;
        }
        Ok(v)
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.s.get(self.i) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Result<Json, SyntaxError> {
        let start = self.i;
        if self.s.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        match self.s.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.err("a digit")),
        }
        let mut float = false;
        if self.s.get(self.i) == Some(&b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(self.err("a digit after '.'"));
            }
            float = true;
        }
        if let Some(b'e' | b'E') = self.s.get(self.i) {
            self.i += 1;
            if let Some(b'+' | b'-') = self.s.get(self.i) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("a digit in the exponent"));
            }
            float = true;
        }
        let text = self.text.get(start..self.i).unwrap_or("");
        if float {
            Ok(Json::Float(text.to_string()))
        } else {
            Ok(Json::Int(text.parse::<i128>().ok()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nested_values_with_offsets() {
        let v = parse_line(r#" {"a": [1, -2, "x\u00e9\ud83d\ude00"], "b": null} "#).unwrap();
        assert_eq!(v.offset, 1);
        let Json::Object(m) = v.json else {
            panic!("not an object")
        };
        assert_eq!(m[0].0, "a");
        assert_eq!(m[0].1.offset, 7);
        let Json::Array(items) = &m[0].1.json else {
            panic!("not an array")
        };
        assert_eq!(items[1].json, Json::Int(Some(-2)));
        assert_eq!(items[2].json, Json::Str("xé😀".to_string()));
        assert_eq!(m[1].1.json, Json::Null);
    }

    #[test]
    fn floats_are_kept_apart_and_errors_point_at_the_token() {
        assert_eq!(parse_line("1.5").unwrap().json, Json::Float("1.5".into()));
        assert_eq!(parse_line("2e3").unwrap().json, Json::Float("2e3".into()));
        let e = parse_line(r#"{"a" 1}"#).unwrap_err();
        assert_eq!((e.offset, e.expected.as_str()), (5, "':'"));
        let e = parse_line(r#"{"a":1,"a":2}"#).unwrap_err();
        assert_eq!(e.offset, 7);
        let deep = "[".repeat(10_000);
        assert!(parse_line(&deep).is_err());
        assert!(parse_line("01").is_err());
        assert!(parse_line("\"\\ud800\"").is_err());
    }
}
