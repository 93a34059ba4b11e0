//! One failover node as turmoil host software: a daemon's driver loop on turmoil's sockets and
//! tokio's (simulated) clock, with no protocol logic of its own.

use crate::engine::{drain_outputs, Observation, Workload, PATHS};
use failover_core::{Command, Config, Instant, Node, PathId, Transmit};
use std::cell::RefCell;
use std::net::{Ipv4Addr, SocketAddr};
use std::rc::Rc;
use tokio::sync::Notify;
use tokio::time::sleep_until;
use turmoil::net::UdpSocket;

/// What the simulation shares with every boot of one host.
pub(crate) struct Host {
    /// Index of the node in the workload.
    pub me: usize,
    pub config: Config,
    /// Boot epochs handed out so far; every (re)start takes the next one.
    pub boots: RefCell<u64>,
    /// The operator's planned shutdown (a real daemon's SIGTERM).
    pub shutdown: Notify,
    /// Where address changes are observed, for every host.
    pub log: Rc<RefCell<Vec<Observation>>>,
}

impl Host {
    /// Runs the node from boot until it stops after a planned shutdown (or the host crashes).
    pub async fn run(self: Rc<Self>) -> turmoil::Result {
        let epoch = {
            let mut boots = self.boots.borrow_mut();
            *boots += 1;
            *boots
        };
        let mut sockets = Vec::with_capacity(PATHS.len());
        for path in 0..PATHS.len() {
            let port = Workload::path_port(path);
            sockets.push(UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port)).await?);
        }
        let origin = tokio::time::Instant::now();
        let clock = || Instant::from_nanos(nanos(origin.elapsed()));
        let mut node = Node::new(self.config.clone(), epoch, clock())?;
        let (mut buf0, mut buf1) = ([0u8; 2048], [0u8; 2048]);
        loop {
            self.flush(&mut node, clock(), &sockets)?;
            let Some(deadline) = node.poll_timeout() else {
                return Ok(()); // stopped: the daemon exits
            };
            let wake = origin + std::time::Duration::from_nanos(deadline.as_nanos());
            tokio::select! {
                biased;
                () = self.shutdown.notified() => node.handle_command(clock(), Command::Shutdown),
                got = sockets[0].recv_from(&mut buf0) => {
                    let (len, from) = got?;
                    node.handle_datagram(clock(), PathId(0), from, &buf0[..len]);
                }
                got = sockets[1].recv_from(&mut buf1) => {
                    let (len, from) = got?;
                    node.handle_datagram(clock(), PathId(1), from, &buf1[..len]);
                }
                () = sleep_until(wake) => node.handle_timeout(clock()),
            }
        }
    }

    fn flush(&self, node: &mut Node, now: Instant, sockets: &[UdpSocket]) -> turmoil::Result {
        let at = turmoil::sim_elapsed().expect("inside the simulation");
        let transmits = drain_outputs(node, now, self.me, at, &mut self.log.borrow_mut());
        for Transmit { path, to, payload } in transmits {
            send(&sockets[path.0], to, &payload)?;
        }
        Ok(())
    }
}

/// Sends without waiting: turmoil's UDP has no back-pressure, so `try_send_to` never blocks.
fn send(socket: &UdpSocket, to: SocketAddr, payload: &[u8]) -> turmoil::Result {
    socket.try_send_to(payload, to)?;
    Ok(())
}

fn nanos(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
