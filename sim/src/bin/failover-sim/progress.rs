//! Progress of a long sweep: a bar with seeds per second and ETA on a terminal, a plain line
//! every ten seconds otherwise (CI logs). Wall-clock time lives here, in the command line
//! only: it never reaches a simulated run.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Reports seeds done and failing.
pub enum Progress {
    Bar(ProgressBar),
    Lines {
        what: String,
        total: u64,
        done: u64,
        failing: u64,
        started: Instant,
        last: Instant,
    },
}

impl Progress {
    /// Progress of `total` seeds of `what`, on standard error.
    pub fn new(what: &str, total: u64) -> Progress {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {human_pos}/{human_len} seeds  {per_sec}  ETA {eta}  {msg}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            bar.set_prefix(what.to_string());
            Progress::Bar(bar)
        } else {
            let now = Instant::now();
            Progress::Lines {
                what: what.to_string(),
                total,
                done: 0,
                failing: 0,
                started: now,
                last: now,
            }
        }
    }

    /// One more seed done.
    pub fn seed(&mut self, failed: bool, failing_so_far: u64) {
        match self {
            Progress::Bar(bar) => {
                if failed {
                    bar.set_message(format!("{failing_so_far} failing"));
                }
                bar.inc(1);
            }
            Progress::Lines {
                what,
                total,
                done,
                failing,
                started,
                last,
            } => {
                *done += 1;
                *failing = failing_so_far;
                if last.elapsed() >= Duration::from_secs(10) {
                    *last = Instant::now();
                    let rate = *done as f64 / started.elapsed().as_secs_f64().max(1e-9);
                    let eta = (*total - *done) as f64 / rate.max(1e-9);
                    eprintln!(
                        "{what}: {done}/{total} seeds, {failing} failing, {rate:.0} seeds/s, ETA {eta:.0}s"
                    );
                }
            }
        }
    }

    /// The sweep is over.
    pub fn finish(self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}
