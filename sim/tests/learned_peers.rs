//! A node whose file names no peer on a segment (the source document's backup, which knows
//! only the master's direct-link address) learns its peers there from their datagrams, under
//! every engine that builds node configurations from a scenario.
use failover_sim::{run, Options, Scenario};

/// The source document's pair: the backup learns the master's public address.
const HOSTCONFIG_PAIR: &str = r#"
    name = "hostconfig-pair"
    duration = "30s"
    [[segment]]
    name = "public"
    [[segment]]
    name = "direct"
    [[node]]
    name = "master"
    priority = 200
    [[node]]
    name = "backup"
    priority = 100
    learns = ["public"]
    [[vip]]
    address = "192.0.2.100"
    [[fault]]
    at = "10s"
    kind = "link_down"
    node = "backup"
    segment = "direct"
"#;

#[test]
fn a_node_that_learns_a_segment_names_no_peer_there_and_sends_there_once_it_heard_one() {
    let scenario = Scenario::from_toml_str(HOSTCONFIG_PAIR, "pair.toml").unwrap();
    let configs = scenario.sim_configs("pair.toml").unwrap();
    let peers = |node: usize, path: usize| configs[node].paths[path].peers.clone();
    assert!(peers(1, 0).is_empty(), "the backup names no public peer");
    assert_eq!(
        peers(1, 1).len(),
        1,
        "the backup names the master's direct address"
    );
    assert_eq!((peers(0, 0).len(), peers(0, 1).len()), (1, 1));
    // Its first datagrams go out on the direct link only; once the master's heartbeat has
    // reached it on public, it answers there too, at that instant.
    let options = Options {
        keep_datagrams: true,
        ..Options::default()
    };
    let report = run(&scenario, 1, &options).unwrap();
    assert!(
        report.findings.violations.is_empty(),
        "{:?}",
        report.findings.violations
    );
    let lines: Vec<String> = report.trace.records.iter().map(|r| r.to_string()).collect();
    let position = |what: &str| lines.iter().position(|l| l.contains(what));
    let backup_public = "send: 192.0.2.11:1694 -> 192.0.2.10:1694";
    let heard_public = position("deliver to 1 on path 0 from 192.0.2.10").expect("heard on public");
    let sent_public = position(backup_public).expect("the backup sends on public");
    let sent_direct = position("send: 198.51.100.11:1694 -> 198.51.100.10:1694").unwrap();
    assert!(
        sent_direct < heard_public && heard_public < sent_public,
        "{lines:#?}"
    );
    // At once: its answer to the master it has just met goes out on public too.
    let records = &report.trace.records;
    assert_eq!(
        records[sent_public].at, records[heard_public].at,
        "{lines:#?}"
    );
}

#[test]
fn a_segment_learned_is_one_the_node_is_on_and_another_node_names_it_there() {
    let on_no_such = HOSTCONFIG_PAIR.replace(r#"learns = ["public"]"#, r#"learns = ["dirct"]"#);
    let err = Scenario::from_toml_str(&on_no_such, "typo.toml")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("typo.toml") && err.contains("node[1].learns") && err.contains("dirct"),
        "{err}"
    );
    let both = HOSTCONFIG_PAIR.replace(
        "priority = 200",
        "priority = 200\n    learns = [\"public\"]",
    );
    let err = Scenario::from_toml_str(&both, "both.toml")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("node[0].learns") && err.contains("would never hear one there"),
        "{err}"
    );
    // Quorum mode names every voter: a witness never speaks first.
    let quorum = HOSTCONFIG_PAIR.replace(
        "[[vip]]",
        "[[node]]\n    name = \"witness\"\n    witness = true\n    [protocol]\n    mode = \"quorum\"\n    [[vip]]",
    );
    let err = Scenario::from_toml_str(&quorum, "quorum.toml")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("node[1].learns") && err.contains("a witness answers only"),
        "{err}"
    );
}
