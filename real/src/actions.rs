//! The address changes and hooks core asks for, applied one at a time in the order asked.
//!
//! Core emits a hand-over as `RunHook(PreAcq)`, then (after the answer) `Acquire` immediately
//! followed by `RunHook(PostAcq)`. Running them in one queue keeps that order on the machine:
//! `PostAcq` never starts before the address is there, and a release is applied before the
//! hook after it runs, hence before the goodbye that follows. The queue lives in its own task,
//! so a slow hook or netlink call never holds up a heartbeat.

use crate::garp;
use crate::hooks::{self, HookJob};
use crate::vip::{Addresses, Change};
use failover_core::config::VipSettings;
use failover_core::{HookId, HookOutcome};
use std::collections::HashMap;
use std::net::IpAddr;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// One thing to do.
#[derive(Debug)]
pub enum Action {
    /// Add the address and announce it.
    Acquire(VipSettings),
    /// Stop announcing the address and remove it.
    Release(VipSettings),
    /// Announce an address held already once more (a short round).
    Announce(VipSettings),
    /// Run a hook; its outcome goes back to the driver with the id.
    Hook(HookId, HookJob),
}

/// Starts the queue. Dropping the sender lets it finish what is queued and end; awaiting the
/// handle then means every release asked for has been applied.
pub fn spawn(
    addresses: Addresses,
    done: mpsc::UnboundedSender<(HookId, HookOutcome)>,
) -> (mpsc::UnboundedSender<Action>, JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (tx, tokio::spawn(work(rx, addresses, done)))
}

async fn work(
    mut rx: mpsc::UnboundedReceiver<Action>,
    addresses: Addresses,
    done: mpsc::UnboundedSender<(HookId, HookOutcome)>,
) {
    let mut announcing: HashMap<IpAddr, JoinHandle<()>> = HashMap::new();
    while let Some(action) = rx.recv().await {
        match action {
            Action::Acquire(vip) => {
                let (address, interface) = (vip.address, &vip.interface);
                match addresses.add(&vip).await {
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
                    }
                    Err(e) => tracing::error!("cannot add the address: {e}"),
                }
            }
            Action::Announce(vip) => {
                // Only while held: an announcement for an address being released is dropped.
                if let Some(announcer) = announcing.get_mut(&vip.address) {
                    announcer.abort();
                    *announcer = garp::announce(vip.interface.clone(), vip.address, garp::AGAIN_MS);
                }
            }
            Action::Release(vip) => {
                if let Some(announcer) = announcing.remove(&vip.address) {
                    announcer.abort();
                }
                let (address, interface) = (vip.address, &vip.interface);
                match addresses.remove(&vip).await {
                    Ok(Change::Done) => tracing::info!(%address, %interface, "address removed"),
                    Ok(Change::AlreadySo) => {
                        tracing::info!(%address, %interface, "address was already gone")
                    }
                    Err(e) => tracing::error!("cannot remove the address: {e}"),
                }
            }
            Action::Hook(id, job) => {
                let outcome = hooks::run(&job).await;
                if done.send((id, outcome)).is_err() {
                    break;
                }
            }
        }
    }
    for announcer in announcing.into_values() {
        announcer.abort();
    }
}
