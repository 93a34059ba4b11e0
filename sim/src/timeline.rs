//! One picture of a run: per node its role and what it holds over time, faults as shaded
//! spans, the client's failed requests, and split brain in red — so a person grasps a
//! failure at a glance. SVG on its own, or wrapped in an HTML page with the run's verdict.

use crate::check::secs;
use crate::record::Observation;
use crate::scenario::Scenario;
use crate::world::RunReport;
use failover_core::Role;
use std::fmt::Write;

/// A closed interval of time with what filled it.
struct Span<T> {
    from: u64,
    to: u64,
    what: T,
}

/// Node state for a lane.
#[derive(Clone, Copy, PartialEq)]
enum Lane {
    Role(Role),
    Down,
}

/// The run, sorted into spans.
struct Spans {
    roles: Vec<Vec<Span<Lane>>>,
    paused: Vec<Vec<Span<()>>>,
    host_down: Vec<Vec<Span<()>>>,
    held: Vec<Vec<Vec<Span<()>>>>,
    notices: Vec<(u64, usize, String)>,
    /// Datagrams lost on a daemon's full socket buffers: (when, node, how many).
    overflows: Vec<(u64, usize, u64)>,
    failed: Vec<Vec<Span<()>>>,
    faults: Vec<Span<usize>>,
    split: Vec<Span<usize>>,
}

fn close<T>(spans: &mut Vec<Span<T>>, open: &mut Option<(u64, T)>, at: u64) {
    if let Some((from, what)) = open.take() {
        if at > from {
            spans.push(Span { from, to: at, what });
        }
    }
}

