//! What a CI system gets from the command line: `run --junit/--json` (a test case per
//! scenario, its failing seeds with their replay commands), `sweep --shard auto` from an
//! engine's variables, `merge` of a directory or a glob, and `--check-determinism` with its
//! second processes.

use failover_sim::results::Line;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const FAILOVER_SIM: &str = env!("CARGO_BIN_EXE_failover-sim");
/// Every variable `--shard auto` reads: none may leak in from the test's environment.
const SHARD_VARIABLES: [&str; 10] = [
    "FAILOVER_SHARD_INDEX",
    "FAILOVER_SHARD_COUNT",
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_MIN",
    "SLURM_ARRAY_TASK_MAX",
    "SLURM_ARRAY_TASK_STEP",
    "SLURM_ARRAY_TASK_COUNT",
    "JOB_COMPLETION_INDEX",
    "CI_NODE_INDEX",
    "CI_NODE_TOTAL",
];

fn failover_sim(args: &[&str], vars: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(FAILOVER_SIM);
    cmd.args(args);
    for v in SHARD_VARIABLES {
        cmd.env_remove(v);
    }
    cmd.envs(vars.iter().map(|(k, v)| (k, v)));
    cmd.output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn scenarios() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn run_writes_a_junit_case_per_scenario_with_each_failing_seeds_replay() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("suite");
    std::fs::create_dir(&suite).unwrap();
    for file in ["suite/master-crash.toml", "hunt/classic-split-brain.toml"] {
        let from = scenarios().join(file);
        std::fs::copy(&from, suite.join(from.file_name().unwrap())).unwrap();
    }
    let (json, junit) = (dir.path().join("run.json"), dir.path().join("run.xml"));
    let out = failover_sim(
        &[
            "run",
            path(&suite),
            "--seeds",
            "10",
            "--json",
            path(&json),
            "--junit",
            path(&junit),
        ],
        &[],
    );
    // Classic mode splits the brain under the hunt's partitions: the run fails.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));

    // The JSON has a section per scenario, as a sweep of seeds 1..=10 writes it.
    let hunt = suite.join("classic-split-brain.toml");
    let sweep_json = dir.path().join("sweep.json");
    let out = failover_sim(
        &[
            "sweep",
            path(&hunt),
            "--seeds",
            "1..=10",
            "--json",
            path(&sweep_json),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let run_lines: Vec<String> = read(&json).lines().map(String::from).collect();
    assert_eq!(
        run_lines.len(),
        2 * 12,
        "two headers, ten seeds each and what they reached"
    );
    let sweep_lines: Vec<String> = read(&sweep_json).lines().map(String::from).collect();
    assert_eq!(
        run_lines[..12],
        sweep_lines[..],
        "classic-split-brain comes first"
    );
    let failing: Vec<u64> = (sweep_lines[1..].iter())
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["verdict"] == "fail")
        .map(|v| v["seed"].as_u64().unwrap())
        .collect();
    assert!(!failing.is_empty());

    let xml = read(&junit);
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let suites: Vec<_> = (doc.descendants())
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 1);
    assert_eq!(suites[0].attribute("name"), Some("failover-sim run (sim)"));
    assert_eq!(suites[0].attribute("tests"), Some("2"));
    assert_eq!(suites[0].attribute("failures"), Some("1"));
    let case = |name: &str| {
        (doc.descendants())
            .find(|n| n.has_tag_name("testcase") && n.attribute("name") == Some(name))
            .unwrap_or_else(|| panic!("no case {name} in {xml}"))
    };
    let passed = case("master-crash");
    assert!(!passed.children().any(|n| n.has_tag_name("failure")));
    let failed = case("classic-split-brain");
    assert_eq!(failed.attribute("classname"), Some(path(&hunt)));
    let failure = (failed.children())
        .find(|n| n.has_tag_name("failure"))
        .unwrap();
    assert!(
        (failure.attribute("message").unwrap()).starts_with(&format!(
            "{} of 10 seeds failed; seed {}: split-brain",
            failing.len(),
            failing[0]
        )),
        "{xml}"
    );
    for seed in &failing {
        let replay = format!("failover-sim replay {} --seed {seed} --trace", path(&hunt));
        assert!(
            failure.text().unwrap().contains(&replay),
            "{replay} not in {xml}"
        );
    }
    // The command given replays the seed: the same violation, the same trace.
    let first: serde_json::Value = (sweep_lines[1..].iter())
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["seed"] == failing[0])
        .unwrap();
    let replay = format!(
        "failover-sim replay {} --seed {} --trace",
        path(&hunt),
        failing[0]
    );
    let out = replayed(&replay);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("VIOLATION split-brain"), "{said}");
    assert!(
        said.contains(&format!(
            "trace hash: {}",
            first["trace_hash"].as_str().unwrap()
        )),
        "{said}"
    );

    // merge reads a run's results like a sweep's.
    let out = failover_sim(&["merge", path(&json)], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "20 seeds of 2 sweep(s) from 1 file(s); {} failed",
            failing.len()
        )),
        "{}",
        text(&out)
    );
}

