//! Sweeps as CI runs them: results that do not depend on the number of jobs, shards that
//! merge back into the whole, determinism checked seed by seed, JSON and JUnit files that
//! other tools read.

use failover_sim::builtin;
use failover_sim::results::{self, Header, Junit, Line, SeedLine};
use failover_sim::sweep::{sweep, Outcome, Seeds, Shard, SweepOptions};

fn outcomes(name: &str, seeds: &str, jobs: usize, shard: &str, check: bool) -> Vec<Outcome> {
    let scenario = builtin::resolve(name).unwrap();
    let mut out = Vec::new();
    let options = SweepOptions {
        jobs,
        shard: shard.parse().unwrap(),
        check_determinism: check,
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

/// Results files of three shards, as `sweep --json` writes them.
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

    let partial = results::merge(&shard_files(3, Some(2))).unwrap();
    assert_eq!(partial[0].missing(), vec![2]);

    let mut twice = shard_files(3, None);
    twice.push(twice[0].clone());
    let err = results::merge(&twice).unwrap_err();
    assert!(err.contains("shard 1/3 given twice"), "{err}");

    let err = results::merge(&[("x.json".into(), "{\"type\":\"seed\"}\n".into())]).unwrap_err();
    assert!(err.starts_with("x.json:1:"), "{err}");
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
