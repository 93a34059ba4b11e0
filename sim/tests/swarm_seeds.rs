//! Seeds of the swarm scenarios, beyond those CI sweeps, that found a bug since fixed: each
//! must pass, so the bug stays found.
use failover_sim::{builtin, run, Options, Scenario};

/// (scenario, seed, what it found).
const FOUND: [(&str, u64, &str); 5] = [
    // Core: an owner thawing with an operator's request waiting read it first, and the stall
    // went unseen: the clients stayed at a backup that had taken over and shut down.
    (
        "swarm-fast-no-preempt",
        200895,
        "the stall hidden by a request",
    ),
    (
        "swarm-fast-no-preempt",
        203756,
        "the stall hidden by a request",
    ),
    // Checker: client failures counted from the record before, not the first failed request.
    (
        "swarm-two-vips-slow-hooks",
        100666,
        "client failures counted too early",
    ),
    // Checker: two holders ranked when the second took over, not after a reload that turned
    // them round (the owner's lowered priority put back).
    ("swarm-two-nodes", 300246, "a pair ranked before a reload"),
    // Checker: an owner asking again for an address its takeover's Test refused named the
    // node it had heard releasing it since, not one heard before that takeover began.
    (
        "swarm-four-nodes-two-vips",
        201177,
        "an owner's second takeover judged by its first",
    ),
];

#[test]
fn the_swarm_seeds_that_found_bugs_since_fixed_pass() {
    for (name, seed, what) in FOUND {
        let scenario = builtin::find(name).unwrap().unwrap();
        let report = run(&scenario, seed, &Options::default()).unwrap();
        assert!(
            report.findings.violations.is_empty(),
            "{name} seed {seed} ({what}): {:?}",
            report.findings.violations
        );
    }
}

/// Swarm finds shrunk to a scenario file of their own (`failover-sim shrink`), each with the
/// seed that showed the bug, and what it found.
const SHRUNK: [(&str, &str, u64, &str); 1] = [(
    // Core: a readiness check that passed ended the back-off that marked a second takeover
    // without a majority as a repeat, and the no-quorum notice was mailed again.
    "quorum-no-majority-told-twice.toml",
    include_str!("found/quorum-no-majority-told-twice.toml"),
    1000243,
    "a no-quorum notice repeated across a readiness check",
)];

#[test]
fn the_shrunk_swarm_finds_pass() {
    for (file, text, seed, what) in SHRUNK {
        let scenario = Scenario::from_toml_str(text, file).unwrap();
        let report = run(&scenario, seed, &Options::default()).unwrap();
        assert!(
            report.findings.violations.is_empty(),
            "{file} seed {seed} ({what}): {:?}",
            report.findings.violations
        );
    }
}
