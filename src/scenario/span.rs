//! Source positions for scenario files, and the one error type every bad file produces.
//!
//! RON itself reports syntax and type errors with a line and column. What it cannot know
//! is that `"n9"` is not a node of this cluster, or that a restart names a node that was
//! never crashed: those are found after parsing. So the values that later checks talk
//! about are parsed as [`Spanned`]: ron hands us the value's text as a slice of the file
//! (a borrowed `RawValue`), its distance from the start of the file is its position, and
//! the slice is then parsed again into the real type. Errors inside that second parse are
//! moved back to file positions, so every error points at its token.

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError,
    MietteSpanContents, NamedSource, SourceCode, SourceSpan, SpanContents,
};
use ron::extensions::Extensions;
use ron::value::RawValue;
use serde::{Deserialize, Deserializer};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

/// Byte offsets into the scenario file.
pub type Span = Range<usize>;

/// A value with the place in the file it was written. Values built in code (by `shrink`)
/// have an empty span at 0.
#[derive(Clone, Debug, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    /// A value with no place in any file.
    pub fn new(value: T) -> Spanned<T> {
        Spanned { value, span: 0..0 }
    }
}

/// How scenario files are read: `Option` fields may be written without `Some(...)`.
pub(crate) fn ron_options() -> ron::Options {
    ron::Options::default().with_default_extension(Extensions::IMPLICIT_SOME)
}

thread_local! {
    /// The file being parsed: its address range, so a borrowed slice knows its offset.
    static SOURCE: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
    /// The innermost error found while re-parsing a spanned slice, in file offsets.
    static INNER_ERROR: RefCell<Option<(Span, String)>> = const { RefCell::new(None) };
}

/// Parses `text` (all of a file) into `T`, mapping every error to file offsets.
pub(crate) fn parse_file<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, (Span, String)> {
    let _guard = SourceGuard::enter(text);
    parse_slice(text, 0)
}

/// Parses `slice`, which starts at byte `base` of the file, into `T`.
pub(crate) fn parse_slice<'a, T: Deserialize<'a>>(
    slice: &'a str,
    base: usize,
) -> Result<T, (Span, String)> {
    INNER_ERROR.with(|e| e.borrow_mut().take());
    match ron_options().from_str::<T>(slice) {
        Ok(v) => Ok(v),
        Err(e) => {
            if let Some(inner) = INNER_ERROR.with(|e| e.borrow_mut().take()) {
                return Err(inner);
            }
            let start = base + offset_of(slice, e.span.start.line, e.span.start.col);
            let end = base + offset_of(slice, e.span.end.line, e.span.end.col);
            Err((start..end.max(start), describe(&e.code)))
        }
    }
}

/// Parses the slice of the file at `span` into `T` (used for protocol configs, whose type
/// is only known once the protocol is).
pub(crate) fn parse_span<T: serde::de::DeserializeOwned>(
    file: &str,
    span: &Span,
) -> Result<T, (Span, String)> {
    let _guard = SourceGuard::enter(file);
    parse_slice(&file[span.clone()], span.start)
}

struct SourceGuard(());

impl SourceGuard {
    fn enter(text: &str) -> SourceGuard {
        let start = text.as_ptr() as usize;
        SOURCE.with(|s| s.set((start, start + text.len())));
        SourceGuard(())
    }
}

impl Drop for SourceGuard {
    fn drop(&mut self) {
        SOURCE.with(|s| s.set((0, 0)));
    }
}

/// Where `slice` lies in the file being parsed (empty span if it is not part of it).
fn span_in_source(slice: &str) -> Span {
    let (lo, hi) = SOURCE.with(|s| s.get());
    let p = slice.as_ptr() as usize;
    if p >= lo && p + slice.len() <= hi {
        let start = p - lo;
        start..start + slice.len()
    } else {
        0..0
    }
}

/// Byte offset of ron's 1-based (line, column in chars) in `text`.
fn offset_of(text: &str, line: usize, col: usize) -> usize {
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            return offset
                + l.char_indices()
                    .nth(col.saturating_sub(1))
                    .map_or(l.len(), |(b, _)| b);
        }
        offset += l.len();
    }
    text.len()
}

