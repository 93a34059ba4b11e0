//! Sweeps as CI runs them: results that do not depend on the number of jobs, shards that
//! merge back into the whole, determinism checked seed by seed in a second process, JSON and
//! JUnit files that other tools read.

use failover_sim::builtin;
use failover_sim::results::{self, Header, Junit, Line, SeedLine};
use failover_sim::sweep::{sweep, Outcome, Seeds, Shard, SweepOptions, Twin};

fn outcomes(name: &str, seeds: &str, jobs: usize, shard: &str, check: bool) -> Vec<Outcome> {
    let scenario = builtin::resolve(name).unwrap();
    let mut out = Vec::new();
    // The second process is this build's failover-sim, as the command line starts it.
    let twin = check.then(|| {
        let digest = results::digest(&scenario);
        Twin::new(
            env!("CARGO_BIN_EXE_failover-sim"),
            ["twin", name, "--digest", &digest],
        )
    });
    let options = SweepOptions {
        jobs,
        shard: shard.parse().unwrap(),
        twin,
        first_failure: false,
    };
    sweep(&scenario, seeds.parse().unwrap(), options, |o| out.push(o)).unwrap();
    out
}

fn key(o: &Outcome) -> (u64, String, Vec<&'static str>) {
    (
        o.seed,
        o.hash.clone(),
        o.violations.iter().map(|v| v.invariant).collect(),
    )
}

#[test]
fn results_do_not_depend_on_the_number_of_jobs() {
    let one: Vec<_> = outcomes("swarm-two-nodes", "1..=120", 1, "1/1", false)
        .iter()
        .map(key)
        .collect();
    let four: Vec<_> = outcomes("swarm-two-nodes", "1..=120", 4, "1/1", false)
        .iter()
        .map(key)
        .collect();
    assert_eq!(one.len(), 120);
    assert_eq!(one, four, "same seeds, same order, same traces");
}

#[test]
fn the_shards_of_a_sweep_together_are_the_sweep() {
    let whole: Vec<_> = outcomes("classic-split-brain", "1..=90", 2, "1/1", false)
        .iter()
        .map(key)
        .collect();
    let mut parts: Vec<_> = (1..=3)
        .flat_map(|k| outcomes("classic-split-brain", "1..=90", 2, &format!("{k}/3"), false))
        .map(|o| key(&o))
        .collect();
    parts.sort();
    assert_eq!(parts, whole);
}

#[test]
fn the_swarm_scenarios_pass_many_seeds_and_replay_exactly() {
    for name in ["swarm-two-nodes", "swarm-three-nodes"] {
        let failed: Vec<String> = outcomes(name, "1..=400", 2, "1/1", true)
            .iter()
            .filter(|o| !o.violations.is_empty())
            .map(|o| format!("seed {}: {:?}", o.seed, o.violations))
            .collect();
        assert!(failed.is_empty(), "{name}:\n{}", failed.join("\n"));
    }
}

#[test]
fn a_sweep_finds_classic_modes_split_brain() {
    let found = outcomes("classic-split-brain", "1..=100", 2, "1/1", false)
        .into_iter()
        .filter(|o| o.violations.iter().any(|v| v.invariant == "split-brain"))
        .count();
    assert!(
        found > 10,
        "cutting both links must split the brain often: {found} of 100"
    );
}

/// Results files of `count` shards, as `sweep --json` writes them.
fn shard_files(count: u64, skip: Option<u64>) -> Vec<(String, String)> {
    let scenario = builtin::resolve("classic-split-brain").unwrap();
    let seeds: Seeds = "1..=60".parse().unwrap();
    (1..=count)
        .filter(|&k| Some(k) != skip)
        .map(|k| {
            let shard = Shard { index: k, count };
            let mut text = serde_json::to_string(&Line::Sweep(Header::new(
                &scenario,
                "classic-split-brain",
                seeds,
                shard,
            )))
            .unwrap()
                + "\n";
            for o in outcomes(
                "classic-split-brain",
                "1..=60",
                1,
                &shard.to_string(),
                false,
            ) {
                text += &(serde_json::to_string(&Line::Seed(SeedLine::new(&o))).unwrap() + "\n");
            }
            (format!("shard-{k}.json"), text)
        })
        .collect()
}

