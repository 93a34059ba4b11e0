//! The client, for real: every node answers UDP requests with its name (a responder in its
//! namespace, apart from its daemon: a stopped or killed daemon's host still answers, as its
//! services would), and the client asks every virtual address every `client.interval`,
//! noting who answered and which MAC address its ARP cache had for it.

use super::census;
use super::os::Ns;
use crate::engine::ArpCensus;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The port every node's responder listens on.
pub(super) const PORT: u16 = 7777;

/// One request's outcome.
#[derive(Clone, Debug)]
pub(super) struct Probe {
    /// When it was sent, CLOCK_MONOTONIC nanoseconds (not when it was due).
    pub at: u64,
    /// Which address.
    pub vip: usize,
    /// Who answered within the interval.
    pub answered_by: Option<String>,
}

/// The client's ARP entry for an address changed.
#[derive(Clone, Debug)]
pub(super) struct MacChange {
    /// When it was seen, CLOCK_MONOTONIC nanoseconds.
    pub at: u64,
    /// Which address.
    pub vip: usize,
    /// The MAC now, if any.
    pub mac: Option<String>,
}

/// CLOCK_MONOTONIC now, in nanoseconds: the clock every daemon's event log uses.
pub(super) fn monotonic_ns() -> u64 {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .expect("CLOCK_MONOTONIC is always there");
    t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64
}

/// Responders, the prober and the ARP census; stopped and joined on drop.
pub(super) struct Client {
    stop: Arc<AtomicBool>,
    responders: Vec<JoinHandle<()>>,
    prober: Option<JoinHandle<(Vec<Probe>, Vec<MacChange>)>>,
    census: Option<JoinHandle<ArpCensus>>,
}

/// What the client saw: its requests, its ARP entries' moves, and the ARP census.
#[derive(Debug, Default)]
pub(super) struct Seen {
    pub probes: Vec<Probe>,
    pub macs: Vec<MacChange>,
    pub arp: ArpCensus,
}

impl Client {
    /// Starts a responder in each node's namespace (answering with its name) and the prober
    /// in the client's.
    pub fn start(
        nodes: &[(&Ns, String)],
        client: &Ns,
        vips: Vec<IpAddr>,
        every: Duration,
    ) -> Result<Client, String> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut responders = Vec::new();
        for (ns, name) in nodes {
            let (stop, name) = (Arc::clone(&stop), name.clone());
            let (ready_tx, ready) = std::sync::mpsc::channel();
            responders.push(ns.spawn(move || respond(&name, &stop, ready_tx))?);
            ready
                .recv()
                .map_err(|_| "a responder thread ended".to_string())??;
        }
        let (ready_tx, ready) = std::sync::mpsc::channel();
        let census = {
            let (stop, vips) = (Arc::clone(&stop), vips.clone());
            client.spawn(move || census::run(&vips, every, &stop, ready_tx))?
        };
        ready
            .recv()
            .map_err(|_| "the ARP census thread ended".to_string())??;
        let (ready_tx, ready) = std::sync::mpsc::channel();
        let prober = {
            let stop = Arc::clone(&stop);
            client.spawn(move || probe(&vips, every, &stop, ready_tx))?
        };
        ready
            .recv()
            .map_err(|_| "the prober thread ended".to_string())??;
        Ok(Client {
            stop,
            responders,
            prober: Some(prober),
            census: Some(census),
        })
    }

    /// Stops everything and returns what the client saw.
    pub fn finish(mut self) -> Seen {
        self.stop.store(true, Ordering::Relaxed);
        let (probes, macs) = (self.prober.take())
            .and_then(|p| p.join().ok())
            .unwrap_or_default();
        let arp = (self.census.take())
            .and_then(|c| c.join().ok())
            .unwrap_or_default();
        Seen { probes, macs, arp }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(p) = self.prober.take() {
            let _ = p.join();
        }
        if let Some(c) = self.census.take() {
            let _ = c.join();
        }
        for r in self.responders.drain(..) {
            let _ = r.join();
        }
    }
}