/// ron's messages, with its backquoted names kept and its capital letters dropped so they
/// read as part of our sentences.
fn describe(e: &ron::Error) -> String {
    match e {
        ron::Error::ExpectedComma => return "expected a comma (`,`) before this".into(),
        ron::Error::Eof => return "the file ends too early: a `)` or `]` is missing".into(),
        _ => {}
    }
    let s = e.to_string();
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_uppercase() && !chars.clone().next().is_some_and(char::is_uppercase) => {
            c.to_lowercase().chain(chars).collect()
        }
        _ => s,
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Spanned<T>, D::Error> {
        let raw = <&'de RawValue>::deserialize(d)?;
        let text = raw.get_ron();
        let span = span_in_source(text);
        let base = span.start;
        let value = ron_options().from_str::<T>(text).map_err(|e| {
            INNER_ERROR.with(|slot| {
                let mut slot = slot.borrow_mut();
                if slot.is_none() {
                    let start = base + offset_of(text, e.span.start.line, e.span.start.col);
                    let end = base + offset_of(text, e.span.end.line, e.span.end.col);
                    *slot = Some((start..end.max(start), describe(&e.code)));
                }
            });
            serde::de::Error::custom(describe(&e.code))
        })?;
        Ok(Spanned { value, span })
    }
}

/// Why a scenario cannot run: what is wrong, where (file, line, column), and what was
/// expected. Rendered with the source line underlined.
#[derive(Clone)]
pub struct ScenarioError(Box<Inner>);

#[derive(Clone)]
struct Inner {
    file: String,
    source: Option<Source>,
    span: Span,
    message: String,
    label: Option<String>,
    help: Option<String>,
}

impl ScenarioError {
    /// An error at `span` of `file`.
    pub fn at(
        file: &str,
        source: &Arc<str>,
        span: Span,
        message: impl Into<String>,
    ) -> ScenarioError {
        let span = span.start.min(source.len())..span.end.min(source.len());
        ScenarioError(Box::new(Inner {
            file: file.to_string(),
            source: Some(Source {
                named: NamedSource::new(file, source.clone()),
                column_fix: None,
            }),
            span,
            message: message.into(),
            label: None,
            help: None,
        }))
    }

    /// An error about the file as a whole (it cannot be read, ...); `message` names the file.
    pub fn whole(file: &str, message: impl Into<String>) -> ScenarioError {
        ScenarioError(Box::new(Inner {
            file: file.to_string(),
            source: None,
            span: 0..0,
            message: message.into(),
            label: None,
            help: None,
        }))
    }

    /// The short text under the underline.
    pub fn label(mut self, label: impl Into<String>) -> ScenarioError {
        self.0.label = Some(label.into());
        self
    }

    /// How to fix it.
    pub fn help(mut self, help: impl Into<String>) -> ScenarioError {
        self.0.help = Some(help.into());
        self
    }

    pub fn message(&self) -> &str {
        &self.0.message
    }

    pub fn file(&self) -> &str {
        &self.0.file
    }

    pub fn span(&self) -> Span {
        self.0.span.clone()
    }

    /// 1-based line and column of the error's start, if it has a place in the file.
    pub fn line_col(&self) -> Option<(usize, usize)> {
        let src = self.0.source.as_ref()?.named.inner();
        Some(crate::text::line_col(&src[..self.0.span.start]))
    }

    /// One line: `file:line:col: message`.
    pub fn one_line(&self) -> String {
        match self.line_col() {
            Some((line, col)) => format!("{}:{line}:{col}: {}", self.0.file, self.0.message),
            None => self.0.message.clone(),
        }
    }

    /// The full report: the message, `[file:line:col]`, the source line with the token
    /// underlined, and the help. Plain text unless `color`, so tests can compare it.
    pub fn render(&self, color: bool) -> String {
        let theme = if color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let mut out = String::new();
        let handler = GraphicalReportHandler::new_themed(theme)
            .with_width(100)
            .with_links(false);
        let cut = self.cut_long_lines();
        if handler
            .render_report(&mut out, cut.as_ref().unwrap_or(self))
            .is_err()
        {
            out = self.one_line();
        }
        out
    }

