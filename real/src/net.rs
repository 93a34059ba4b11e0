//! One UDP socket per local address, and which group's node and which path a datagram
//! belongs to.
//!
//! Paths with their own `local` address get their own socket, so the path of a datagram is the
//! socket it came in on. Paths without one (the hostconfig form, which names no local
//! addresses) share a socket on the default port of every address. On a shared socket the path
//! is told by the sender: the path that lists the sender's address as a peer, else the first
//! sharing path that lists no peers (the public LAN of a hostconfig backup, whose peer is
//! learned from its heartbeats), else the first sharing path.
//!
//! A witness may serve several groups in one process (one configuration, and one core node,
//! per group): their paths with the same local address share one socket, and a datagram goes
//! to the node whose `protocol.group` its header names ([`wire::group_of`]). A datagram whose
//! header cannot be read, or of a group no node on that socket serves, belongs to no node: it
//! is dropped here and reported as malformed or foreign — what a node of a single-group
//! daemon, which takes everything its sockets receive, counts it as.
//!
//! IPv6: a path's socket has the family of its `local` address. The IPv6 wildcard `[::]` —
//! also what a path without a `local` gets — takes both families at once (`IPV6_V6ONLY` off,
//! whatever the host's `net.ipv6.bindv6only` says): its IPv4 peers are reported by the kernel
//! as mapped addresses (`::ffff:192.0.2.10`), made plain IPv4 again here so they match the
//! configuration. A particular IPv6 address is bound IPv6-only. A host without IPv6 (booted
//! with `ipv6.disable=1`) gets `0.0.0.0:1694` for the paths without a `local`.

use failover_core::config::DEFAULT_PORT;
use failover_core::{wire, Config, DropReason, Inbox, PathId, Transmit};
use nix::errno::Errno;
use socket2::{Domain, Protocol, Socket as RawSocket, Type};
use std::future::poll_fn;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::task::Poll;
use thiserror::Error;
use tokio::net::UdpSocket;

/// A socket that cannot be opened, naming the path whose address it is.
#[derive(Debug, Error)]
#[error("path[{path}].local: cannot bind {addr}: {source}")]
pub struct BindError {
    /// Index of the configuration (the group's node) whose path it is.
    pub config: usize,
    /// Index of the first path using the address.
    pub path: usize,
    /// The address.
    pub addr: SocketAddr,
    /// Why.
    pub source: io::Error,
}

struct Socket {
    udp: UdpSocket,
    /// The same socket (a duplicate descriptor), for asking the kernel itself where tokio
    /// answers from the readiness its reactor last saw. Sending: tokio's `try_send_to` says
    /// "would block" until the reactor has once seen the socket writable, which would drop the
    /// first heartbeat after start; the kernel only says so when its buffer is full. Reading
    /// (see [`PathSockets::try_recv`]): after SIGSTOP and SIGCONT, the reactor's `epoll_wait`
    /// ends with EINTR and no events, the overdue timer wakes the loop, and tokio's
    /// `try_recv_from` says "would block" over a buffer full of heartbeats.
    kernel: std::net::UdpSocket,
    /// (node, path) pairs sharing this socket, in configuration order.
    users: Vec<(usize, usize)>,
    /// The last send error, so a cut link is logged when it starts failing and when it heals,
    /// not once per heartbeat.
    send_error: Option<io::ErrorKind>,
}

/// The daemon's sockets.
pub struct PathSockets {
    sockets: Vec<Socket>,
    /// Node index -> path index -> socket index.
    socket_of: Vec<Vec<usize>>,
}

/// The address a path listens and sends on: its `local`, else any address of either family
/// on the default port.
pub fn bind_addr(config: &Config, path: usize) -> SocketAddr {
    config.paths[path]
        .local
        .unwrap_or(SocketAddr::from((Ipv6Addr::UNSPECIFIED, DEFAULT_PORT)))
}

