//! What `failoverctl status` shows, and the UNIX socket it is asked over.
//!
//! The protocol is one line each way: the client connects and writes `status\n`; the daemon
//! answers with the [`Answer`] as one line of JSON and closes — its node's [`Report`], or for
//! a witness serving several groups one report per group — or, to a client [`Access`]
//! refuses, with `{"error": "permission denied: ..."}`. An operator's requests (`standby`,
//! `active`, `switchover [NODE]`; see [`crate::operator`]) go the same way, answered by a
//! [`crate::operator::Reply`]. The socket file gets the mode and group of `[control]` (root
//! only, `0600`, by default).

use crate::access::{Access, Client, RefusalLog};
use crate::clients::{Asked, Clients};
use crate::operator::OperatorRequest;
use failover_core::config::VipSettings;
use failover_core::node::QuorumStatus;
use failover_core::{Counters, DropReason, Instant, Node, Request, Role};
use nix::sys::stat::Mode;
use nix::unistd::Gid;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;
use tokio::sync::{mpsc, oneshot};

/// The default socket path.
pub const DEFAULT_SOCKET: &str = "/run/failoverd.sock";

/// A request for a fresh report, answered by the driver loop, which owns the nodes.
pub type ReportRequest = oneshot::Sender<Answer>;

/// What the daemon answers: its node's report, unchanged for a daemon of one group, or one
/// report per group for a witness serving several.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Answer {
    /// A witness serving several groups.
    Groups(Groups),
    /// A daemon of one group: its node's report as one JSON object (boxed: far bigger than
    /// the list of a witness's groups).
    One(Box<Report>),
}

/// The reports of a witness serving several groups.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Groups {
    /// One per group, in the order of the configurations.
    pub groups: Vec<GroupReport>,
    /// Datagrams that belong to none of them.
    pub unclaimed: Unclaimed,
}

/// One group's node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupReport {
    /// `protocol.group`.
    pub group: u16,
    /// Its node's report.
    pub report: Report,
}

/// Datagrams a process serving several groups dropped because they belong to none: their
/// header could not be read (malformed), or names a group no node on that socket serves
/// (foreign). A single-group daemon's node counts these itself, in its [`Counters`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unclaimed {
    /// Too short for a header, or another magic or version.
    pub malformed: u64,
    /// Of a group no node on the socket it came to serves.
    pub foreign: u64,
}

impl Unclaimed {
    /// One more dropped for `reason` (the socket layer gives only malformed and foreign).
    pub fn count(&mut self, reason: DropReason) {
        match reason {
            DropReason::Malformed => self.malformed += 1,
            _ => self.foreign += 1,
        }
    }
}

impl Answer {
    /// The answer for people: a single group's report as it always was; several groups'
    /// each under a `group N:` line, indented, then what belongs to none.
    pub fn to_text(&self) -> String {
        let groups = match self {
            Answer::One(report) => return report.to_text(),
            Answer::Groups(groups) => groups,
        };
        let mut out = String::new();
        for g in &groups.groups {
            let _ = writeln!(out, "group {}:", g.group);
            for line in g.report.to_text().lines() {
                let _ = writeln!(out, "  {line}");
            }
        }
        let u = groups.unclaimed;
        let _ = writeln!(
            out,
            "datagrams of no group served here: dropped: malformed {}, foreign {}",
            u.malformed, u.foreign
        );
        out
    }
}

/// A snapshot of the daemon.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// This node's name.
    pub node: String,
    /// Its priority.
    pub priority: u8,
    /// Its role.
    pub role: Role,
    /// In standby: it announces priority 0 and never takes the addresses until
    /// `failoverctl active`.
    #[serde(default)]
    pub standby: bool,
    /// It holds the addresses by a switchover, kept against preemption.
    #[serde(default)]
    pub kept: bool,
    /// An operator's request waiting for the other nodes' answers.
    #[serde(default)]
    pub pending: Option<String>,
    /// Its boot epoch.
    pub epoch: u64,
    /// Seconds since the daemon started.
    pub uptime_s: u64,
    /// Every configured virtual address and who holds it.
    pub vips: Vec<VipReport>,
    /// Every peer ever heard.
    pub peers: Vec<PeerReport>,
    /// Datagram counters.
    pub counters: Counters,
    /// Quorum mode only: the votes, the lease this node holds and the promise it gave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum: Option<QuorumStatus>,
}

/// One virtual address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VipReport {
    /// `address/prefix`.
    pub address: String,
    /// Its interface.
    pub interface: String,
    /// Who holds it as far as this node knows: itself, a live peer in role master, or no one.
    pub holder: Option<String>,
}

