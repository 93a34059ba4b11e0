//! Mutations of a fault schedule, for coverage-guided sweeps: shift a fault in time, stretch or
//! shrink it, add one, remove one, change its kind or its parameters, take one from another
//! schedule, or run it under another seed — always within the bounds of the scenario's swarm,
//! so a mutated schedule is one a swarm could have drawn (every fault over by the last `heal`,
//! at most `max_faults`, durations and severities within their bounds).

use crate::rng;
use crate::scenario::{FaultSpec, Scenario, Swarm, SwarmKind};
use rand::seq::IndexedRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// A fault schedule and the seed it runs under: what a guided sweep keeps and mutates.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    /// The seed of the run's randomness (network, client, kernel).
    pub seed: u64,
    /// The faults beside the scenario's own, in time order.
    pub faults: Vec<FaultSpec>,
}

/// Mutates schedules within one swarm's bounds.
pub(super) struct Mutator<'a> {
    scenario: &'a Scenario,
    swarm: &'a Swarm,
    /// Drawn faults start no earlier than this.
    start: Duration,
    /// Drawn faults end by this.
    end: Duration,
}

/// The swarm kind a fault of a schedule was drawn as, if it is one a swarm draws.
pub(super) fn kind_of(f: &FaultSpec) -> Option<SwarmKind> {
    Some(match f.kind.as_str() {
        "partition" if f.oneway => SwarmKind::Oneway,
        "degrade" if f.loss > 0.0 => SwarmKind::Loss,
        "degrade" if f.duplicate > 0.0 => SwarmKind::Duplicate,
        "degrade" if f.reorder > 0.0 => SwarmKind::Reorder,
        "degrade" if f.delay.is_some() => SwarmKind::Delay,
        "hook" if f.behavior.as_deref() == Some("slow") => SwarmKind::SlowHook,
        name => *(SwarmKind::ALL.iter().chain(&SwarmKind::LISTED)).find(|k| k.name() == name)?,
    })
}

