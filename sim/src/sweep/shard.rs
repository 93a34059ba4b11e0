//! Shards: the K-th of N interleaved slices of a seed range, given as `K/N` or taken from the
//! array index of the engine that runs the sweep (`--shard auto`).
//!
//! `auto` reads, in this order, the first of these that is set:
//!
//! 1. `FAILOVER_SHARD_INDEX` (from 1) and `FAILOVER_SHARD_COUNT`: set by hand, or by a CI
//!    matrix that has no variables of its own (GitHub Actions);
//! 2. `SLURM_ARRAY_TASK_ID` with `SLURM_ARRAY_TASK_MIN`, `SLURM_ARRAY_TASK_STEP` and
//!    `SLURM_ARRAY_TASK_COUNT`: a Slurm job array over a range (`--array=0-3`, `1-7:2`);
//! 3. `JOB_COMPLETION_INDEX` (from 0) and `FAILOVER_SHARD_COUNT`: a Kubernetes Indexed Job,
//!    which does not export its completion count, so the manifest passes it in;
//! 4. `CI_NODE_INDEX` (from 1) and `CI_NODE_TOTAL`: GitLab CI's `parallel:`.
//!
//! The resolution is a pure function of a variable lookup, so it is tested with each set of
//! variables without touching the process environment.

use std::fmt;
use std::str::FromStr;

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
    pub fn seeds(&self, seeds: super::Seeds) -> impl Iterator<Item = u64> {
        (seeds.start + (self.index - 1)..seeds.end).step_by(self.count as usize)
    }

    /// How many seeds of `seeds` this shard runs.
    pub fn len(&self, seeds: super::Seeds) -> u64 {
        (seeds.end - seeds.start)
            .saturating_sub(self.index - 1)
            .div_ceil(self.count)
    }

    /// Whether `seed` is one of this shard's seeds of `seeds`.
    pub fn contains(&self, seeds: super::Seeds, seed: u64) -> bool {
        (seeds.start..seeds.end).contains(&seed)
            && (seed - seeds.start) % self.count == self.index - 1
    }
}

/// What `--shard` says: a slice, or `auto` (the engine's array index).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardArg {
    /// `K/N`.
    Given(Shard),
    /// `auto`: resolved with [`from_engine`] when the sweep starts.
    Auto,
}

impl FromStr for ShardArg {
    type Err = String;
    fn from_str(s: &str) -> Result<ShardArg, String> {
        if s.trim() == "auto" {
            Ok(ShardArg::Auto)
        } else {
            (s.parse().map(ShardArg::Given)).map_err(|e| format!("{e}, or auto"))
        }
    }
}

/// A shard found in the environment, with the variables it came from (for the log).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FromEngine {
    /// The slice.
    pub shard: Shard,
    /// The engine and its variables, e.g. `Slurm job array: SLURM_ARRAY_TASK_ID=5, ...`.
    pub source: String,
}

/// Variables read by hand-set or GitHub Actions shards.
pub const INDEX: &str = "FAILOVER_SHARD_INDEX";
/// The shard count, for hand-set, GitHub Actions and Kubernetes shards.
pub const COUNT: &str = "FAILOVER_SHARD_COUNT";
const SLURM_ID: &str = "SLURM_ARRAY_TASK_ID";
const SLURM_MIN: &str = "SLURM_ARRAY_TASK_MIN";
const SLURM_MAX: &str = "SLURM_ARRAY_TASK_MAX";
const SLURM_STEP: &str = "SLURM_ARRAY_TASK_STEP";
const SLURM_COUNT: &str = "SLURM_ARRAY_TASK_COUNT";
const K8S_INDEX: &str = "JOB_COMPLETION_INDEX";
const GITLAB_INDEX: &str = "CI_NODE_INDEX";
const GITLAB_TOTAL: &str = "CI_NODE_TOTAL";