/// One peer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerReport {
    /// Its name.
    pub name: String,
    /// Its priority.
    pub priority: u8,
    /// Its last announced role.
    pub role: Role,
    /// Whether it counts as alive.
    pub alive: bool,
    /// Whether it says it is in standby.
    #[serde(default)]
    pub standby: bool,
    /// Its boot epoch.
    pub epoch: u64,
    /// Per path name: milliseconds since the peer's last heartbeat there (`null`: never).
    pub last_heartbeat_ms: BTreeMap<String, Option<u64>>,
}

impl Report {
    /// The node's state at `now`.
    pub fn new(node: &Node, now: Instant, uptime: Duration) -> Report {
        let status = node.status(now);
        let config = node.config();
        let owner = status
            .peers
            .iter()
            .find(|p| p.alive && p.role == Role::Master)
            .map(|p| p.name.clone());
        let label = |v: &VipSettings| format!("{}/{}", v.address, v.prefix_len());
        Report {
            node: status.name.clone(),
            priority: config.node.priority,
            role: status.role,
            standby: status.standby,
            kept: status.kept,
            pending: status.pending.as_ref().map(|r| r.to_string()),
            epoch: status.epoch,
            uptime_s: uptime.as_secs(),
            vips: config
                .vips
                .iter()
                .map(|v| VipReport {
                    address: label(v),
                    interface: v.interface.clone(),
                    holder: if status.held.contains(&v.address) {
                        Some(status.name.clone())
                    } else {
                        owner.clone()
                    },
                })
                .collect(),
            peers: status
                .peers
                .iter()
                .map(|p| PeerReport {
                    name: p.name.clone(),
                    priority: p.priority,
                    role: p.role,
                    alive: p.alive,
                    standby: p.standby,
                    epoch: p.epoch,
                    last_heartbeat_ms: config
                        .paths
                        .iter()
                        .map(|path| path.name.clone())
                        .zip(p.last_heard_ms.iter().copied())
                        .collect(),
                })
                .collect(),
            counters: status.counters,
            quorum: status.quorum,
        }
    }

    /// The report for people.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "node {} (priority {}): {}, epoch {}, up {} s",
            self.node, self.priority, self.role, self.epoch, self.uptime_s
        );
        if self.standby {
            out.push_str(
                "standby: announces priority 0 and never takes the addresses (failoverctl active to leave)\n",
            );
        }
        if self.kept {
            out.push_str(
                "switchover: holds the addresses against preemption until it lets them go\n",
            );
        }
        if let Some(pending) = &self.pending {
            let _ = writeln!(
                out,
                "pending: {pending}, waiting for the other nodes to answer"
            );
        }
        out.push_str("addresses:\n");
        for vip in &self.vips {
            let holder = match &vip.holder {
                Some(h) if *h == self.node => format!("held by {h} (this node)"),
                Some(h) => format!("held by {h}"),
                None => "held by no one".to_string(),
            };
            let _ = writeln!(out, "  {} on {}: {holder}", vip.address, vip.interface);
        }
        out.push_str("peers:\n");
        if self.peers.is_empty() {
            out.push_str("  none heard yet\n");
        }
        for p in &self.peers {
            let heard: Vec<String> = p
                .last_heartbeat_ms
                .iter()
                .map(|(path, ms)| match ms {
                    Some(ms) => format!("{path} {ms} ms ago"),
                    None => format!("{path} never"),
                })
                .collect();
            let _ = writeln!(
                out,
                "  {} (priority {}): {}{}, {}, epoch {}; last heartbeat: {}",
                p.name,
                p.priority,
                p.role,
                if p.standby { " in standby" } else { "" },
                if p.alive { "alive" } else { "down" },
                p.epoch,
                heard.join(", ")
            );
        }
        if let Some(q) = &self.quorum {
            quorum_text(&mut out, q);
        }
        let c = &self.counters;
        let previous = match c.previous_key {
            0 => String::new(),
            n => format!(" ({n} under the previous key)"),
        };
        let _ = writeln!(
            out,
            "datagrams: sent {}, received {}{previous}; dropped: malformed {}, \
             unauthenticated {}, replayed {}, foreign {}",
            c.sent, c.received, c.malformed, c.unauthenticated, c.replayed, c.foreign
        );
        out
    }
}

/// Quorum mode's lines: the lease, the promise, and each voter's last grant or refusal.
fn quorum_text(out: &mut String, q: &QuorumStatus) {
    let lease = match q.lease_left_ms {
        0 => "no lease held".to_string(),
        ms => format!("lease held, {ms} ms left"),
    };
    let promise = match &q.promised_to {
        Some(to) => format!("vote promised to {to} for {} ms", q.promise_left_ms),
        None => "vote free".to_string(),
    };
    let _ = writeln!(
        out,
        "quorum: {lease}; {promise}; a lease needs {} of {} votes",
        q.majority,
        q.voters.len()
    );
    for v in &q.voters {
        let said = match (&v.granted_ms_ago, &v.refused_for) {
            (Some(ms), _) => format!("granted a request sent {ms} ms ago"),
            (None, Some(holder)) => format!("refused: promised to {holder}"),
            (None, None) => "no grant".to_string(),
        };
        let _ = writeln!(out, "  voter {}: {said}", v.name);
    }
}

