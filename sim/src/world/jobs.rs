//! The daemon's action queue: hooks and address changes run one at a time in the order core
//! asked, each taking its latency; a hook is killed at the deadline core gave it, a job is
//! suspended while its host (or, for a netlink call, its daemon) is stopped, and each answer
//! goes back to the daemon.

use super::host::{Job, Running, Task};
use super::{Due, World};
use crate::fault::HookBehavior;
use crate::record::Observation;
use failover_core::{AddressChange, Command, HookOutcome};

impl World<'_> {
    /// Queues a request of host `i`'s daemon; it starts at once if nothing runs.
    pub(super) fn enqueue(&mut self, i: usize, job: Job) {
        self.hosts[i].queue.push_back(job);
        if self.hosts[i].running.is_none() {
            self.start_job(i);
        }
    }

    /// Starts the next queued job of host `i`: it ends after its latency, or a hung hook at
    /// its deadline, when the daemon kills it.
    fn start_job(&mut self, i: usize) {
        if self.hosts[i].running.is_some() {
            return;
        }
        let Some(job) = self.hosts[i].queue.pop_front() else {
            return;
        };
        let protocol = &self.scenario.protocol;
        let nanos = |d: std::time::Duration| d.as_nanos() as u64;
        let ends = match job.task {
            Task::Hook {
                kind, vip, event, ..
            } => {
                self.observe(Observation::HookStarted {
                    node: i,
                    hook: kind,
                    vip: vip.0,
                    event,
                });
                let took = match self.hosts[i].hook_behavior(kind) {
                    Some(HookBehavior::Hangs) => u64::MAX,
                    Some(HookBehavior::Slow(extra)) => nanos(protocol.hook_latency(kind) + extra),
                    Some(HookBehavior::Fails) | None => nanos(protocol.hook_latency(kind)),
                };
                self.now.saturating_add(took)
            }
            Task::Address { .. } => self.now + nanos(protocol.address_latency),
        };
        self.job_generation += 1;
        self.hosts[i].running = Some(Running {
            job,
            ends,
            generation: self.job_generation,
            suspended: None,
        });
        self.push_job_end(i);
    }

    /// Queues the end of host `i`'s running job: when it ends by itself, or a hook when the
    /// daemon kills it at its deadline, whichever comes first.
    fn push_job_end(&mut self, i: usize) {
        let h = &self.hosts[i];
        if let Some(r) = h.running.filter(|r| r.suspended.is_none()) {
            let due = Due::JobEnds {
                node: i,
                incarnation: h.incarnation,
                generation: r.generation,
            };
            let at = match r.job.task {
                Task::Hook { deadline, .. } => r.ends.min(h.clock.true_time(deadline)),
                Task::Address { .. } => r.ends,
            };
            self.queue.push(at.max(self.now), due);
        }
    }

    /// Host `i`'s clock changed its pace or reading: a running hook is killed when the new
    /// clock reaches its deadline, not when the old one would have.
    pub(super) fn clock_changed(&mut self, i: usize) {
        let hook = |r: &Running| r.suspended.is_none() && matches!(r.job.task, Task::Hook { .. });
        if self.hosts[i].running.is_some_and(|r| hook(&r)) {
            self.job_generation += 1;
            let r = self.hosts[i].running.as_mut().expect("running");
            r.generation = self.job_generation;
            self.push_job_end(i);
        }
    }

    /// The running job of host `i` ends: its effect on the host, its answer to the daemon.
    pub(super) fn job_ends(&mut self, i: usize, incarnation: u64, generation: u64) {
        let h = &self.hosts[i];
        let current = h.incarnation == incarnation
            && h.running
                .is_some_and(|r| r.generation == generation && r.suspended.is_none());
        if !current {
            return;
        }
        let Running { job, .. } = self.hosts[i].running.take().expect("current");
        let answer = match job.task {
            Task::Hook {
                kind,
                vip,
                event,
                asked,
                deadline,
            } => {
                let killed = self.hosts[i].clock.local(self.now) >= deadline;
                let outcome = match self.hosts[i].hook_behavior(kind) {
                    _ if killed => HookOutcome::TimedOut,
                    Some(HookBehavior::Fails) => HookOutcome::Failed(Some(1)),
                    _ => HookOutcome::Success,
                };
                if !outcome.is_success() {
                    let (node, vip) = (i, vip.0);
                    self.observe(Observation::HookFailed {
                        node,
                        hook: kind,
                        vip,
                        event,
                        asked,
                        outcome,
                    });
                }
                Command::HookFinished {
                    id: job.id,
                    outcome,
                }
            }
            Task::Address { change, vip, until } => {
                let addr = self.vip_names[vip.0].clone();
                let lifetime = until.map(|u| self.lifetime(i, u));
                // An address already there, or already gone, needs no change the kernel could
                // refuse: the daemon looks first (it finds a leftover, or one the kernel's
                // lifetime removed) and answers that it is so.
                let already = self.hosts[i].held[vip.0] == (change == AddressChange::Add);
                let result = if self.hosts[i].refuses(change) && !already {
                    self.note(Some(i), format!("address {change} {addr}: refused"));
                    Err("Cannot assign requested address (os error 99)".to_string())
                } else if let Some(Err(e)) = &lifetime {
                    // As the daemon does: no address without a lifetime of a whole second.
                    self.note(Some(i), format!("address {change} {addr}: {e}"));
                    Err(e.clone())
                } else {
                    Ok(())
                };
                let result = if result.is_err() {
                    let (node, vip) = (i, vip.0);
                    self.observe(Observation::AddressRefused { node, vip, change });
                    result
                } else {
                    self.change_address(i, change, vip.0);
                    if let Some(Ok(secs)) = lifetime {
                        self.set_expiry(i, vip.0, secs);
                    }
                    Ok(())
                };
                Command::AddressChanged { id: job.id, result }
            }
        };
        self.start_job(i);
        self.hosts[i].inbox.command(answer);
        self.wake(i);
    }

    /// Suspends (or resumes) the job host `i` runs: a frozen host runs nothing, and a stopped
    /// daemon makes no netlink call (its hooks, processes of their own, run on). A hook whose
    /// deadline passed meanwhile is killed as soon as the daemon runs again, as the daemon
    /// does: its time is core's, not what was left of it when the host stopped.
    pub(super) fn suspend_job(&mut self, i: usize, suspend: bool) {
        let Some(mut r) = self.hosts[i].running else {
            return;
        };
        match (suspend, r.suspended) {
            (true, None) => r.suspended = Some(r.ends.saturating_sub(self.now)),
            (false, Some(left)) => {
                self.job_generation += 1;
                r.generation = self.job_generation;
                r.ends = self.now.saturating_add(left);
                r.suspended = None;
            }
            _ => return,
        }
        self.hosts[i].running = Some(r);
        self.push_job_end(i);
    }
}
