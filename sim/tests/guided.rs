//! Coverage of the protocol and coverage-guided sweeps: what a run's nodes went through is
//! recorded, and the same for a seed every time; a sweep names the points its seeds never
//! reached; a guided sweep is the same whatever the number of jobs, and every failure it
//! finds replays exactly from the command it prints.

use failover_core::coverage::{Point, Single, POINTS};
use failover_core::{Coverage, Role};
use failover_sim::results::{self, Header, Line, SeedLine};
use failover_sim::sweep::{guided, sweep, Mutant, Outcome, Seeds, Shard, SweepOptions};
use failover_sim::{builtin, run, Options};
use std::process::{Command, Output};

const FAILOVER_SIM: &str = env!("CARGO_BIN_EXE_failover-sim");

fn failover_sim(args: &[&str]) -> Output {
    Command::new(FAILOVER_SIM).args(args).output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn options(jobs: usize, first_failure: bool) -> SweepOptions {
    SweepOptions {
        jobs,
        shard: Shard::default(),
        twin: None,
        first_failure,
    }
}

fn coverage_of(name: &str, seed: u64) -> Coverage {
    let scenario = builtin::resolve(name).unwrap();
    run(&scenario, seed, &Options::default()).unwrap().coverage
}

#[test]
fn a_run_records_what_its_nodes_went_through_the_same_every_time() {
    let crash = coverage_of("master-crash", 3);
    assert_eq!(
        crash,
        coverage_of("master-crash", 3),
        "same seed, same points"
    );
    for p in [
        Point::from(Single::TakeoverBegins),
        Single::TakeoverAll.into(),
        Point::transition(Role::Backup, Role::Acquiring).unwrap(),
        Point::transition(Role::Acquiring, Role::Master).unwrap(),
        Point::role(Role::Master),
    ] {
        assert!(crash.contains(p), "a failover reaches `{p}`");
    }
    assert!(!crash.contains(Single::VetoTakeover));
    // Another situation, other points: a Test hook that says no.
    let veto = coverage_of("hook-veto", 1);
    assert!(veto.contains(Single::VetoTakeover));
    assert!(veto.contains(Single::BackoffBegins));
    // Restarts count: a crashed node's daemon is gone by the end, what it did is not.
    let restart = coverage_of("master-restart-failback", 1);
    assert!(
        restart.contains(Single::ReleaseHandBack),
        "the hand-back after the restart"
    );
    assert!(restart.contains(Single::PeerNewEpoch));
}

#[test]
fn a_sweep_names_the_points_its_seeds_never_reached() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("sweep.json");
    let json = json.to_str().unwrap();
    let out = failover_sim(&[
        "sweep",
        "swarm-two-nodes",
        "--seeds",
        "1..=12",
        "--json",
        json,
    ]);
    assert!(out.status.success(), "{}", stdout(&out));
    let text = stdout(&out);
    let lines: Vec<Line> = (std::fs::read_to_string(json).unwrap().lines())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut union = Coverage::default();
    for l in &lines {
        if let Line::Seed(s) = l {
            union.union(&s.coverage().expect("every seed says what it reached"));
        }
    }
    let Some(Line::Coverage(c)) = lines.last() else {
        panic!("the results end with the sweep's coverage: {lines:?}");
    };
    assert_eq!(c.total, POINTS);
    assert_eq!(c.reached, union.count());
    assert_eq!(c.reached + c.unreached.len(), c.total);
    // This swarm has no operator: no node is ever asked for standby.
    let standby = Point::requested(&failover_core::Request::Standby).to_string();
    assert!(c.unreached.contains(&standby), "{:?}", c.unreached);
    assert!(!c
        .unreached
        .contains(&Point::from(Single::TakeoverBegins).to_string()));
    let said = format!(
        "coverage of the protocol: {} of {POINTS} points reached; never reached ({}):",
        c.reached,
        c.unreached.len()
    );
    assert!(text.contains(&said), "{text}");
    assert!(text.contains(&format!("\n  {standby}\n")), "{text}");
}

#[test]
fn shards_merged_reach_what_the_whole_sweep_reached() {
    let scenario = builtin::resolve("swarm-three-nodes").unwrap();
    let seeds: Seeds = "1..=24".parse().unwrap();
    let mut whole = Coverage::default();
    sweep(&scenario, seeds, options(2, false), |o| {
        whole.union(&o.coverage)
    })
    .unwrap();
    let files: Vec<(String, String)> = (1..=2)
        .map(|k| {
            let shard = Shard { index: k, count: 2 };
            let mut text = serde_json::to_string(&Line::Sweep(Header::new(
                &scenario,
                "swarm-three-nodes",
                seeds,
                shard,
            )))
            .unwrap();
            let opts = SweepOptions {
                shard,
                ..options(1, false)
            };
            sweep(&scenario, seeds, opts, |o| {
                text += &format!(
                    "\n{}",
                    serde_json::to_string(&Line::Seed(SeedLine::new(&o))).unwrap()
                );
            })
            .unwrap();
            (format!("shard-{k}.json"), text + "\n")
        })
        .collect();
    let merged = results::merge(&files).unwrap();
    assert_eq!(merged[0].coverage(), Some(whole));
}