/// A non-blocking UDP socket bound to `addr` (see the module docs for the families); with
/// `fallback`, an IPv6 wildcard on a host without IPv6 becomes the IPv4 one.
fn open(addr: SocketAddr, fallback: bool) -> io::Result<std::net::UdpSocket> {
    let socket = match RawSocket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP)) {
        Err(e) if fallback && e.raw_os_error() == Some(Errno::EAFNOSUPPORT as i32) => {
            tracing::info!("this host has no IPv6: listening on IPv4 only");
            return open(
                SocketAddr::from((Ipv4Addr::UNSPECIFIED, addr.port())),
                false,
            );
        }
        socket => socket?,
    };
    if addr.is_ipv6() {
        socket.set_only_v6(!addr.ip().is_unspecified())?;
    }
    // FAILOVER_BCAST_IPS may name broadcast addresses (the source allows them).
    socket.set_broadcast(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// The sender as the configuration writes it: an IPv4 peer heard on a socket that takes both
/// families comes as a mapped IPv6 address; and a flow label is no part of who sent it.
fn plain(from: SocketAddr) -> SocketAddr {
    match from {
        SocketAddr::V6(mut v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::from((v4, v6.port())),
            None => {
                v6.set_flowinfo(0);
                SocketAddr::V6(v6)
            }
        },
        v4 => v4,
    }
}

impl PathSockets {
    /// Binds every path's local address of every configuration — one per node the process
    /// runs, one socket per distinct address (must be called inside a tokio runtime).
    pub fn bind(configs: &[&Config]) -> Result<PathSockets, BindError> {
        let mut sockets: Vec<(SocketAddr, Socket)> = Vec::new();
        let mut socket_of = Vec::with_capacity(configs.len());
        for (node, config) in configs.iter().enumerate() {
            let mut of_node = Vec::with_capacity(config.paths.len());
            for path in 0..config.paths.len() {
                let addr = bind_addr(config, path);
                if let Some(i) = sockets.iter().position(|(a, _)| *a == addr) {
                    sockets[i].1.users.push((node, path));
                    of_node.push(i);
                    continue;
                }
                let err = |source| BindError {
                    config: node,
                    path,
                    addr,
                    source,
                };
                let std = open(addr, config.paths[path].local.is_none()).map_err(err)?;
                let kernel = std.try_clone().map_err(err)?;
                let udp = UdpSocket::from_std(std).map_err(err)?;
                of_node.push(sockets.len());
                sockets.push((
                    addr,
                    Socket {
                        udp,
                        kernel,
                        users: vec![(node, path)],
                        send_error: None,
                    },
                ));
            }
            socket_of.push(of_node);
        }
        Ok(PathSockets {
            sockets: sockets.into_iter().map(|(_, s)| s).collect(),
            socket_of,
        })
    }

    /// Sends a datagram of node `node` (whose configuration is `config`) without ever
    /// waiting: a datagram the kernel will not take now is dropped, as the network could have
    /// dropped it, and the next heartbeat follows.
    pub fn send(&mut self, node: usize, config: &Config, t: &Transmit) {
        let socket = self.socket_of.get(node).and_then(|of| of.get(t.path.0));
        let Some(socket) = socket.map(|&i| &mut self.sockets[i]) else {
            return;
        };
        let result = socket.kernel.send_to(&t.payload, t.to).map(drop);
        let now = result.as_ref().err().map(io::Error::kind);
        if now != socket.send_error {
            let path = &config.paths[t.path.0].name;
            match &result {
                Err(e) => tracing::warn!(path = %path, to = %t.to, "cannot send heartbeats: {e}"),
                Ok(()) => tracing::info!(path = %path, to = %t.to, "sending heartbeats again"),
            }
            socket.send_error = now;
        }
    }

    /// Waits until some socket has a datagram to read (reading none).
    pub async fn readable(&self) {
        poll_fn(|cx| {
            for socket in &self.sockets {
                if socket.udp.poll_recv_ready(cx).is_ready() {
                    return Poll::Ready(());
                }
            }
            Poll::Pending
        })
        .await
    }

    /// One datagram some socket holds now, without waiting: (socket index, sender, length),
    /// the first socket with one first.
    pub fn try_recv(&self, buf: &mut [u8]) -> Option<(usize, SocketAddr, usize)> {
        (0..self.sockets.len())
            .find_map(|i| self.recv_from(i, buf).map(|(from, len)| (i, from, len)))
    }

    /// One datagram socket `i` holds now, without waiting. The kernel is asked when tokio
    /// says "would block": that is how every datagram queued during a stall is read before
    /// the timer is judged (the input rule). tokio's own read comes first, as its "would
    /// block" clears the readiness [`readable`](Self::readable) waits on.
    fn recv_from(&self, i: usize, buf: &mut [u8]) -> Option<(SocketAddr, usize)> {
        let socket = &self.sockets[i];
        loop {
            let read = match socket.udp.try_recv_from(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => socket.kernel.recv_from(buf),
                read => read,
            };
            match read {
                Ok((len, from)) => return Some((plain(from), len)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                // An ICMP error queued on the socket: it says nothing of what waits.
                Err(e) => tracing::debug!("receive error: {e}"),
            }
        }
    }

    /// Reads what the sockets hold now, without waiting, into the inbox of the node each
    /// datagram belongs to (`inboxes[i]` is node `i`'s, whose configuration is `configs[i]`)
    /// — at most `limit` datagrams, so a flood cannot keep the timer waiting for ever. A
    /// datagram no node takes is passed to `unclaimed` with the reason it is dropped. Returns
    /// how many were read.
    ///
    /// The sockets take turns, one datagram each per round: a flood on one path (garbage
    /// sent to the public LAN's address) fills the batch with its own datagrams only up to
    /// its share, and the heartbeats waiting on the other paths are read at every wake-up,
    /// before the timer judges them silent.
    pub fn drain(
        &self,
        configs: &[&Config],
        inboxes: &mut [Inbox<Vec<u8>>],
        limit: usize,
        mut unclaimed: impl FnMut(DropReason),
    ) -> usize {
        let mut buf = [0u8; 2048];
        let mut read = 0;
        // Sockets that may still hold a datagram (one per distinct local address).
        let mut open = vec![true; self.sockets.len()];
        while read < limit && open.contains(&true) {
            for (socket, still_open) in open.iter_mut().enumerate() {
                if !*still_open || read >= limit {
                    continue;
                }
                let Some((from, len)) = self.recv_from(socket, &mut buf) else {
                    *still_open = false;
                    continue;
                };
                read += 1;
                let bytes = &buf[..len];
                match self.route(configs, socket, from, bytes) {
                    Ok((node, path)) => {
                        inboxes[node].datagram(path, from, bytes.to_vec());
                    }
                    Err(reason) => unclaimed(reason),
                }
            }
        }
        read
    }

    /// The node (an index into `configs`) and path a datagram `bytes` from `from` on socket
    /// `socket` belongs to, or why it belongs to none (see the module docs). A process with
    /// one node gives that node everything: the node itself judges and counts what is not for
    /// it.
    pub fn route(
        &self,
        configs: &[&Config],
        socket: usize,
        from: SocketAddr,
        bytes: &[u8],
    ) -> Result<(usize, PathId), DropReason> {
        let users = &self.sockets[socket].users;
        let node = match configs {
            [_] => 0,
            _ => {
                let group = wire::group_of(bytes).ok_or(DropReason::Malformed)?;
                let serves = |&&(node, _): &&(usize, usize)| configs[node].protocol.group == group;
                users.iter().find(serves).ok_or(DropReason::Foreign)?.0
            }
        };
        let config = configs[node];
        let mut paths = users.iter().filter(|u| u.0 == node).map(|u| u.1);
        let first = paths
            .clone()
            .next()
            .expect("a node's socket serves a path of it");
        let listed = paths
            .clone()
            .find(|&p| config.paths[p].peers.contains(&from));
        let learning = paths.find(|&p| config.paths[p].peers.is_empty());
        Ok((node, PathId(listed.or(learning).unwrap_or(first))))
    }

    /// The addresses actually bound (useful when a configured port is 0).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.sockets
            .iter()
            .filter_map(|s| s.udp.local_addr().ok())
            .collect()
    }
}
