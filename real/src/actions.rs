//! The address changes and hooks core asks for, applied one at a time in the order asked, each
//! answered: a hook with its outcome, an address change with the kernel's verdict.
//!
//! Core asks for one thing at a time and waits for its answer (the run-loop rule of
//! `failover_core`), so the queue is never longer than that one request and the announcements
//! beside it; what core believes is running is what runs. The queue lives in its own task, so
//! a slow hook or netlink call never holds up a heartbeat.
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
use std::collections::HashMap;
use std::net::IpAddr;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// One thing to do.
#[derive(Debug)]
pub enum Action {
    /// Add the address and announce it; the result goes back to the driver with the id.
    Acquire(RequestId, VipId, VipSettings),
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
    let mut announcing: HashMap<IpAddr, JoinHandle<()>> = HashMap::new();
    while let Some(action) = rx.recv().await {
        let answer = match action {
            Action::Acquire(id, index, vip) => {
                let (address, interface) = (vip.address, &vip.interface);
                let result = match addresses.add(&vip).await {
                    Ok(change) => {
                        if change == Change::AlreadySo {
                            tracing::info!(%address, %interface, "address was already present");
                        } else {
                            tracing::info!(%address, %interface, "address added");
                        }
                        Ok(())
                    }
                    Err(e) => {
                        tracing::error!("cannot add the address: {e}");
                        Err(e.to_string())
                    }
                };
                address_changed(&events, index, &vip, AddressChange::Add, &result);
                if result.is_ok() {
                    events.write(Act::Announce {
                        vip: index,
                        address,
                    });
                    let announcer = garp::announce(interface.clone(), address, garp::ON_ACQUIRE_MS);
                    if let Some(old) = announcing.insert(address, announcer) {
                        old.abort();
                    }
                }
                Command::AddressChanged { id, result }
            }
            Action::Announce(index, vip) => {
                // Only while held: an announcement for an address being released is dropped.
                if let Some(announcer) = announcing.get_mut(&vip.address) {
                    events.write(Act::Announce {
                        vip: index,
                        address: vip.address,
                    });
                    announcer.abort();
                    *announcer = garp::announce(vip.interface.clone(), vip.address, garp::AGAIN_MS);
                }
                continue;
            }
            Action::Release(id, index, vip) => {
                if let Some(announcer) = announcing.remove(&vip.address) {
                    announcer.abort();
                }
                let (address, interface) = (vip.address, &vip.interface);
                let result = match addresses.release(&vip).await {
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
                address_changed(&events, index, &vip, AddressChange::Remove, &result);
                Command::AddressChanged { id, result }
            }
            Action::Hook(id, vip, job) => {
                let hook = job.kind;
                events.write(Act::HookStarted {
                    vip,
                    hook,
                    hook_event: job.event,
                });
                let outcome = hooks::run(&job).await;
                events.write(Act::HookEnded { vip, hook, outcome });
                Command::HookFinished { id, outcome }
            }
        };
        if done.send(answer).is_err() {
            break;
        }
    }
    for announcer in announcing.into_values() {
        announcer.abort();
    }
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
