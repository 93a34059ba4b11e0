//! Every checked-in input of every fuzz target, replayed through the target's own property
//! on the stable toolchain: the corpus (`fuzz/corpus/TARGET/`) and the crash reproducers
//! (`fuzz/regressions/TARGET/`). A target with no corpus fails, so this cannot pass by
//! finding nothing.

use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The files of `dir`, in name order; none if it does not exist.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn replay(target: &str) {
    let (_, check) = failover_fuzz_props::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .expect("a target");
    let corpus = files(&fuzz_dir().join("corpus").join(target));
    assert!(
        !corpus.is_empty(),
        "fuzz/corpus/{target}/ is missing or empty: nothing to replay"
    );
    let regressions = files(&fuzz_dir().join("regressions").join(target));
    for file in corpus.iter().chain(&regressions) {
        let data = std::fs::read(file).expect("a corpus file");
        if let Err(panic) = std::panic::catch_unwind(|| check(&data)) {
            let what = (panic.downcast_ref::<String>().map(String::as_str))
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("a panic");
            panic!("{}: {what}", file.display());
        }
    }
    println!(
        "{target}: {} corpus files and {} reproducers replayed",
        corpus.len(),
        regressions.len()
    );
}

#[test]
fn the_wire_decode_corpus_replays_clean() {
    replay("wire_decode");
}

#[test]
fn the_node_datagrams_corpus_replays_clean() {
    replay("node_datagrams");
}

#[test]
fn the_config_toml_corpus_replays_clean() {
    replay("config_toml");
}

#[test]
fn the_hostconfig_corpus_replays_clean() {
    replay("hostconfig");
}

#[test]
fn the_scenario_corpus_replays_clean() {
    replay("scenario");
}
