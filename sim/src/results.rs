//! Sweep results as files: JSON lines that shards write and `failover-sim merge` combines, and
//! JUnit XML that CI systems show natively.
//!
//! A results file holds one section per sweep: a [`Header`] line naming the scenario (with a
//! digest of it, so shards of different versions are never merged), the seed range, the
//! shard and the engine; then one [`SeedLine`] per seed, in seed order; `sweep` ends its
//! section with a [`CoverageLine`] (what its seeds reached of the protocol), which `merge`
//! works out again from the seeds' own. `sweep --json` writes one section, `run --json` one
//! per scenario, `merge --json` one per sweep it put together.

use crate::check::Figures;
use crate::scenario::Scenario;
use crate::sweep::{Outcome, Seeds, Shard};
use crate::trace::TraceHash;
use failover_core::Coverage;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// One line of a results file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Line {
    /// What the file is about.
    Sweep(Header),
    /// One seed's outcome.
    Seed(SeedLine),
    /// What a sweep's seeds reached of the protocol, after them.
    Coverage(CoverageLine),
}

/// The coverage of the protocol a sweep reached: the union of its seeds' (see
/// [`failover_core::coverage`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageLine {
    /// Points reached.
    pub reached: usize,
    /// Points there are.
    pub total: usize,
    /// The points no seed reached, by name.
    pub unreached: Vec<String>,
}

impl CoverageLine {
    /// The line for a sweep whose seeds reached `coverage` together.
    pub fn of(coverage: &Coverage) -> CoverageLine {
        CoverageLine {
            reached: coverage.count(),
            total: failover_core::coverage::POINTS,
            unreached: coverage.unreached().map(|p| p.to_string()).collect(),
        }
    }
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
    /// The engine that ran it (`sim` unless `run --engine` said otherwise).
    #[serde(default = "sim")]
    pub engine: String,
}

fn sim() -> String {
    "sim".into()
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
    /// The trace hash (empty under engines that keep no trace).
    pub trace_hash: String,
    /// What the nodes went through, as [`Coverage::to_hex`] writes it (empty under engines
    /// that record none).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub coverage: String,
    /// The command that replays this run when it is not the header's for the seed: a
    /// guided sweep's mutated run, replayed from the scenario file it wrote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<String>,
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
            engine: sim(),
        }
    }

    /// The command that replays `seed` of this scenario: `replay --trace` under the
    /// simulator, `run --seed --engine` under another engine.
    pub fn replay(&self, seed: u64) -> String {
        match self.engine.as_str() {
            "sim" => format!("failover-sim replay {} --seed {seed} --trace", self.source),
            engine => format!(
                "failover-sim run {} --seed {seed} --engine {engine}",
                self.source
            ),
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
            coverage: match outcome.coverage == Coverage::default() {
                true => String::new(),
                false => outcome.coverage.to_hex(),
            },
            replay: None,
        }
    }

    /// What the run went through, if its line says.
    pub fn coverage(&self) -> Option<Coverage> {
        Coverage::from_hex(&self.coverage)
    }

    /// The command that replays this seed of the sweep `header` describes.
    pub fn replay_command(&self, header: &Header) -> String {
        (self.replay.clone()).unwrap_or_else(|| header.replay(self.seed))
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
    /// The header, as the first shard gave it.
    pub header: Header,
    /// How many shards the sweep was split into.
    pub count: u64,
    /// The files each shard came from, by index; more than one means it was given twice
    /// (only the first file's seeds are kept).
    pub shards: BTreeMap<u64, Vec<String>>,
    /// Seeds in order.
    pub seeds: BTreeMap<u64, SeedLine>,
    /// Shards whose file stops short: (file, shard, seeds in it, seeds the shard has).
    pub short: Vec<(String, Shard, u64, u64)>,
}

impl Merged {
    /// What the seeds reached of the protocol together, if they say (a simulator's sweep).
    pub fn coverage(&self) -> Option<Coverage> {
        let mut seeds = self
            .seeds
            .values()
            .filter_map(SeedLine::coverage)
            .peekable();
        seeds.peek()?;
        Some(seeds.fold(Coverage::default(), |mut all, c| {
            all.union(&c);
            all
        }))
    }

    /// Shards the files did not cover.
    pub fn missing(&self) -> Vec<u64> {
        (1..=self.count)
            .filter(|k| !self.shards.contains_key(k))
            .collect()
    }

