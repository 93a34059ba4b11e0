//! Each fault done for real, as the table in [`crate::fault`] says:
//!
//! | kind | for real |
//! |---|---|
//! | `crash` | the daemon SIGKILLed, the host's addresses removed, its interfaces down; at the end, up again and the daemon started |
//! | `kill` | SIGKILL of the daemon alone; at the end it starts again (and removes what it left) |
//! | `pause` | SIGSTOP of the daemon, SIGCONT at the end |
//! | `freeze` | SIGSTOP, and the host's switch ports drop everything both ways |
//! | `shutdown` | SIGTERM; at the end, started again |
//! | `partition` | the switches drop frames (ARP included) from one side's ports to the other's |
//! | `link_down`, `flap` | the node's interface on the segment set down |
//! | `degrade` loss | the switch drops heartbeats at random (nftables `numgen`) |
//! | `hook` | the node's hook script fails, hangs or sleeps longer |
//! | `address` add | the node's vip interface is deleted (the kernel then refuses the address; one it held goes with it) and made again at the end |
//! | `standby` | `standby` asked on the daemon's status socket, as `failoverctl standby` does; `active` at the end |
//! | `switchover` | `switchover [NODE]` asked on the daemon's status socket |
//! | `reload` | the node's file edited and its daemon sent SIGHUP; at the end the fields put back and SIGHUP again (see [`super::reload`]) |

use super::Run;
use crate::fault::FaultKind;
use crate::record::Observation;
use crate::topology::Party;
use failover_core::Request;
use nix::sys::signal::Signal;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