fn millis(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

fn secs(d: Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
}

impl<'a> Mutator<'a> {
    /// A mutator for `scenario`'s swarm.
    pub fn new(scenario: &'a Scenario, swarm: &'a Swarm) -> Mutator<'a> {
        Mutator {
            scenario,
            swarm,
            start: swarm.start,
            end: scenario.duration.saturating_sub(swarm.heal),
        }
    }

    /// Applies one mutation drawn from `rng` to `s` (`donor`: another schedule to take a fault
    /// from; `reseed`: the seed a reseeded run takes) and says what it did, or `None` when the
    /// mutation drawn does not apply to this schedule.
    pub fn mutate(
        &self,
        s: &mut Schedule,
        donor: Option<&Schedule>,
        reseed: u64,
        rng: &mut ChaCha8Rng,
    ) -> Option<String> {
        let n = s.faults.len();
        let i = if n > 0 { rng.random_range(0..n) } else { 0 };
        let full = n >= self.swarm.max_faults as usize;
        let done = match rng.random_range(0..9) {
            0 | 1 if n > 0 => self.shift(&mut s.faults[i], i, rng),
            2 if n > 0 => self.stretch(&mut s.faults[i], i, rng),
            3 if !full => {
                let f = self.drawn(self.any_kind(rng), rng);
                let what = format!("added {}", describe(&f));
                s.faults.push(f);
                Some(what)
            }
            4 if n > 1 => Some(format!("removed {}", describe(&s.faults.remove(i)))),
            5 if n > 0 => {
                let kind = self.any_kind(rng);
                let f = &mut s.faults[i];
                let new = self.redrawn(f, kind, rng);
                let what = format!("fault {i} became {}", describe(&new));
                *f = new;
                Some(what)
            }
            6 if n > 0 => self.tweak(&mut s.faults[i], i, rng),
            7 => match donor.and_then(|d| d.faults.choose(rng)) {
                Some(f) if !full => {
                    s.faults.push(f.clone());
                    Some(format!("took {} from another run", describe(f)))
                }
                Some(f) if n > 0 => {
                    s.faults[i] = f.clone();
                    Some(format!(
                        "fault {i} replaced by {} of another run",
                        describe(f)
                    ))
                }
                _ => None,
            },
            8 if s.seed != reseed => {
                s.seed = reseed;
                Some(format!("run under seed {reseed}"))
            }
            _ => None,
        }?;
        s.faults.sort_by_key(|f| f.at);
        Some(done)
    }

    /// One of the kinds the swarm lists (not only those a seed turned on).
    fn any_kind(&self, rng: &mut ChaCha8Rng) -> SwarmKind {
        *self.swarm.kinds.choose(rng).expect("validated: some kinds")
    }

    /// The latest a fault lasting `duration` may start.
    fn latest(&self, duration: Option<Duration>) -> Duration {
        self.end
            .saturating_sub(duration.unwrap_or_default())
            .max(self.start)
    }

    /// A new fault of `kind` at a time and for a duration drawn as a swarm draws them.
    fn drawn(&self, kind: SwarmKind, rng: &mut ChaCha8Rng) -> FaultSpec {
        let sw = self.swarm;
        let duration = millis(rng.random_range(sw.min_duration..=sw.max_duration));
        let at = millis(rng.random_range(self.start..=self.latest(Some(duration))));
        let spec = FaultSpec {
            at,
            duration: Some(duration),
            ..FaultSpec::default()
        };
        sw.fault(kind, spec, self.scenario, rng)
    }

    /// A fault of `kind` drawn anew where `f` was: its time, and its duration if it has one.
    fn redrawn(&self, f: &FaultSpec, kind: SwarmKind, rng: &mut ChaCha8Rng) -> FaultSpec {
        let sw = self.swarm;
        let duration = f
            .duration
            .unwrap_or_else(|| millis(rng.random_range(sw.min_duration..=sw.max_duration)));
        let spec = FaultSpec {
            at: f.at.min(self.latest(Some(duration))),
            duration: Some(duration),
            ..FaultSpec::default()
        };
        sw.fault(kind, spec, self.scenario, rng)
    }

    /// Changes one parameter of a fault (its node, its segment, its sides, which hook and
    /// how, which change, how much loss...) to one a swarm could draw, the others kept.
    fn tweak(&self, f: &mut FaultSpec, i: usize, rng: &mut ChaCha8Rng) -> Option<String> {
        let drawn = self.redrawn(f, kind_of(f)?, rng);
        type Field = fn(&mut FaultSpec, &FaultSpec) -> bool;
        fn take<T: PartialEq + Clone>(to: &mut T, from: &T) -> bool {
            let changed = to != from;
            to.clone_from(from);
            changed
        }
        let fields: [(&str, Field); 12] = [
            ("node", |f, d| take(&mut f.node, &d.node)),
            ("segment", |f, d| take(&mut f.segment, &d.segment)),
            ("sides", |f, d| take(&mut f.a, &d.a) | take(&mut f.b, &d.b)),
            ("clock", |f, d| {
                take(&mut f.offset, &d.offset) | take(&mut f.drift_ppm, &d.drift_ppm)
            }),
            ("hook", |f, d| take(&mut f.hook, &d.hook)),
            ("behavior", |f, d| {
                take(&mut f.behavior, &d.behavior) | take(&mut f.latency, &d.latency)
            }),
            ("change", |f, d| take(&mut f.change, &d.change)),
            ("loss", |f, d| take(&mut f.loss, &d.loss)),
            ("duplication", |f, d| take(&mut f.duplicate, &d.duplicate)),
            ("reordering", |f, d| take(&mut f.reorder, &d.reorder)),
            ("delay", |f, d| take(&mut f.delay, &d.delay)),
            ("target", |f, d| take(&mut f.to, &d.to)),
        ];
        let differing: Vec<&(&str, Field)> = (fields.iter())
            .filter(|(_, field)| field(&mut f.clone(), &drawn))
            .collect();
        let (name, field) = differing.choose(rng)?;
        field(f, &drawn);
        Some(format!("fault {i} has another {name}: {}", describe(f)))
    }

    /// Moves a fault a little (within its own length either way) or anywhere.
    fn shift(&self, f: &mut FaultSpec, i: usize, rng: &mut ChaCha8Rng) -> Option<String> {
        let latest = self.latest(f.duration);
        let at = if rng.random_bool(0.5) {
            let reach = f
                .duration
                .unwrap_or(self.swarm.max_duration)
                .max(self.swarm.min_duration);
            let later = rng.random_bool(0.5);
            let by = millis(rng.random_range(Duration::ZERO..=reach));
            match later {
                true => f.at + by,
                false => f.at.saturating_sub(by),
            }
        } else {
            millis(rng.random_range(self.start..=latest))
        };
        let at = at.clamp(self.start, latest);
        if at == f.at {
            return None;
        }
        let what = format!("fault {i} moved from {} to {}", secs(f.at), secs(at));
        f.at = at;
        Some(what)
    }

    /// Makes a fault between four times shorter and four times longer (within the bounds),
    /// or gives a crash or a shutdown for good a restart.
    fn stretch(&self, f: &mut FaultSpec, i: usize, rng: &mut ChaCha8Rng) -> Option<String> {
        let sw = self.swarm;
        let old = match f.duration {
            Some(d) => d,
            None if matches!(f.kind.as_str(), "crash" | "shutdown") => Duration::ZERO,
            None => return None,
        };
        let new = match old.is_zero() {
            true => rng.random_range(sw.min_duration..=sw.max_duration),
            false => old.mul_f64(2f64.powf(rng.random_range(-2.0..=2.0))),
        };
        let new = millis(new.clamp(sw.min_duration, sw.max_duration));
        if new == old {
            return None;
        }
        f.duration = Some(new);
        f.at = f.at.min(self.latest(f.duration));
        Some(format!(
            "fault {i} lasts {} instead of {}",
            secs(new),
            if old.is_zero() {
                "for good".into()
            } else {
                secs(old)
            }
        ))
    }
}

