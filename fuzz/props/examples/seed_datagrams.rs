//! Writes real datagrams into a directory, as seeds for the `wire_decode` target: the
//! example configurations of `real/dist/` run as nodes of one group for a while (heartbeats,
//! a takeover), then the owner shuts down (a goodbye naming its successor); every distinct
//! datagram they send is a file. The groups run with and without the fuzzing key.
//!
//! `cargo run -p failover-fuzz-props --example seed_datagrams -- fuzz/corpus/wire_decode`

use failover_core::{Command, Config, HookOutcome, Inbox, Instant, Node, Output, PathId};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn main() {
    let out = PathBuf::from(std::env::args().nth(1).expect("usage: seed_datagrams DIR"));
    std::fs::create_dir_all(&out).expect("the output directory");
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../real/dist");
    let mut datagrams = BTreeSet::new();
    for group in [
        &["two-node/master", "two-node/backup"][..],
        &["three-node/alpha", "three-node/bravo", "three-node/charlie"],
    ] {
        for keyed in [false, true] {
            let configs = group
                .iter()
                .map(|name| {
                    let file = dist.join(format!("{name}.toml"));
                    let text = std::fs::read_to_string(&file).expect("an example configuration");
                    let mut config = Config::from_toml_str(&text, name).expect("a valid example");
                    config.protocol.auth_key = keyed.then(|| failover_fuzz_props::wire::KEY.into());
                    config
                })
                .collect();
            datagrams.extend(run(configs));
        }
    }
    for (i, bytes) in datagrams.iter().enumerate() {
        std::fs::write(out.join(format!("seed-datagram-{i:03}")), bytes).expect("a seed file");
    }
    println!("{} datagrams written to {}", datagrams.len(), out.display());
}

/// Runs the group for 20 s of its time, the first node shutting down at 15 s; every hook
/// succeeds and every address change is done at once. Returns every datagram sent.
fn run(configs: Vec<Config>) -> BTreeSet<Vec<u8>> {
    let mut nodes: Vec<Node> = (configs.iter().cloned())
        .map(|c| Node::new(c, 1, Instant::ZERO).expect("a valid configuration"))
        .collect();
    let mut inboxes: Vec<Inbox<Vec<u8>>> = (configs.iter())
        .map(|c| Inbox::new(c.paths.len(), usize::MAX))
        .collect();
    let mut sent = BTreeSet::new();
    let step = Duration::from_millis(50);
    let mut now = Instant::ZERO;
    while now < Instant::ZERO + Duration::from_secs(20) {
        if now == Instant::ZERO + Duration::from_secs(15) {
            inboxes[0].command(Command::Shutdown);
        }
        // Until the group is quiet at this instant: each node's inputs, then its outputs.
        loop {
            let mut quiet = true;
            for i in 0..nodes.len() {
                inboxes[i].deliver(&mut nodes[i], now);
                while let Some(out) = nodes[i].poll_output() {
                    quiet = false;
                    match out {
                        Output::Transmit(t) => {
                            sent.insert(t.payload.to_vec());
                            let to = configs
                                .iter()
                                .position(|c| c.paths[t.path.0].local == Some(t.to));
                            if let Some(j) = to {
                                let from = configs[i].paths[t.path.0].local.expect("configured");
                                inboxes[j].datagram(PathId(t.path.0), from, t.payload.to_vec());
                            }
                        }
                        Output::RunHook(req) => inboxes[i].command(Command::HookFinished {
                            id: req.id,
                            outcome: HookOutcome::Success,
                        }),
                        Output::Acquire { id, .. } | Output::Release { id, .. } => {
                            inboxes[i].command(Command::AddressChanged { id, result: Ok(()) })
                        }
                        _ => {}
                    }
                }
            }
            if quiet && inboxes.iter().all(Inbox::is_empty) {
                break;
            }
        }
        now = now + step;
    }
    sent
}
