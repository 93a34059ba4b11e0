//! `failover-sim run DIR`, the obvious first try: a directory is walked for scenario files,
//! recursively, and a TOML file that is not a scenario (a `Cargo.toml`) is skipped with a
//! note — not a fatal "unknown field `package`".

use failover_sim::builtin;
use std::path::Path;

#[test]
fn a_directory_is_walked_recursively_and_a_cargo_toml_in_it_is_skipped_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let suite = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/suite");
    std::fs::write(dir.path().join("Cargo.toml"), "[package]\nname = \"x\"\n").unwrap();
    std::fs::create_dir_all(dir.path().join("deeper/still")).unwrap();
    for (name, to) in [
        ("master-crash", "a.toml"),
        ("both-cut", "deeper/still/b.toml"),
    ] {
        let text = std::fs::read_to_string(suite.join(format!("{name}.toml"))).unwrap();
        std::fs::write(dir.path().join(to), text).unwrap();
    }
    let loaded = builtin::load(&[dir.path().to_path_buf()]).unwrap();
    let names: Vec<&str> = loaded
        .scenarios
        .iter()
        .map(|(_, s)| s.name.as_str())
        .collect();
    assert_eq!(names, ["master-crash", "both-cut"]);
    assert_eq!(loaded.skipped.len(), 1, "{:?}", loaded.skipped);
    assert!(
        loaded.skipped[0].contains("Cargo.toml") && loaded.skipped[0].contains("not a scenario"),
        "{:?}",
        loaded.skipped
    );
}

#[test]
fn a_broken_scenario_file_in_a_directory_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "name = \"x\"\nduration = \"ten\"\n",
    )
    .unwrap();
    let err = builtin::load(&[dir.path().to_path_buf()]).unwrap_err();
    assert!(err.contains("bad.toml"), "{err}");
}
