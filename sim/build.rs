//! Embeds the built-in scenario suite (`scenarios/suite/*.toml`) so `failover-sim run` works
//! from anywhere, with no files beside the binary.

use std::{env, fs, path::Path};

fn main() {
    let suite = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/suite");
    println!("cargo:rerun-if-changed={}", suite.display());
    let mut files: Vec<_> = fs::read_dir(&suite)
        .map(|dir| dir.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "toml"));
    files.sort();
    let mut out = String::from("/// (file name, contents) of every built-in scenario, in name order.\npub const SUITE: &[(&str, &str)] = &[\n");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = f.file_name().unwrap().to_string_lossy();
        out += &format!(
            "    ({name:?}, include_str!({:?})),\n",
            f.canonicalize().unwrap()
        );
    }
    out += "];\n";
    fs::write(
        Path::new(&env::var("OUT_DIR").unwrap()).join("suite.rs"),
        out,
    )
    .unwrap();
}
