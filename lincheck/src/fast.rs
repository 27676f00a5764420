//! `faultline check-history`'s one pass from text to per-key ops, for the built-in
//! models: no [`History`](crate::History), no owned `Event`s. Each line is read borrowed
//! ([`RawEvent`]), checked against the well-formedness rules (a conservative subset of
//! the validator's: anything unusual gives up), and goes straight into its key's list of
//! ops; a value is allocated only if the model's op keeps it. On anything it does not
//! handle, or any error, [`check_text`] returns `None` and the caller reads the text with
//! the full parser, which gives the error message (or the same report).

use std::collections::HashMap;
use std::time::Instant;

use crate::check::{Budget, SearchOp};
use crate::explain::{OpStatus, OpView, Report};
use crate::history::{Event, EventKind, ModelKind, Value};
use crate::model::{BuiltinOp, CasRegister, Kv, Model, Register};
use crate::parse::{KeyRef, LineCtx, RawEvent, fast_event, raw_event, written_event_from};
use crate::run::{CheckOptions, ShowOp, check_prepared};
use crate::wellformed::model_ops;

/// Reads and checks a history in one pass, as
/// [`parse_history_with`](crate::parse_history_with) (with `options.model` as the model
/// override) followed by [`check_parsed`](crate::check_parsed) would, for the common
/// case: a JSON Lines history of a built-in model whose lines the parser's fast path
/// reads. Returns `None` for anything else, and for every history that is not
/// well-formed or that a model refuses; then use those two, which give the error (or
/// the same report). Whenever this returns a report, it is the one they give.
pub fn check_text(text: &str, options: &CheckOptions) -> Option<Report> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = Lines { text, pos: 0 };
    let header = LineCtx {
        file: "",
        line: 1,
        text: lines.next()?.0,
    };
    let (header_model, init, process_names) = header.header().ok()?;
    let kind = options.model.unwrap_or(header_model);
    let init = init.unwrap_or_else(|| kind.default_init());
    let mut report = match kind {
        ModelKind::Register => one_pass(&Register { init }, kind, lines, text.len(), options)?,
        ModelKind::CasRegister => {
            one_pass(&CasRegister { init }, kind, lines, text.len(), options)?
        }
        ModelKind::Kv => one_pass(&Kv { init }, kind, lines, text.len(), options)?,
    };
    report.process_names = process_names;
    Some(report)
}

/// The parser's lines (split at '\n', one '\r' off the end, blank ones skipped), each
/// with its fast-path reading ([`raw_event`]). A line as `History::to_jsonl` writes it
/// is read in place, its end found by the reading ([`written_event_from`]); any other
/// line is cut out first. `lines_are_the_parser_s` checks both against the split.
struct Lines<'t> {
    text: &'t str,
    /// Where the next line starts; past the end when there is none.
    pos: usize,
}

impl<'t> Iterator for Lines<'t> {
    type Item = (&'t str, Option<RawEvent<'t>>);

    fn next(&mut self) -> Option<Self::Item> {
        let (text, bytes) = (self.text, self.text.as_bytes());
        while self.pos <= text.len() {
            let start = self.pos;
            if let Some((ev, end)) = written_event_from(text, start) {
                let next = match &bytes[end..] {
                    [] | [b'\r'] => Some(text.len() + 1),
                    [b'\n', ..] => Some(end + 1),
                    [b'\r', b'\n', ..] => Some(end + 2),
                    _ => None,
                };
                if let Some(next) = next {
                    self.pos = next;
                    return Some((&text[start..end], Some(ev)));
                }
            }
            let nl = text[start..].find('\n').map_or(text.len(), |n| start + n);
            self.pos = nl + 1;
            let line = &text[start..nl];
            let line = line.strip_suffix('\r').unwrap_or(line);
            // Only ASCII bytes can be ' ', '\t' or '\r' in UTF-8: bytes do as chars.
            if !line.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
                return Some((line, raw_event(line)));
            }
        }
        None
    }
}

/// A key, normalized (no key and `null` are the same object), borrowed from a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Key<'t> {
    Default,
    Int(i64),
    Str(&'t str),
}

