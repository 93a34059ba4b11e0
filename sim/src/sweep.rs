//! Sweeps: one scenario under a range of seeds, on every core, and sharded across machines
//! with no coordinator. Results come back in seed order whatever the number of jobs, so a
//! sweep's output depends on its seeds alone.

use crate::check::{Figures, Violation};
use crate::scenario::{Scenario, ScenarioError};
use crate::world::{run, Options};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
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

/// `K/N`: the K-th of N interleaved slices of a seed range (K from 1), so N machines of a CI
/// matrix or a batch job array each run their share with nothing to coordinate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Which slice, 1..=count.
    pub index: u64,
    /// How many slices.
    pub count: u64,
}

impl Default for Shard {
    fn default() -> Self {
        Shard { index: 1, count: 1 }
    }
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("`{s}`: write K/N with 1 <= K <= N, e.g. 3/8");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            k.trim().parse::<u64>().map_err(|_| bad())?,
            n.trim().parse::<u64>().map_err(|_| bad())?,
        );
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// This shard's seeds of `seeds`, in order: every `count`-th from the `index`-th.
    pub fn seeds(&self, seeds: Seeds) -> impl Iterator<Item = u64> {
        (seeds.start + (self.index - 1)..seeds.end).step_by(self.count as usize)
    }

    /// How many seeds of `seeds` this shard runs.
    pub fn len(&self, seeds: Seeds) -> u64 {
        (seeds.end - seeds.start)
            .saturating_sub(self.index - 1)
            .div_ceil(self.count)
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
}

/// How to sweep.
#[derive(Clone, Copy, Debug)]
pub struct SweepOptions {
    /// Threads to run seeds on.
    pub jobs: usize,
    /// The slice of the range to run.
    pub shard: Shard,
    /// Run every seed twice and count a different trace hash as a violation.
    pub check_determinism: bool,
}

/// Runs this shard's seeds of `seeds` on `options.jobs` threads and hands each outcome to
/// `each` in seed order. An unusable scenario is an error before anything runs.
pub fn sweep(
    scenario: &Scenario,
    seeds: Seeds,
    options: SweepOptions,
    mut each: impl FnMut(Outcome),
) -> Result<(), ScenarioError> {
    scenario.resolve_faults(&scenario.name)?;
    let total = options.shard.len(seeds);
    let first = seeds.start + (options.shard.index - 1);
    let step = options.shard.count;
    let next = AtomicU64::new(0);
    let jobs = options.jobs.clamp(1, total.max(1) as usize);
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel();
        for _ in 0..jobs {
            let (tx, next) = (tx.clone(), &next);
            scope.spawn(move || loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= total {
                    return;
                }
                let outcome = run_seed(scenario, first + k * step, options.check_determinism);
                if tx.send((k, outcome)).is_err() {
                    return;
                }
            });
        }
        drop(tx);
        // Workers take seeds in order, so the few that finish early wait here briefly.
        let mut waiting = BTreeMap::new();
        let mut due = 0;
        for (k, outcome) in rx {
            waiting.insert(k, outcome);
            while let Some(outcome) = waiting.remove(&due) {
                each(outcome);
                due += 1;
            }
        }
    });
    Ok(())
}

/// One seed, twice when determinism is checked.
pub fn run_seed(scenario: &Scenario, seed: u64, check_determinism: bool) -> Outcome {
    let report = match run(scenario, seed, &Options::default()) {
        Ok(r) => r,
        Err(e) => {
            // Only a swarm draw can make a valid scenario invalid for one seed.
            return Outcome {
                seed,
                violations: vec![Violation {
                    invariant: "invalid-draw",
                    detail: e.to_string(),
                }],
                figures: Figures::default(),
                hash: String::new(),
            };
        }
    };
    let hash = report.hash();
    let mut violations = report.findings.violations;
    if check_determinism {
        let again = run(scenario, seed, &Options::default())
            .map(|r| r.hash())
            .unwrap_or_else(|e| e.to_string());
        if again != hash {
            violations.push(Violation {
                invariant: "nondeterminism",
                detail: format!("the same seed gave trace hash {hash}, then {again}"),
            });
        }
    }
    Outcome {
        seed,
        violations,
        figures: report.findings.figures,
        hash,
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

    #[test]
    fn shards_split_a_range_into_disjoint_interleaved_slices() {
        let seeds: Seeds = "10..=30".parse().unwrap();
        let mut all: Vec<u64> = Vec::new();
        for k in 1..=4 {
            let shard: Shard = format!("{k}/4").parse().unwrap();
            let mine: Vec<u64> = shard.seeds(seeds).collect();
            assert_eq!(mine.len() as u64, shard.len(seeds), "shard {shard}");
            all.extend(mine);
        }
        all.sort_unstable();
        assert_eq!(all, (10..=30).collect::<Vec<_>>());
        assert!("0/4".parse::<Shard>().is_err());
        assert!("5/4".parse::<Shard>().is_err());
        assert!("1-4".parse::<Shard>().is_err());
    }
}