/// Binds the status socket with file mode `mode`, in group `group` if given. A socket file left
/// by a daemon that is gone is replaced; one that a running daemon answers on is not (a second
/// daemon on the same socket is a mistake).
pub fn bind(path: &Path, mode: u32, group: Option<u32>) -> io::Result<UnixListener> {
    let named = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            return Err(named(io::Error::new(
                io::ErrorKind::AddrInUse,
                "another failoverd answers on this socket",
            )));
        }
        std::fs::remove_file(path).map_err(named)?;
    }
    // Created with no access for group and others at all, then given its group and mode: the
    // file is never more open than configured, whatever the daemon's umask.
    let umask = nix::sys::stat::umask(Mode::from_bits_truncate(0o077));
    let bound = UnixListener::bind(path);
    nix::sys::stat::umask(umask);
    let listener = bound.map_err(named)?;
    nix::unistd::chown(path, None, group.map(Gid::from_raw))
        .map_err(|e| named(io::Error::from(e)))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(named)?;
    Ok(listener)
}

/// The longest request line read: `switchover` and a node's name of at most 64 bytes.
const MAX_REQUEST: u64 = 128;

/// Answers status and operators' requests until the driver goes away, to the clients
/// `access` lets in. Connections are bounded in number and time ([`Clients`]) and a request
/// line in length: a crowd of silent, slow or garbage-sending clients costs the daemon neither
/// descriptors nor memory without bound.
pub async fn serve(
    listener: UnixListener,
    requests: mpsc::Sender<ReportRequest>,
    operators: mpsc::Sender<OperatorRequest>,
    access: Access,
) {
    let mut clients = Clients::new("status socket");
    let mut refusals = RefusalLog::default();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // e.g. out of file descriptors: do not spin, try again shortly
                tracing::warn!("status socket: cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let verdict = match stream.peer_cred() {
            Ok(cred) => {
                let client = Client {
                    uid: cred.uid(),
                    gid: cred.gid(),
                    pid: cred.pid(),
                };
                let verdict = access.check(client);
                if let Err(why) = &verdict {
                    refusals.refused(client, why);
                }
                verdict
            }
            Err(e) => Err(format!("cannot tell who connected: {e}")),
        };
        let (requests, operators) = (requests.clone(), operators.clone());
        clients
            .serve(|asked| answer(stream, requests, operators, asked, verdict))
            .await;
    }
}

/// Reads one request line and answers it (with the refusal, if the client may not ask: read
/// first, so a client that wrote its request always gets the answer instead of a broken pipe).
async fn answer(
    stream: tokio::net::UnixStream,
    requests: mpsc::Sender<ReportRequest>,
    operators: mpsc::Sender<OperatorRequest>,
    asked: Asked,
    verdict: Result<(), String>,
) {
    let (read, mut write) = stream.into_split();
    let mut line = Vec::new();
    let mut read = tokio::io::BufReader::new(read.take(MAX_REQUEST));
    if read.read_until(b'\n', &mut line).await.is_err() {
        return;
    }
    asked.mark();
    let line = String::from_utf8_lossy(&line);
    let answer = match (verdict, Request::from_line(&line)) {
        (Err(refusal), _) => serde_json::json!({ "error": refusal }).to_string(),
        (Ok(()), None) if line.trim() == "status" => {
            let (tx, rx) = oneshot::channel();
            if requests.send(tx).await.is_err() {
                return;
            }
            let Ok(report) = rx.await else { return };
            serde_json::to_string(&report).unwrap_or_default()
        }
        (Ok(()), Some(Ok(request))) => {
            let (tx, rx) = oneshot::channel();
            if operators.send((request, tx)).await.is_err() {
                return;
            }
            let Ok(reply) = rx.await else { return };
            serde_json::to_string(&reply).unwrap_or_default()
        }
        (Ok(()), Some(Err(e))) => serde_json::json!({ "ok": false, "message": e }).to_string(),
        (Ok(()), None) => {
            serde_json::json!({ "error": format!("unknown request `{}`", line.trim()) }).to_string()
        }
    };
    let _ = write.write_all(format!("{answer}\n").as_bytes()).await;
}

/// Asks a running daemon (blocking; used by `failoverctl`). Returns the raw JSON line.
pub fn query(path: &Path) -> io::Result<String> {
    let mut stream = UnixStream::connect(path)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(b"status\n")?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    if line.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the daemon closed the connection without answering",
        ));
    }
    Ok(line)
}

/// Removes the socket file when the daemon ends.
pub struct SocketFile(pub PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