impl<'t> Key<'t> {
    fn of(k: KeyRef<'t>) -> Self {
        match k {
            KeyRef::Absent | KeyRef::Null => Key::Default,
            KeyRef::Int(i) => Key::Int(i),
            KeyRef::Str(s) => Key::Str(s),
        }
    }
    /// `self == other`, with keys' bytes compared in a loop: keys are short, and a call
    /// to memcmp per compare cost more than the loop (two or three compares a line).
    #[inline]
    fn same(self, other: Self) -> bool {
        match (self, other) {
            (Key::Str(a), Key::Str(b)) => {
                a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
            }
            (a, b) => a == b,
        }
    }
    fn value(self) -> Option<Value> {
        match self {
            Key::Default => None,
            Key::Int(i) => Some(Value::Int(i)),
            Key::Str(s) => Some(Value::Str(s.to_string())),
        }
    }
}

/// One op as an explanation shows it: what the search needs, and its lines, which are
/// read again (for the process, `f`, the values and times) only for the ops shown.
#[derive(Clone, Copy, Debug)]
struct LineOp<'t> {
    status: OpStatus,
    invoke_event: usize,
    complete_event: Option<usize>,
    invoke_line: &'t str,
    complete_line: Option<&'t str>,
}

impl ShowOp for LineOp<'_> {
    fn invoke_event(&self) -> usize {
        self.invoke_event
    }
    fn to_view(&self) -> OpView {
        // Both lines were read by the same fast path before, so they read again.
        let invoke = fast_event(self.invoke_line).unwrap_or(Event {
            process: 0,
            kind: EventKind::Invoke,
            f: String::new(),
            key: None,
            value: Value::Null,
            time: None,
            error: None,
        });
        let complete = self.complete_line.and_then(fast_event);
        OpView {
            process: invoke.process,
            f: invoke.f,
            input: invoke.value,
            output: match (self.status, &complete) {
                (OpStatus::Ok, Some(e)) => Some(e.value.clone()),
                _ => None,
            },
            status: self.status,
            invoke_event: self.invoke_event,
            complete_event: self.complete_event,
            invoke_time: invoke.time,
            complete_time: complete.and_then(|e| e.time),
        }
    }
}

/// An op of a key: its input until the model's op is made (at the completion, or at the
/// end for ops that never complete), then the op.
struct Slot<'t> {
    f: &'t str,
    fun: Fun,
    line: LineOp<'t>,
    input: Option<Value>,
    op: Option<BuiltinOp>,
    failed: bool,
}

/// Process ids up to this are read here (a table indexed by id); a history with a larger
/// one goes to the full path.
const MAX_PROCESS: usize = 1 << 20;

/// Up to this many keys are found by a scan, more with a hash map.
const FEW_KEYS: usize = 16;

/// Per process: the open op (key index, slot index), and whether it ended in `info`.
#[derive(Default)]
struct Proc {
    open: Option<(usize, u32)>,
    crashed: bool,
}

/// The model's op for `f` with the given input and output, moving the values in: what
/// [`Model::op`] gives for the built-in models (which would copy them); `cas` and
/// anything unusual go through `model.op`. `None` if the model refuses it. Always
/// inlined (with [`fun`]): as calls they cost 0.3 M instructions on a 5,000-op history.
#[inline(always)]
fn builtin_op<M: Model<Op = BuiltinOp>>(
    model: &M,
    fun: Fun,
    f: &str,
    input: Value,
    output: Option<Value>,
) -> Option<BuiltinOp> {
    match (fun, input) {
        (Fun::Read, _) => Some(BuiltinOp::Read(output)),
        (Fun::Write, input) => Some(BuiltinOp::Write(input)),
        (Fun::Append, Value::Str(s)) => Some(BuiltinOp::Append(s)),
        (_, input) => model.op(f, &input, output.as_ref()).ok(),
    }
}

/// An op name of a model, read once per line (then compared as this, not as strings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fun {
    /// `read` (registers) or `get` (kv).
    Read,
    /// `write` (registers) or `put` (kv).
    Write,
    Append,
    Cas,
}

