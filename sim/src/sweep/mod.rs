//! Sweeps: one scenario under a range of seeds, on every core, and sharded across machines
//! with no coordinator. Results come back in seed order whatever the number of jobs, so a
//! sweep's output depends on its seeds alone. [`twin`] checks that it depends on nothing else:
//! each seed run again in a second process must give the same trace and findings. [`guided`]
//! sweeps a swarm scenario guided by the coverage of the protocol its runs reach.

mod feedback;
mod guided;
mod mutate;
mod shard;
pub mod twin;

pub use guided::{guided, Guided, Mutant, BATCH, RANDOM_IN};
pub use mutate::Schedule;
pub use shard::{from_engine, FromEngine, Shard, ShardArg};
pub use twin::Twin;

use crate::check::{Figures, Violation};
use crate::scenario::{Scenario, ScenarioError};
use crate::world::{run, Options, RunReport};
use failover_core::Coverage;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;

/// A range of seeds: `A..B` (B excluded, as in Rust), `A..=B`, or `N` for `1..=N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seeds {
    /// First seed.
    pub start: u64,
    /// One past the last seed.
    pub end: u64,
}

impl FromStr for Seeds {
    type Err = String;
    fn from_str(s: &str) -> Result<Seeds, String> {
        let num = |t: &str| {
            t.trim()
                .parse::<u64>()
                .map_err(|_| format!("`{s}`: `{t}` is not a seed (a whole number)"))
        };
        let (start, end) = if let Some((a, b)) = s.split_once("..=") {
            (
                num(a)?,
                num(b)?.checked_add(1).ok_or("seed range too large")?,
            )
        } else if let Some((a, b)) = s.split_once("..") {
            (num(a)?, num(b)?)
        } else {
            (1, num(s)?.checked_add(1).ok_or("seed range too large")?)
        };
        if start >= end {
            return Err(format!(
                "`{s}` is empty: write A..B (B excluded), A..=B or N (1..=N)"
            ));
        }
        Ok(Seeds { start, end })
    }
}

impl fmt::Display for Seeds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

/// What one seed's run showed.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The seed.
    pub seed: u64,
    /// Broken invariants (empty: it passed).
    pub violations: Vec<Violation>,
    /// The run's figures.
    pub figures: Figures,
    /// The trace hash.
    pub hash: String,
    /// What the nodes went through (see [`failover_core::coverage`]).
    pub coverage: Coverage,
}

/// How to sweep.
#[derive(Clone, Debug)]
pub struct SweepOptions {
    /// Threads to run seeds on.
    pub jobs: usize,
    /// The slice of the range to run.
    pub shard: Shard,
    /// Run every seed again in a second process (one per thread) and count a different trace
    /// hash or different findings as a violation.
    pub twin: Option<Twin>,
    /// Stop at the first failing seed, in the order of the seeds: outcomes end with it.
    pub first_failure: bool,
}

/// Why a sweep could not run to the end.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// The scenario cannot run.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The second process of `--check-determinism` could not be started or failed.
    #[error("--check-determinism: {0}")]
    Twin(String),
    /// A guided sweep of a scenario with no swarm: nothing to mutate.
    #[error("{0}: --guided needs a swarm scenario (a [swarm] section): it mutates drawn faults")]
    NotSwarm(String),
}