impl Spans {
    fn of(report: &RunReport, nodes: usize, vips: usize, end: u64) -> Spans {
        let mut s = Spans {
            roles: (0..nodes).map(|_| Vec::new()).collect(),
            paused: (0..nodes).map(|_| Vec::new()).collect(),
            host_down: (0..nodes).map(|_| Vec::new()).collect(),
            held: (0..nodes)
                .map(|_| (0..vips).map(|_| Vec::new()).collect())
                .collect(),
            notices: Vec::new(),
            overflows: Vec::new(),
            failed: (0..vips).map(|_| Vec::new()).collect(),
            faults: Vec::new(),
            split: Vec::new(),
        };
        let mut role: Vec<Option<(u64, Lane)>> = vec![None; nodes];
        let mut paused: Vec<Option<(u64, ())>> = vec![None; nodes];
        let mut host_down: Vec<Option<(u64, ())>> = vec![None; nodes];
        let mut held: Vec<Vec<Option<(u64, ())>>> = vec![vec![None; vips]; nodes];
        let mut holders: Vec<usize> = vec![0; vips];
        let mut split: Vec<Option<(u64, usize)>> = vec![None; vips];
        let mut requests_since = vec![0; vips];
        let mut faults: Vec<Option<(u64, usize)>> = vec![None; report.faults.len()];
        for (at, obs) in &report.record {
            let at = *at;
            match *obs {
                Observation::Up { node: n } => {
                    close(&mut s.roles[n], &mut role[n], at);
                    role[n] = Some((at, Lane::Role(Role::Backup)));
                }
                Observation::Down { node: n } => {
                    close(&mut s.roles[n], &mut role[n], at);
                    role[n] = Some((at, Lane::Down));
                }
                Observation::RoleChanged { node: n, to, .. } => {
                    if to != Role::Stopped {
                        close(&mut s.roles[n], &mut role[n], at);
                        role[n] = Some((at, Lane::Role(to)));
                    }
                }
                Observation::Paused { node: n } => paused[n] = Some((at, ())),
                Observation::Resumed { node: n } => close(&mut s.paused[n], &mut paused[n], at),
                Observation::HostDown { node: n } => host_down[n] = Some((at, ())),
                Observation::HostUp { node: n } => {
                    close(&mut s.host_down[n], &mut host_down[n], at)
                }
                Observation::Acquired { node: n, vip: v } => {
                    if held[n][v].is_none() {
                        held[n][v] = Some((at, ()));
                        holders[v] += 1;
                        if holders[v] == 2 {
                            split[v] = Some((at, v));
                        }
                    }
                }
                Observation::Released { node: n, vip: v } => {
                    if held[n][v].is_some() {
                        close(&mut s.held[n][v], &mut held[n][v], at);
                        holders[v] -= 1;
                        if holders[v] == 1 {
                            close(&mut s.split, &mut split[v], at);
                        }
                    }
                }
                Observation::Notified {
                    node: n,
                    ref notification,
                } => s.notices.push((at, n, notification.summary())),
                // An operator's answers and the standby flag are marked like notices.
                Observation::Answered {
                    node: n,
                    ref answer,
                } => {
                    let said = match &answer.outcome {
                        Ok(done) => done.to_string(),
                        Err(refusal) => format!("refused: {refusal}"),
                    };
                    s.notices
                        .push((at, n, format!("{}: {said}", answer.request)));
                }
                Observation::Standby { node: n, on } => {
                    let what = if on { "in standby" } else { "active" };
                    s.notices.push((at, n, what.into()));
                }
                Observation::TakeoverAbandoned { node: n, .. } => {
                    s.notices.push((at, n, "takeover abandoned".into()))
                }
                Observation::BufferOverflowed { node: n, dropped } => {
                    s.overflows.push((at, n, dropped))
                }
                // One that changed something is marked like a notice (one per datagram
                // dropped as it should be would bury the picture).
                Observation::Tampered {
                    node: n,
                    how,
                    changed: Some(ref what),
                } => s
                    .notices
                    .push((at, n, format!("bad datagram ({how:?}): {what}"))),
                Observation::Tampered { .. } => {}
                Observation::Reloaded {
                    node: n,
                    ref refused,
                    ..
                } => {
                    let what = match refused {
                        None => "configuration reloaded".to_string(),
                        Some(field) => format!("reload refused: {field}"),
                    };
                    s.notices.push((at, n, what));
                }
                Observation::Requests { vip, ok, first, .. } => {
                    let from = requests_since[vip].max(first);
                    if !ok && at > from {
                        s.failed[vip].push(Span {
                            from,
                            to: at,
                            what: (),
                        });
                    }
                    requests_since[vip] = at;
                }
                Observation::FaultStarted { fault: f } => faults[f] = Some((at, f)),
                Observation::FaultEnded { fault: f } => close(&mut s.faults, &mut faults[f], at),
                // (too many to draw, or drawn from the notices they cause)
                Observation::Heard { .. }
                | Observation::Announced { .. }
                | Observation::HookFailed { .. }
                | Observation::HookStarted { .. }
                | Observation::AddressRefused { .. }
                | Observation::Status { .. }
                | Observation::Grants { .. } => {}
            }
        }
        for n in 0..nodes {
            close(&mut s.roles[n], &mut role[n], end);
            close(&mut s.paused[n], &mut paused[n], end);
            close(&mut s.host_down[n], &mut host_down[n], end);
            for (spans, open) in s.held[n].iter_mut().zip(held[n].iter_mut()) {
                close(spans, open, end);
            }
        }
        for f in faults.iter_mut() {
            // A fault with no end (a crash for good) is marked at its start.
            if let Some((from, id)) = f.take() {
                s.faults.push(Span {
                    from,
                    to: from,
                    what: id,
                });
            }
        }
        for v in split.iter_mut() {
            close(&mut s.split, v, end);
        }
        s.faults.sort_by_key(|f| f.from);
        s
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const LEFT: f64 = 150.0;
const WIDTH: f64 = 1400.0;
const LANE: f64 = 18.0;

fn color(lane: Lane) -> &'static str {
    match lane {
        Lane::Role(Role::Backup) => "#d9d9d9",
        Lane::Role(Role::Acquiring) => "#ffd966",
        Lane::Role(Role::Master) => "#6aa84f",
        Lane::Role(Role::Releasing) => "#f6b26b",
        Lane::Role(Role::Stopped) | Lane::Down => "#434343",
    }
}

fn name(lane: Lane) -> String {
    match lane {
        Lane::Role(r) => r.to_string(),
        Lane::Down => "down".into(),
    }
}

/// The timeline of a run of `scenario` (recorded with `Options::record`) as SVG.
pub fn svg(scenario: &Scenario, report: &RunReport) -> String {
    let end = scenario.duration.as_nanos() as u64;
    let (nodes, vips) = (scenario.nodes.len(), scenario.vips.len());
    let spans = Spans::of(report, nodes, vips, end);
    let x = |t: u64| LEFT + (t as f64 / end.max(1) as f64) * (WIDTH - LEFT - 20.0);
    let fault_rows = fault_rows(&spans.faults);
    let top = 40.0 + fault_rows.len().max(1) as f64 * 14.0;
    let node_h = LANE * (1 + vips) as f64 + 14.0;
    let client_y = top + node_h * nodes as f64 + 6.0;
    let split_y = client_y + LANE * vips as f64 + 10.0;
    let height = split_y + LANE + 90.0;
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(
        w,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(w, r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
    let verdict = if report.passed() { "pass" } else { "FAIL" };
    let _ = writeln!(
        w,
        r#"<text x="8" y="16" font-size="14" font-weight="bold">{} — seed {} — {verdict}</text>"#,
        escape(&scenario.name),
        report.seed
    );
    // Faults: shaded across every row, labelled above.
    for (row, ids) in fault_rows.iter().enumerate() {
        for &i in ids {
            let f = &spans.faults[i];
            let label = scenario.describe(&report.faults[f.what].kind);
            let (x0, x1) = (x(f.from), x(f.to).max(x(f.from) + 2.0));
            let _ = writeln!(
                w,
                r##"<g class="fault"><title>{} from {} to {}</title><rect x="{x0:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#9900ff" fill-opacity="0.08" stroke="#9900ff" stroke-opacity="0.4"/><text x="{:.1}" y="{:.1}" fill="#7a00cc">{}</text></g>"##,
                escape(&label),
                secs(f.from),
                secs(f.to),
                30.0 + row as f64 * 14.0,
                x1 - x0,
                split_y + LANE - 30.0 - row as f64 * 14.0,
                x0 + 2.0,
                40.0 + row as f64 * 14.0,
                escape(&label)
            );
        }
    }
    // Split brain: a red band over everything, and a row of its own.
    for s in &spans.split {
        let (x0, x1) = (x(s.from), x(s.to).max(x(s.from) + 2.0));
        let _ = writeln!(
            w,
            r##"<g class="split-brain"><title>split brain on {} from {} to {}</title><rect x="{x0:.1}" y="{top:.1}" width="{:.1}" height="{:.1}" fill="#ff0000" fill-opacity="0.15"/><rect x="{x0:.1}" y="{split_y:.1}" width="{:.1}" height="{LANE}" fill="#cc0000"/></g>"##,
            scenario.vips[s.what].address,
            secs(s.from),
            secs(s.to),
            x1 - x0,
            split_y + LANE - top,
            x1 - x0
        );
    }
    let _ = writeln!(
        w,
        r#"<text x="8" y="{:.1}" font-weight="bold">split brain</text>"#,
        split_y + 13.0
    );
    for (n, node) in scenario.nodes.iter().enumerate() {
        let y = top + node_h * n as f64;
        let _ = writeln!(
            w,
            r##"<g class="node" data-node="{0}"><text x="8" y="{1:.1}" font-weight="bold">{0}</text><text x="8" y="{2:.1}" fill="#666">priority {3}</text>"##,
            escape(&node.name),
            y + 13.0,
            y + 13.0 + LANE,
            node.priority
        );
        for r in &spans.roles[n] {
            let _ = writeln!(
                w,
                r#"<rect class="role" x="{:.1}" y="{y:.1}" width="{:.1}" height="{LANE}" fill="{}"><title>{} {} from {} to {}</title></rect>"#,
                x(r.from),
                (x(r.to) - x(r.from)).max(0.5),
                color(r.what),
                escape(&node.name),
                name(r.what),
                secs(r.from),
                secs(r.to)
            );
        }
        for p in &spans.paused[n] {
            let _ = writeln!(
                w,
                r##"<rect class="paused" x="{:.1}" y="{y:.1}" width="{:.1}" height="{LANE}" fill="#3d85c6" fill-opacity="0.55"><title>{}'s daemon stopped from {} to {}</title></rect>"##,
                x(p.from),
                (x(p.to) - x(p.from)).max(0.5),
                escape(&node.name),
                secs(p.from),
                secs(p.to)
            );
        }
        for p in &spans.host_down[n] {
            let _ = writeln!(
                w,
                r##"<rect class="host-down" x="{:.1}" y="{y:.1}" width="{:.1}" height="{LANE}" fill="#000000" fill-opacity="0.6"><title>{}'s host down or frozen from {} to {}</title></rect>"##,
                x(p.from),
                (x(p.to) - x(p.from)).max(0.5),
                escape(&node.name),
                secs(p.from),
                secs(p.to)
            );
        }
        for (v, held) in spans.held[n].iter().enumerate() {
            let vy = y + LANE * (1 + v) as f64 + 3.0;
            for h in held {
                let _ = writeln!(
                    w,
                    r##"<rect class="holds" x="{:.1}" y="{vy:.1}" width="{:.1}" height="{:.1}" fill="#274e13"><title>{} holds {} from {} to {}</title></rect>"##,
                    x(h.from),
                    (x(h.to) - x(h.from)).max(0.5),
                    LANE - 6.0,
                    escape(&node.name),
                    scenario.vips[v].address,
                    secs(h.from),
                    secs(h.to)
                );
            }
        }
        for (at, _, what) in spans.notices.iter().filter(|(_, m, _)| *m == n) {
            let nx = x(*at);
            let _ = writeln!(
                w,
                r##"<path class="notice" d="M{nx:.1},{:.1} l-4,-7 h8 z" fill="#1155cc"><title>{} at {}: {}</title></path>"##,
                y,
                escape(&node.name),
                secs(*at),
                escape(what)
            );
        }
        for (at, _, dropped) in spans.overflows.iter().filter(|(_, m, _)| *m == n) {
            let ox = x(*at);
            let _ = writeln!(
                w,
                r##"<path class="overflow" d="M{ox:.1},{:.1} l-4,7 h8 z" fill="#e69138"><title>{} at {}: socket buffer full, {dropped} datagram(s) dropped unread</title></path>"##,
                y + LANE,
                escape(&node.name),
                secs(*at)
            );
        }
        let _ = writeln!(w, "</g>");
    }
    for v in 0..vips {
        let y = client_y + LANE * v as f64;
        let _ = writeln!(
            w,
            r#"<text x="8" y="{:.1}" font-weight="bold">client → {}</text>"#,
            y + 13.0,
            scenario.vips[v].address
        );
        let _ = writeln!(
            w,
            r##"<rect x="{LEFT}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#eef5ea"/>"##,
            y + 3.0,
            WIDTH - LEFT - 20.0,
            LANE - 6.0
        );
        for f in &spans.failed[v] {
            let _ = writeln!(
                w,
                r##"<rect class="client-failure" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#cc0000"><title>requests to {} failed from {} to {}</title></rect>"##,
                x(f.from),
                y + 3.0,
                (x(f.to) - x(f.from)).max(1.0),
                LANE - 6.0,
                scenario.vips[v].address,
                secs(f.from),
                secs(f.to)
            );
        }
    }
    axis(w, end, split_y + LANE + 8.0, &x);
    legend(w, split_y + LANE + 48.0);
    let _ = writeln!(w, "</svg>");
    out
}

/// Spreads fault labels over as few rows as keep them from overlapping.
fn fault_rows(faults: &[Span<usize>]) -> Vec<Vec<usize>> {
    let mut rows: Vec<(Vec<usize>, u64)> = Vec::new();
    for (i, f) in faults.iter().enumerate() {
        // A label needs room: about a twentieth of the run.
        match rows.iter_mut().find(|(_, free)| *free <= f.from) {
            Some((row, free)) => {
                row.push(i);
                *free = f.to.max(f.from) + 1;
            }
            None => rows.push((vec![i], f.to.max(f.from) + 1)),
        }
    }
    rows.into_iter().map(|(r, _)| r).collect()
}

fn axis(w: &mut String, end: u64, y: f64, x: &dyn Fn(u64) -> f64) {
    let total = end as f64 / 1e9;
    let step = [
        1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
    ]
    .into_iter()
    .find(|s| total / s <= 20.0)
    .unwrap_or(7200.0);
    let _ = writeln!(
        w,
        r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#999"/>"##,
        x(end)
    );
    let mut t = 0.0;
    while t <= total + 1e-9 {
        let tx = x((t * 1e9) as u64);
        let _ = writeln!(
            w,
            r##"<line x1="{tx:.1}" y1="{y:.1}" x2="{tx:.1}" y2="{:.1}" stroke="#999"/><text x="{tx:.1}" y="{:.1}" text-anchor="middle" fill="#444">{t}s</text>"##,
            y + 4.0,
            y + 16.0
        );
        t += step;
    }
}

fn legend(w: &mut String, y: f64) {
    let items = [
        ("#d9d9d9", "backup"),
        ("#ffd966", "acquiring"),
        ("#6aa84f", "master"),
        ("#f6b26b", "releasing"),
        ("#434343", "down / stopped"),
        ("#3d85c6", "daemon stopped"),
        ("#000000", "host down / frozen"),
        ("#274e13", "holds the address"),
        ("#cc0000", "client requests fail / split brain"),
        ("#9900ff", "fault"),
        ("#1155cc", "notification"),
        ("#e69138", "datagrams lost on a full buffer"),
    ];
    let mut lx = 8.0;
    for (color, label) in items {
        let _ = writeln!(
            w,
            r#"<rect x="{lx:.1}" y="{y:.1}" width="12" height="12" fill="{color}"/><text x="{:.1}" y="{:.1}">{label}</text>"#,
            lx + 16.0,
            y + 10.0
        );
        lx += 24.0 + label.len() as f64 * 6.2;
    }
}

/// The timeline as a page: the run's verdict, violations and figures above the picture.
pub fn html(scenario: &Scenario, report: &RunReport) -> String {
    let mut page = String::new();
    let f = &report.findings.figures;
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{} seed {}</title>\
         <style>body{{font-family:sans-serif;margin:16px}} .fail{{color:#c00}} .pass{{color:#274e13}} \
         td{{padding:2px 10px}}</style></head><body>\n<h1>{} — seed {} — <span class=\"{}\">{}</span></h1>\n<p>{}</p>\n",
        escape(&scenario.name),
        report.seed,
        escape(&scenario.name),
        report.seed,
        if report.passed() { "pass" } else { "fail" },
        if report.passed() { "pass" } else { "FAIL" },
        escape(&scenario.description)
    );
    if !report.findings.violations.is_empty() {
        page += "<ul class=\"violations\">\n";
        for v in &report.findings.violations {
            let _ = writeln!(
                page,
                "<li class=\"fail\"><b>{}</b>: {}</li>",
                v.invariant,
                escape(&v.detail)
            );
        }
        page += "</ul>\n";
    }
    let _ = writeln!(
        page,
        "<table><tr><td>split brain</td><td>{} (longest {})</td></tr><tr><td>unavailable</td><td>{}</td></tr>\
         <tr><td>client requests</td><td>{} ok, {} failed</td></tr>\
         <tr><td>datagrams lost on full socket buffers</td><td>{}</td></tr><tr><td>trace hash</td><td>{}</td></tr></table>",
        secs(f.split_brain_total),
        secs(f.split_brain_longest),
        secs(f.unavailable),
        f.requests_ok,
        f.requests_failed,
        f.datagrams_overflowed,
        report.hash()
    );
    page += &svg(scenario, report);
    let _ = writeln!(
        page,
        "<p>Hover over any span for details. Replay: <code>failover-sim replay {} --seed {} --trace</code></p></body></html>",
        escape(&scenario.name),
        report.seed
    );
    page
}