/// A node's name service: every request is answered with the request's own bytes (which
/// address was asked), a space and the name. The answer's source address is whichever the
/// kernel picks, so the request names the address, not the answer's source.
fn respond(name: &str, stop: &AtomicBool, ready: std::sync::mpsc::Sender<Result<(), String>>) {
    let socket = match UdpSocket::bind((std::net::Ipv4Addr::UNSPECIFIED, PORT)) {
        Ok(s) => s,
        Err(e) => {
            let _ = ready.send(Err(format!("responder of {name}: bind: {e}")));
            return;
        }
    };
    let _ = socket.set_read_timeout(Some(Duration::from_millis(50)));
    let _ = ready.send(Ok(()));
    let mut buf = [0u8; 64];
    while !stop.load(Ordering::Relaxed) {
        if let Ok((len, from)) = socket.recv_from(&mut buf) {
            let answer = [&buf[..len], b" ", name.as_bytes()].concat();
            let _ = socket.send_to(&answer, from);
        }
    }
}

/// How long an answer may take and still count: real scheduling on a busy machine delays a
/// reply now and then by more than one tick, which is no outage of the address.
pub(super) const ANSWER_WITHIN: Duration = Duration::from_millis(100);

/// The client's loop: a request to every address per tick (naming the tick and the address),
/// answers matched to their request for up to [`ANSWER_WITHIN`].
fn probe(
    vips: &[IpAddr],
    every: Duration,
    stop: &AtomicBool,
    ready: std::sync::mpsc::Sender<Result<(), String>>,
) -> (Vec<Probe>, Vec<MacChange>) {
    let socket = match UdpSocket::bind((std::net::Ipv4Addr::UNSPECIFIED, 0)) {
        Ok(s) => s,
        Err(e) => {
            let _ = ready.send(Err(format!("prober: bind: {e}")));
            return Default::default();
        }
    };
    let _ = ready.send(Ok(()));
    let mut probes: Vec<Probe> = Vec::new();
    let mut macs: Vec<MacChange> = Vec::new();
    let mut mac_now: Vec<Option<String>> = vec![None; vips.len()];
    let mut buf = [0u8; 128];
    let every_ns = every.as_nanos() as u64;
    let mut next = monotonic_ns();
    let mut tick = 0usize;
    while !stop.load(Ordering::Relaxed) {
        for (v, &vip) in vips.iter().enumerate() {
            let request = format!("{tick} {v}");
            // (when it is sent: on a busy machine the thread may wake after its tick)
            let at = monotonic_ns();
            let _ = socket.send_to(request.as_bytes(), SocketAddr::new(vip, PORT));
            probes.push(Probe {
                at,
                vip: v,
                answered_by: None,
            });
        }
        tick += 1;
        next += every_ns;
        loop {
            let now = monotonic_ns();
            if now >= next {
                break;
            }
            let _ = socket.set_read_timeout(Some(Duration::from_nanos(next - now)));
            let Ok(len) = socket.recv(&mut buf) else {
                continue;
            };
            // "TICK VIP NAME": the request echoed, then who answered.
            let answer = String::from_utf8_lossy(&buf[..len]);
            let mut words = answer.splitn(3, ' ');
            let (Some(t), Some(v), Some(name)) = (words.next(), words.next(), words.next()) else {
                continue;
            };
            let (Ok(t), Ok(v)) = (t.parse::<usize>(), v.parse::<usize>()) else {
                continue;
            };
            let Some(p) = probes.get_mut(t * vips.len() + v) else {
                continue;
            };
            if monotonic_ns().saturating_sub(p.at) <= ANSWER_WITHIN.as_nanos() as u64 {
                p.answered_by.get_or_insert_with(|| name.to_string());
            }
        }
        for (v, vip) in vips.iter().enumerate() {
            let mac = arp_entry(*vip);
            if mac != mac_now[v] {
                macs.push(MacChange {
                    at: next,
                    vip: v,
                    mac: mac.clone(),
                });
                mac_now[v] = mac;
            }
        }
    }
    // The last ticks' answers had no time to come.
    let late = (ANSWER_WITHIN.as_nanos() as u64).div_ceil(every_ns.max(1)) as usize;
    probes.truncate(probes.len().saturating_sub(late * vips.len()));
    (probes, macs)
}

/// The MAC address this thread's namespace has in its ARP cache for `ip`, if complete.
fn arp_entry(ip: IpAddr) -> Option<String> {
    let table = std::fs::read_to_string("/proc/thread-self/net/arp").ok()?;
    let ip = ip.to_string();
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        // IP address, HW type, Flags (0x2: complete), HW address, Mask, Device
        (f.first() == Some(&ip.as_str()) && f.get(2) != Some(&"0x0")).then(|| f[3].to_string())
    })
}
