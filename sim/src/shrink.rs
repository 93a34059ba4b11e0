//! Shrinking a failing seed to a minimal reproduction, by delta debugging: drop faults, shorten
//! them, shorten the run, quiet the network — keeping each change only while the run still
//! breaks the same invariant (and breaks no invariant the original run kept). The result is a
//! scenario with only scheduled faults, no swarm, which replays the violation.

use crate::scenario::{FaultSpec, Scenario};
use crate::world::{run, Options};
use std::collections::BTreeSet;
use std::time::Duration;
use thiserror::Error;

/// Why a seed cannot be shrunk.
#[derive(Debug, Error)]
pub enum ShrinkError {
    /// The seed breaks nothing.
    #[error("seed {0} breaks no invariant: nothing to shrink")]
    Passes(u64),
    /// The invariant asked for is not among those the seed breaks.
    #[error("seed {seed} does not break `{wanted}`; it breaks {broken}")]
    NotBroken {
        /// The seed.
        seed: u64,
        /// The invariant asked for.
        wanted: String,
        /// What the seed does break.
        broken: String,
    },
    /// The scenario cannot run.
    #[error(transparent)]
    Scenario(#[from] crate::ScenarioError),
}

/// A minimal reproduction.
#[derive(Debug)]
pub struct Shrunk {
    /// The scenario that still breaks `invariant` under the seed: scheduled faults only.
    pub scenario: Scenario,
    /// The invariant it breaks.
    pub invariant: &'static str,
    /// What was taken away, step by step, in words.
    pub removed: Vec<String>,
    /// How many runs the search took.
    pub runs: u32,
}

/// Shrinks `scenario` under `seed` while it still breaks `invariant` (by default the first one
/// the seed breaks).
pub fn shrink(
    scenario: &Scenario,
    seed: u64,
    invariant: Option<&str>,
) -> Result<Shrunk, ShrinkError> {
    let mut base = crate::plan::instantiate(scenario, seed).into_owned();
    let report = run(&base, seed, &Options::default())?;
    let broken = report.findings.broken();
    let target = match invariant {
        None => *broken.iter().next().ok_or(ShrinkError::Passes(seed))?,
        Some(wanted) => {
            *broken
                .iter()
                .find(|b| **b == wanted)
                .ok_or_else(|| ShrinkError::NotBroken {
                    seed,
                    wanted: wanted.to_string(),
                    broken: broken.iter().copied().collect::<Vec<_>>().join(", "),
                })?
        }
    };
    let mut s = Shrinker {
        seed,
        target,
        allowed: broken,
        runs: 1,
        removed: Vec::new(),
    };
    base.description = format!(
        "Shrunk by failover-sim from `{}`, seed {seed}: still breaks `{target}`. Replay it with `failover-sim replay FILE --seed {seed} --trace`.",
        scenario.name
    );
    base.name = format!("{}-seed-{seed}-{target}", scenario.name);
    loop {
        let before = (base.faults.len(), s.removed.len());
        s.drop_faults(&mut base);
        s.shorten_faults(&mut base);
        s.shorten_run(&mut base);
        s.quiet_network(&mut base);
        if (base.faults.len(), s.removed.len()) == before {
            break;
        }
    }
    Ok(Shrunk {
        scenario: base,
        invariant: target,
        removed: s.removed,
        runs: s.runs,
    })
}

struct Shrinker {
    seed: u64,
    target: &'static str,
    allowed: BTreeSet<&'static str>,
    runs: u32,
    removed: Vec<String>,
}

impl Shrinker {
    /// Whether `candidate` still breaks the target, and nothing the original kept.
    fn fails(&mut self, candidate: &Scenario) -> bool {
        self.runs += 1;
        let Ok(report) = run(candidate, self.seed, &Options::default()) else {
            return false;
        };
        let broken = report.findings.broken();
        broken.contains(self.target) && broken.is_subset(&self.allowed)
    }

    fn with_faults(&self, base: &Scenario, faults: Vec<FaultSpec>) -> Scenario {
        Scenario {
            faults,
            ..base.clone()
        }
    }

