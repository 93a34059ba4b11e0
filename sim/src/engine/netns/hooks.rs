//! Real hook scripts for every node and address: each takes the scenario's latency for its
//! kind, all told — starting a shell script costs a few milliseconds already (measured at the
//! start of a run, and slept only for what remains) — and obeys the `hook` faults in force,
//! which the engine writes as a control file per node and hook (`fail`, `hang`, or
//! `slow SECONDS`) and removes when the fault ends.

use crate::fault::HookBehavior;
use crate::scenario::{hook_name, Scenario};
use failover_core::HookKind;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

const KINDS: [HookKind; 5] = [
    HookKind::Test,
    HookKind::PreAcq,
    HookKind::PostAcq,
    HookKind::PreRel,
    HookKind::PostRel,
];

/// The scripts of one run, under `dir`.
pub(super) struct Hooks {
    dir: PathBuf,
}

impl Hooks {
    /// Writes every node's scripts: `<dir>/hooks-<node>/<address>/<Kind>`.
    pub fn write(dir: &Path, scenario: &Scenario) -> Result<Hooks, String> {
        let err = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
        let start_cost = start_cost(dir)?;
        for (i, node) in scenario.nodes.iter().enumerate() {
            let control = dir.join("control").join(i.to_string());
            std::fs::create_dir_all(&control).map_err(|e| err(&control, e))?;
            for vip in &scenario.vips {
                let vdir = Hooks::dir_of(dir, &node.name).join(vip.address.to_string());
                std::fs::create_dir_all(&vdir).map_err(|e| err(&vdir, e))?;
                for kind in KINDS {
                    let latency = (scenario.protocol.hook_latency(kind))
                        .saturating_sub(start_cost)
                        .as_secs_f64();
                    let script = vdir.join(kind.script_prefix());
                    let ctl = control.join(hook_name(kind));
                    let text = format!(
                        "#!/bin/sh\n\
                         # written by failover-sim's netns engine: the scenario's hook\n\
                         how=; extra=\n\
                         [ -f '{ctl}' ] && read how extra < '{ctl}'\n\
                         case \"$how\" in\n\
                         fail) exit 1 ;;\n\
                         hang) exec sleep 1000000 ;;\n\
                         slow) sleep \"$extra\" ;;\n\
                         esac\n\
                         sleep {latency:.6}\n",
                        ctl = ctl.display()
                    );
                    std::fs::write(&script, text).map_err(|e| err(&script, e))?;
                    let mode = std::fs::Permissions::from_mode(0o755);
                    std::fs::set_permissions(&script, mode).map_err(|e| err(&script, e))?;
                }
            }
        }
        Ok(Hooks {
            dir: dir.to_path_buf(),
        })
    }

    /// Where node `name`'s hook directories are (`hooks.dir` of its configuration).
    pub fn dir_of(dir: &Path, name: &str) -> PathBuf {
        dir.join(format!("hooks-{name}"))
    }

    /// Makes node `node`'s `kind` hook misbehave (`Some`) or behave again (`None`).
    pub fn set(
        &self,
        node: usize,
        kind: HookKind,
        behavior: Option<HookBehavior>,
    ) -> Result<(), String> {
        let ctl = self
            .dir
            .join("control")
            .join(node.to_string())
            .join(hook_name(kind));
        let result = match behavior {
            None => match std::fs::remove_file(&ctl) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                other => other,
            },
            Some(HookBehavior::Fails) => std::fs::write(&ctl, "fail\n"),
            Some(HookBehavior::Hangs) => std::fs::write(&ctl, "hang\n"),
            Some(HookBehavior::Slow(extra)) => {
                std::fs::write(&ctl, format!("slow {:.6}\n", extra.as_secs_f64()))
            }
        };
        result.map_err(|e| format!("{}: {e}", ctl.display()))
    }
}

/// What starting a shell script that does nothing costs here: the median of a few runs.
fn start_cost(dir: &Path) -> Result<Duration, String> {
    let script = dir.join("noop-hook");
    std::fs::write(&script, "#!/bin/sh\nexit 0\n")
        .map_err(|e| format!("{}: {e}", script.display()))?;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("{}: {e}", script.display()))?;
    let mut runs: Vec<Duration> = (0..7)
        .map(|_| {
            let t = std::time::Instant::now();
            let _ = std::process::Command::new(&script).status();
            t.elapsed()
        })
        .collect();
    runs.sort();
    Ok(runs[runs.len() / 2])
}
