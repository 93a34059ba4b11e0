//! Coverage-guided sweeps (`failover-sim sweep --guided`): beside plain swarm seeds, runs made
//! by mutating the fault schedules of earlier runs that reached a point of the protocol no run
//! before them had (see [`failover_core::coverage`]).
//!
//! A plain swarm sweep draws every seed's schedule afresh, so a behaviour that needs two
//! faults to line up is found only when one draw happens to line them up. A guided sweep keeps
//! a *corpus*: every run that reached a new point. Most of its runs take a schedule from the
//! corpus — preferring those that reached the rarest points — and mutate it (shift a fault,
//! stretch or shrink it, add one, remove one, change its kind or parameters, take one from
//! another schedule, change the seed; see `mutate.rs`), staying near a schedule that already
//! does something unusual. One run in [`RANDOM_IN`] is a plain seed, as a plain sweep runs it.
//!
//! It is deterministic from the sweep's seeds alone. Each seed of the range is a *slot*: run
//! `k` is decided by the generator of its slot and the corpus as it stood before the batch of
//! [`BATCH`] runs it belongs to — never by which thread finished first — so the number of
//! jobs changes nothing. A plain run of slot `s` is seed `s` of the scenario, replayed by
//! `failover-sim replay SCENARIO --seed s`; a mutated run is a scenario of its own, its faults
//! written out ([`Mutant::scenario`]), replayed from that file under its schedule's seed.

use super::feedback::{Feedback, FEATURES};
use super::mutate::{self, Mutator, Schedule};
use super::{outcome, Outcome, Seeds, SweepError, SweepOptions, SWEPT};
use crate::scenario::Scenario;
use crate::world::run;
use rand::seq::IndexedRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Runs decided at once, from the corpus as it stood before them: the unit of parallel work,
/// and how often what was learnt is put to use.
pub const BATCH: usize = 32;

/// One run in this many is a plain seed of the swarm, not a mutant.
pub const RANDOM_IN: u32 = 4;

/// The most mutations stacked on one schedule for one run (1, 2 or 4).
const MUTATIONS_MAX_LOG2: u32 = 2;

/// An entry whose rarest feature `n` runs reached weighs `RARITY / n²`: the rarer what a
/// schedule did, the more often it is mutated.
const RARITY: u64 = 1 << 40;

/// A run made by mutating the schedule of an earlier one.
#[derive(Clone, Debug, PartialEq)]
pub struct Mutant {
    /// Its faults and seed.
    pub schedule: Schedule,
    /// How it came about: the plain seed it began as, then every mutation, in order.
    pub lineage: Vec<String>,
}

impl Mutant {
    /// The scenario this run is — `base`'s own faults and the schedule's, no swarm, lasting
    /// until its convergence can be judged — named after the sweep's `slot`: what it ran, and
    /// what its file replays.
    pub fn scenario(&self, base: &Scenario, slot: u64) -> Scenario {
        let seed = self.schedule.seed;
        crate::plan::lasting_to_convergence(Scenario {
            name: format!("{}-guided-{slot}", base.name),
            description: format!(
                "Made by a coverage-guided sweep of `{}` (its run {slot}) by mutating fault \
                 schedules of earlier runs. Replay it with `failover-sim replay FILE --seed \
                 {seed} --trace`.",
                base.name
            ),
            faults: (base.faults.iter())
                .chain(&self.schedule.faults)
                .cloned()
                .collect(),
            swarm: None,
            ..base.clone()
        })
    }
}

/// What a guided sweep did besides its outcomes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Guided {
    /// Runs made.
    pub runs: u64,
    /// Of which mutants.
    pub mutants: u64,
    /// Runs kept in the corpus for reaching a new point.
    pub corpus: usize,
}

/// A run kept for the feature it reached first.
struct Entry {
    schedule: Schedule,
    lineage: Vec<String>,
    feedback: Feedback,
}

