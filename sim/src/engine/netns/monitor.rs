//! What the kernel really did to the virtual addresses, node by node: a netlink listener in
//! each node's namespace notes every address added and removed, with the time it heard of it.
//!
//! In quorum mode the kernel removes an address by itself when its lifetime runs out — from a
//! daemon that is stopped, killed or cut off, which cannot say so in its act log. The checkers
//! must see that removal when it happens, so there the record of who holds what comes from
//! here, not from the daemons.

use super::os::Ns;
use super::probe::monotonic_ns;
use nix::sys::socket::{
    bind, recv, setsockopt, socket, sockopt, AddressFamily, MsgFlags, NetlinkAddr, SockFlag,
    SockProtocol, SockType,
};
use nix::sys::time::TimeVal;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// `RTMGRP_IPV4_IFADDR`: the multicast group of IPv4 address changes.
const GROUP_IPV4_ADDRESSES: u32 = 0x10;
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const IFA_LOCAL: u16 = 2;

/// One change: when it was heard (CLOCK_MONOTONIC), the address, whether it was added.
pub(super) type Change = (u64, IpAddr, bool);

/// A listener running in one namespace until [`Monitor::finish`] (or until dropped: a run
/// that fails or is interrupted stops it too).
pub(super) struct Monitor {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<Vec<Change>, String>>>,
}

impl Monitor {
    /// Starts listening in `ns`; changes from the moment this returns are seen.
    pub fn start(ns: &Ns) -> Result<Monitor, String> {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let stopping = Arc::clone(&stop);
        let thread = ns.spawn(move || {
            let fd = match subscribe() {
                Ok(fd) => fd,
                Err(e) => {
                    let _ = ready_tx.send(Err(e.clone()));
                    return Err(e);
                }
            };
            let _ = ready_tx.send(Ok(()));
            listen(fd, &stopping)
        })?;
        ready_rx
            .recv()
            .map_err(|_| "the address monitor ended at once".to_string())??;
        Ok(Monitor {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops listening; every change heard, in order.
    pub fn finish(mut self) -> Result<Vec<Change>, String> {
        self.stop.store(true, Ordering::Relaxed);
        let thread = self.thread.take().expect("finished once");
        thread
            .join()
            .map_err(|_| "the address monitor panicked".to_string())?
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A netlink socket in the group of IPv4 address changes, waking every 50 ms to look at the
/// stop flag.
fn subscribe() -> Result<std::os::fd::OwnedFd, String> {
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkRoute,
    )
    .map_err(|e| format!("netlink socket: {e}"))?;
    bind(fd.as_raw_fd(), &NetlinkAddr::new(0, GROUP_IPV4_ADDRESSES))
        .map_err(|e| format!("netlink bind: {e}"))?;
    setsockopt(&fd, sockopt::ReceiveTimeout, &TimeVal::new(0, 50_000))
        .map_err(|e| format!("netlink timeout: {e}"))?;
    setsockopt(&fd, sockopt::RcvBuf, &(1 << 20)).map_err(|e| format!("netlink buffer: {e}"))?;
    Ok(fd)
}

fn listen(fd: std::os::fd::OwnedFd, stop: &AtomicBool) -> Result<Vec<Change>, String> {
    let mut changes = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    while !stop.load(Ordering::Relaxed) {
        match recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
            Ok(n) => {
                let at = monotonic_ns();
                changes.extend(parse(&buf[..n]).into_iter().map(|(a, add)| (at, a, add)));
            }
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(format!("netlink receive: {e}")),
        }
    }
    Ok(changes)
}

/// The IPv4 addresses added and removed in one datagram of netlink messages.
fn parse(mut bytes: &[u8]) -> Vec<(IpAddr, bool)> {
    let mut out = Vec::new();
    // nlmsghdr: length u32, type u16, flags u16, seq u32, pid u32; then ifaddrmsg (8 bytes).
    while bytes.len() >= 16 {
        let len = u32::from_ne_bytes(bytes[0..4].try_into().expect("4 bytes")) as usize;
        let kind = u16::from_ne_bytes(bytes[4..6].try_into().expect("2 bytes"));
        if len < 16 || len > bytes.len() {
            break;
        }
        if (kind == RTM_NEWADDR || kind == RTM_DELADDR) && len >= 24 {
            let mut attrs = &bytes[24..len];
            while attrs.len() >= 4 {
                let alen = u16::from_ne_bytes([attrs[0], attrs[1]]) as usize;
                let atype = u16::from_ne_bytes([attrs[2], attrs[3]]);
                if alen < 4 || alen > attrs.len() {
                    break;
                }
                if atype == IFA_LOCAL && alen == 8 {
                    let ip = Ipv4Addr::new(attrs[4], attrs[5], attrs[6], attrs[7]);
                    out.push((IpAddr::V4(ip), kind == RTM_NEWADDR));
                }
                attrs = &attrs[(alen + 3) & !3..];
            }
        }
        bytes = &bytes[((len + 3) & !3).min(bytes.len())..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_and_a_deleted_address_are_read_from_their_netlink_messages() {
        let message = |kind: u16, ip: [u8; 4]| {
            let mut m = Vec::new();
            m.extend(32u32.to_ne_bytes());
            m.extend(kind.to_ne_bytes());
            m.extend([0u8; 10]); // flags, seq, pid
            m.extend([2, 24, 0, 0, 5, 0, 0, 0]); // ifaddrmsg: AF_INET, /24, index 5
            m.extend(8u16.to_ne_bytes());
            m.extend(IFA_LOCAL.to_ne_bytes());
            m.extend(ip);
            m
        };
        let mut both = message(RTM_NEWADDR, [192, 0, 2, 100]);
        both.extend(message(RTM_DELADDR, [192, 0, 2, 101]));
        assert_eq!(
            parse(&both),
            [
                (IpAddr::from([192, 0, 2, 100]), true),
                (IpAddr::from([192, 0, 2, 101]), false)
            ]
        );
    }
}