#[test]
fn merge_puts_shards_back_together_and_says_what_is_missing() {
    let merged = results::merge(&shard_files(3, None)).unwrap();
    assert_eq!(merged.len(), 1);
    assert_eq!(
        merged[0].seeds.keys().copied().collect::<Vec<_>>(),
        (1..=60).collect::<Vec<_>>()
    );
    assert!(merged[0].missing().is_empty());

    assert!(merged[0].complete());

    let partial = results::merge(&shard_files(3, Some(2))).unwrap();
    assert_eq!(partial[0].missing(), vec![2]);
    assert_eq!(partial[0].problems(), vec!["shard(s) 2 of 3 missing"]);

    let mut twice = shard_files(3, None);
    let again = ("again/shard-1.json".to_string(), twice[0].1.clone());
    twice.push(again);
    let merged = results::merge(&twice).unwrap();
    assert_eq!(
        merged[0].problems(),
        vec!["shard 1/3 given twice: in shard-1.json and again/shard-1.json"]
    );
    assert_eq!(merged[0].seeds.len(), 60, "the first file's seeds, once");

    let err = results::merge(&[("x.json".into(), "{\"type\":\"seed\"}\n".into())]).unwrap_err();
    assert!(err.starts_with("x.json:1:"), "{err}");
    let err = results::merge(&[("empty.json".into(), String::new())]).unwrap_err();
    assert_eq!(
        err,
        "empty.json: empty, not a results file (a shard killed before it wrote anything?)"
    );
    let err =
        results::merge(&[("x.json".into(), "{\"type\":\"sweep\",\"scen".into())]).unwrap_err();
    assert!(
        err.starts_with("x.json: cut short before its header line ended"),
        "{err}"
    );
}

#[test]
fn merge_says_which_shard_was_cut_short() {
    let mut files = shard_files(2, None);
    // A job killed while writing: its last seeds never made it to the file, and the one it
    // was writing stops mid-line.
    let text = &mut files[1].1;
    let kept: Vec<&str> = text.lines().take(21).collect();
    let half = &text.lines().nth(21).unwrap()[..30];
    *text = kept.join("\n") + "\n" + half;
    let merged = results::merge(&files).unwrap();
    assert_eq!(
        merged[0].problems(),
        vec!["shard-2.json: shard 2/2 has 20 of its 30 seeds (cut short?)"]
    );
    // A line that does not parse elsewhere is an error naming it.
    files[1].1 = files[1].1.replacen("\n", "\n#\n", 1);
    let err = results::merge(&files).unwrap_err();
    assert!(err.starts_with("shard-2.json:2: "), "{err}");
}

#[test]
fn merge_refuses_shards_of_another_version_of_the_scenario() {
    let mut files = shard_files(3, None);
    let header = files[2].1.lines().next().unwrap().to_string();
    let mut line: Line = serde_json::from_str(&header).unwrap();
    let Line::Sweep(h) = &mut line else {
        panic!("{header}")
    };
    let digest = h.digest.clone();
    h.digest = "0123456789abcdef".into();
    files[2].1 = files[2]
        .1
        .replacen(&header, &serde_json::to_string(&line).unwrap(), 1);
    let err = results::merge(&files).unwrap_err();
    assert_eq!(
        err,
        format!(
            "shard-3.json:1: scenario `classic-split-brain` has digest 0123456789abcdef here \
             but {digest} in shard-1.json: the shards ran different versions of it and cannot \
             be merged"
        )
    );
}

