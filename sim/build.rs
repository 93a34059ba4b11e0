//! Embeds the built-in scenarios — `scenarios/suite/*.toml`, the suite `failover-sim run` runs
//! by default; `scenarios/bench/*.toml`, the benchmark workloads; `scenarios/hunt/*.toml`,
//! scenarios a sweep is meant to find violations in — so the binary works from anywhere.

use std::{env, fs, path::Path};

fn main() {
    // Read at run time, not `env!`: a build script compiled for one checkout and reused from
    // a shared target directory by another must read the other's scenarios.
    let manifest = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest).join("../scenarios");
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
        // A directory that cannot be read is an error, never an empty built-in suite.
        let mut files: Vec<_> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
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