/// `f` as an op of `kind`'s model (`model_ops(kind).contains(&f)`), without string
/// comparisons (byte patterns: no call to memcmp); `None` if the model has no such op.
/// Always inlined: `#[inline]` alone left it a call per line.
#[inline(always)]
fn fun(kind: ModelKind, f: &str) -> Option<Fun> {
    let (kv, register) = (kind == ModelKind::Kv, kind == ModelKind::Register);
    let fun = match f.as_bytes() {
        [b'r', b'e', b'a', b'd'] if !kv => Some(Fun::Read),
        [b'g', b'e', b't'] if kv => Some(Fun::Read),
        [b'w', b'r', b'i', b't', b'e'] if !kv => Some(Fun::Write),
        [b'p', b'u', b't'] if kv => Some(Fun::Write),
        [b'a', b'p', b'p', b'e', b'n', b'd'] if kv => Some(Fun::Append),
        [b'c', b'a', b's'] if !register => Some(Fun::Cas),
        _ => None,
    };
    debug_assert_eq!(fun.is_some(), model_ops(kind).contains(&f));
    fun
}

fn one_pass<'t, M: Model<Op = BuiltinOp>>(
    model: &M,
    kind: ModelKind,
    lines: impl Iterator<Item = (&'t str, Option<RawEvent<'t>>)>,
    text_len: usize,
    options: &CheckOptions,
) -> Option<Report> {
    let mut key_index: HashMap<Key<'t>, usize> = HashMap::new();
    // Every op's slot, in invoke order, reserved once (an op takes two lines of 40 bytes
    // or more; past that the vector grows); a key holds the indices of its own.
    let mut slots: Vec<Slot<'t>> = Vec::with_capacity(text_len / 80 + 16);
    let mut keys: Vec<(Key<'t>, Vec<u32>)> = Vec::new();
    // Indexed by process id; larger ids than `MAX_PROCESS` go to the full path.
    let mut procs: Vec<Proc> = Vec::new();
    // Whether the first event had a time, and the last time.
    let mut time: Option<(bool, u64)> = None;
    let mut last_key: Option<(Key<'t>, usize)> = None;
    for (i, (line, ev)) in lines.enumerate() {
        let ev = ev?;
        let f = fun(kind, ev.f)?;
        match (&mut time, ev.time) {
            (None, t) => time = Some((t.is_some(), t.unwrap_or(0))),
            (Some((had, _)), t) if *had != t.is_some() => return None,
            (Some((_, last)), Some(t)) => {
                if t < *last {
                    return None;
                }
                *last = t;
            }
            (Some(_), None) => {}
        }
        let key = Key::of(ev.key);
        let k = match last_key {
            Some((last, k)) if last.same(key) => k,
            _ => {
                // A few keys: a scan; many: the map (looked up, never iterated, so the
                // report's order does not depend on hashing).
                let found = if keys.len() <= FEW_KEYS {
                    keys.iter().position(|(k, _)| k.same(key))
                } else {
                    key_index.get(&key).copied()
                };
                let k = found.unwrap_or_else(|| {
                    keys.push((key, Vec::new()));
                    let k = keys.len() - 1;
                    if keys.len() > FEW_KEYS {
                        if key_index.is_empty() {
                            key_index.extend(keys.iter().enumerate().map(|(i, (k, _))| (*k, i)));
                        } else {
                            key_index.insert(key, k);
                        }
                    }
                    k
                });
                last_key = Some((key, k));
                k
            }
        };
        if ev.kind == EventKind::Invoke {
            let p = usize::try_from(ev.process)
                .ok()
                .filter(|&p| p < MAX_PROCESS)?;
            if p >= procs.len() {
                procs.resize_with(p + 1, Proc::default);
            }
            let p = &mut procs[p];
            if p.open.is_some() || p.crashed {
                return None;
            }
            let input = match f {
                // A read's input is null: nothing to read.
                Fun::Read if ev.value_is_null() => Value::Null,
                Fun::Read => return None,
                _ => ev.value()?,
            };
            let shaped = match f {
                Fun::Append => matches!(input, Value::Str(_)),
                Fun::Cas => matches!(&input, Value::List(l) if l.len() == 2),
                _ => true,
            };
            if !shaped {
                return None;
            }
            let s = u32::try_from(slots.len()).ok()?;
            keys[k].1.push(s);
            p.open = Some((k, s));
            slots.push(Slot {
                f: ev.f,
                fun: f,
                line: LineOp {
                    status: OpStatus::Unfinished,
                    invoke_event: i,
                    complete_event: None,
                    invoke_line: line,
                    complete_line: None,
                },
                input: Some(input),
                op: None,
                failed: false,
            });
            continue;
        }
        let p = procs.get_mut(usize::try_from(ev.process).ok()?)?;
        let (ok_key, s) = p.open.take()?;
        if ok_key != k {
            return None;
        }
        let slot = &mut slots[s as usize];
        if slot.fun != f {
            return None;
        }
        slot.line.complete_event = Some(i);
        slot.line.complete_line = Some(line);
        let input = slot.input.take()?;
        match ev.kind {
            EventKind::Fail => slot.failed = true,
            EventKind::Info => {
                p.crashed = true;
                slot.line.status = OpStatus::Info;
                slot.op = Some(builtin_op(model, f, ev.f, input, None)?);
            }
            EventKind::Ok => {
                slot.line.status = OpStatus::Ok;
                // Only reads and cas look at the output: the others' is not read.
                let output = match f {
                    Fun::Read => ev.value()?,
                    Fun::Cas => {
                        let out = ev.value()?;
                        if !(matches!(out, Value::Bool(_)) || out == input) {
                            return None;
                        }
                        out
                    }
                    _ => Value::Null,
                };
                slot.op = Some(builtin_op(model, f, ev.f, input, Some(output))?);
            }
            EventKind::Invoke => unreachable!("handled above"),
        }
    }
    // Sorted keys, as `run` has them.
    let mut keys: Vec<(Option<Value>, Vec<u32>)> =
        keys.into_iter().map(|(k, ops)| (k.value(), ops)).collect();
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    let budget = Budget {
        max_steps: options.max_steps,
        deadline: options.timeout.map(|t| Instant::now() + t),
        max_memory: options.max_memory,
        reduce: true,
        hide_after: options.hide_after,
    };
    let mut reports = Vec::with_capacity(keys.len());
    for (key, ids) in keys {
        let mut ops = 0;
        let mut search_ops = Vec::with_capacity(ids.len());
        let mut kept = Vec::with_capacity(ids.len());
        for id in ids {
            let slot = &mut slots[id as usize];
            if slot.failed {
                continue;
            }
            ops += 1;
            let op = match (slot.op.take(), slot.input.take()) {
                (Some(op), _) => op,
                // Never completed.
                (None, Some(input)) => builtin_op(model, slot.fun, slot.f, input, None)?,
                (None, None) => return None,
            };
            let ok = slot.line.status == OpStatus::Ok;
            // An unconstrained read has no effect whether or not it happens: drop it.
            if !ok && model.is_read_only(&op) {
                continue;
            }
            search_ops.push(SearchOp {
                op,
                invoke: slot.line.invoke_event,
                complete: if ok { slot.line.complete_event } else { None },
            });
            kept.push(slot.line);
        }
        // A key whose ops all failed has no ops: `run` never sees it.
        if ops == 0 {
            continue;
        }
        reports.push(check_prepared(
            model,
            key,
            ops,
            &search_ops,
            &kept,
            budget,
            options.cut_from,
        ));
    }
    Some(Report::new(model.name(), reports))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{self, Rng};
    use crate::parse::{ParseOptions, parse_history_with};

    /// What `faultline check-history` gave before this path: the full parser, then
    /// `check_parsed`; errors as their messages.
    fn full(text: &str, options: &CheckOptions) -> Result<Report, String> {
        let h = parse_history_with(
            text,
            "t",
            &ParseOptions {
                model: options.model,
            },
        )
        .map_err(|e| e.to_string())?;
        crate::check_parsed(&h, options).map_err(|e| e.to_string())
    }

    /// Histories of every model: generated ones (both verdicts, info, failed and
    /// unfinished ops, several keys), hand-written cas lines, and the shared Porcupine
    /// histories when present.
    fn corpus() -> Vec<String> {
        let mut texts = Vec::new();
        for seed in 0..6 {
            for h in [
                generate::kv(seed, 40, 3, 4, seed as usize % 2),
                generate::kv(seed, 30, 20, 5, 0),
                generate::register(seed, 40, 4, 150),
                generate::register_stale(seed, 40, 4, 1),
                generate::info_writes(seed, 5, 4, seed % 2 == 0),
                generate::kv_info_writes(seed, 5, 4, seed % 2 == 1),
                generate::same_value_writes(seed, 2, seed % 2 == 0),
            ] {
                texts.push(h.to_jsonl());
            }
        }
        texts.push(
            concat!(
                "\u{feff}{\"format\":\"faultline-history\",\"version\":1,\"model\":\"cas-register\",\"init\":1,\"processes\":{\"0\":\"a\"}}\r\n",
                "{\"process\":0,\"type\":\"invoke\",\"f\":\"cas\",\"value\":[1,2]}\r\n",
                "\n  \t\n",
                "{\"process\":1,\"type\":\"invoke\",\"f\":\"cas\",\"value\":[2,[3,\"x\"]]}\n",
                "{\"process\":0,\"type\":\"ok\",\"f\":\"cas\",\"value\":true}\n",
                "{\"process\":2,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}\n",
                "{\"process\":1,\"type\":\"ok\",\"f\":\"cas\",\"value\":[2,[3,\"x\"]]}\n",
                "{\"process\":2,\"type\":\"ok\",\"f\":\"read\",\"value\":[3,\"x\"]}\n",
                "{\"process\":3,\"type\":\"invoke\",\"f\":\"cas\",\"value\":[7,8],\"error\":null}\n",
                "{\"process\":3,\"type\":\"fail\",\"f\":\"cas\",\"value\":null,\"error\":\"no\"}\n",
                "{\"process\":4,\"type\":\"invoke\",\"f\":\"write\",\"key\":null,\"value\":5}\n",
                "{\"process\":4,\"type\":\"info\",\"f\":\"write\"}\n",
            )
            .to_string(),
        );
        let files = crate::parse::tests::porcupine_files();
        for f in files.iter().step_by(9) {
            let text = std::fs::read_to_string(f).expect("readable");
            // Short ones: the check runs twice per mutation, in a debug build.
            texts.push(text.lines().take(120).collect::<Vec<_>>().join("\n"));
        }
        texts
    }

    /// `text` changed a little: a byte, a line deleted, repeated or swapped with the
    /// next, a read's result or a time changed, a key dropped.
    fn mutate(rng: &mut Rng, text: &str) -> String {
        let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
        let n = lines.len() as u64;
        let at = 1 + rng.below(n.saturating_sub(1).max(1)) as usize;
        let at = at.min(lines.len() - 1);
        match rng.below(7) {
            0 | 1 => {
                let alphabet = b" \t\"\\,:{}[]-0123456789.eEnultrfsaxkpy\x01\r";
                let mut b = lines[at].as_bytes().to_vec();
                let i = rng.below(b.len() as u64 + 1) as usize;
                let c = alphabet[rng.below(alphabet.len() as u64) as usize];
                match rng.below(3) {
                    0 if i < b.len() => {
                        b.remove(i);
                    }
                    1 if i < b.len() => b[i] = c,
                    _ => b.insert(i, c),
                }
                lines[at] = String::from_utf8_lossy(&b).into_owned();
            }
            2 => {
                lines.remove(at);
            }
            3 => {
                let l = lines[at].clone();
                lines.insert(at, l);
            }
            4 if at + 1 < lines.len() => lines.swap(at, at + 1),
            5 => {
                let l = &lines[at];
                lines[at] = l
                    .replace("\"value\":\"", "\"value\":\"z")
                    .replace("\"value\":1", "\"value\":2")
                    .replace("\"time\":1", "\"time\":0");
            }
            _ => {
                lines[at] = lines[at].replace(",\"key\":\"k1\"", "");
            }
        }
        lines.join("\n")
    }

    /// Whenever the one pass gives a report, it is the full path's; it gives one for
    /// every unchanged history here, and none wherever the full path gives an error
    /// (thousands of mutated histories, most of them broken; with and without a model
    /// override).
    #[test]
    fn check_text_agrees_with_the_full_parser_and_check() {
        let texts = corpus();
        let mut rng = Rng::new(1818);
        let (mut same, mut errors, mut declined) = (0, 0, 0);
        let overrides = [
            None,
            Some(ModelKind::Register),
            Some(ModelKind::CasRegister),
            Some(ModelKind::Kv),
        ];
        for (n, text) in texts.iter().enumerate() {
            let plain = CheckOptions::default();
            let r = check_text(text, &plain);
            assert_eq!(
                r.as_ref().ok_or(()),
                full(text, &plain).as_ref().map_err(|_| ())
            );
            assert!(r.is_some(), "declined a plain history:\n{text}");
            let model = overrides[n % overrides.len()];
            for variant in 0..30 {
                let mut options = CheckOptions::default();
                if variant % 3 == 0 {
                    options.model = model;
                }
                let t = mutate(&mut rng, text);
                let t = if variant % 5 == 0 {
                    mutate(&mut rng, &t)
                } else {
                    t
                };
                let expected = full(&t, &options);
                match check_text(&t, &options) {
                    Some(r) => {
                        assert_eq!(Ok(&r), expected.as_ref(), "on\n{t}");
                        same += 1;
                    }
                    None => {
                        declined += 1;
                        errors += usize::from(expected.is_err());
                    }
                }
            }
        }
        eprintln!("same {same}, declined {declined} (full path errors: {errors})");
        assert!(same > 300 && errors > 300, "{same} {errors}");
        // It declines errors, and little else (escapes, floats and the like).
        assert!(declined - errors < declined / 10, "{declined} {errors}");
    }

    /// [`Lines`] gives the split's lines (at '\n', one '\r' off, blank ones skipped) and
    /// `raw_event` of each, on the corpus and mutations of it with line ends changed
    /// (`\r\n`, a lone `\r`, trailing blanks, lists and strings cut by a '\n', blank
    /// lines, no last '\n').
    #[test]
    fn lines_are_the_parser_s() {
        let mut rng = Rng::new(1824);
        let (mut in_place, mut cut) = (0usize, 0usize);
        for text in corpus() {
            for variant in 0..40 {
                let mut t = if variant == 0 {
                    text.clone()
                } else {
                    mutate(&mut rng, &text)
                };
                for _ in 0..rng.below(4) {
                    let ends = [
                        "\r\n", "\r", "\n\n", " \n", "\n \t\n", "\r\r\n", "[1,\n2]", "\"a\nb\"",
                    ];
                    let e = ends[rng.below(ends.len() as u64) as usize];
                    let nls: Vec<usize> = t.match_indices('\n').map(|(i, _)| i).collect();
                    if nls.is_empty() {
                        break;
                    }
                    let at = nls[rng.below(nls.len() as u64) as usize];
                    let at = if e.starts_with(['[', '"']) {
                        // Into a value: just before the line's last '}' or ','.
                        match t[..at].rfind([',', '}']) {
                            Some(i) => i,
                            None => continue,
                        }
                    } else {
                        at
                    };
                    let tail = if e.starts_with(['[', '"']) {
                        &t[at..]
                    } else {
                        &t[at + 1..]
                    };
                    t = format!("{}{e}{tail}", &t[..at]);
                }
                if rng.below(3) == 0 {
                    // A list value cut by a '\n' (two broken lines, never one event).
                    let froms: Vec<usize> =
                        t.match_indices("\"value\":").map(|(i, _)| i + 8).collect();
                    if !froms.is_empty() {
                        let v = froms[rng.below(froms.len() as u64) as usize];
                        if let Some(len) = t[v..].find([',', '}']) {
                            t = format!("{}[1,\n2]{}", &t[..v], &t[v + len..]);
                        }
                    }
                }
                if rng.below(2) == 0 {
                    t.push('\n');
                }
                let want: Vec<(&str, Option<RawEvent>)> = t
                    .split('\n')
                    .map(|l| l.strip_suffix('\r').unwrap_or(l))
                    .filter(|l| !l.trim_matches([' ', '\t', '\r']).is_empty())
                    .map(|l| (l, raw_event(l)))
                    .collect();
                let got: Vec<(&str, Option<RawEvent>)> = Lines { text: &t, pos: 0 }.collect();
                assert_eq!(got, want, "on\n{t:?}");
                for (l, _) in &got {
                    let p = l.as_ptr() as usize - t.as_ptr() as usize;
                    if written_event_from(&t, p).is_some_and(|(_, end)| end == p + l.len()) {
                        in_place += 1;
                    } else {
                        cut += 1;
                    }
                }
            }
        }
        assert!(in_place > 10_000 && cut > 1_000, "{in_place} {cut}");
    }

    /// [`fun`] knows a model's ops and only those, one `Fun` each (so comparing `Fun`s
    /// of one model compares the names).
    #[test]
    fn fun_is_model_ops() {
        let names = [
            "read", "write", "cas", "get", "put", "append", "", "rea", "reads", "Read", "gets",
            "ca", "cass", "appen", "put ", "wri", "writ", "writes",
        ];
        for kind in [ModelKind::Register, ModelKind::CasRegister, ModelKind::Kv] {
            let mut seen = Vec::new();
            for f in names {
                assert_eq!(fun(kind, f).is_some(), model_ops(kind).contains(&f), "{f}");
                if let Some(x) = fun(kind, f) {
                    assert!(!seen.contains(&x), "{f}");
                    seen.push(x);
                }
            }
            assert_eq!(seen.len(), model_ops(kind).len());
        }
    }

    /// [`Key::same`] is `==`, on keys of every kind and strings of a few lengths.
    #[test]
    fn key_same_is_eq() {
        let strs = [
            "", "k", "k1", "k2", "k10", "1k", "kk1", "\u{e9}", "e\u{301}",
        ];
        let mut keys = vec![Key::Default, Key::Int(0), Key::Int(1), Key::Int(-1)];
        keys.extend(strs.iter().map(|s| Key::Str(s)));
        for &a in &keys {
            for &b in &keys {
                assert_eq!(a.same(b), a == b, "{a:?} {b:?}");
            }
        }
    }

    /// The ops made by moving values in are the models' own, on random values.
    #[test]
    fn builtin_op_is_the_models_op() {
        let mut rng = Rng::new(18);
        let value = |rng: &mut Rng| match rng.below(6) {
            0 => Value::Null,
            1 => Value::Bool(rng.below(2) == 0),
            2 => Value::Int(rng.below(3) as i64),
            3 => Value::Str(["", "x", "xy"][rng.below(3) as usize].into()),
            4 => Value::List(vec![Value::Int(1), Value::Int(rng.below(2) as i64)]),
            _ => Value::List(vec![Value::Int(1)]),
        };
        fn one<M: Model<Op = BuiltinOp>>(
            m: &M,
            kind: ModelKind,
            f: &str,
            i: &Value,
            o: Option<&Value>,
        ) {
            let theirs = m.op(f, i, o).ok();
            let fun = fun(kind, f).expect("an op of the model");
            let ours = builtin_op(m, fun, f, i.clone(), o.cloned());
            assert_eq!(ours, theirs, "{f} {i:?} {o:?}");
        }
        for _ in 0..5000 {
            let (i, o) = (value(&mut rng), value(&mut rng));
            let o = (rng.below(3) != 0).then_some(&o);
            let init = Value::Null;
            for f in ["read", "write"] {
                one(
                    &Register { init: init.clone() },
                    ModelKind::Register,
                    f,
                    &i,
                    o,
                );
            }
            for f in ["read", "write", "cas"] {
                one(
                    &CasRegister { init: init.clone() },
                    ModelKind::CasRegister,
                    f,
                    &i,
                    o,
                );
            }
            for f in ["get", "put", "append", "cas"] {
                one(&Kv { init: init.clone() }, ModelKind::Kv, f, &i, o);
            }
        }
    }
}
