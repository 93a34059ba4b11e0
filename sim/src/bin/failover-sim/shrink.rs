//! `failover-sim shrink`: a failing seed reduced to a minimal scenario file that replays it.

use crate::usage_error;
use failover_sim::scenario::FaultSpec;
use failover_sim::shrink::{self, label};
use failover_sim::{builtin, run, Options};
use std::path::Path;
use std::process::ExitCode;

pub fn main(name: &str, seed: u64, out: &Path, invariant: Option<&str>) -> ExitCode {
    let scenario = match builtin::resolve(name) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    let shrunk = match shrink::shrink(&scenario, seed, invariant) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    let s = &shrunk.scenario;
    let text = format!(
        "# Written by `failover-sim shrink {name} --seed {seed}`: a minimal reproduction.\n\
         # Replay: failover-sim replay {} --seed {seed} --trace\n{}",
        out.display(),
        toml::to_string(s).expect("scenarios serialize")
    );
    if let Err(e) = std::fs::write(out, text) {
        return usage_error(format!("{}: {e}", out.display()));
    }
    println!(
        "shrank {} seed {seed} ({} breaks `{}`) in {} runs:",
        scenario.name, scenario.name, shrunk.invariant, shrunk.runs
    );
    for step in &shrunk.removed {
        println!("  {step}");
    }
    println!("\nwhat is left ({} fault(s)):", s.faults.len());
    for f in &s.faults {
        let until = f.duration.map_or("for good".into(), |d| {
            format!("for {:.3}s", d.as_secs_f64())
        });
        println!("  at {:.3}s {until}: {}", f.at.as_secs_f64(), label(s, f));
    }
    print!("\n{}", FaultSpec::to_toml(&s.faults));
    // The file must replay the violation: check it as a user would.
    let replayed = failover_sim::Scenario::load(out)
        .map_err(|e| e.to_string())
        .and_then(|s| run(&s, seed, &Options::default()).map_err(|e| e.to_string()));
    match replayed {
        Ok(r)
            if r.findings
                .violations
                .iter()
                .any(|v| v.invariant == shrunk.invariant) =>
        {
            println!(
                "\nwritten to {}; it breaks `{}` again:\n  failover-sim replay {} --seed {seed} --trace",
                out.display(),
                shrunk.invariant,
                out.display()
            );
            ExitCode::SUCCESS
        }
        Ok(_) => usage_error(format!(
            "{}: the written scenario no longer breaks `{}`",
            out.display(),
            shrunk.invariant
        )),
        Err(e) => usage_error(format!("{}: {e}", out.display())),
    }
}
