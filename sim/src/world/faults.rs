//! Faults as verbs: each kind begins and ends in a small function of its own, doing to the
//! host, its daemon or the network what the table in [`crate::fault`] says.

use super::clock::Clock;
use super::World;
use crate::fault::{FaultKind, Impairment};
use crate::record::Observation;
use failover_core::{Command, Request};

impl World<'_> {
    pub(super) fn begin_fault(&mut self, id: usize) {
        self.fault_edge(id, true);
        let kind = self.faults[id].kind.clone();
        match kind {
            FaultKind::Partition {
                segment,
                a,
                b,
                oneway,
            } => self.cuts.partition(id, segment, &a, &b, oneway),
            FaultKind::LinkDown { node, segment } => self.cuts.set_link(node, segment, false),
            FaultKind::Crash { node } => self.crash(node),
            FaultKind::Kill { node } => self.kill(node),
            FaultKind::Pause { node } => self.pause(node),
            FaultKind::Freeze { node } => self.freeze(node),
            FaultKind::Shutdown { node } => self.shut_down(node),
            FaultKind::Clock {
                node,
                offset,
                drift_ppm,
            } => self.set_clock(node, offset.as_nanos() as u64, drift_ppm),
            FaultKind::Hook {
                node,
                hook,
                behavior,
            } => self.hosts[node].hook_faults.push((id, hook, behavior)),
            FaultKind::Address { node, change } => {
                self.hosts[node].address_faults.push((id, change))
            }
            FaultKind::Degrade {
                segment,
                impairment,
            } => {
                self.degrades.push((id, segment, impairment));
                self.update_impairment(segment);
            }
            FaultKind::Tamper { segment } => self.attacker.begin(id, segment),
            FaultKind::Standby { node } => self.ask(node, Request::Standby),
            FaultKind::Switchover { node, to } => {
                let to = to.map(|t| self.scenario.nodes[t].name.clone());
                self.ask(node, Request::Switchover { to });
            }
            FaultKind::Reload { node, .. } => self.hang_up(node, id, false),
        }
    }

    pub(super) fn end_fault(&mut self, id: usize) {
        self.fault_edge(id, false);
        match self.faults[id].kind.clone() {
            FaultKind::Partition { .. } => self.cuts.heal(id),
            FaultKind::LinkDown { node, segment } => self.cuts.set_link(node, segment, true),
            FaultKind::Crash { node } => self.boot(node),
            FaultKind::Kill { node } | FaultKind::Shutdown { node } => {
                if self.hosts[node].up && self.hosts[node].node.is_none() {
                    self.start(node);
                }
            }
            FaultKind::Pause { node } => self.resume(node),
            FaultKind::Freeze { node } => self.thaw(node),
            FaultKind::Clock { node, .. } => self.set_clock(node, 0, 0.0),
            FaultKind::Hook { node, .. } => self.hosts[node].hook_faults.retain(|f| f.0 != id),
            FaultKind::Address { node, .. } => {
                self.hosts[node].address_faults.retain(|f| f.0 != id)
            }
            FaultKind::Degrade { segment, .. } => {
                self.degrades.retain(|d| d.0 != id);
                self.update_impairment(segment);
            }
            FaultKind::Tamper { .. } => self.attacker.end(id),
            FaultKind::Standby { node } => self.ask(node, Request::Active),
            FaultKind::Switchover { .. } => {}
            FaultKind::Reload { node, .. } => self.hang_up(node, id, true),
        }
    }

    /// Traces and reports a fault's beginning or end; anything may change for the client.
    fn fault_edge(&mut self, id: usize, begins: bool) {
        let label = self.scenario.describe(&self.faults[id].kind);
        let edge = if begins { "begins:" } else { "ends:" };
        self.note(None, format!("fault {edge} {label}"));
        self.observe(if begins {
            Observation::FaultStarted { fault: id }
        } else {
            Observation::FaultEnded { fault: id }
        });
        self.client.dirty = true;
        self.mark_all();
    }

    /// The host goes down: its daemon dies, its addresses vanish, it answers nothing.
    fn crash(&mut self, i: usize) {
        if !self.hosts[i].up {
            return;
        }
        self.hosts[i].up = false;
        self.observe(Observation::HostDown { node: i });
        for v in 0..self.hosts[i].held.len() {
            self.hosts[i].expires[v] = None;
            if std::mem::take(&mut self.hosts[i].held[v]) {
                self.observe(Observation::Released { node: i, vip: v });
            }
        }
        if self.hosts[i].node.is_some() {
            self.end_process(i, "crash");
        } else {
            self.note(Some(i), "crash".into());
        }
    }

    /// The host boots again and its daemon starts.
    fn boot(&mut self, i: usize) {
        if self.hosts[i].up {
            return;
        }
        let h = &mut self.hosts[i];
        h.up = true;
        h.frozen = false;
        self.observe(Observation::HostUp { node: i });
        self.start(i);
    }

    /// The daemon dies (SIGKILL, the OOM killer); the host keeps its addresses and serves
    /// them, answering ARP, until the daemon starts again and removes them.
    fn kill(&mut self, i: usize) {
        if self.hosts[i].node.is_some() {
            self.end_process(i, "killed (the host keeps its addresses)");
        }
    }

    /// The daemon stops (SIGSTOP): datagrams wait in its socket buffers, its timers come due
    /// unseen, its hooks run on; the host serves what it holds.
    fn pause(&mut self, i: usize) {
        if self.hosts[i].node.is_none() || self.hosts[i].paused {
            return;
        }
        self.hosts[i].paused = true;
        self.observe(Observation::Paused { node: i });
        if self.running_address_job(i) {
            self.suspend_job(i, true);
        }
    }

    /// The daemon runs again: everything that piled up is handed over by the input rule.
    fn resume(&mut self, i: usize) {
        if !self.hosts[i].paused {
            return;
        }
        self.hosts[i].paused = false;
        self.observe(Observation::Resumed { node: i });
        if !self.hosts[i].frozen {
            self.suspend_job(i, false);
        }
        self.announce_held(i);
        self.handle_hups(i);
        self.wake(i);
    }

    /// The whole host stops (a VM pause): nothing runs, nothing answers, and what is sent to
    /// it is lost.
    fn freeze(&mut self, i: usize) {
        if !self.hosts[i].up || self.hosts[i].frozen {
            return;
        }
        self.hosts[i].frozen = true;
        self.observe(Observation::HostDown { node: i });
        self.suspend_job(i, true);
    }

    fn thaw(&mut self, i: usize) {
        if !self.hosts[i].frozen {
            return;
        }
        self.hosts[i].frozen = false;
        self.observe(Observation::HostUp { node: i });
        if !self.hosts[i].paused || !self.running_address_job(i) {
            self.suspend_job(i, false);
        }
        self.announce_held(i);
        self.handle_hups(i);
        self.wake(i);
    }

    fn running_address_job(&self, i: usize) -> bool {
        use super::host::Task;
        (self.hosts[i].running).is_some_and(|r| matches!(r.job.task, Task::Address { .. }))
    }

    /// A planned shutdown: the operator's SIGTERM reaches the daemon like any command.
    fn shut_down(&mut self, i: usize) {
        if self.hosts[i].node.is_some() {
            self.hosts[i].inbox.command(Command::Shutdown);
            self.wake(i);
        }
    }

    /// The node's clock jumps `offset` forward and runs `ppm` fast from now (`0, 0.0`: runs
    /// true again, from where it reads now).
    fn set_clock(&mut self, i: usize, offset: u64, ppm: f64) {
        let h = &mut self.hosts[i];
        let local = h.clock.local(self.now);
        h.clock = Clock {
            base_true: self.now,
            base_local: local + offset,
            ppm,
        };
        self.reschedule(i, true);
        self.clock_changed(i);
    }

    fn update_impairment(&mut self, segment: usize) {
        self.impairments[segment] = (self.degrades.iter())
            .filter(|d| d.1 == segment)
            .fold(Impairment::default(), |all, d| all.and(d.2));
        let seg = &self.scenario.segments[segment];
        let quiet = seg.is_quiet() && self.impairments[segment].is_none();
        self.fixed_latency[segment] = quiet.then_some(seg.latency.as_nanos() as u64);
    }
}