#[test]
fn first_failure_stops_a_sweep_at_its_first_failing_seed() {
    let scenario = builtin::resolve("classic-split-brain").unwrap();
    let seeds: Seeds = "1..=60".parse().unwrap();
    let key = |o: &Outcome| (o.seed, o.hash.clone(), o.violations.len());
    let mut all = Vec::new();
    sweep(&scenario, seeds, options(2, false), |o| all.push(key(&o))).unwrap();
    let first = all
        .iter()
        .position(|o| o.2 > 0)
        .expect("a failing seed in 60");
    let mut cut = Vec::new();
    sweep(&scenario, seeds, options(2, true), |o| cut.push(key(&o))).unwrap();
    assert_eq!(cut, all[..=first]);
}

/// Every run of a guided sweep: (slot, trace hash, violations, the mutant it was).
fn guided_runs(
    name: &str,
    seeds: &str,
    jobs: usize,
) -> Vec<(u64, String, Vec<&'static str>, Option<Mutant>)> {
    let scenario = builtin::resolve(name).unwrap();
    let mut runs = Vec::new();
    guided(
        &scenario,
        seeds.parse().unwrap(),
        &options(jobs, false),
        |o, m| {
            let broken = o.violations.iter().map(|v| v.invariant).collect();
            runs.push((o.seed, o.hash, broken, m.cloned()));
        },
    )
    .unwrap();
    runs
}

#[test]
fn a_guided_sweep_is_the_same_whatever_the_number_of_jobs() {
    let one = guided_runs("classic-split-brain", "1..=100", 1);
    assert_eq!(one, guided_runs("classic-split-brain", "1..=100", 3));
    assert_eq!(
        one.iter().map(|r| r.0).collect::<Vec<_>>(),
        (1..=100).collect::<Vec<_>>(),
        "a run per seed, in order"
    );
    let mutants = one.iter().filter(|r| r.3.is_some()).count();
    assert!(
        mutants > 50,
        "most runs mutate earlier ones: {mutants} of 100"
    );
    // Another range, another sweep.
    assert_ne!(one, guided_runs("classic-split-brain", "101..=200", 2));
}

#[test]
fn each_failure_of_a_guided_sweep_replays_exactly_from_the_command_it_prints() {
    let dir = tempfile::tempdir().unwrap();
    let failures = dir.path().join("failures");
    let json = dir.path().join("guided.json");
    let out = failover_sim(&[
        "sweep",
        "classic-split-brain",
        "--guided",
        "--failures",
        failures.to_str().unwrap(),
        "--seeds",
        "1..=80",
        "--json",
        json.to_str().unwrap(),
    ]);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "it finds the split brain: {text}"
    );
    assert!(text.contains("guided by coverage: "), "{text}");
    let header = Header {
        source: "classic-split-brain".into(),
        ..Header::new(
            &builtin::resolve("classic-split-brain").unwrap(),
            "classic-split-brain",
            "1..=80".parse().unwrap(),
            Shard::default(),
        )
    };
    let failing: Vec<SeedLine> = (std::fs::read_to_string(&json).unwrap().lines())
        .filter_map(|l| match serde_json::from_str(l).unwrap() {
            Line::Seed(s) if !s.passed() => Some(s),
            _ => None,
        })
        .collect();
    let mutants = failing.iter().filter(|s| s.replay.is_some()).count();
    assert!(mutants > 0, "some failures are mutants: {failing:?}");
    for s in failing
        .iter()
        .filter(|s| s.replay.is_some())
        .take(4)
        .chain(failing.iter().filter(|s| s.replay.is_none()).take(1))
    {
        let command = s.replay_command(&header);
        assert!(text.contains(&command), "the report prints `{command}`");
        let words: Vec<&str> = command.split_whitespace().collect();
        assert_eq!(words[0], "failover-sim");
        let again = failover_sim(&words[1..]);
        let replay = stdout(&again);
        assert!(
            replay.contains(&format!("trace hash: {}", s.trace_hash)),
            "`{command}` replays seed {} exactly: {replay}",
            s.seed
        );
        for v in &s.violations {
            assert!(replay.contains(&v.invariant), "{}: {replay}", v.invariant);
        }
    }
}

#[test]
fn a_guided_sweep_needs_a_swarm_and_refuses_the_determinism_check() {
    let out = failover_sim(&["sweep", "master-crash", "--guided", "--seeds", "1..=4"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--guided needs a swarm scenario"), "{err}");
    let out = failover_sim(&[
        "sweep",
        "swarm-two-nodes",
        "--guided",
        "--check-determinism",
        "--seeds",
        "1..=4",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--guided with --check-determinism"), "{err}");
}