/// A fault in a few words: its kind, node or segment, time and length.
fn describe(f: &FaultSpec) -> String {
    let on = (f.node.as_deref())
        .or(f.segment.as_deref())
        .map_or(String::new(), |x| format!(" of {x}"));
    let length = f
        .duration
        .map_or(" for good".into(), |d| format!(" for {}", secs(d)));
    let kind = kind_of(f).map_or(f.kind.as_str(), |k| k.name());
    format!("{kind}{on} at {}{length}", secs(f.at))
}

/// The random stream that makes a guided sweep's run from its slot: apart from the swarm's
/// draw and every link's.
const STREAM: u64 = 0x4755_4944; // "GUID"

/// The generator that decides what run `slot` of a guided sweep is.
pub(super) fn rng_of(slot: u64) -> ChaCha8Rng {
    rng::fork(slot, STREAM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mutation_stays_within_the_swarms_bounds() {
        let scenario = crate::builtin::find("swarm-operators-three-nodes")
            .unwrap()
            .unwrap();
        let swarm = scenario.swarm.clone().unwrap();
        let m = Mutator::new(&scenario, &swarm);
        let end = scenario.duration - swarm.heal;
        let mut s = Schedule {
            seed: 1,
            faults: swarm.draw(&scenario, 1).faults,
        };
        let donor = Schedule {
            seed: 2,
            faults: swarm.draw(&scenario, 2).faults,
        };
        let mut rng = rng_of(1);
        let mut applied = 0;
        for k in 0..2000 {
            if m.mutate(&mut s, Some(&donor), 100 + k, &mut rng).is_some() {
                applied += 1;
            }
            assert!(!s.faults.is_empty() && s.faults.len() <= swarm.max_faults as usize);
            for f in &s.faults {
                assert!(f.at >= swarm.start, "{f:?}");
                let length = f.duration.unwrap_or_default();
                assert!(f.at + length <= end, "{f:?}");
                if let Some(d) = f.duration {
                    assert!(d >= swarm.min_duration && d <= swarm.max_duration, "{f:?}");
                }
                assert!(kind_of(f).is_some(), "{f:?}");
            }
            assert!(s.faults.is_sorted_by_key(|f| f.at));
            let run = Scenario {
                faults: s.faults.clone(),
                swarm: None,
                ..scenario.clone()
            };
            run.resolve_faults("mutated").unwrap();
        }
        assert!(applied > 1500, "most draws apply: {applied}");
    }

    #[test]
    fn a_drawn_fault_is_told_back_by_its_kind() {
        let scenario = crate::builtin::find("swarm-operators-three-nodes")
            .unwrap()
            .unwrap();
        let swarm = scenario.swarm.clone().unwrap();
        let m = Mutator::new(&scenario, &swarm);
        let mut rng = rng_of(7);
        for &kind in &swarm.kinds {
            for _ in 0..20 {
                assert_eq!(kind_of(&m.drawn(kind, &mut rng)), Some(kind));
            }
        }
    }
}
