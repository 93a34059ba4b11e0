//! The deployment examples in deploy/, run as their engines run them: each engine's scripts,
//! taken from the files, with the variables the engine (and the file) sets, this build's
//! failover-sim on the PATH, and the shared volume or artifacts as a directory. Each puts a
//! sweep back together that equals the one-machine sweep, seed for seed. (The Slurm scripts
//! also run under a real Slurm cluster: deploy/slurm/test-local-cluster.sh.)

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const FAILOVER_SIM: &str = env!("CARGO_BIN_EXE_failover-sim");
/// A small sweep, so the examples run in a moment: what the files sweep is a setting.
const SCENARIO: &str = "swarm-two-nodes";
const SEEDS: &str = "1..=40";
/// Every variable `--shard auto` reads: none may leak in from the test's environment.
const SHARD_VARIABLES: [&str; 11] = [
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
    "SLURM_CPUS_ON_NODE",
];

/// The merge's init container waits for the shards' files: bounded here, so a manifest that
/// never writes them fails the test instead of hanging it.
const WAIT: [&str; 4] = ["timeout", "120", "/bin/sh", "-c"];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every document of a YAML file.
fn yaml(path: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(repo().join(path)).unwrap();
    serde_norway::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{path}: {e}")))
        .collect()
}

/// A shell running `script` in `dir` with `vars` and failover-sim on the PATH.
fn shell(shell: &[&str], script: &str, dir: &Path, vars: &[(&str, String)]) -> Output {
    let bin = Path::new(FAILOVER_SIM).parent().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let mut cmd = Command::new(shell[0]);
    cmd.args(&shell[1..]).arg(script).current_dir(dir);
    for v in SHARD_VARIABLES {
        cmd.env_remove(v);
    }
    cmd.env("PATH", path).envs(vars.iter().map(|(k, v)| (k, v)));
    cmd.output().unwrap()
}

fn ok(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The seed lines of the one-machine sweep, and of a merged results file, sorted.
fn same_as_one_machine(merged: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole.json");
    let out = Command::new(FAILOVER_SIM)
        .args(["sweep", SCENARIO, "--seeds", SEEDS, "--json"])
        .arg(&whole)
        .output()
        .unwrap();
    ok("the one-machine sweep", &out);
    let seeds = |p: &Path| {
        let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let mut lines: Vec<String> = text.lines().skip(1).map(String::from).collect();
        lines.sort();
        lines
    };
    let merged_seeds = seeds(merged);
    assert_eq!(
        merged_seeds.len(),
        40 + 1,
        "every seed, and what they reached together"
    );
    assert_eq!(merged_seeds, seeds(&whole), "seed for seed");
}

fn get<'a>(v: &'a Value, pointer: &str) -> &'a Value {
    v.pointer(pointer)
        .unwrap_or_else(|| panic!("no {pointer} in {v}"))
}