/// The shard this process is, from the engine's variables looked up with `var` (in
/// production `|k| std::env::var(k).ok()`); an error names the variables looked for, or the
/// one that is missing or wrong.
pub fn from_engine(var: impl Fn(&str) -> Option<String>) -> Result<FromEngine, String> {
    let num = |name: &str| -> Result<Option<u64>, String> {
        var(name)
            .map(|v| {
                v.trim()
                    .parse::<u64>()
                    .map_err(|_| format!("--shard auto: {name}={v:?} is not a whole number"))
            })
            .transpose()
    };
    let need = |name: &str, why: &str| -> Result<u64, String> {
        num(name)?.ok_or_else(|| format!("--shard auto: {why}, but {name} is not set"))
    };
    let shown = |names: &[&str]| -> String {
        (names.iter())
            .filter_map(|n| var(n).map(|v| format!("{n}={}", v.trim())))
            .collect::<Vec<_>>()
            .join(", ")
    };
    // Index `index0` (from 0) of `count`, checked.
    let slice = |engine: &str, index0: u64, count: u64, names: &[&str]| {
        let source = format!("{engine}: {}", shown(names));
        if index0 >= count {
            return Err(format!(
                "--shard auto: {source}: the index is past the count ({count} shards)"
            ));
        }
        Ok(FromEngine {
            shard: Shard {
                index: index0 + 1,
                count,
            },
            source,
        })
    };

    if let Some(index) = num(INDEX)? {
        let count = need(COUNT, &format!("{INDEX} is set"))?;
        if index == 0 {
            return Err(format!(
                "--shard auto: {INDEX}=0, but it counts from 1 (as --shard K/N does)"
            ));
        }
        return slice("set by hand", index - 1, count, &[INDEX, COUNT]);
    }
    if let Some(id) = num(SLURM_ID)? {
        let why = format!("{SLURM_ID} is set");
        let (min, count) = (need(SLURM_MIN, &why)?, need(SLURM_COUNT, &why)?);
        let step = num(SLURM_STEP)?.unwrap_or(1).max(1);
        let names = [SLURM_ID, SLURM_MIN, SLURM_MAX, SLURM_STEP, SLURM_COUNT];
        let regular = num(SLURM_MAX)?.is_none_or(|max| {
            max >= min && (max - min) % step == 0 && (max - min) / step + 1 == count
        });
        if id < min || (id - min) % step != 0 || !regular {
            return Err(format!(
                "--shard auto: the Slurm job array ({}) is not a range of task ids; submit it \
                 with --array=A-B or A-B:STEP, or give --shard K/N",
                shown(&names)
            ));
        }
        return slice("Slurm job array", (id - min) / step, count, &names);
    }
    if let Some(index) = num(K8S_INDEX)? {
        let count = need(
            COUNT,
            &format!(
                "{K8S_INDEX} is set (a Kubernetes Indexed Job); set {COUNT} to the Job's \
                 completions"
            ),
        )?;
        return slice("Kubernetes Indexed Job", index, count, &[K8S_INDEX, COUNT]);
    }
    if let Some(index) = num(GITLAB_INDEX)? {
        let total = need(GITLAB_TOTAL, &format!("{GITLAB_INDEX} is set"))?;
        if index == 0 {
            return Err(format!(
                "--shard auto: {GITLAB_INDEX}=0, but GitLab counts from 1"
            ));
        }
        return slice(
            "GitLab CI parallel",
            index - 1,
            total,
            &[GITLAB_INDEX, GITLAB_TOTAL],
        );
    }
    if var(COUNT).is_some() {
        return Err(format!(
            "--shard auto: {COUNT} is set but no index: set {INDEX} (from 1), or run as a \
             Kubernetes Indexed Job ({K8S_INDEX})"
        ));
    }
    Err(format!(
        "--shard auto: no shard index in the environment; looked for, in this order, \
         {INDEX} with {COUNT} (GitHub Actions, by hand), {SLURM_ID} (Slurm job array), \
         {K8S_INDEX} with {COUNT} (Kubernetes Indexed Job), {GITLAB_INDEX} with \
         {GITLAB_TOTAL} (GitLab CI); or give --shard K/N"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::Seeds;
    use std::collections::BTreeMap;

    fn env(vars: &[(&str, &str)]) -> Result<FromEngine, String> {
        let map: BTreeMap<String, String> = (vars.iter())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        from_engine(|k| map.get(k).cloned())
    }

    fn shard(vars: &[(&str, &str)]) -> String {
        env(vars).unwrap().shard.to_string()
    }

    #[test]
    fn shards_split_a_range_into_disjoint_interleaved_slices() {
        let seeds: Seeds = "10..=30".parse().unwrap();
        let mut all: Vec<u64> = Vec::new();
        for k in 1..=4 {
            let shard: Shard = format!("{k}/4").parse().unwrap();
            let mine: Vec<u64> = shard.seeds(seeds).collect();
            assert_eq!(mine.len() as u64, shard.len(seeds), "shard {shard}");
            assert!(mine.iter().all(|&s| shard.contains(seeds, s)));
            assert_eq!(
                (0..40).filter(|&s| shard.contains(seeds, s)).count(),
                mine.len()
            );
            all.extend(mine);
        }
        all.sort_unstable();
        assert_eq!(all, (10..=30).collect::<Vec<_>>());
        assert!("0/4".parse::<Shard>().is_err());
        assert!("5/4".parse::<Shard>().is_err());
        assert!("1-4".parse::<Shard>().is_err());
        assert_eq!("auto".parse(), Ok(ShardArg::Auto));
        assert_eq!(
            "2/3".parse(),
            Ok(ShardArg::Given(Shard { index: 2, count: 3 }))
        );
    }

    #[test]
    fn a_slurm_array_task_is_its_index_from_the_arrays_first_id() {
        let task = |id: &str| {
            shard(&[
                ("SLURM_ARRAY_TASK_ID", id),
                ("SLURM_ARRAY_TASK_MIN", "0"),
                ("SLURM_ARRAY_TASK_MAX", "3"),
                ("SLURM_ARRAY_TASK_STEP", "1"),
                ("SLURM_ARRAY_TASK_COUNT", "4"),
            ])
        };
        assert_eq!(["0", "1", "2", "3"].map(task), ["1/4", "2/4", "3/4", "4/4"]);
        // --array=1-7:2 is ids 1, 3, 5, 7.
        let stepped = |id: &str| {
            shard(&[
                ("SLURM_ARRAY_TASK_ID", id),
                ("SLURM_ARRAY_TASK_MIN", "1"),
                ("SLURM_ARRAY_TASK_MAX", "7"),
                ("SLURM_ARRAY_TASK_STEP", "2"),
                ("SLURM_ARRAY_TASK_COUNT", "4"),
            ])
        };
        assert_eq!(
            ["1", "3", "5", "7"].map(stepped),
            ["1/4", "2/4", "3/4", "4/4"]
        );
        let from = env(&[
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ])
        .unwrap();
        assert_eq!(from.shard, Shard { index: 3, count: 4 });
        assert_eq!(
            from.source,
            "Slurm job array: SLURM_ARRAY_TASK_ID=2, SLURM_ARRAY_TASK_MIN=0, SLURM_ARRAY_TASK_COUNT=4"
        );
    }

    #[test]
    fn a_slurm_array_that_is_not_a_range_is_refused() {
        // --array=0,1,5,6: four tasks, ids not evenly spaced.
        let err = env(&[
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_MAX", "6"),
            ("SLURM_ARRAY_TASK_STEP", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ])
        .unwrap_err();
        assert!(err.contains("not a range of task ids"), "{err}");
        let err = env(&[("SLURM_ARRAY_TASK_ID", "1")]).unwrap_err();
        assert!(err.contains("SLURM_ARRAY_TASK_MIN is not set"), "{err}");
    }

    #[test]
    fn a_kubernetes_indexed_job_needs_its_completions_passed_in() {
        let pod = |i: &str| shard(&[("JOB_COMPLETION_INDEX", i), ("FAILOVER_SHARD_COUNT", "3")]);
        assert_eq!(["0", "1", "2"].map(pod), ["1/3", "2/3", "3/3"]);
        let err = env(&[("JOB_COMPLETION_INDEX", "0")]).unwrap_err();
        assert!(
            err.contains("set FAILOVER_SHARD_COUNT to the Job's completions"),
            "{err}"
        );
        let err = env(&[("JOB_COMPLETION_INDEX", "3"), ("FAILOVER_SHARD_COUNT", "3")]).unwrap_err();
        assert!(
            err.contains("the index is past the count (3 shards)"),
            "{err}"
        );
    }

    #[test]
    fn gitlab_parallel_jobs_count_from_one() {
        let job = |i: &str| shard(&[("CI_NODE_INDEX", i), ("CI_NODE_TOTAL", "2")]);
        assert_eq!(["1", "2"].map(job), ["1/2", "2/2"]);
        assert!(env(&[("CI_NODE_INDEX", "0"), ("CI_NODE_TOTAL", "2")])
            .unwrap_err()
            .contains("counts from 1"));
        assert!(env(&[("CI_NODE_INDEX", "3"), ("CI_NODE_TOTAL", "2")]).is_err());
    }

    #[test]
    fn variables_set_by_hand_or_a_github_matrix_count_from_one_and_come_first() {
        let github = [("FAILOVER_SHARD_INDEX", "4"), ("FAILOVER_SHARD_COUNT", "4")];
        assert_eq!(shard(&github), "4/4");
        // They win over every engine's own variables.
        let everywhere = [
            ("FAILOVER_SHARD_INDEX", "2"),
            ("FAILOVER_SHARD_COUNT", "5"),
            ("SLURM_ARRAY_TASK_ID", "0"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("JOB_COMPLETION_INDEX", "0"),
            ("CI_NODE_INDEX", "1"),
            ("CI_NODE_TOTAL", "2"),
        ];
        assert_eq!(shard(&everywhere), "2/5");
        // Then Slurm, then Kubernetes, then GitLab.
        assert_eq!(shard(&everywhere[2..]), "1/4");
        assert_eq!(
            shard(&[
                ("JOB_COMPLETION_INDEX", "1"),
                ("FAILOVER_SHARD_COUNT", "3"),
                ("CI_NODE_INDEX", "1"),
                ("CI_NODE_TOTAL", "2"),
            ]),
            "2/3"
        );
        assert!(
            env(&[("FAILOVER_SHARD_INDEX", "0"), ("FAILOVER_SHARD_COUNT", "4")])
                .unwrap_err()
                .contains("counts from 1")
        );
        assert!(
            env(&[("FAILOVER_SHARD_INDEX", "x"), ("FAILOVER_SHARD_COUNT", "4")])
                .unwrap_err()
                .contains("FAILOVER_SHARD_INDEX=\"x\" is not a whole number")
        );
        assert!(env(&[("FAILOVER_SHARD_INDEX", "1")])
            .unwrap_err()
            .contains("FAILOVER_SHARD_COUNT is not set"));
        assert!(env(&[("FAILOVER_SHARD_COUNT", "4")])
            .unwrap_err()
            .contains("no index"));
    }

    #[test]
    fn no_engine_names_every_variable_looked_for() {
        let err = env(&[("PATH", "/bin")]).unwrap_err();
        for name in [
            "FAILOVER_SHARD_INDEX",
            "FAILOVER_SHARD_COUNT",
            "SLURM_ARRAY_TASK_ID",
            "JOB_COMPLETION_INDEX",
            "CI_NODE_INDEX",
            "CI_NODE_TOTAL",
        ] {
            assert!(err.contains(name), "{name} not in: {err}");
        }
    }
}