/// Runs a replay command as written in a report (`failover-sim ...`) with this build.
fn replayed(command: &str) -> Output {
    let words: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(words[0], "failover-sim", "{command}");
    failover_sim(&words[1..], &[])
}

#[test]
fn a_replay_command_under_another_engine_runs_that_seed_of_a_built_in_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let out = failover_sim(
        &[
            "run",
            "master-crash",
            "--seed",
            "2",
            "--engine",
            "turmoil",
            "--json",
            path(&json),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let text_of = read(&json);
    let Line::Sweep(header) = serde_json::from_str(text_of.lines().next().unwrap()).unwrap() else {
        panic!("{text_of}")
    };
    assert_eq!(
        (header.source.as_str(), header.engine.as_str()),
        ("master-crash", "turmoil")
    );
    let command = header.replay(2);
    assert_eq!(
        command,
        "failover-sim run master-crash --seed 2 --engine turmoil"
    );
    let out = replayed(&command);
    assert!(out.status.success(), "{command}: {}", text(&out));
    assert!(
        text(&out).contains("1 runs of 1 scenario(s) under turmoil"),
        "{}",
        text(&out)
    );
}

#[test]
fn run_lists_the_scenarios_an_engine_cannot_run_as_skipped_cases() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("run.xml");
    let hunt = scenarios().join("hunt/classic-split-brain.toml");
    let out = failover_sim(
        &[
            "run",
            path(&hunt),
            "--seeds",
            "1",
            "--engine",
            "turmoil",
            "--junit",
            path(&junit),
        ],
        &[],
    );
    // Nothing could run: an error, and the report still says why.
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let xml = read(&junit);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let skipped = (doc.descendants())
        .find(|n| n.has_tag_name("skipped"))
        .unwrap_or_else(|| panic!("{xml}"));
    assert!(
        skipped
            .attribute("message")
            .unwrap()
            .contains("[swarm] draws faults per seed"),
        "{xml}"
    );
}

/// Runs shard `k` of 4 of a sweep as Slurm's task `k - 1` of `--array=0-3`, into `dir`.
fn slurm_task(dir: &Path, k: u64) -> Output {
    let file = dir.join(format!("shard-{k}.json"));
    let vars = [
        ("SLURM_ARRAY_TASK_ID", (k - 1).to_string()),
        ("SLURM_ARRAY_TASK_MIN", "0".into()),
        ("SLURM_ARRAY_TASK_MAX", "3".into()),
        ("SLURM_ARRAY_TASK_STEP", "1".into()),
        ("SLURM_ARRAY_TASK_COUNT", "4".into()),
    ];
    failover_sim(
        &[
            "sweep",
            "swarm-two-nodes",
            "--seeds",
            "1..=60",
            "--shard",
            "auto",
            "--json",
            path(&file),
        ],
        &vars,
    )
}

#[test]
fn shards_from_a_job_array_merge_from_their_directory_or_a_glob_into_the_whole_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let shards = dir.path().join("shards");
    std::fs::create_dir(&shards).unwrap();
    for k in 1..=4 {
        let out = slurm_task(&shards, k);
        assert!(out.status.success(), "{}", text(&out));
        assert!(
            text(&out).contains(&format!(
                "shard {k}/4 (Slurm job array: SLURM_ARRAY_TASK_ID={}",
                k - 1
            )),
            "{}",
            text(&out)
        );
    }
    let whole = dir.path().join("whole.json");
    let out = failover_sim(
        &[
            "sweep",
            "swarm-two-nodes",
            "--seeds",
            "1..=60",
            "--json",
            path(&whole),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));

    let glob = format!("{}/shard-*.json", path(&shards));
    for input in [path(&shards), glob.as_str()] {
        let merged = dir.path().join("merged.json");
        let out = failover_sim(&["merge", input, "--json", path(&merged)], &[]);
        assert!(out.status.success(), "{input}: {}", text(&out));
        assert!(text(&out).contains("60 seeds of 1 sweep(s) from 4 file(s); 0 failed"));
        assert_eq!(
            read(&merged),
            read(&whole),
            "{input}: the merge is the sweep, byte for byte"
        );
    }

    std::fs::remove_file(shards.join("shard-3.json")).unwrap();
    std::fs::copy(
        shards.join("shard-1.json"),
        shards.join("shard-1-again.json"),
    )
    .unwrap();
    let merged = dir.path().join("incomplete.json");
    let out = failover_sim(&["merge", path(&shards), "--json", path(&merged)], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("shard(s) 3 of 4 missing"), "{said}");
    assert!(
        said.contains(&format!(
            "shard 1/4 given twice: in {0}/shard-1-again.json and {0}/shard-1.json",
            path(&shards)
        )),
        "{said}"
    );
    assert!(
        !merged.exists(),
        "nothing is written for an incomplete sweep"
    );

    let out = failover_sim(
        &["merge", &format!("{}/nothing-*.json", path(&shards))],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("nothing-*.json: no file matches this pattern"));
}

