//! Determinism across processes (`sweep --check-determinism`): every seed is run again in a
//! second process and must give the same trace hash and the same findings.
//!
//! A second run in the same process would share what a bug of this kind feeds on: the
//! process's `HashMap` keys (`RandomState` is seeded once per process), its address-space
//! layout, its allocator's state. The second process has its own of each, and is started with
//! glibc's allocator tuned otherwise (no thread cache, freed memory overwritten), so memory is
//! handed out in another pattern. Each sweep thread keeps one second process for all its
//! seeds, talking over pipes: a seed per line in, an [`Answer`] as a JSON line out
//! ([`serve`] is that loop, `failover-sim twin` runs it). The thread sends a seed, runs it
//! itself meanwhile, then reads the answer: both processes work at once.

use super::{run_seed, Outcome};
use crate::check::{Figures, Violation};
use crate::scenario::Scenario;
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// How to start a second process: a program that runs [`serve`] for the sweep's scenario
/// (`failover-sim twin SCENARIO --digest DIGEST`).
#[derive(Clone, Debug)]
pub struct Twin {
    program: PathBuf,
    args: Vec<OsString>,
}

/// The allocator settings of the second process: glibc's per-thread cache off, and every
/// allocation and free overwritten with a byte pattern.
const ALLOCATOR: (&str, &str) = (
    "GLIBC_TUNABLES",
    "glibc.malloc.tcache_count=0:glibc.malloc.perturb=165",
);

/// One seed's result as the second process reports it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// The seed.
    pub seed: u64,
    /// The trace hash.
    pub trace_hash: String,
    /// Broken invariants: (invariant, detail), in the checkers' order.
    pub violations: Vec<(String, String)>,
    /// The run's figures.
    pub figures: Figures,
    /// What the nodes went through, as [`failover_core::Coverage::to_hex`] writes it.
    #[serde(default)]
    pub coverage: String,
}

impl Answer {
    /// The answer an outcome gives.
    pub fn of(outcome: &Outcome) -> Answer {
        Answer {
            seed: outcome.seed,
            trace_hash: outcome.hash.clone(),
            violations: (outcome.violations.iter())
                .map(|v| (v.invariant.to_string(), v.detail.clone()))
                .collect(),
            figures: outcome.figures.clone(),
            coverage: outcome.coverage.to_hex(),
        }
    }
}

/// The second opinion on a seed, if it differs from this process's outcome: a
/// `nondeterminism` violation saying what differs (the trace, or only the findings).
pub fn compare(here: &Outcome, there: &Answer) -> Option<Violation> {
    let mine = Answer::of(here);
    let detail = if mine.trace_hash != there.trace_hash {
        format!(
            "trace hash {} in one process, {} in a second process (replay the seed in each \
             and compare the traces)",
            mine.trace_hash, there.trace_hash
        )
    } else if mine.violations != there.violations {
        let names = |v: &[(String, String)]| {
            let names: Vec<&str> = v.iter().map(|(name, _)| name.as_str()).collect();
            format!("[{}]", names.join(", "))
        };
        format!(
            "the same trace ({}) was judged {} in one process and {} in a second process",
            mine.trace_hash,
            names(&mine.violations),
            names(&there.violations)
        )
    } else if mine.figures != there.figures {
        format!(
            "the same trace ({}) gave other figures in a second process: {:?}, then {:?}",
            mine.trace_hash, mine.figures, there.figures
        )
    } else if mine.coverage != there.coverage {
        format!(
            "the same trace ({}) went through other points of the protocol in a second \
             process: coverage {}, then {}",
            mine.trace_hash, mine.coverage, there.coverage
        )
    } else {
        return None;
    };
    Some(Violation {
        invariant: "nondeterminism",
        detail,
    })
}

/// The second process's side: reads seeds, one per line, from `input` until it ends, and
/// writes each seed's [`Answer`] to `output` as a JSON line as soon as it has it.
pub fn serve(scenario: &Scenario, input: impl BufRead, mut output: impl Write) -> io::Result<()> {
    for (n, line) in input.lines().enumerate() {
        let line = line?;
        let seed = line.trim().parse::<u64>().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("line {}: {line:?} is not a seed", n + 1),
            )
        })?;
        let answer = Answer::of(&run_seed(scenario, seed));
        serde_json::to_writer(&mut output, &answer)?;
        output.write_all(b"\n")?;
        output.flush()?;
    }
    Ok(())
}

impl Twin {
    /// A second process started as `program args...`.
    pub fn new(
        program: impl Into<PathBuf>,
        args: impl IntoIterator<Item = impl Into<OsString>>,
    ) -> Twin {
        Twin {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
        }
    }

    /// Starts one.
    pub fn spawn(&self) -> Result<Process, String> {
        let mut child = Command::new(&self.program)
            .args(&self.args)
            .env(ALLOCATOR.0, ALLOCATOR.1)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.program.display()))?;
        let (stdin, stdout) = (child.stdin.take(), child.stdout.take());
        Ok(Process {
            child,
            to: BufWriter::new(stdin.expect("piped")),
            from: BufReader::new(stdout.expect("piped")),
        })
    }
}

/// A running second process.
#[derive(Debug)]
pub struct Process {
    child: Child,
    to: BufWriter<ChildStdin>,
    from: BufReader<ChildStdout>,
}