    /// The error with the long lines around it cut (a 200 KB line is not echoed whole):
    /// the line of the error keeps a window around the token, the lines beside it their
    /// start. `None` when no line there is long. The `[file:line:col]` stays the original's.
    fn cut_long_lines(&self) -> Option<ScenarioError> {
        const LONG: usize = 120;
        const BEFORE: usize = 40;
        const AFTER: usize = 40;
        const TOKEN: usize = 40;
        let src = self.0.source.as_ref()?.named.inner().clone();
        let span = self.0.span.clone();
        let lines: Vec<(usize, &str)> = src
            .split_inclusive('\n')
            .scan(0, |at, l| {
                let start = *at;
                *at += l.len();
                Some((start, l))
            })
            .collect();
        let err_line = lines
            .iter()
            .rposition(|(start, _)| *start <= span.start)
            .unwrap_or(0);
        let near = |i: usize| i + 2 >= err_line && i <= err_line + 2;
        let long = |l: &str| l.trim_end_matches(['\n', '\r']).chars().count() > LONG;
        if !lines
            .iter()
            .enumerate()
            .any(|(i, (_, l))| near(i) && long(l))
        {
            return None;
        }
        let mut text = String::with_capacity(src.len().min(1 << 16));
        let (mut new_span, mut shift) = (span.clone(), 0isize);
        for (i, (start, l)) in lines.iter().enumerate() {
            let body = l.trim_end_matches(['\n', '\r']);
            let ending = &l[body.len()..];
            if !near(i) || !long(l) {
                if i == err_line {
                    // A span that runs on into a cut line is shown on its first line.
                    let end = span.end.clamp(span.start, start + l.len());
                    new_span = text.len() + (span.start - start)..text.len() + (end - start);
                }
                text.push_str(l);
                continue;
            }
            let chars: Vec<(usize, char)> = body.char_indices().collect();
            let byte_at = |c: usize| chars.get(c).map_or(body.len(), |(b, _)| *b);
            if i != err_line {
                text.push_str(&body[..byte_at(LONG / 2)]);
                text.push('…');
                text.push_str(ending);
                continue;
            }
            let col = chars.partition_point(|(b, _)| *b < span.start - start);
            let end_col = chars.partition_point(|(b, _)| *b < span.end.max(span.start) - start);
            let token_end = end_col.min(col + TOKEN);
            let (from, to) = (
                col.saturating_sub(BEFORE),
                (token_end + AFTER).min(chars.len()),
            );
            let line_start = text.len();
            if from > 0 {
                text.push('…');
            }
            let token_at = text.len() + byte_at(col) - byte_at(from);
            text.push_str(&body[byte_at(from)..byte_at(to)]);
            if to < chars.len() {
                text.push('…');
            }
            text.push_str(ending);
            new_span = token_at..token_at + byte_at(token_end) - byte_at(col);
            shift = (span.start - start) as isize - (token_at - line_start) as isize;
        }
        let source: Arc<str> = Arc::from(text);
        let mut cut = self.clone();
        cut.0.span = new_span;
        cut.0.source = Some(Source {
            named: NamedSource::new(&self.0.file, source),
            column_fix: Some((err_line, shift)),
        });
        Some(cut)
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl fmt::Debug for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.one_line())
    }
}

impl std::error::Error for ScenarioError {}

/// The file's text for rendering; `column_fix` (line, shift) moves the column that a
/// one-line read on that line reports, so a cut line still shows its original column.
#[derive(Clone)]
struct Source {
    named: NamedSource<Arc<str>>,
    column_fix: Option<(usize, isize)>,
}

impl SourceCode for Source {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let c = self.named.read_span(span, before, after)?;
        match self.column_fix {
            Some((line, shift)) if before == 0 && after == 0 && c.line() == line => {
                Ok(Box::new(MietteSpanContents::new_named(
                    c.name().unwrap_or_default().to_string(),
                    c.data(),
                    *c.span(),
                    c.line(),
                    c.column().saturating_add_signed(shift),
                    c.line_count(),
                )))
            }
            _ => Ok(c),
        }
    }
}

impl Diagnostic for ScenarioError {
    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.0.source.as_ref().map(|s| s as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.0.source.as_ref()?;
        let len = self.0.span.end - self.0.span.start;
        Some(Box::new(std::iter::once(
            LabeledSpan::new_primary_with_span(self.0.label.clone(), (self.0.span.start, len)),
        )))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.0
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
}

/// The string literals of a RON text, as byte ranges from the opening quote to just after
/// the closing one (`None` for a string the text never closes). Comments, raw strings
/// (`r#"..."#`) and characters (`'"'`) are skipped, so quotes in them do not count.
pub(crate) fn string_literals(text: &str) -> Vec<(usize, Option<usize>)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 0usize;
                while i < b.len() {
                    if b[i..].starts_with(b"/*") {
                        depth += 1;
                        i += 2;
                    } else if b[i..].starts_with(b"*/") {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            b'r' if matches!(b.get(i + 1), Some(b'"' | b'#'))
                && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) =>
            {
                let start = i;
                let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
                i += 1 + hashes;
                if b.get(i) != Some(&b'"') {
                    continue;
                }
                let close: Vec<u8> = std::iter::once(b'"')
                    .chain(std::iter::repeat_n(b'#', hashes))
                    .collect();
                i += 1;
                match b[i..].windows(close.len()).position(|w| w == close) {
                    Some(p) => {
                        i += p + close.len();
                        out.push((start, Some(i)));
                    }
                    None => {
                        out.push((start, None));
                        i = b.len();
                    }
                }
            }
            b'\'' => {
                // A character: 'x', '\'' or '"'.
                let end = if b.get(i + 1) == Some(&b'\\') {
                    i + 3
                } else {
                    i + 1 + text[i + 1..].chars().next().map_or(0, char::len_utf8)
                };
                i = if b.get(end) == Some(&b'\'') {
                    end + 1
                } else {
                    i + 1
                };
            }
            b'"' => {
                let start = i;
                i += 1;
                let mut closed = false;
                while i < b.len() {
                    match b[i] {
                        b'\\' => i += 2,
                        b'"' => {
                            i += 1;
                            closed = true;
                            break;
                        }
                        _ => i += 1,
                    }
                }
                out.push((start, closed.then_some(i.min(b.len()))));
            }
            _ => i += 1,
        }
    }
    out
}