/// What a guided sweep knows between batches.
struct Corpus {
    entries: Vec<Entry>,
    /// Per feature, how many runs reached it.
    hits: Vec<u64>,
}

impl Corpus {
    /// Takes one run's feedback; keeps its schedule if it reached a new feature.
    fn learn(&mut self, schedule: Schedule, lineage: Vec<String>, feedback: Feedback) {
        let mut new = false;
        for &f in feedback.features() {
            new |= self.hits[f as usize] == 0;
            self.hits[f as usize] += 1;
        }
        if new {
            self.entries.push(Entry {
                schedule,
                lineage,
                feedback,
            });
        }
    }

    /// Each entry's weight for being mutated next: the rarer the rarest feature it reached,
    /// the heavier.
    fn weights(&self) -> Vec<u64> {
        (self.entries.iter())
            .map(|e| {
                let rarest = (e.feedback.features().iter())
                    .map(|&f| self.hits[f as usize])
                    .min()
                    .unwrap_or(1);
                (RARITY / rarest.max(1).saturating_pow(2)).max(1)
            })
            .collect()
    }

    /// The entry `rng` picks by `weights`.
    fn pick(&self, weights: &[u64], rng: &mut ChaCha8Rng) -> &Entry {
        let total: u64 = weights.iter().sum();
        let mut left = rng.random_range(0..total);
        for (e, &w) in self.entries.iter().zip(weights) {
            if left < w {
                return e;
            }
            left -= w;
        }
        self.entries.last().expect("a corpus to pick from")
    }
}

/// Runs this shard's seeds of `seeds` as slots of a guided sweep of `scenario` (a swarm
/// scenario) on `options.jobs` threads, and hands each run's outcome to `each` in slot order,
/// with the mutant it was if it was one (its outcome's seed is its slot). With
/// `options.first_failure` it stops after the first failing run. A second process
/// (`options.twin`) is refused: it runs seeds, and mutants are not seeds.
pub fn guided(
    scenario: &Scenario,
    seeds: Seeds,
    options: &SweepOptions,
    mut each: impl FnMut(Outcome, Option<&Mutant>),
) -> Result<Guided, SweepError> {
    let swarm =
        (scenario.swarm.as_ref()).ok_or_else(|| SweepError::NotSwarm(scenario.name.clone()))?;
    if options.twin.is_some() {
        return Err(SweepError::Twin(
            "a guided sweep's mutated runs are not seeds a second process can run".into(),
        ));
    }
    scenario.resolve_faults(&scenario.name)?;
    let mutator = Mutator::new(scenario, swarm);
    let total = options.shard.len(seeds);
    let first = seeds.start + (options.shard.index - 1);
    let step = options.shard.count;
    let mut corpus = Corpus {
        entries: Vec::new(),
        hits: vec![0; FEATURES],
    };
    let mut done = Guided::default();
    let mut k = 0;
    while k < total {
        let n = (total - k).min(BATCH as u64);
        let weights = corpus.weights();
        let runs: Vec<(u64, Option<Mutant>)> = (k..k + n)
            .map(|j| first + j * step)
            .map(|slot| (slot, make(scenario, &mutator, &corpus, &weights, slot)))
            .collect();
        let outcomes = run_batch(scenario, &runs, options.jobs);
        for ((slot, mutant), (outcome, feedback)) in runs.into_iter().zip(outcomes) {
            done.runs += 1;
            done.mutants += u64::from(mutant.is_some());
            let failed = !outcome.violations.is_empty();
            each(outcome, mutant.as_ref());
            let (schedule, lineage) = match mutant {
                Some(m) => (m.schedule, m.lineage),
                None => plain(scenario, slot),
            };
            corpus.learn(schedule, lineage, feedback);
            if failed && options.first_failure {
                k = total;
                break;
            }
        }
        k = (k + n).min(total);
    }
    done.corpus = corpus.entries.len();
    Ok(done)
}