#[test]
fn shard_auto_outside_any_engine_names_the_variables_it_looked_for() {
    let out = failover_sim(
        &[
            "sweep",
            "swarm-two-nodes",
            "--seeds",
            "10",
            "--shard",
            "auto",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let said = text(&out);
    for name in [
        "FAILOVER_SHARD_INDEX",
        "FAILOVER_SHARD_COUNT",
        "SLURM_ARRAY_TASK_ID",
        "JOB_COMPLETION_INDEX",
        "CI_NODE_INDEX",
        "CI_NODE_TOTAL",
    ] {
        assert!(said.contains(name), "{name} not in {said}");
    }
}

#[test]
fn check_determinism_runs_each_seed_in_a_second_process_and_passes_a_real_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let (checked, plain) = (
        dir.path().join("checked.json"),
        dir.path().join("plain.json"),
    );
    let out = failover_sim(
        &[
            "sweep",
            "swarm-three-nodes",
            "--seeds",
            "1..=150",
            "--jobs",
            "2",
            "--check-determinism",
            "--json",
            path(&checked),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("on 2 job(s), each seed also in a second process"),
        "{}",
        text(&out)
    );
    let out = failover_sim(
        &[
            "sweep",
            "swarm-three-nodes",
            "--seeds",
            "1..=150",
            "--json",
            path(&plain),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(read(&checked), read(&plain), "the check changes no result");
}

#[test]
fn merge_refuses_shards_that_ran_different_versions_of_a_scenario_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("crash.toml");
    let original = read(&scenarios().join("suite/master-crash.toml"));
    std::fs::write(&file, &original).unwrap();
    let shard = |k: u64| {
        let out = failover_sim(
            &[
                "sweep",
                path(&file),
                "--seeds",
                "1..=6",
                "--shard",
                &format!("{k}/2"),
                "--json",
                path(&dir.path().join(format!("shard-{k}.json"))),
            ],
            &[],
        );
        assert!(out.status.success(), "{}", text(&out));
    };
    shard(1);
    // Someone edits the scenario between the two shards: the master now dies later.
    let edited = original.replace("at = \"20s\"", "at = \"25s\"");
    assert_ne!(edited, original);
    std::fs::write(&file, edited).unwrap();
    shard(2);
    let merged = dir.path().join("merged.json");
    let out = failover_sim(
        &[
            "merge",
            &format!("{}/shard-*.json", path(dir.path())),
            "--json",
            path(&merged),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("the shards ran different versions of it and cannot be merged"),
        "{}",
        text(&out)
    );
    assert!(!merged.exists());
}

#[test]
fn merge_reports_a_shard_whose_sweep_was_killed_as_cut_short() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("killed.json");
    // A sweep far too long to end by itself, killed once some of its seeds are written.
    let mut sweep = Command::new(FAILOVER_SIM)
        .args([
            "sweep",
            "swarm-two-nodes",
            "--seeds",
            "1..=10000000",
            "--jobs",
            "1",
        ])
        .args(["--shard", "2/3", "--json"])
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut polls = 0;
    while std::fs::metadata(&file).map_or(0, |m| m.len()) < 20_000 {
        polls += 1;
        assert!(polls < 6000, "the sweep wrote under 20 kB in 10 minutes");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    sweep.kill().unwrap();
    sweep.wait().unwrap();
    let written = read(&file);
    let whole_lines = written.lines().count() - usize::from(!written.ends_with('\n'));
    let out = failover_sim(&["merge", path(&file)], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("shard(s) 1, 3 of 3 missing"), "{said}");
    assert!(
        said.contains(&format!(
            "{}: shard 2/3 has {} of its 3333333 seeds (cut short?)",
            path(&file),
            whole_lines - 1
        )),
        "{said}"
    );
}