    /// Delta debugging over the fault list (ddmin), then one fault at a time to a fixpoint.
    fn drop_faults(&mut self, base: &mut Scenario) {
        let mut faults = base.faults.clone();
        if !faults.is_empty() && self.fails(&self.with_faults(base, Vec::new())) {
            self.log_dropped(base, &faults);
            base.faults.clear();
            return;
        }
        let mut n = 2;
        while faults.len() >= 2 {
            let size = faults.len().div_ceil(n);
            let mut reduced = false;
            for start in (0..faults.len()).step_by(size) {
                let end = (start + size).min(faults.len());
                let complement: Vec<FaultSpec> = faults[..start]
                    .iter()
                    .chain(&faults[end..])
                    .cloned()
                    .collect();
                if self.fails(&self.with_faults(base, complement.clone())) {
                    faults = complement;
                    n = (n - 1).max(2);
                    reduced = true;
                    break;
                }
            }
            if !reduced {
                if n >= faults.len() {
                    break;
                }
                n = (n * 2).min(faults.len());
            }
        }
        let mut i = 0;
        while i < faults.len() && faults.len() > 1 {
            let mut without = faults.clone();
            without.remove(i);
            if self.fails(&self.with_faults(base, without.clone())) {
                faults = without;
            } else {
                i += 1;
            }
        }
        let gone: Vec<FaultSpec> = base
            .faults
            .iter()
            .filter(|f| !faults.contains(f))
            .cloned()
            .collect();
        self.log_dropped(base, &gone);
        base.faults = faults;
    }

    fn log_dropped(&mut self, base: &Scenario, gone: &[FaultSpec]) {
        for f in gone {
            self.removed.push(format!(
                "dropped fault at {}: {}",
                show(f.at),
                label(base, f)
            ));
        }
    }

    /// Halves each fault's duration while it still fails, then closes in by bisection.
    fn shorten_faults(&mut self, base: &mut Scenario) {
        for i in 0..base.faults.len() {
            let Some(original) = base.faults[i].duration else {
                continue;
            };
            let (mut good, mut bad) = (original, Duration::ZERO);
            while good - bad > Duration::from_millis(10).max(good / 20) {
                let mid = millis(bad + (good - bad) / 2);
                if mid == good || mid.is_zero() {
                    break;
                }
                let mut candidate = base.clone();
                candidate.faults[i].duration = Some(mid);
                if self.fails(&candidate) {
                    good = mid;
                } else {
                    bad = mid;
                }
            }
            if good < original {
                base.faults[i].duration = Some(good);
                self.removed.push(format!(
                    "shortened {} from {} to {}",
                    label(base, &base.faults[i]),
                    show(original),
                    show(good)
                ));
            }
        }
    }

    /// Bisects the run's length down to what still fails.
    fn shorten_run(&mut self, base: &mut Scenario) {
        let original = base.duration;
        let floor = base.faults.iter().map(|f| f.at).max().unwrap_or_default();
        let (mut good, mut bad) = (original, floor);
        while good - bad > Duration::from_millis(100).max(good / 50) {
            let mid = millis(bad + (good - bad) / 2);
            let candidate = Scenario {
                duration: mid,
                ..base.clone()
            };
            if candidate.resolve_faults("shrink").is_ok() && self.fails(&candidate) {
                good = mid;
            } else {
                bad = mid;
            }
        }
        if good < original {
            base.duration = good;
            self.removed.push(format!(
                "shortened the run from {} to {}",
                show(original),
                show(good)
            ));
        }
    }

    /// Takes the randomness out of every segment (jitter, loss, duplication, reordering)
    /// where the violation does not need it.
    fn quiet_network(&mut self, base: &mut Scenario) {
        for i in 0..base.segments.len() {
            let seg = &base.segments[i];
            let name = seg.name.clone();
            let noisy = [
                ("jitter", !seg.jitter.is_zero()),
                ("loss", seg.loss > 0.0),
                ("duplication", seg.duplicate > 0.0),
                ("reordering", seg.reorder > 0.0),
            ];
            for (what, present) in noisy {
                if !present {
                    continue;
                }
                let mut candidate = base.clone();
                let s = &mut candidate.segments[i];
                match what {
                    "jitter" => s.jitter = Duration::ZERO,
                    "loss" => s.loss = 0.0,
                    "duplication" => s.duplicate = 0.0,
                    _ => s.reorder = 0.0,
                }
                if self.fails(&candidate) {
                    *base = candidate;
                    self.removed
                        .push(format!("removed the {what} of segment {name}"));
                }
            }
        }
    }
}

fn millis(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

fn show(d: Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
}

/// A fault in words, as traces describe it.
pub fn label(scenario: &Scenario, fault: &FaultSpec) -> String {
    let one = Scenario {
        faults: vec![fault.clone()],
        swarm: None,
        ..scenario.clone()
    };
    match one.resolve_faults("shrink") {
        Ok(resolved) if !resolved.is_empty() => scenario.describe(&resolved[0].kind),
        _ => fault.kind.clone(),
    }
}
