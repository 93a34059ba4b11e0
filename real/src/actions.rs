//! The address changes and hooks core asks for, applied one at a time in the order asked, each
//! answered: a hook with its outcome, an address change with the kernel's verdict.
//!
//! Core asks for one thing at a time and waits for its answer (the run-loop rule of
//! `failover_core`), so the queue is never longer than that one request and the announcements
//! beside it; what core believes is running is what runs. The queue lives in its own task, so
//! a slow hook or netlink call never holds up a heartbeat.
//!
//! Two kinds of work need no answer and do not wait for a hook to end: announcing an address
//! again, and (quorum mode) renewing an address's kernel lifetime — a lease renewed while a slow
//! `PostAcq` runs must reach the kernel before the old lifetime runs out. They are applied
//! while a hook runs; anything else that arrives meanwhile waits its turn, in order.
//!
//! The queue also writes the acts it carries out to the [`EventLog`] (`--events`): an address
//! change once the kernel has answered, an announcement when its round begins, a hook when it
//! starts and ends — here, because only here is it known when they really happen.

use crate::events::{Act, EventLog};
use crate::garp;
use crate::hooks::{self, HookJob};
use crate::vip::{Addresses, Change};
use failover_core::config::VipSettings;
use failover_core::{AddressChange, Command, RequestId, VipId};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// One thing to do.
#[derive(Debug)]
pub enum Action {
    /// Add the address and announce it; the result goes back to the driver with the id. In
    /// quorum mode with the lease's end: the kernel lifetime is the whole seconds left then.
    Acquire(RequestId, VipId, VipSettings, Option<Instant>),
    /// Quorum mode: set a held address's kernel lifetime to the whole seconds left until the
    /// lease's end.
    Extend(VipId, VipSettings, Instant),
    /// Stop announcing the address and remove it; the result goes back with the id.
    Release(RequestId, VipId, VipSettings),
    /// Announce an address held already once more (a short round).
    Announce(VipId, VipSettings),
    /// Run a hook for the address; its outcome goes back to the driver with the id.
    Hook(RequestId, VipId, HookJob),
}

/// Starts the queue. Dropping the sender lets it finish what is queued and end; awaiting the
/// handle then means every release asked for has been applied.
pub fn spawn(
    addresses: Addresses,
    done: mpsc::UnboundedSender<Command>,
    events: EventLog,
) -> (mpsc::UnboundedSender<Action>, JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (tx, tokio::spawn(work(rx, addresses, done, events)))
}

async fn work(
    mut rx: mpsc::UnboundedReceiver<Action>,
    addresses: Addresses,
    done: mpsc::UnboundedSender<Command>,
    events: EventLog,
) {
    let mut worker = Worker {
        addresses,
        events,
        announcing: HashMap::new(),
    };
    let mut later: VecDeque<Action> = VecDeque::new();
    loop {
        let action = match later.pop_front() {
            Some(action) => action,
            None => match rx.recv().await {
                Some(action) => action,
                None => break,
            },
        };
        let answer = match action {
            Action::Acquire(id, index, vip, until) => worker.acquire(id, index, vip, until).await,
            Action::Release(id, index, vip) => worker.release(id, index, vip).await,
            Action::Hook(id, vip, job) => {
                let hook = job.kind;
                worker.events.write(Act::HookStarted {
                    vip,
                    hook,
                    hook_event: job.event,
                });
                let run = hooks::run(&job);
                tokio::pin!(run);
                let outcome = loop {
                    tokio::select! {
                        biased;
                        outcome = &mut run => break outcome,
                        Some(action) = rx.recv() => match action {
                            quick @ (Action::Announce(..) | Action::Extend(..)) => {
                                worker.quick(quick).await
                            }
                            other => later.push_back(other),
                        },
                    }
                };
                worker.events.write(Act::HookEnded { vip, hook, outcome });
                Command::HookFinished { id, outcome }
            }
            quick @ (Action::Announce(..) | Action::Extend(..)) => {
                worker.quick(quick).await;
                continue;
            }
        };
        if done.send(answer).is_err() {
            break;
        }
    }
    for announcer in worker.announcing.into_values() {
        announcer.abort();
    }
}

