//! The framework's own acceptance test, through the command line a user types: classic mode
//! splits the brain when both links between master and backup are cut while both still serve
//! clients. A sweep of the swarm-partition scenario must find it and print the seed; `shrink`
//! must reduce it to that essential fault; the file it writes must replay the violation; and
//! the timeline of that run must show it.

use failover_sim::fault::FaultKind;
use failover_sim::topology::Party;
use failover_sim::{run, Options, Scenario};
use std::path::PathBuf;
use std::process::{Command, Output};

fn cli(args: &[&str]) -> (Output, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_failover-sim"))
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out, text)
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("failover-acceptance-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// The seeds a sweep's output names in its replay commands.
fn failing_seeds(sweep_output: &str) -> Vec<u64> {
    sweep_output
        .lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix("failover-sim replay classic-split-brain --seed ")
        })
        .map(|rest| rest.split_whitespace().next().unwrap().parse().unwrap())
        .collect()
}

/// Whether `kind` cuts master (node 0) off from backup (node 1) on `segment`, in at least one
/// direction.
fn cuts(kind: &FaultKind, segment: usize) -> bool {
    let (m, b) = (Party::Node(0), Party::Node(1));
    matches!(kind, FaultKind::Partition { segment: s, a, b: other, .. }
        if s.is_none_or(|s| s == segment)
            && ((a.contains(&m) && other.contains(&b)) || (a.contains(&b) && other.contains(&m))))
}

#[test]
fn a_sweep_finds_split_brain_and_shrink_reduces_it_to_both_links_cut() {
    let (out, text) = cli(&[
        "sweep",
        "classic-split-brain",
        "--seeds",
        "1..=60",
        "--jobs",
        "2",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a violation makes the sweep fail:\n{text}"
    );
    let seeds = failing_seeds(&text);
    assert!(
        !seeds.is_empty(),
        "the sweep prints a replay command per failing seed:\n{text}"
    );
    assert!(text.contains("split-brain: two holders"), "{text}");
    assert!(
        text.contains("# swarm draw: kinds on:"),
        "the drawn faults are printed:\n{text}"
    );

    for &seed in seeds.iter().take(3) {
        let file = temp(&format!("seed-{seed}.toml"));
        let path = file.to_str().unwrap();
        let (out, report) = cli(&[
            "shrink",
            "classic-split-brain",
            "--seed",
            &seed.to_string(),
            "--out",
            path,
        ]);
        assert!(
            out.status.success(),
            "{report}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            report.contains("what is left"),
            "it says what it kept:\n{report}"
        );

        let shrunk = Scenario::load(&file).unwrap();
        assert!(shrunk.swarm.is_none(), "scheduled faults only");
        let faults = shrunk.resolve_faults("shrunk").unwrap();
        for segment in 0..shrunk.segments.len() {
            assert!(
                faults.iter().any(|f| cuts(&f.kind, segment)),
                "seed {seed}: the essential fault cuts master from backup on every link: {faults:?}"
            );
        }
        assert!(
            faults.iter().all(|f| cuts(&f.kind, 0) || cuts(&f.kind, 1)),
            "seed {seed}: nothing but those cuts is left: {faults:?}"
        );
        // Minimal: without any one of its faults the brain no longer splits.
        for i in 0..shrunk.faults.len() {
            let mut less = shrunk.clone();
            less.faults.remove(i);
            let r = run(&less, seed, &Options::default()).unwrap();
            assert_eq!(
                r.findings.figures.split_brain_total, 0,
                "seed {seed}: fault {i} was needed"
            );
        }

        let (out, replay) = cli(&["replay", path, "--seed", &seed.to_string()]);
        assert_eq!(out.status.code(), Some(1), "{replay}");
        assert!(replay.contains("VIOLATION split-brain"), "{replay}");
        assert!(
            replay.lines().last().unwrap().starts_with("trace hash: "),
            "{replay}"
        );
    }
}

#[test]
fn the_timeline_of_a_split_brain_shows_the_nodes_the_faults_and_the_split() {
    let file = temp("timeline.svg");
    let (out, text) = cli(&[
        "replay",
        "both-cut",
        "--seed",
        "1",
        "--timeline",
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{text}");
    let svg = std::fs::read_to_string(&file).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("a well-formed SVG");
    let class = |c: &str| {
        doc.descendants()
            .filter(|n| n.attribute("class") == Some(c))
            .count()
    };
    let nodes: Vec<&str> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("node"))
        .filter_map(|n| n.attribute("data-node"))
        .collect();
    assert_eq!(nodes, ["master", "backup"]);
    assert_eq!(class("fault"), 1, "the one partition");
    assert_eq!(
        class("split-brain"),
        1,
        "the backup takes over while the master still serves"
    );
    assert!(class("holds") >= 2, "both held the address");
    assert!(class("notice") >= 2, "the failover and release notices");
    let titles: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("title"))
        .filter_map(|n| n.text())
        .collect();
    assert!(
        titles
            .iter()
            .any(|t| t.starts_with("split brain on 192.0.2.100 from 22.6")),
        "{titles:?}"
    );

    let page = temp("timeline.html");
    let (out, _) = cli(&[
        "replay",
        "classic-split-brain",
        "--seed",
        "2",
        "--timeline",
        page.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        html.contains("<li class=\"fail\"><b>split-brain</b>"),
        "the page names the violation"
    );
    assert!(
        html.contains("class=\"client-failure\""),
        "the master cut off from the client's view"
    );
}

#[test]
fn the_same_swarm_in_quorum_mode_never_splits_the_brain() {
    // Classic mode splits within the first 60 seeds (above); quorum mode, with a witness as
    // the third vote, must not in five times as many.
    let (out, text) = cli(&[
        "sweep",
        "quorum-split-brain",
        "--seeds",
        "1..=300",
        "--jobs",
        "2",
    ]);
    assert!(out.status.success(), "no seed may fail:\n{text}");
    assert!(text.contains("300 seeds"), "{text}");
    assert!(text.contains("0 failed"), "{text}");
}
