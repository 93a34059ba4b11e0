//! Embeds the built-in scenarios — `scenarios/suite/*.toml`, the suite `failover-sim run` runs
//! by default; `scenarios/bench/*.toml`, the benchmark workloads; `scenarios/hunt/*.toml`,
//! scenarios a sweep is meant to find violations in — so the binary works from anywhere.

use std::{env, fs, path::Path};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut out = String::new();
    for (constant, dir, what) in [
        ("SUITE", "suite", "every built-in scenario"),
        ("BENCH", "bench", "every benchmark workload"),
        (
            "HUNT",
            "hunt",
            "every scenario a sweep must find violations in",
        ),
    ] {
        let dir = root.join(dir);
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut files: Vec<_> = fs::read_dir(&dir)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "toml"));
        files.sort();
        out += &format!("/// (file name, contents) of {what}, in name order.\npub const {constant}: &[(&str, &str)] = &[\n");
        for f in &files {
            println!("cargo:rerun-if-changed={}", f.display());
            let name = f.file_name().unwrap().to_string_lossy();
            out += &format!(
                "    ({name:?}, include_str!({:?})),\n",
                f.canonicalize().unwrap()
            );
        }
        out += "];\n";
    }
    fs::write(
        Path::new(&env::var("OUT_DIR").unwrap()).join("builtin.rs"),
        out,
    )
    .unwrap();
}