    /// Whether every shard is there once and whole.
    pub fn complete(&self) -> bool {
        self.problems().is_empty()
    }

    /// What keeps the sweep from being whole, one sentence each: shards missing, given in
    /// more than one file, or cut short.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let missing = self.missing();
        if !missing.is_empty() {
            let list: Vec<String> = missing.iter().map(u64::to_string).collect();
            problems.push(format!(
                "shard(s) {} of {} missing",
                list.join(", "),
                self.count
            ));
        }
        for (k, files) in &self.shards {
            if files.len() > 1 {
                problems.push(format!(
                    "shard {k}/{} given twice: in {}",
                    self.count,
                    files.join(" and ")
                ));
            }
        }
        for (file, shard, has, wants) in &self.short {
            problems.push(format!(
                "{file}: shard {shard} has {has} of its {wants} seeds (cut short?)"
            ));
        }
        problems
    }
}

/// The sweep a section belongs to: its scenario, seed range and engine.
type Key = (String, String, String);

/// One section of a file being read: its sweep, shard, whether its seeds are kept, and how
/// many it has.
struct Section {
    key: Key,
    seeds: Seeds,
    shard: Shard,
    kept: bool,
    read: u64,
}

/// Combines results files into one [`Merged`] per sweep (scenario, seed range and engine).
/// `files` are (name, text). Refused, with the file and line: a file that is not results, a
/// shard of another version of a scenario (another digest) or of another split, a seed that
/// is not its shard's or comes twice. Shards missing, given twice or cut short (fewer seeds
/// than the shard has, or a last line left unended) are reported by [`Merged::problems`].
pub fn merge(files: &[(String, String)]) -> Result<Vec<Merged>, String> {
    let mut sweeps: BTreeMap<Key, Merged> = BTreeMap::new();
    for (name, text) in files {
        let mut section: Option<Section> = None;
        // A writer killed mid-way leaves its last line unended: that line is not read, and
        // its shard is reported cut short.
        let unended = (!text.is_empty() && !text.ends_with('\n')).then(|| text.lines().count());
        for (i, l) in text.lines().enumerate() {
            if l.trim().is_empty() {
                continue;
            }
            let at = format!("{name}:{}", i + 1);
            let line = match serde_json::from_str::<Line>(l) {
                Ok(line) => line,
                Err(_) if unended == Some(i + 1) => break,
                Err(e) => return Err(format!("{at}: {e}")),
            };
            match line {
                Line::Sweep(header) => {
                    if let Some(done) = section.take() {
                        close(name, done, &mut sweeps);
                    }
                    section = Some(open(&at, name, header, &mut sweeps)?);
                }
                Line::Seed(line) => {
                    let Some(s) = section.as_mut() else {
                        return Err(format!("{at}: not a results file (no sweep header)"));
                    };
                    if !s.kept {
                        continue;
                    }
                    let seed = line.seed;
                    if !s.shard.contains(s.seeds, seed) {
                        return Err(format!(
                            "{at}: seed {seed} is not one of shard {} of {}",
                            s.shard, s.seeds
                        ));
                    }
                    let merged = sweeps.get_mut(&s.key).expect("opened");
                    if merged.seeds.insert(seed, line).is_some() {
                        return Err(format!("{at}: seed {seed} given twice"));
                    }
                    s.read += 1;
                }
                // Worked out again from the seeds' own.
                Line::Coverage(_) => {}
            }
        }
        match section {
            Some(done) => close(name, done, &mut sweeps),
            None if unended.is_some() => {
                return Err(format!(
                    "{name}: cut short before its header line ended (a shard killed as it \
                     started?): which shard it was is unknown"
                ))
            }
            None if text.is_empty() => {
                return Err(format!(
                    "{name}: empty, not a results file (a shard killed before it wrote \
                     anything?)"
                ))
            }
            None => return Err(format!("{name}: not a results file (no sweep header)")),
        }
    }
    Ok(sweeps.into_values().collect())
}