impl Process {
    /// Sends it a seed to run.
    pub fn ask(&mut self, seed: u64) -> Result<(), String> {
        writeln!(self.to, "{seed}")
            .and_then(|()| self.to.flush())
            .map_err(|e| self.died(seed, &e.to_string()))
    }

    /// Reads its answer for `seed`, the seed asked last.
    pub fn answer(&mut self, seed: u64) -> Result<Answer, String> {
        let mut line = String::new();
        match self.from.read_line(&mut line) {
            Ok(0) => return Err(self.died(seed, "no answer")),
            Err(e) => return Err(self.died(seed, &e.to_string())),
            Ok(_) => {}
        }
        let answer: Answer = serde_json::from_str(&line)
            .map_err(|e| format!("the second process answered seed {seed} with {line:?}: {e}"))?;
        if answer.seed != seed {
            return Err(format!(
                "the second process answered seed {} when asked seed {seed}",
                answer.seed
            ));
        }
        Ok(answer)
    }

    /// Closes its input and waits for it to end; an error unless it ends well.
    pub fn finish(self) -> Result<(), String> {
        let Process { mut child, to, .. } = self;
        drop(to);
        match child.wait() {
            Ok(status) if status.success() => Ok(()),
            Ok(status) => Err(format!("the second process ended with {status}")),
            Err(e) => Err(format!("the second process: {e}")),
        }
    }

    /// What to say when it stopped answering at `seed`: how it ended. One that has not
    /// ended within a few seconds can no longer be talked to, and is ended.
    fn died(&mut self, seed: u64, what: &str) -> String {
        let mut how = None;
        for _ in 0..300 {
            match self.child.try_wait() {
                Ok(Some(status)) => how = Some(format!("it ended with {status}")),
                Ok(None) => std::thread::sleep(std::time::Duration::from_millis(10)),
                Err(e) => how = Some(e.to_string()),
            }
            if how.is_some() {
                break;
            }
        }
        let how = how.unwrap_or_else(|| {
            let _ = self.child.kill();
            let _ = self.child.wait();
            "it stopped answering and has been ended".to_string()
        });
        format!("the second process failed at seed {seed} ({what}): {how}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(hash: &str, violations: &[(&'static str, &str)], unavailable: u64) -> Outcome {
        Outcome {
            seed: 7,
            hash: hash.into(),
            violations: (violations.iter())
                .map(|&(invariant, detail)| Violation {
                    invariant,
                    detail: detail.into(),
                })
                .collect(),
            figures: Figures {
                unavailable,
                ..Figures::default()
            },
            coverage: Default::default(),
        }
    }

    #[test]
    fn the_same_trace_and_findings_agree() {
        let here = outcome("00aa", &[("split-brain", "2 holders for 3s")], 5);
        assert_eq!(compare(&here, &Answer::of(&here)), None);
    }

    #[test]
    fn a_different_trace_is_nondeterminism_naming_both_hashes() {
        let here = outcome("00aa", &[], 5);
        let there = Answer::of(&outcome("00bb", &[], 5));
        let v = compare(&here, &there).expect("a difference");
        assert_eq!(v.invariant, "nondeterminism");
        assert!(
            v.detail
                .contains("trace hash 00aa in one process, 00bb in a second"),
            "{}",
            v.detail
        );
    }

    #[test]
    fn the_same_trace_judged_otherwise_is_nondeterminism_of_the_checkers() {
        let here = outcome("00aa", &[("split-brain", "x")], 5);
        let there = Answer::of(&outcome("00aa", &[("convergence", "x")], 5));
        let v = compare(&here, &there).expect("a difference");
        assert!(
            v.detail
                .contains("judged [split-brain] in one process and [convergence] in a second"),
            "{}",
            v.detail
        );
        let detail_only = Answer::of(&outcome("00aa", &[("split-brain", "y")], 5));
        assert!(compare(&here, &detail_only).is_some());
        let figures = Answer::of(&outcome("00aa", &[("split-brain", "x")], 6));
        let v = compare(&here, &figures).expect("a difference");
        assert!(v.detail.contains("other figures"), "{}", v.detail);
        let mut elsewhere = outcome("00aa", &[("split-brain", "x")], 5);
        elsewhere
            .coverage
            .hit(failover_core::coverage::Single::TakeoverBegins);
        let v = compare(&here, &Answer::of(&elsewhere)).expect("a difference");
        assert!(
            v.detail.contains("other points of the protocol"),
            "{}",
            v.detail
        );
    }

    #[test]
    fn serve_answers_each_seed_as_a_run_in_this_process_does() {
        let scenario = crate::builtin::find("swarm-two-nodes").unwrap().unwrap();
        let mut out = Vec::new();
        serve(&scenario, "3\n 4 \n".as_bytes(), &mut out).unwrap();
        let answers: Vec<Answer> = (String::from_utf8(out).unwrap().lines())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let expected: Vec<Answer> = [3, 4]
            .map(|seed| Answer::of(&run_seed(&scenario, seed)))
            .into();
        assert_eq!(answers, expected);
        let err = serve(&scenario, "5\nfive\n".as_bytes(), Vec::new()).unwrap_err();
        assert!(
            err.to_string().contains("line 2: \"five\" is not a seed"),
            "{err}"
        );
    }
}
