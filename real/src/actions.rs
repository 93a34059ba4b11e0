//! The address changes and hooks core asks for, applied one at a time in the order asked, each
//! answered: a hook with its outcome, an address change with the kernel's verdict.
//!
//! Core asks for one thing at a time and waits for its answer (the run-loop rule of
//! `failover_core`), so the queue is never longer than that one request and the announcements
//! beside it; what core believes is running is what runs. The queue lives in its own task, so
//! a slow hook or netlink call never holds up a heartbeat.

use crate::garp;
use crate::hooks::{self, HookJob};
use crate::vip::{Addresses, Change};
use failover_core::config::VipSettings;
use failover_core::{Command, RequestId};
use std::collections::HashMap;
use std::net::IpAddr;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// One thing to do.
#[derive(Debug)]
pub enum Action {
    /// Add the address and announce it; the result goes back to the driver with the id.
    Acquire(RequestId, VipSettings),
    /// Stop announcing the address and remove it; the result goes back with the id.
    Release(RequestId, VipSettings),
    /// Announce an address held already once more (a short round).
    Announce(VipSettings),
    /// Run a hook; its outcome goes back to the driver with the id.
    Hook(RequestId, HookJob),
}

/// Starts the queue. Dropping the sender lets it finish what is queued and end; awaiting the
/// handle then means every release asked for has been applied.
pub fn spawn(
    addresses: Addresses,
    done: mpsc::UnboundedSender<Command>,
) -> (mpsc::UnboundedSender<Action>, JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (tx, tokio::spawn(work(rx, addresses, done)))
}

async fn work(
    mut rx: mpsc::UnboundedReceiver<Action>,
    addresses: Addresses,
    done: mpsc::UnboundedSender<Command>,
) {
    let mut announcing: HashMap<IpAddr, JoinHandle<()>> = HashMap::new();
    while let Some(action) = rx.recv().await {
        let answer = match action {
            Action::Acquire(id, vip) => {
                let (address, interface) = (vip.address, &vip.interface);
                let result = match addresses.add(&vip).await {
                    Ok(change) => {
                        if change == Change::AlreadySo {
                            tracing::info!(%address, %interface, "address was already present");
                        } else {
                            tracing::info!(%address, %interface, "address added");
                        }
                        let announcer =
                            garp::announce(interface.clone(), address, garp::ON_ACQUIRE_MS);
                        if let Some(old) = announcing.insert(address, announcer) {
                            old.abort();
                        }
                        Ok(())
                    }
                    Err(e) => {
                        tracing::error!("cannot add the address: {e}");
                        Err(e.to_string())
                    }
                };
                Command::AddressChanged { id, result }
            }
            Action::Announce(vip) => {
                // Only while held: an announcement for an address being released is dropped.
                if let Some(announcer) = announcing.get_mut(&vip.address) {
                    announcer.abort();
                    *announcer = garp::announce(vip.interface.clone(), vip.address, garp::AGAIN_MS);
                }
                continue;
            }
            Action::Release(id, vip) => {
                if let Some(announcer) = announcing.remove(&vip.address) {
                    announcer.abort();
                }
                let (address, interface) = (vip.address, &vip.interface);
                let result = match addresses.remove(&vip).await {
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
                Command::AddressChanged { id, result }
            }
            Action::Hook(id, job) => {
                let outcome = hooks::run(&job).await;
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