/// Runs this shard's seeds of `seeds` on `options.jobs` threads and hands each outcome to
/// `each` in seed order (with `options.first_failure`, up to the first failing seed). An
/// unusable scenario is an error before anything runs; a second process that fails stops the
/// sweep.
pub fn sweep(
    scenario: &Scenario,
    seeds: Seeds,
    options: SweepOptions,
    mut each: impl FnMut(Outcome),
) -> Result<(), SweepError> {
    scenario.resolve_faults(&scenario.name)?;
    let total = options.shard.len(seeds);
    let first = seeds.start + (options.shard.index - 1);
    let step = options.shard.count;
    let next = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let jobs = options.jobs.clamp(1, total.max(1) as usize);
    let twin = options.twin.as_ref();
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel();
        for _ in 0..jobs {
            let (tx, next, stop) = (tx.clone(), &next, &stop);
            scope.spawn(move || {
                let take = || {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    (k < total).then_some((k, first + k * step))
                };
                let give = |outcomes| tx.send(Ok(outcomes)).is_ok();
                let worked = work(scenario, twin, stop, take, give);
                if let Err(e) = worked {
                    stop.store(true, Ordering::Relaxed);
                    let _ = tx.send(Err(e));
                }
            });
        }
        drop(tx);
        // Workers take seeds in order, so the few that finish early wait here briefly.
        let mut waiting = BTreeMap::new();
        let mut due = 0;
        let mut failed = None;
        let mut found = false;
        for got in rx {
            match got {
                Ok(outcomes) => waiting.extend(outcomes),
                Err(e) => {
                    failed.get_or_insert(e);
                }
            }
            while !found {
                let Some(outcome) = waiting.remove(&due) else {
                    break;
                };
                found = options.first_failure && !outcome.violations.is_empty();
                each(outcome);
                due += 1;
            }
            if found {
                // Seeds after it are neither run nor handed on.
                stop.store(true, Ordering::Relaxed);
            }
        }
        failed.map_or(Ok(()), |e| Err(SweepError::Twin(e)))
    })
}

/// Outcomes a worker hands on together (a failing one at once): one wake-up of the thread
/// that puts them in order per seed would cost a run a few per cent.
const HANDED_TOGETHER: usize = 32;

/// One worker: takes seeds with `take` (each with its place in the sweep) until there are
/// none or `stop` is set, runs each — in its second process too, the two at once — and hands
/// the outcomes to `give` a few at a time (each with its place), which says whether to go on.
fn work(
    scenario: &Scenario,
    twin: Option<&Twin>,
    stop: &AtomicBool,
    mut take: impl FnMut() -> Option<(u64, u64)>,
    mut give: impl FnMut(Vec<(u64, Outcome)>) -> bool,
) -> Result<(), String> {
    let mut second = twin.map(Twin::spawn).transpose()?;
    let mut done = Vec::with_capacity(HANDED_TOGETHER);
    while let Some((k, seed)) = take().filter(|_| !stop.load(Ordering::Relaxed)) {
        if let Some(second) = second.as_mut() {
            second.ask(seed)?;
        }
        let mut outcome = run_seed(scenario, seed);
        if let Some(second) = second.as_mut() {
            let there = second.answer(seed)?;
            outcome.violations.extend(twin::compare(&outcome, &there));
        }
        let failed = !outcome.violations.is_empty();
        done.push((k, outcome));
        if (failed || done.len() == HANDED_TOGETHER) && !give(std::mem::take(&mut done)) {
            break;
        }
    }
    if !done.is_empty() {
        give(done);
    }
    second.map_or(Ok(()), twin::Process::finish)
}

/// One seed's run. A scenario whose swarm draws an impossible plan for this seed is a
/// violation of that seed, not an error of the sweep.
pub fn run_seed(scenario: &Scenario, seed: u64) -> Outcome {
    outcome(seed, run(scenario, seed, &SWEPT))
}

/// How a sweep runs a seed: of its trace, only the hash is read.
const SWEPT: Options = Options {
    keep_datagrams: false,
    record: false,
    hash_only: true,
};

/// What a run (of `seed`, or of the slot a guided sweep gives) showed.
fn outcome(seed: u64, ran: Result<RunReport, ScenarioError>) -> Outcome {
    match ran {
        Ok(report) => Outcome {
            seed,
            hash: report.hash(),
            violations: report.findings.violations,
            figures: report.findings.figures,
            coverage: report.coverage,
        },
        // Only a swarm draw can make a valid scenario invalid for one seed.
        Err(e) => Outcome {
            seed,
            violations: vec![Violation {
                invariant: "invalid-draw",
                detail: e.to_string(),
            }],
            figures: Figures::default(),
            hash: String::new(),
            coverage: Coverage::default(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_ranges_read_as_written() {
        assert_eq!("1..101".parse(), Ok(Seeds { start: 1, end: 101 }));
        assert_eq!("1..=100".parse(), Ok(Seeds { start: 1, end: 101 }));
        assert_eq!("100".parse(), Ok(Seeds { start: 1, end: 101 }));
        assert!("5..5".parse::<Seeds>().unwrap_err().contains("empty"));
        assert!("1..x"
            .parse::<Seeds>()
            .unwrap_err()
            .contains("`x` is not a seed"));
    }
}
