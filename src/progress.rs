//! How long work (`sweep`, `shrink`, `check-determinism`) shows its progress on stderr.
//!
//! On a terminal: a bar with the seeds done, the failures so far, the rate and the time
//! left (a spinner with the runs so far for `shrink`, whose length is not known ahead).
//! Elsewhere (a pipe, a file, a test): a plain line at each tenth of the work, at least
//! [`PLAIN_MIN`] items, with counts only and no wall time, so the bytes are the same on
//! every run. Progress only reports: it is fed after a result is final and never feeds
//! anything back, so it changes no run, no trace and no output file.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};

/// Work of fewer items than this prints no plain progress lines (it is over soon).
pub const PLAIN_MIN: u64 = 100;

/// Where progress goes.
enum Sink {
    /// A bar (or spinner) redrawn on the terminal.
    Bar(ProgressBar),
    /// Plain lines at each tenth; the next tenth (1..=10) to print.
    Lines { next_tenth: AtomicU64 },
    /// Nothing.
    Quiet,
}

/// Progress of one piece of work, shared by reference (every method takes `&self`).
pub struct Progress {
    sink: Sink,
    /// What the lines call the work: `sweep`, `check-determinism`, `shrink`.
    what: &'static str,
    /// How many items there are (`None`: not known ahead).
    len: Option<u64>,
    /// Whether items can fail (a sweep's seeds can; `check-determinism` stops at the first
    /// difference, so it counts none).
    failures: bool,
}

/// Is stderr a terminal, where a redrawn bar belongs?
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

impl Progress {
    /// Progress over `len` seeds; `terminal` chooses the bar over plain lines.
    pub fn seeds(what: &'static str, len: u64, terminal: bool) -> Progress {
        let sink = if terminal {
            let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:24}] {pos}/{len} seeds{msg}  eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_prefix(what);
            Sink::Bar(bar)
        } else if len >= PLAIN_MIN {
            Sink::Lines {
                next_tenth: AtomicU64::new(1),
            }
        } else {
            Sink::Quiet
        };
        let p = Progress {
            sink,
            what,
            len: Some(len),
            failures: true,
        };
        p.set(0, 0);
        p
    }

    /// The same progress, without a count of failures.
    pub fn without_failures(mut self) -> Progress {
        self.failures = false;
        self.set(0, 0);
        self
    }

    /// Progress of work whose length is not known ahead (runs so far); plain output
    /// prints nothing extra.
    pub fn spinner(what: &'static str, terminal: bool) -> Progress {
        let sink = if terminal {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix} {spinner} {pos} runs  {elapsed}  {wide_msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_prefix(what);
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            Sink::Bar(bar)
        } else {
            Sink::Quiet
        };
        Progress {
            sink,
            what,
            len: None,
            failures: false,
        }
    }

    /// `done` items are finished, `failed` of them failed.
    pub fn set(&self, done: u64, failed: u64) {
        match &self.sink {
            Sink::Bar(bar) => {
                let secs = bar.elapsed().as_secs_f64();
                let rate = if secs > 0.0 && done > 0 {
                    format!(", {:.1}/s", done as f64 / secs)
                } else {
                    String::new()
                };
                if self.len.is_some() && self.failures {
                    bar.set_message(format!(", {failed} failed{rate}"));
                } else if self.len.is_some() {
                    bar.set_message(rate);
                }
                bar.set_position(done);
            }
            Sink::Lines { next_tenth } => {
                let Some(len) = self.len else { return };
                let tenth = next_tenth.load(Ordering::Relaxed);
                if tenth <= 10 && done * 10 >= tenth * len {
                    // Skip the tenths a big step passed over: one line per call at most.
                    next_tenth.store(done * 10 / len + 1, Ordering::Relaxed);
                    if self.failures {
                        eprintln!("{}: {done}/{len} seeds, {failed} failed", self.what);
                    } else {
                        eprintln!("{}: {done}/{len} seeds", self.what);
                    }
                }
            }
            Sink::Quiet => {}
        }
    }

    /// Shows `message` beside the count (the bar only).
    pub fn message(&self, message: &str) {
        if let Sink::Bar(bar) = &self.sink {
            bar.set_message(message.to_string());
        }
    }

    /// Prints `line` on stderr, above the bar if there is one.
    pub fn println(&self, line: &str) {
        match &self.sink {
            Sink::Bar(bar) => bar.println(line),
            Sink::Lines { .. } | Sink::Quiet => eprintln!("{line}"),
        }
    }

    /// Removes the bar, so what is printed next starts on a clean line.
    pub fn finish(&self) {
        if let Sink::Bar(bar) = &self.sink {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_progress_is_quiet_for_short_work_and_never_prints_past_the_end() {
        assert!(matches!(
            Progress::seeds("sweep", PLAIN_MIN - 1, false).sink,
            Sink::Quiet
        ));
        let p = Progress::seeds("sweep", 1000, false);
        let next = |p: &Progress| match &p.sink {
            Sink::Lines { next_tenth } => next_tenth.load(Ordering::Relaxed),
            _ => unreachable!("plain lines"),
        };
        p.set(99, 0);
        assert_eq!(next(&p), 1, "nothing before the first tenth");
        p.set(100, 0);
        assert_eq!(next(&p), 2);
        p.set(450, 1);
        assert_eq!(
            next(&p),
            5,
            "a big step prints once and skips what it passed"
        );
        p.set(1000, 1);
        assert_eq!(next(&p), 11);
        p.set(1000, 1);
        assert_eq!(next(&p), 11, "done");
    }
}
