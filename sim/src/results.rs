//! Sweep results as files: JSON lines that shards write and `failover-sim merge` combines, and
//! JUnit XML that CI systems show natively.
//!
//! A results file starts with a [`Header`] line naming the scenario (with a digest of its
//! text, so shards of different versions are never merged), the seed range and the shard;
//! then one [`SeedLine`] per seed, in seed order.

use crate::check::Figures;
use crate::scenario::Scenario;
use crate::sweep::{Outcome, Seeds, Shard};
use crate::trace::TraceHash;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One line of a results file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Line {
    /// What the file is about.
    Sweep(Header),
    /// One seed's outcome.
    Seed(SeedLine),
}

/// The first line of a results file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Scenario name.
    pub scenario: String,
    /// How the command line named it (a file or a built-in name): replay commands use it.
    pub source: String,
    /// A digest of the scenario as parsed: shards must agree on it.
    pub digest: String,
    /// The whole seed range of the sweep, e.g. `1..100001`.
    pub seeds: String,
    /// This file's slice of it, e.g. `3/8`.
    pub shard: String,
    /// The failover-sim version that ran it.
    pub version: String,
}

/// One seed's outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeedLine {
    /// The seed.
    pub seed: u64,
    /// `pass` or `fail`.
    pub verdict: String,
    /// Broken invariants.
    pub violations: Vec<Broken>,
    /// The run's figures.
    pub figures: Figures,
    /// The trace hash.
    pub trace_hash: String,
}

/// One broken invariant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Broken {
    /// Which.
    pub invariant: String,
    /// What happened.
    pub detail: String,
}

impl Header {
    /// The header of a sweep of `scenario` (named `source` on the command line).
    pub fn new(scenario: &Scenario, source: &str, seeds: Seeds, shard: Shard) -> Header {
        Header {
            scenario: scenario.name.clone(),
            source: source.to_string(),
            digest: digest(scenario),
            seeds: seeds.to_string(),
            shard: shard.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

impl SeedLine {
    /// The line for one outcome.
    pub fn new(outcome: &Outcome) -> SeedLine {
        SeedLine {
            seed: outcome.seed,
            verdict: if outcome.violations.is_empty() {
                "pass"
            } else {
                "fail"
            }
            .into(),
            violations: (outcome.violations.iter())
                .map(|v| Broken {
                    invariant: v.invariant.to_string(),
                    detail: v.detail.clone(),
                })
                .collect(),
            figures: outcome.figures.clone(),
            trace_hash: outcome.hash.clone(),
        }
    }

    /// Whether every invariant held.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

/// A stable digest of the scenario as parsed (not of its file's bytes: comments and layout
/// do not matter).
pub fn digest(scenario: &Scenario) -> String {
    let mut h = TraceHash::default();
    h.bytes(
        toml::to_string(scenario)
            .expect("scenarios serialize")
            .as_bytes(),
    );
    format!("{:016x}", h.finish())
}

/// Every seed of one sweep, gathered from one or more shard files.
#[derive(Debug)]
pub struct Merged {
    /// The header, as the first shard gave it (with `shard` "1/1" once complete).
    pub header: Header,
    /// Shards of `count` seen, by index.
    pub shards: BTreeSet<u64>,
    /// How many shards the sweep was split into.
    pub count: u64,
    /// Seeds in order.
    pub seeds: BTreeMap<u64, SeedLine>,
}

impl Merged {
    /// Shards the files did not cover.
    pub fn missing(&self) -> Vec<u64> {
        (1..=self.count)
            .filter(|k| !self.shards.contains(k))
            .collect()
    }
}

/// Combines results files into one [`Merged`] per sweep (scenario, digest and seed range),
/// refusing files that cannot belong together or repeat a seed. `files` are (name, text).
pub fn merge(files: &[(String, String)]) -> Result<Vec<Merged>, String> {
    let mut sweeps: BTreeMap<(String, String, String), Merged> = BTreeMap::new();
    for (name, text) in files {
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let parse = |(i, l): (usize, &str)| {
            serde_json::from_str::<Line>(l).map_err(|e| format!("{name}:{}: {e}", i + 1))
        };
        let header = match lines.next().map(parse).transpose()? {
            Some(Line::Sweep(h)) => h,
            _ => return Err(format!("{name}:1: not a results file (no sweep header)")),
        };
        let shard: Shard = header
            .shard
            .parse()
            .map_err(|e| format!("{name}:1: shard {e}"))?;
        let key = (
            header.scenario.clone(),
            header.digest.clone(),
            header.seeds.clone(),
        );
        let merged = sweeps.entry(key).or_insert_with(|| Merged {
            header: header.clone(),
            shards: BTreeSet::new(),
            count: shard.count,
            seeds: BTreeMap::new(),
        });
        if merged.count != shard.count {
            return Err(format!(
                "{name}: shard {shard} of a sweep split {} ways elsewhere",
                merged.count
            ));
        }
        if !merged.shards.insert(shard.index) {
            return Err(format!("{name}: shard {shard} given twice"));
        }
        for line in lines {
            let at = line.0 + 1;
            match parse(line)? {
                Line::Seed(s) => {
                    let seed = s.seed;
                    if merged.seeds.insert(seed, s).is_some() {
                        return Err(format!("{name}:{at}: seed {seed} given twice"));
                    }
                }
                Line::Sweep(_) => return Err(format!("{name}:{at}: a second sweep header")),
            }
        }
    }
    Ok(sweeps.into_values().collect())
}

/// One sweep's part of a JUnit report.
pub struct Junit<'a> {
    /// The sweep.
    pub header: &'a Header,
    /// How many seeds passed.
    pub passed: u64,
    /// The seeds that failed.
    pub failed: Vec<&'a SeedLine>,
}

/// JUnit XML for sweeps: one suite per scenario, one failing test case per failing seed (with
/// its violations and replay command), and one passing case for all the seeds that passed —
/// a sweep of a million seeds stays a file a CI system can show.
pub fn junit<'a>(sweeps: impl IntoIterator<Item = Junit<'a>>) -> String {
    let mut report = Report::new("failover-sim");
    for Junit {
        header,
        passed,
        failed,
    } in sweeps
    {
        let mut suite = TestSuite::new(header.scenario.as_str());
        let mut all = TestCase::new(
            format!(
                "{passed} seeds of {} (shard {}) passed",
                header.seeds, header.shard
            ),
            TestCaseStatus::success(),
        );
        all.set_classname(header.scenario.as_str());
        suite.add_test_case(all);
        for s in failed {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let first = &s.violations[0];
            status.set_message(format!("{}: {}", first.invariant, first.detail));
            status.set_type(first.invariant.as_str());
            let details: Vec<String> = (s.violations.iter())
                .map(|v| format!("{}: {}", v.invariant, v.detail))
                .collect();
            status.set_description(format!(
                "{}\nreplay: failover-sim replay {} --seed {} --trace",
                details.join("\n"),
                header.source,
                s.seed
            ));
            let mut case = TestCase::new(format!("seed {}", s.seed), status);
            case.set_classname(header.scenario.as_str());
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    report.to_string().expect("JUnit XML serializes")
}
