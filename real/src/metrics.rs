//! An optional Prometheus endpoint: `GET /metrics` on a loopback address, in the text
//! exposition format.
//!
//! Only loopback addresses are accepted unless `control.metrics_allow_remote = true`, because
//! the endpoint has no authentication and tells anyone who asks who holds which address; a
//! scraper on another machine goes through a local agent or proxy, or is let in on purpose.
//! The server answers one request per connection with a minimal HTTP/1.1 response: that is all
//! a Prometheus scrape needs, and it keeps an HTTP stack out of a daemon that must stay small.

use crate::clients::{Asked, Clients};
use crate::status::{Report, ReportRequest};
use failover_core::{Config, Role};
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

/// The report in Prometheus' text format.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, String)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    let node = escape(&report.node);
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
        &roles
            .iter()
            .map(|r| {
                let on = u8::from(*r == report.role);
                (format!("{{node=\"{node}\",role=\"{r}\"}}"), on.to_string())
            })
            .collect::<Vec<_>>(),
    );
    metric(
        "failover_vip_held",
        "gauge",
        "1 if this node holds the virtual address.",
        &report
            .vips
            .iter()
            .map(|v| {
                let held = u8::from(v.holder.as_deref() == Some(&report.node));
                let labels = format!(
                    "{{address=\"{}\",interface=\"{}\"}}",
                    escape(&v.address),
                    escape(&v.interface)
                );
                (labels, held.to_string())
            })
            .collect::<Vec<_>>(),
    );
    metric(
        "failover_boot_epoch",
        "gauge",
        "This start's boot epoch.",
        &[(String::new(), report.epoch.to_string())],
    );
    let c = &report.counters;
    metric(
        "failover_datagrams_sent_total",
        "counter",
        "Heartbeat datagrams sent.",
        &[(String::new(), c.sent.to_string())],
    );
    metric(
        "failover_datagrams_received_total",
        "counter",
        "Heartbeat datagrams accepted.",
        &[(String::new(), c.received.to_string())],
    );
    metric(
        "failover_datagrams_previous_key_total",
        "counter",
        "Datagrams authenticated only under protocol.previous_auth_key: a key rotation not yet done everywhere.",
        &[(String::new(), c.previous_key.to_string())],
    );
    metric(
        "failover_datagrams_dropped_total",
        "counter",
        "Datagrams dropped, by reason.",
        &[
            ("malformed", c.malformed),
            ("unauthenticated", c.unauthenticated),
            ("replayed", c.replayed),
            ("foreign", c.foreign),
        ]
        .map(|(reason, n)| (format!("{{reason=\"{reason}\"}}"), n.to_string())),
    );
    metric(
        "failover_peer_alive",
        "gauge",
        "1 if the peer counts as alive.",
        &report
            .peers
            .iter()
            .map(|p| {
                let labels = format!("{{peer=\"{}\"}}", escape(&p.name));
                (labels, u8::from(p.alive).to_string())
            })
            .collect::<Vec<_>>(),
    );
    metric(
        "failover_peer_last_heartbeat_seconds",
        "gauge",
        "Seconds since the peer's last heartbeat on the path.",
        &report
            .peers
            .iter()
            .flat_map(|p| {
                p.last_heartbeat_ms.iter().filter_map(move |(path, ms)| {
                    let labels =
                        format!("{{peer=\"{}\",path=\"{}\"}}", escape(&p.name), escape(path));
                    ms.map(|ms| (labels, format!("{:.3}", ms as f64 / 1000.0)))
                })
            })
            .collect::<Vec<_>>(),
    );
    if let Some(q) = &report.quorum {
        let seconds = |ms: u64| format!("{:.3}", ms as f64 / 1000.0);
        metric(
            "failover_lease_remaining_seconds",
            "gauge",
            "Quorum mode: seconds left of the lease this node holds (0: none).",
            &[(String::new(), seconds(q.lease_left_ms))],
        );
        metric(
            "failover_votes_needed",
            "gauge",
            "Quorum mode: grants a lease needs (a majority of the voters).",
            &[(String::new(), q.majority.to_string())],
        );
        metric(
            "failover_vote_granted_seconds",
            "gauge",
            "Quorum mode: age of the newest request of this node the voter granted.",
            &q.voters
                .iter()
                .filter_map(|v| {
                    let labels = format!("{{voter=\"{}\"}}", escape(&v.name));
                    v.granted_ms_ago.map(|ms| (labels, seconds(ms)))
                })
                .collect::<Vec<_>>(),
        );
        metric(
            "failover_vote_promise_remaining_seconds",
            "gauge",
            "Quorum mode: seconds this node's vote stays promised, by the node it is promised to.",
            &q.promised_to
                .iter()
                .map(|to| {
                    let labels = format!("{{to=\"{}\"}}", escape(to));
                    (labels, seconds(q.promise_left_ms))
                })
                .collect::<Vec<_>>(),
        );
    }
    out
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
        let Ok(report) = rx.await else { return Ok(()) };
        ("200 OK", render(&report))
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