/// When a syntax error at `at` comes from a string left open (ron read on to the next
/// quote, or to the end of the file), that string: its start, and where ron took it to end.
pub(crate) fn unclosed_string_before(text: &str, at: usize) -> Option<(usize, Option<usize>)> {
    let line_start = |p: usize| text[..p].rfind('\n').map_or(0, |n| n + 1);
    string_literals(text)
        .into_iter()
        .take_while(|(start, _)| *start <= at)
        .filter(|(start, end)| {
            let body = &text[*start..end.unwrap_or(text.len())];
            body.contains('\n')
                && match end {
                    // The string ends on the error's line, before the error.
                    Some(end) => *end <= at && line_start(*end) == line_start(at.min(text.len())),
                    None => true,
                }
        })
        .last()
}

/// ron's message for an integer too large (or too small) for its field.
const OUT_OF_BOUNDS: &str = "integer is out of bounds";

/// Adds the bound to ron's "integer is out of bounds", which does not say it. ron knows
/// the field's integer type but does not tell; so the integer is replaced by the limits of
/// each integer type in turn and the file parsed again (`reparse` gets the new text and
/// how much longer it is): the largest (or smallest) limit that parses is the bound.
pub(crate) fn with_integer_bound(
    text: &str,
    error: (Span, String),
    reparse: impl Fn(&str, isize) -> Option<(Span, String)>,
) -> (Span, String) {
    let (span, message) = error;
    if message != OUT_OF_BOUNDS || span.start >= text.len() {
        return (span, message);
    }
    // ron points at the digits; a base prefix (`0x`, `0b`, `0o`) and a minus sign before
    // them are part of the integer.
    let mut start = span.start;
    if ["0x", "0b", "0o"]
        .iter()
        .any(|p| text[..start].ends_with(p))
    {
        start -= 2;
    }
    if text[..start].ends_with('-') {
        start -= 1;
    }
    let rest = &text[start..];
    let len = rest
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_alphanumeric() || c == '_' || (i == 0 && "+-".contains(c))))
        .map_or(rest.len(), |(i, _)| i);
    let fits = |candidate: &str| {
        let mut t = String::with_capacity(text.len() + 24);
        t.push_str(&text[..start]);
        t.push_str(candidate);
        t.push_str(&text[start + len..]);
        let delta = candidate.len() as isize - len as isize;
        !matches!(reparse(&t, delta),
            Some((s, m)) if (start..=span.start).contains(&s.start) && m == OUT_OF_BOUNDS)
    };
    let bound = if rest.starts_with('-') {
        let limits = [
            "-1",
            "-128",
            "-32768",
            "-2147483648",
            "-9223372036854775808",
        ];
        let last = limits.iter().take_while(|l| fits(l)).last();
        match last {
            None if fits("0") => Some("the smallest allowed here is 0".to_string()),
            None => None,
            Some(l) if *l == "-1" => None,
            Some(l) => Some(format!("the smallest allowed here is {l}")),
        }
    } else {
        let limits = [
            "127",
            "255",
            "32767",
            "65535",
            "2147483647",
            "4294967295",
            "9223372036854775807",
            "18446744073709551615",
        ];
        let last = limits.iter().take_while(|l| fits(l)).last();
        last.map(|l| format!("the largest allowed here is {l}"))
    };
    match bound {
        Some(b) => (span, format!("{message}: {b}")),
        None => (span, message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_literals_skip_comments_raw_strings_and_chars() {
        let text = "// a \"quote\"\n/* \"x\" /* \"y\" */ */ '\"' r#\"a \"b\"#, \"s\\\"t\", \"open";
        let found: Vec<&str> = string_literals(text)
            .iter()
            .map(|(s, e)| &text[*s..e.unwrap_or(text.len())])
            .collect();
        assert_eq!(found, ["r#\"a \"b\"#", "\"s\\\"t\"", "\"open"]);
        assert_eq!(string_literals(text)[2].1, None);
    }

    #[test]
    fn a_string_that_really_spans_lines_is_not_blamed_for_a_later_error() {
        let text = "(a: \"one\ntwo\",\n b: 1 c: 2)";
        let at = text.find("c:").unwrap();
        assert_eq!(unclosed_string_before(text, at), None);
        let text = "(a: \"one,\n b: \"two\" c: 2)";
        let at = text.find("two").unwrap() + 3;
        assert_eq!(unclosed_string_before(text, at), Some((4, Some(15))));
    }
}
