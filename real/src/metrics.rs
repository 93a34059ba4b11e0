//! An optional Prometheus endpoint: `GET /metrics` on a loopback address, in the text
//! exposition format.
//!
//! Only loopback addresses are accepted unless `control.metrics_allow_remote = true`, because
//! the endpoint has no authentication and tells anyone who asks who holds which address; a
//! scraper on another machine goes through a local agent or proxy, or is let in on purpose.
//! The server answers one request per connection with a minimal HTTP/1.1 response: that is all
//! a Prometheus scrape needs, and it keeps an HTTP stack out of a daemon that must stay small.

use crate::clients::{Asked, Clients};
use crate::status::{Answer, Report, ReportRequest};
use failover_core::node::QuorumStatus;
use failover_core::{Config, Counters, Role};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

/// Refuses `--metrics` at an address a remote host could reach, unless the configuration
/// allows it (`control.metrics_allow_remote`; core refuses `control.metrics` the same way).
pub fn check_listen_addr(addr: SocketAddr, allow_remote: bool) -> Result<(), String> {
    if addr.ip().is_loopback() || allow_remote {
        Ok(())
    } else {
        Err(format!(
            "--metrics {addr}: not a loopback address (127.0.0.0/8 or ::1); the endpoint has \
             no authentication and tells who holds which address: set \
             control.metrics_allow_remote = true in the configuration to serve it to other hosts"
        ))
    }
}

/// Where `/metrics` is served, and the setting that said so (named in errors).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricsAt {
    /// The listening address.
    pub addr: SocketAddr,
    /// `--metrics` or `control.metrics`.
    pub setting: &'static str,
}

/// The metrics address: `--metrics` if given (checked here), else `control.metrics` (checked
/// with the configuration), else none.
pub fn metrics_at(flag: Option<SocketAddr>, config: &Config) -> Result<Option<MetricsAt>, String> {
    if let Some(addr) = flag {
        check_listen_addr(addr, config.control.metrics_allow_remote)?;
        return Ok(Some(MetricsAt {
            addr,
            setting: "--metrics",
        }));
    }
    Ok(config.control.metrics.map(|addr| MetricsAt {
        addr,
        setting: "control.metrics",
    }))
}

/// One metric's samples: (labels, value).
type Samples = Vec<(String, String)>;