/// A plain seed's schedule: what the swarm draws for it.
fn plain(scenario: &Scenario, slot: u64) -> (Schedule, Vec<String>) {
    let swarm = scenario.swarm.as_ref().expect("a swarm scenario");
    let schedule = Schedule {
        seed: slot,
        faults: swarm.draw(scenario, slot).faults,
    };
    (schedule, vec![format!("seed {slot} as the swarm draws it")])
}

/// What run `slot` is: a plain seed (`None`), or a mutant of a corpus entry.
fn make(
    scenario: &Scenario,
    mutator: &Mutator<'_>,
    corpus: &Corpus,
    weights: &[u64],
    slot: u64,
) -> Option<Mutant> {
    let mut rng = mutate::rng_of(slot);
    if corpus.entries.is_empty() || rng.random_ratio(1, RANDOM_IN) {
        return None;
    }
    let parent = corpus.pick(weights, &mut rng);
    let donor = corpus.entries.choose(&mut rng).map(|e| &e.schedule);
    let mut schedule = parent.schedule.clone();
    let mut lineage = parent.lineage.clone();
    let count = 1 << rng.random_range(0..=MUTATIONS_MAX_LOG2);
    let mut tries = 0;
    while lineage.len() < parent.lineage.len() + count && tries < 16 * count {
        tries += 1;
        if let Some(what) = mutator.mutate(&mut schedule, donor, slot, &mut rng) {
            lineage.push(what);
        }
    }
    let mutant = Mutant { schedule, lineage };
    // Every mutation stays within the swarm's bounds; a schedule the scenario would refuse
    // all the same runs as a plain seed rather than as a failure of its own.
    (mutant
        .scenario(scenario, slot)
        .resolve_faults("guided")
        .ok())
    .map(|_| mutant)
}

/// Runs `runs` on up to `jobs` threads; their outcomes and feedback, in order.
fn run_batch(
    scenario: &Scenario,
    runs: &[(u64, Option<Mutant>)],
    jobs: usize,
) -> Vec<(Outcome, Feedback)> {
    let one = |(slot, mutant): &(u64, Option<Mutant>)| {
        let ran = match mutant {
            None => run(scenario, *slot, &SWEPT),
            Some(m) => run(&m.scenario(scenario, *slot), m.schedule.seed, &SWEPT),
        };
        let feedback = (ran.as_ref().ok())
            .map(|r| Feedback::of(&r.coverage, &r.acts, &r.faults))
            .unwrap_or_default();
        (outcome(*slot, ran), feedback)
    };
    let next = AtomicUsize::new(0);
    let jobs = jobs.clamp(1, runs.len().max(1));
    let mut done: Vec<(usize, (Outcome, Feedback))> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..jobs)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(run) = runs.get(i) else {
                            return mine;
                        };
                        mine.push((i, one(run)));
                    }
                })
            })
            .collect();
        (workers.into_iter())
            .flat_map(|w| w.join().expect("a sweep thread panicked"))
            .collect()
    });
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, o)| o).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::Options;

    #[test]
    fn a_plain_seed_written_as_a_mutant_runs_as_that_seed() {
        let scenario = crate::builtin::find("swarm-three-nodes").unwrap().unwrap();
        for slot in [5, 6] {
            let (schedule, lineage) = plain(&scenario, slot);
            let mutant = Mutant { schedule, lineage };
            let written = mutant.scenario(&scenario, slot);
            let text = toml::to_string(&written).unwrap();
            let read = Scenario::from_toml_str(&text, "written").unwrap();
            let as_file = run(&read, slot, &Options::default()).unwrap();
            let as_seed = run(&scenario, slot, &Options::default()).unwrap();
            assert_eq!(as_file.hash(), as_seed.hash(), "slot {slot}");
            assert_eq!(as_file.coverage, as_seed.coverage);
        }
    }
}