impl Run<'_> {
    pub(super) fn begin(&mut self, id: usize) -> Result<(), String> {
        match self.fault(id).kind.clone() {
            FaultKind::Partition {
                segment,
                a,
                b,
                oneway,
            } => self.partition(id, segment, &a, &b, oneway)?,
            FaultKind::LinkDown { node, segment } => self.set_link(node, segment, false)?,
            FaultKind::Crash { node } => self.crash(node)?,
            FaultKind::Kill { node } => self.kill(node)?,
            FaultKind::Pause { node } => {
                self.stop(node);
                self.note(Observation::Paused { node });
            }
            FaultKind::Freeze { node } => {
                self.stop(node);
                let segments = self.plan.scenario.node_segments(node);
                self.bed.isolate(id, node, &segments)?;
                self.note(Observation::HostDown { node });
            }
            FaultKind::Shutdown { node } => self.signal(node, Signal::SIGTERM),
            FaultKind::Hook {
                node,
                hook,
                behavior,
            } => self.hooks.set(node, hook, Some(behavior))?,
            FaultKind::Address { node, .. } => self.bed.set_vip_interface(node, false)?,
            FaultKind::Degrade {
                segment,
                impairment,
            } => self.bed.lose(id, segment, impairment.loss)?,
            FaultKind::Standby { node } => self.ask(node, Request::Standby),
            FaultKind::Switchover { node, to } => {
                let to = to.map(|t| self.plan.scenario.nodes[t].name.clone());
                self.ask(node, Request::Switchover { to });
            }
            FaultKind::Reload { node, .. } => self.hang_up(node, id, false)?,
            FaultKind::Clock { .. } | FaultKind::Tamper { .. } => {
                unreachable!("refused before the run")
            }
        }
        Ok(())
    }

    pub(super) fn end(&mut self, id: usize) -> Result<(), String> {
        match self.fault(id).kind.clone() {
            FaultKind::Partition { .. } | FaultKind::Degrade { .. } => self.bed.heal(id)?,
            FaultKind::LinkDown { node, segment } => self.set_link(node, segment, true)?,
            FaultKind::Crash { node } => self.boot(node)?,
            FaultKind::Kill { node } | FaultKind::Shutdown { node } => {
                if !self.daemon_runs(node) {
                    self.start_daemon(node)?;
                }
            }
            FaultKind::Pause { node } => {
                self.continue_daemon(node)?;
                self.note(Observation::Resumed { node });
            }
            FaultKind::Freeze { node } => {
                self.bed.heal(id)?;
                self.continue_daemon(node)?;
                self.note(Observation::HostUp { node });
            }
            FaultKind::Hook { node, hook, .. } => self.hooks.set(node, hook, None)?,
            FaultKind::Address { node, .. } => self.bed.set_vip_interface(node, true)?,
            FaultKind::Standby { node } => self.ask(node, Request::Active),
            FaultKind::Switchover { .. } => {}
            FaultKind::Reload { node, .. } => self.hang_up(node, id, true)?,
            FaultKind::Clock { .. } | FaultKind::Tamper { .. } => {
                unreachable!("refused before the run")
            }
        }
        Ok(())
    }

    fn partition(
        &mut self,
        id: usize,
        segment: Option<usize>,
        a: &[Party],
        b: &[Party],
        oneway: bool,
    ) -> Result<(), String> {
        let scenario = &self.plan.scenario;
        let segments: Vec<usize> =
            segment.map_or((0..scenario.segments.len()).collect(), |s| vec![s]);
        let client = scenario.client_segment();
        let on = |p: Party, s: usize| match p {
            Party::Node(n) => scenario.node_segments(n).contains(&s),
            Party::Client => s == client,
        };
        let mut cuts = Vec::new();
        for &s in &segments {
            for &x in a {
                for &y in b {
                    if on(x, s) && on(y, s) {
                        cuts.push((s, x, y));
                        if !oneway {
                            cuts.push((s, y, x));
                        }
                    }
                }
            }
        }
        for (s, from, to) in cuts {
            self.bed.cut(id, s, from, to)?;
        }
        Ok(())
    }

    /// Sets an interface down (counted: overlapping faults nest) or up again.
    fn set_link(&mut self, node: usize, segment: usize, up: bool) -> Result<(), String> {
        let count = self.down.entry((node, segment)).or_default();
        let change = match up {
            false => {
                *count += 1;
                *count == 1
            }
            true => {
                *count = count.saturating_sub(1);
                *count == 0
            }
        };
        if *count == 0 {
            self.down.remove(&(node, segment));
        }
        if change {
            self.bed.set_link(node, segment, up)?;
        }
        Ok(())
    }

    /// The host goes down: its daemon dies, its addresses go, its links go down.
    fn crash(&mut self, node: usize) -> Result<(), String> {
        self.note(Observation::HostDown { node });
        self.kill(node)?;
        let vips: Vec<_> = self.plan.scenario.vips.iter().map(|v| v.address).collect();
        for (v, vip) in vips.iter().enumerate() {
            if self.holds(node, *vip) {
                self.note(Observation::Released { node, vip: v });
            }
        }
        self.bed.flush_vips(node, &vips);
        for s in self.plan.scenario.node_segments(node) {
            self.set_link(node, s, false)?;
        }
        Ok(())
    }

    /// The host comes back: links up, then its daemon starts.
    fn boot(&mut self, node: usize) -> Result<(), String> {
        for s in self.plan.scenario.node_segments(node) {
            self.set_link(node, s, true)?;
        }
        self.note(Observation::HostUp { node });
        self.start_daemon(node)
    }

    /// SIGKILL of the daemon alone, waited for: the SIGHUPs it had not read leave their
    /// edits in the file.
    fn kill(&mut self, node: usize) -> Result<(), String> {
        if let Some(mut daemon) = self.daemons[node].take() {
            if daemon.running() {
                daemon.signal(Signal::SIGKILL);
                self.note(Observation::Down { node });
            }
        }
        self.unread_hups(node)
    }

    /// SIGSTOP: the daemon handles nothing until [`Run::continue_daemon`].
    fn stop(&mut self, node: usize) {
        self.signal(node, Signal::SIGSTOP);
        self.stopped[node] = true;
    }

    pub(super) fn signal(&mut self, node: usize, signal: Signal) {
        if let Some(daemon) = self.daemons[node].as_mut() {
            daemon.signal(signal);
        }
    }

    /// An operator's request to node `node`'s daemon, over its status socket as `failoverctl`
    /// sends it, in a thread of its own: the answer may take `dead_after` (a roll call) and
    /// the run goes on meanwhile. The daemon records its answer (`--events`); a daemon that is
    /// not running answers nothing, as in the simulator.
    fn ask(&mut self, node: usize, request: Request) {
        let socket = self.socket(node);
        let wait = self.plan.scenario.protocol.dead_after() * 2 + Duration::from_secs(10);
        self.asking.push(std::thread::spawn(move || {
            let Ok(mut stream) = UnixStream::connect(&socket) else {
                return;
            };
            let _ = stream.set_read_timeout(Some(wait));
            if stream.write_all(request.line().as_bytes()).is_ok() {
                let _ = BufReader::new(stream).read_line(&mut String::new());
            }
        }));
    }

    pub(super) fn daemon_runs(&mut self, node: usize) -> bool {
        self.daemons[node].as_mut().is_some_and(|d| d.running())
    }

    /// Whether `vip` is on the node's vip interface now.
    fn holds(&self, node: usize, vip: std::net::IpAddr) -> bool {
        let shown = self.bed.nodes[node].ip(&format!("-o addr show dev {}", super::VIP_INTERFACE));
        shown.is_ok_and(|text| {
            text.split_whitespace()
                .any(|w| w.split('/').next() == Some(vip.to_string().as_str()))
        })
    }
}