/// The answer in Prometheus' text format. A witness serving several groups labels every
/// sample with its `group`; a single group's samples have no such label, as they always had.
pub fn render(answer: &Answer) -> String {
    let (reports, unclaimed): (Vec<(Option<u16>, &Report)>, _) = match answer {
        Answer::One(report) => (vec![(None, report)], None),
        Answer::Groups(g) => (
            g.groups
                .iter()
                .map(|g| (Some(g.group), &g.report))
                .collect(),
            Some(g.unclaimed),
        ),
    };
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, String)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    // Every group's samples of one metric, each labelled by `labels(group, pairs)`.
    let each = |sample: &dyn Fn(Option<u16>, &Report) -> Samples| {
        reports
            .iter()
            .flat_map(|&(group, report)| sample(group, report))
            .collect::<Vec<_>>()
    };
    let roles = [
        Role::Backup,
        Role::Acquiring,
        Role::Master,
        Role::Releasing,
        Role::Stopped,
    ];
    metric(
        "failover_role",
        "gauge",
        "1 for the role this node is in.",
        &each(&|group, report| {
            roles
                .iter()
                .map(|r| {
                    let on = u8::from(*r == report.role);
                    let role = r.to_string();
                    (
                        labels(group, &[("node", &report.node), ("role", &role)]),
                        on.to_string(),
                    )
                })
                .collect()
        }),
    );
    metric(
        "failover_vip_held",
        "gauge",
        "1 if this node holds the virtual address.",
        &each(&|group, report| {
            report
                .vips
                .iter()
                .map(|v| {
                    let held = u8::from(v.holder.as_deref() == Some(&report.node));
                    let pairs = [("address", &*v.address), ("interface", &*v.interface)];
                    (labels(group, &pairs), held.to_string())
                })
                .collect()
        }),
    );
    metric(
        "failover_boot_epoch",
        "gauge",
        "This start's boot epoch.",
        &each(&|group, report| vec![(labels(group, &[]), report.epoch.to_string())]),
    );
    let counter = |value: fn(&Counters) -> u64| {
        each(&|group, report| vec![(labels(group, &[]), value(&report.counters).to_string())])
    };
    metric(
        "failover_datagrams_sent_total",
        "counter",
        "Heartbeat datagrams sent.",
        &counter(|c| c.sent),
    );
    metric(
        "failover_datagrams_received_total",
        "counter",
        "Heartbeat datagrams accepted.",
        &counter(|c| c.received),
    );
    metric(
        "failover_datagrams_previous_key_total",
        "counter",
        "Datagrams authenticated only under protocol.previous_auth_key: a key rotation not yet done everywhere.",
        &counter(|c| c.previous_key),
    );
    metric(
        "failover_datagrams_dropped_total",
        "counter",
        "Datagrams dropped, by reason.",
        &each(&|group, report| {
            let c = &report.counters;
            [
                ("malformed", c.malformed),
                ("unauthenticated", c.unauthenticated),
                ("replayed", c.replayed),
                ("foreign", c.foreign),
            ]
            .map(|(reason, n)| (labels(group, &[("reason", reason)]), n.to_string()))
            .to_vec()
        }),
    );
    if let Some(u) = unclaimed {
        metric(
            "failover_datagrams_unclaimed_total",
            "counter",
            "Datagrams of no group this process serves, dropped, by reason.",
            &[("malformed", u.malformed), ("foreign", u.foreign)]
                .map(|(reason, n)| (labels(None, &[("reason", reason)]), n.to_string())),
        );
    }
    metric(
        "failover_peer_alive",
        "gauge",
        "1 if the peer counts as alive.",
        &each(&|group, report| {
            report
                .peers
                .iter()
                .map(|p| {
                    let alive = u8::from(p.alive).to_string();
                    (labels(group, &[("peer", &p.name)]), alive)
                })
                .collect()
        }),
    );
    metric(
        "failover_peer_last_heartbeat_seconds",
        "gauge",
        "Seconds since the peer's last heartbeat on the path.",
        &each(&|group, report| {
            report
                .peers
                .iter()
                .flat_map(|p| {
                    p.last_heartbeat_ms.iter().filter_map(move |(path, ms)| {
                        let labels = labels(group, &[("peer", &p.name), ("path", path)]);
                        ms.map(|ms| (labels, seconds(ms)))
                    })
                })
                .collect()
        }),
    );
    let quorum: Vec<(Option<u16>, &QuorumStatus)> = reports
        .iter()
        .filter_map(|&(group, report)| Some((group, report.quorum.as_ref()?)))
        .collect();
    if !quorum.is_empty() {
        let each = |sample: &dyn Fn(Option<u16>, &QuorumStatus) -> Samples| {
            quorum
                .iter()
                .flat_map(|&(group, q)| sample(group, q))
                .collect::<Vec<_>>()
        };
        metric(
            "failover_lease_remaining_seconds",
            "gauge",
            "Quorum mode: seconds left of the lease this node holds (0: none).",
            &each(&|group, q| vec![(labels(group, &[]), seconds(q.lease_left_ms))]),
        );
        metric(
            "failover_votes_needed",
            "gauge",
            "Quorum mode: grants a lease needs (a majority of the voters).",
            &each(&|group, q| vec![(labels(group, &[]), q.majority.to_string())]),
        );
        metric(
            "failover_vote_granted_seconds",
            "gauge",
            "Quorum mode: age of the newest request of this node the voter granted.",
            &each(&|group, q| {
                q.voters
                    .iter()
                    .filter_map(|v| {
                        let labels = labels(group, &[("voter", &v.name)]);
                        v.granted_ms_ago.map(|ms| (labels, seconds(ms)))
                    })
                    .collect()
            }),
        );
        metric(
            "failover_vote_promise_remaining_seconds",
            "gauge",
            "Quorum mode: seconds this node's vote stays promised, by the node it is promised to.",
            &each(&|group, q| {
                q.promised_to
                    .iter()
                    .map(|to| (labels(group, &[("to", to)]), seconds(q.promise_left_ms)))
                    .collect()
            }),
        );
    }
    out
}

/// Milliseconds as Prometheus' seconds.
fn seconds(ms: u64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
}

/// A sample's labels, `{group="2",name="value"}` (the group only when given), or nothing.
fn labels(group: Option<u16>, pairs: &[(&str, &str)]) -> String {
    let group = group.map(|g| g.to_string());
    let all: Vec<String> = (group.as_deref().map(|g| ("group", g)).into_iter())
        .chain(pairs.iter().copied())
        .map(|(name, value)| format!("{name}=\"{}\"", escape(value)))
        .collect();
    if all.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", all.join(","))
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Serves scrapes until the driver goes away, at most [`MAX_CLIENTS`](crate::clients::MAX_CLIENTS) at once,
/// each for a bounded time ([`Clients`]).
pub async fn serve(listener: TcpListener, requests: mpsc::Sender<ReportRequest>) {
    let mut clients = Clients::new("metrics");
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // e.g. out of file descriptors: do not spin, try again shortly
                tracing::warn!("metrics: cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let requests = requests.clone();
        clients
            .serve(|asked| async move {
                let _ = answer(stream, requests, asked).await;
            })
            .await;
    }
}

async fn answer(
    mut stream: TcpStream,
    requests: mpsc::Sender<ReportRequest>,
    asked: Asked,
) -> std::io::Result<()> {
    // Read the request head (a scrape has no body); 8 KiB is far more than one needs.
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 512];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    asked.mark();
    let request_line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let (status, body) = if request_line.starts_with(b"GET /metrics ") {
        let (tx, rx) = oneshot::channel();
        if requests.send(tx).await.is_err() {
            return Ok(());
        }
        let Ok(answer) = rx.await else { return Ok(()) };
        ("200 OK", render(&answer))
    } else {
        ("404 Not Found", "only /metrics is here\n".to_string())
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}