fn env_of(container: &Value) -> BTreeMap<String, String> {
    (get(container, "/env").as_array().unwrap().iter())
        .map(|e| {
            (
                get(e, "/name").as_str().unwrap().to_string(),
                get(e, "/value").as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The shell script a container runs (`command: [/bin/sh, -c]`, the script in `args`), with
/// the shared volume's mount point moved to `volume`.
fn script(container: &Value, volume: &Path) -> String {
    assert_eq!(
        get(container, "/command"),
        &serde_json::json!(["/bin/sh", "-c"])
    );
    let text = get(container, "/args/0").as_str().unwrap();
    text.replace("/results", &volume.display().to_string())
}

#[test]
fn the_kubernetes_indexed_job_and_its_merge_put_the_sweep_back_together() {
    let docs = yaml("deploy/k8s/sweep-job.yaml");
    let kind = |k: &str, name: &str| {
        (docs.iter())
            .find(|d| d["kind"] == k && d["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {k} {name}"))
    };
    let claim = kind("PersistentVolumeClaim", "failover-sweep-results");
    assert_eq!(get(claim, "/spec/accessModes/0"), "ReadWriteMany");
    let sweep = kind("Job", "failover-sweep");
    let merge = kind("Job", "failover-sweep-merge");
    assert_eq!(get(sweep, "/spec/completionMode"), "Indexed");
    let completions = get(sweep, "/spec/completions").as_u64().unwrap();
    assert_eq!(get(sweep, "/spec/template/spec/restartPolicy"), "Never");
    let container = get(sweep, "/spec/template/spec/containers/0");
    assert_eq!(
        get(
            sweep,
            "/spec/podFailurePolicy/rules/0/onExitCodes/containerName"
        ),
        get(container, "/name")
    );
    for job in [sweep, merge] {
        assert_eq!(
            get(
                job,
                "/spec/template/spec/volumes/0/persistentVolumeClaim/claimName"
            ),
            get(claim, "/metadata/name")
        );
    }
    let env = env_of(container);
    assert_eq!(env["FAILOVER_SHARD_COUNT"], completions.to_string());
    let wait = get(merge, "/spec/template/spec/initContainers/0");
    assert_eq!(
        env_of(wait)["FAILOVER_SHARD_COUNT"],
        completions.to_string()
    );

    let volume = tempfile::tempdir().unwrap();
    let sweep_script = script(container, volume.path());
    assert!(sweep_script.contains("--shard auto"), "{sweep_script}");
    for index in 0..completions {
        let out = shell(
            &["/bin/sh", "-c"],
            &sweep_script,
            volume.path(),
            &[
                ("JOB_COMPLETION_INDEX", index.to_string()),
                ("FAILOVER_SHARD_COUNT", env["FAILOVER_SHARD_COUNT"].clone()),
                ("SCENARIO", SCENARIO.into()),
                ("SEEDS", SEEDS.into()),
            ],
        );
        ok(&format!("pod {index}"), &out);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!(
                "shard {}/{completions} (Kubernetes Indexed Job",
                index + 1
            )),
            "{stderr}"
        );
    }
    let whole: Vec<_> = std::fs::read_dir(volume.path().join("shards"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".json"))
        .collect();
    assert_eq!(
        whole.len() as u64,
        completions,
        "whole shard files: {whole:?}"
    );
    let wait_script = script(wait, volume.path());
    let vars = [("FAILOVER_SHARD_COUNT", completions.to_string())];
    ok(
        "the merge's wait",
        &shell(&WAIT, &wait_script, volume.path(), &vars),
    );
    let merge_container = get(merge, "/spec/template/spec/containers/0");
    let words: Vec<String> = (get(merge_container, "/command").as_array().unwrap().iter())
        .chain(get(merge_container, "/args").as_array().unwrap())
        .map(|w| (w.as_str().unwrap()).replace("/results", &volume.path().display().to_string()))
        .collect();
    assert_eq!(words[0], "failover-sim");
    let out = Command::new(FAILOVER_SIM)
        .args(&words[1..])
        .output()
        .unwrap();
    ok("the merge", &out);
    same_as_one_machine(&volume.path().join("merged.json"));
    assert!(volume.path().join("junit.xml").exists());

    // A pod given a scenario that does not exist fails the Job, and the merge stops waiting.
    let other = tempfile::tempdir().unwrap();
    let out = shell(
        &["/bin/sh", "-c"],
        &script(container, other.path()),
        other.path(),
        &[
            ("JOB_COMPLETION_INDEX", "2".into()),
            ("FAILOVER_SHARD_COUNT", completions.to_string()),
            ("SCENARIO", "no-such-scenario".into()),
            ("SEEDS", SEEDS.into()),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(other.path().join("shards/shard-2.failed").exists());
    let out = shell(&WAIT, &script(wait, other.path()), other.path(), &vars);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn the_github_matrix_and_its_merge_job_put_the_sweep_back_together() {
    let workflow = yaml("deploy/github/sweep.yml").remove(0);
    let jobs = get(&workflow, "/jobs");
    assert_eq!(get(jobs, "/sweep/needs"), "build");
    assert_eq!(get(jobs, "/merge/needs"), "sweep");
    let shards: Vec<u64> = (get(jobs, "/sweep/strategy/matrix/shard")
        .as_array()
        .unwrap())
    .iter()
    .map(|v| v.as_u64().unwrap())
    .collect();
    assert_eq!(shards, (1..=shards.len() as u64).collect::<Vec<_>>());
    assert_eq!(
        get(jobs, "/sweep/env/FAILOVER_SHARD_INDEX"),
        "${{ matrix.shard }}"
    );
    assert_eq!(
        get(jobs, "/sweep/env/FAILOVER_SHARD_COUNT"),
        "${{ strategy.job-total }}"
    );
    let step = |job: &str, name: &str| {
        (get(jobs, &format!("/{job}/steps"))
            .as_array()
            .unwrap()
            .iter())
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name:?} in {job}"))
        .clone()
    };
    let sweep_step = get(&step("sweep", "sweep one shard"), "/run")
        .as_str()
        .unwrap()
        .to_string();
    assert!(sweep_step.contains("--shard auto"), "{sweep_step}");
    let merge_step = get(&step("merge", "merge the shards"), "/run")
        .as_str()
        .unwrap()
        .to_string();
    let upload = (get(jobs, "/sweep/steps").as_array().unwrap().iter())
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/upload-artifact"))
        })
        .unwrap();
    assert_eq!(get(upload, "/with/name"), "shard-${{ matrix.shard }}");
    let download = (get(jobs, "/merge/steps").as_array().unwrap().iter())
        .find(|s| s["with"]["pattern"].is_string())
        .unwrap();
    assert_eq!(get(download, "/with/pattern"), "shard-*");
    assert_eq!(get(download, "/with/merge-multiple"), true);

    // GitHub runs `run:` steps with bash -eo pipefail; each job has its own workspace, with
    // the build's artifact in bin/, and the merge job gets every shard's file in shards/.
    let bash = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c"];
    let workspace = |dir: &Path| {
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        std::fs::copy(FAILOVER_SIM, dir.join("bin/failover-sim")).unwrap();
    };
    let runners = tempfile::tempdir().unwrap();
    let merger = runners.path().join("merge");
    workspace(&merger);
    std::fs::create_dir(merger.join("shards")).unwrap();
    for shard in &shards {
        let dir = runners.path().join(format!("shard-{shard}"));
        workspace(&dir);
        let vars = [
            ("FAILOVER_SHARD_INDEX", shard.to_string()),
            ("FAILOVER_SHARD_COUNT", shards.len().to_string()),
            ("SCENARIO", SCENARIO.into()),
            ("SEEDS", SEEDS.into()),
        ];
        ok(
            &format!("shard {shard}"),
            &shell(&bash, &sweep_step, &dir, &vars),
        );
        let artifact = format!("shard-{shard}.json");
        std::fs::copy(dir.join(&artifact), merger.join("shards").join(&artifact)).unwrap();
    }
    ok("the merge job", &shell(&bash, &merge_step, &merger, &[]));
    same_as_one_machine(&merger.join("merged.json"));
    assert!(merger.join("junit.xml").exists());
}

#[test]
fn the_slurm_array_scripts_put_the_sweep_back_together() {
    let sbatch = std::fs::read_to_string(repo().join("deploy/slurm/sweep.sbatch")).unwrap();
    let array = (sbatch.lines())
        .find_map(|l| l.strip_prefix("#SBATCH --array="))
        .expect("an --array line");
    let (min, max) = array.split_once('-').expect("a range");
    let (min, max): (u64, u64) = (min.parse().unwrap(), max.parse().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("shards");
    let settings = |vars: &mut Vec<(&str, String)>| {
        vars.extend([
            ("FAILOVER_SIM", FAILOVER_SIM.to_string()),
            ("SCENARIO", SCENARIO.into()),
            ("SEEDS", SEEDS.into()),
            ("RESULTS", results.display().to_string()),
            ("MERGED", dir.path().join("merged").display().to_string()),
        ])
    };
    // What Slurm sets for each task of --array=MIN-MAX, as a real cluster showed.
    for id in min..=max {
        let mut vars = vec![
            ("SLURM_ARRAY_TASK_ID", id.to_string()),
            ("SLURM_ARRAY_TASK_MIN", min.to_string()),
            ("SLURM_ARRAY_TASK_MAX", max.to_string()),
            ("SLURM_ARRAY_TASK_STEP", "1".into()),
            ("SLURM_ARRAY_TASK_COUNT", (max - min + 1).to_string()),
            ("SLURM_CPUS_ON_NODE", "1".into()),
        ];
        settings(&mut vars);
        let script = repo().join("deploy/slurm/sweep.sbatch");
        let out = shell(&["bash"], script.to_str().unwrap(), dir.path(), &vars);
        ok(&format!("task {id}"), &out);
    }
    let mut vars = Vec::new();
    settings(&mut vars);
    let script = repo().join("deploy/slurm/merge.sbatch");
    ok(
        "the merge job",
        &shell(&["bash"], script.to_str().unwrap(), dir.path(), &vars),
    );
    same_as_one_machine(&dir.path().join("merged.json"));
    assert!(dir.path().join("merged.xml").exists());
}