#[test]
fn merge_refuses_a_seed_that_is_not_its_shards() {
    let mut files = shard_files(3, None);
    // Shard 1/3 of 1..=60 holds 1, 4, 7, ...: seed 2 is shard 2's.
    files[0].1 = files[0].1.replacen(
        "{\"type\":\"seed\",\"seed\":1,",
        "{\"type\":\"seed\",\"seed\":2,",
        1,
    );
    let err = results::merge(&files).unwrap_err();
    assert_eq!(
        err,
        "shard-1.json:2: seed 2 is not one of shard 1/3 of 1..61"
    );
}

#[test]
fn merge_reads_files_of_several_sections() {
    // One file with both halves of a sweep, as `merge --json` of two sweeps or `run --json`
    // writes several.
    let files = shard_files(2, None);
    let one = vec![("both.json".to_string(), files[0].1.clone() + &files[1].1)];
    let merged = results::merge(&one).unwrap();
    assert!(merged[0].complete(), "{:?}", merged[0].problems());
    assert_eq!(merged[0].seeds.len(), 60);
}

#[test]
fn junit_lists_each_failing_seed_with_its_replay_command() {
    let merged = results::merge(&shard_files(1, None)).unwrap();
    let m = &merged[0];
    let failed: Vec<&SeedLine> = m.seeds.values().filter(|s| !s.passed()).collect();
    let xml = results::junit([Junit {
        header: &m.header,
        passed: (m.seeds.len() - failed.len()) as u64,
        failed: failed.clone(),
    }]);
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let failures: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .collect();
    assert_eq!(failures.len(), failed.len());
    let first = failures[0].text().unwrap();
    assert!(
        first.contains(&format!(
            "failover-sim replay classic-split-brain --seed {} --trace",
            failed[0].seed
        )),
        "{first}"
    );
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(
        suite.attribute("failures"),
        Some(failed.len().to_string().as_str())
    );
}

#[test]
fn a_second_process_that_disagrees_is_nondeterminism_of_each_seed() {
    // A second process running another scenario stands in for one whose runs differ: every
    // seed's trace differs, and each is reported with its seed.
    let scenario = builtin::resolve("swarm-two-nodes").unwrap();
    let other = builtin::resolve("swarm-three-nodes").unwrap();
    let twin = Twin::new(
        env!("CARGO_BIN_EXE_failover-sim"),
        [
            "twin",
            "swarm-three-nodes",
            "--digest",
            &results::digest(&other),
        ],
    );
    let options = SweepOptions {
        jobs: 2,
        shard: Shard::default(),
        twin: Some(twin),
        first_failure: false,
    };
    let mut out = Vec::new();
    sweep(&scenario, "1..=6".parse().unwrap(), options, |o| {
        out.push(o)
    })
    .unwrap();
    assert_eq!(out.len(), 6);
    for o in &out {
        let v = (o.violations.iter())
            .find(|v| v.invariant == "nondeterminism")
            .unwrap_or_else(|| panic!("seed {}: {:?}", o.seed, o.violations));
        assert!(
            v.detail
                .starts_with(&format!("trace hash {} in one process", o.hash)),
            "{}",
            v.detail
        );
    }
}

#[test]
fn a_second_process_that_fails_stops_the_sweep_with_the_reason() {
    let scenario = builtin::resolve("swarm-two-nodes").unwrap();
    let refused = Twin::new(
        env!("CARGO_BIN_EXE_failover-sim"),
        ["twin", "swarm-two-nodes", "--digest", "not-its-digest"],
    );
    let options = SweepOptions {
        jobs: 1,
        shard: Shard::default(),
        twin: Some(refused),
        first_failure: false,
    };
    let err = sweep(&scenario, "1..=3".parse().unwrap(), options, |_| {}).unwrap_err();
    let err = err.to_string();
    assert!(
        err.starts_with("--check-determinism: the second process failed at seed 1")
            && err.contains("exit status: 2"),
        "{err}"
    );
}