/// Starts a section of file `name` at `at`: finds its sweep, refusing another digest or
/// another split, and notes a shard given twice.
fn open(
    at: &str,
    name: &str,
    header: Header,
    sweeps: &mut BTreeMap<Key, Merged>,
) -> Result<Section, String> {
    let shard: Shard = (header.shard.parse()).map_err(|e| format!("{at}: shard {e}"))?;
    let seeds: Seeds = (header.seeds.parse()).map_err(|e| format!("{at}: seeds {e}"))?;
    let key = (
        header.scenario.clone(),
        header.seeds.clone(),
        header.engine.clone(),
    );
    let merged = sweeps.entry(key.clone()).or_insert_with(|| Merged {
        header: header.clone(),
        count: shard.count,
        shards: BTreeMap::new(),
        seeds: BTreeMap::new(),
        short: Vec::new(),
    });
    let first = || (merged.shards.values().flatten().next().cloned()).unwrap_or_default();
    if merged.header.digest != header.digest {
        return Err(format!(
            "{at}: scenario `{}` has digest {} here but {} in {}: the shards ran different \
             versions of it and cannot be merged",
            header.scenario,
            header.digest,
            merged.header.digest,
            first()
        ));
    }
    if merged.count != shard.count {
        return Err(format!(
            "{at}: shard {shard} of a sweep split {} ways in {}",
            merged.count,
            first()
        ));
    }
    let files = merged.shards.entry(shard.index).or_default();
    files.push(name.to_string());
    Ok(Section {
        key,
        seeds,
        shard,
        kept: files.len() == 1,
        read: 0,
    })
}

/// Ends a section: a kept shard with fewer seeds than it has was cut short.
fn close(name: &str, s: Section, sweeps: &mut BTreeMap<Key, Merged>) {
    let wants = s.shard.len(s.seeds);
    if s.kept && s.read < wants {
        let merged = sweeps.get_mut(&s.key).expect("opened");
        merged
            .short
            .push((name.to_string(), s.shard, s.read, wants));
    }
}

/// One failing seed as a JUnit failure's text: every violation, then the replay command.
fn failure_text(header: &Header, s: &SeedLine) -> String {
    let mut text: Vec<String> = (s.violations.iter())
        .map(|v| format!("seed {}: {}: {}", s.seed, v.invariant, v.detail))
        .collect();
    text.push(format!("  replay: {}", s.replay_command(header)));
    text.join("\n")
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
            status.set_description(failure_text(header, s));
            let mut case = TestCase::new(format!("seed {}", s.seed), status);
            case.set_classname(header.scenario.as_str());
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    report.to_string().expect("JUnit XML serializes")
}

/// One scenario of `failover-sim run` in its JUnit report.
pub enum RunCase<'a> {
    /// It ran: its header, its seeds and how long they took.
    Ran {
        /// The scenario's header (its source names the file a replay needs).
        header: &'a Header,
        /// Every seed's line.
        seeds: &'a [SeedLine],
        /// Wall time of all its seeds.
        time: Duration,
    },
    /// The engine cannot run it.
    Skipped {
        /// Scenario name.
        scenario: &'a str,
        /// Where it came from (its file, or its built-in name).
        source: &'a str,
        /// Why not.
        why: &'a str,
    },
}

/// JUnit XML for `failover-sim run`: one suite, a test case per scenario, failing when any
/// seed fails, with every failing seed's violations and replay command; scenarios the engine
/// cannot run are skipped cases saying why.
pub fn junit_run(engine: &str, cases: &[RunCase<'_>]) -> String {
    let mut report = Report::new("failover-sim");
    let mut suite = TestSuite::new(format!("failover-sim run ({engine})"));
    for case in cases {
        let case = match case {
            RunCase::Ran {
                header,
                seeds,
                time,
            } => {
                let failed: Vec<&SeedLine> = seeds.iter().filter(|s| !s.passed()).collect();
                let status = match failed.first() {
                    None => TestCaseStatus::success(),
                    Some(first) => {
                        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                        let v = &first.violations[0];
                        status.set_message(format!(
                            "{} of {} seeds failed; seed {}: {}: {}",
                            failed.len(),
                            seeds.len(),
                            first.seed,
                            v.invariant,
                            v.detail
                        ));
                        status.set_type(v.invariant.as_str());
                        let text: Vec<String> =
                            failed.iter().map(|s| failure_text(header, s)).collect();
                        status.set_description(text.join("\n"));
                        status
                    }
                };
                let mut case = TestCase::new(header.scenario.as_str(), status);
                case.set_classname(header.source.as_str());
                case.set_time(*time);
                case
            }
            RunCase::Skipped {
                scenario,
                source,
                why,
            } => {
                let mut status = TestCaseStatus::skipped();
                status.set_message(*why);
                let mut case = TestCase::new(*scenario, status);
                case.set_classname(*source);
                case
            }
        };
        suite.add_test_case(case);
    }
    report.add_test_suite(suite);
    report.to_string().expect("JUnit XML serializes")
}