/// What the queue works with: netlink, the act log, and the announcement round of each
/// address held (its presence is what "held" means here).
struct Worker {
    addresses: Addresses,
    events: EventLog,
    announcing: HashMap<IpAddr, JoinHandle<()>>,
}

impl Worker {
    async fn acquire(
        &mut self,
        id: RequestId,
        index: VipId,
        vip: VipSettings,
        until: Option<Instant>,
    ) -> Command {
        let (address, interface) = (vip.address, &vip.interface);
        let result = match until.map(lifetime) {
            Some(0) => {
                let e = "the lease ends within a second: no address without a kernel lifetime";
                tracing::error!(%address, %interface, "cannot add the address: {e}");
                Err(e.to_string())
            }
            secs => match self.addresses.add(&vip, secs).await {
                Ok(change) => {
                    if change == Change::AlreadySo {
                        tracing::info!(%address, %interface, "address was already present");
                    } else {
                        tracing::info!(%address, %interface, lifetime_s = ?secs, "address added");
                    }
                    Ok(())
                }
                Err(e) => {
                    tracing::error!("cannot add the address: {e}");
                    Err(e.to_string())
                }
            },
        };
        address_changed(&self.events, index, &vip, AddressChange::Add, &result);
        if result.is_ok() {
            self.events.write(Act::Announce {
                vip: index,
                address,
            });
            let announcer = garp::announce(interface.clone(), address, garp::ON_ACQUIRE_MS);
            if let Some(old) = self.announcing.insert(address, announcer) {
                old.abort();
            }
        }
        Command::AddressChanged { id, result }
    }

    async fn release(&mut self, id: RequestId, index: VipId, vip: VipSettings) -> Command {
        if let Some(announcer) = self.announcing.remove(&vip.address) {
            announcer.abort();
        }
        let (address, interface) = (vip.address, &vip.interface);
        let result = match self.addresses.release(&vip).await {
            Ok(Change::Done) => {
                tracing::info!(%address, %interface, "address removed");
                Ok(())
            }
            Ok(Change::AlreadySo) => {
                tracing::info!(%address, %interface, "address was already gone");
                Ok(())
            }
            Err(e) => {
                tracing::error!("cannot remove the address: {e}");
                Err(e.to_string())
            }
        };
        address_changed(&self.events, index, &vip, AddressChange::Remove, &result);
        Command::AddressChanged { id, result }
    }

    /// An announcement or a lifetime renewal: only for an address held (one being released
    /// is neither announced nor given a new lifetime).
    async fn quick(&mut self, action: Action) {
        match action {
            Action::Announce(index, vip) => {
                if let Some(announcer) = self.announcing.get_mut(&vip.address) {
                    self.events.write(Act::Announce {
                        vip: index,
                        address: vip.address,
                    });
                    announcer.abort();
                    *announcer = garp::announce(vip.interface.clone(), vip.address, garp::AGAIN_MS);
                }
            }
            Action::Extend(_, vip, until) => {
                if !self.announcing.contains_key(&vip.address) {
                    return;
                }
                let secs = lifetime(until);
                if secs == 0 {
                    return; // the lifetime set before runs out with the lease
                }
                if let Err(e) = self.addresses.renew(&vip, secs).await {
                    tracing::error!("cannot renew the address's lifetime: {e}");
                }
            }
            other => unreachable!("not a quick action: {other:?}"),
        }
    }
}

/// The kernel lifetime for a lease ending at `until`: the whole seconds left, counted now.
fn lifetime(until: Instant) -> u32 {
    let left = until.saturating_duration_since(Instant::now()).as_secs();
    u32::try_from(left).unwrap_or(u32::MAX)
}

/// Records the kernel's verdict on an address change, as it goes back to core.
fn address_changed(
    events: &EventLog,
    index: VipId,
    vip: &VipSettings,
    change: AddressChange,
    result: &Result<(), String>,
) {
    events.write(Act::Address {
        vip: index,
        address: vip.address,
        change,
        ok: result.is_ok(),
        error: result.as_ref().err().cloned(),
    });
}
