//! Turning many runs into the table a person reads.

use crate::check::{Figures, Findings};
use failover_core::Coverage;
use std::fmt::Write;

/// The figures of one scenario over many seeds.
#[derive(Debug, Default)]
pub struct Summary {
    /// Scenario name.
    pub scenario: String,
    /// Seeds run.
    pub seeds: usize,
    /// Seeds that violated something: (seed, first violation).
    pub failures: Vec<(u64, String)>,
    latencies: Vec<u64>,
    split_brain: Vec<u64>,
    unavailable: Vec<u64>,
}

impl Summary {
    /// An empty summary for `scenario`.
    pub fn new(scenario: &str) -> Summary {
        Summary {
            scenario: scenario.to_string(),
            ..Summary::default()
        }
    }

    /// Adds one seed's figures and the first of its broken invariants, if any.
    pub fn add(&mut self, seed: u64, figures: &Figures, first_violation: Option<(&str, &str)>) {
        self.seeds += 1;
        self.latencies.extend(&figures.failover_latencies);
        self.split_brain.push(figures.split_brain_total);
        self.unavailable.push(figures.unavailable);
        if let Some((invariant, detail)) = first_violation {
            self.failures.push((seed, format!("{invariant}: {detail}")));
        }
    }

    /// Adds the findings of one seed's run.
    pub fn add_findings(&mut self, seed: u64, findings: &Findings) {
        let first = (findings.violations.first()).map(|v| (v.invariant, v.detail.as_str()));
        self.add(seed, &findings.figures, first);
    }

    /// One table row.
    pub fn row(&self) -> String {
        let verdict = if self.failures.is_empty() {
            "pass".to_string()
        } else {
            format!("FAIL {}", self.failures.len())
        };
        format!(
            "{:<32} {:>5}  {:<8} {:>9} {:>9} {:>11} {:>11}",
            self.scenario,
            self.seeds,
            verdict,
            ms(percentile(&self.latencies, 50)),
            ms(percentile(&self.latencies, 99)),
            ms(self.split_brain.iter().max().copied()),
            ms(mean(&self.unavailable)),
        )
    }
}

/// What runs reached of the protocol together: how many points of how many, then every
/// point never reached, by name.
pub fn coverage(c: &Coverage) -> String {
    let total = failover_core::coverage::POINTS;
    let mut s = format!(
        "coverage of the protocol: {} of {total} points reached",
        c.count()
    );
    let never: Vec<String> = c.unreached().map(|p| p.to_string()).collect();
    if never.is_empty() {
        s += "\n";
    } else {
        let _ = writeln!(s, "; never reached ({}):", never.len());
        for p in never {
            let _ = writeln!(s, "  {p}");
        }
    }
    s
}

/// The table header.
pub fn header() -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "{:<32} {:>5}  {:<8} {:>9} {:>9} {:>11} {:>11}\n{}",
        "scenario",
        "seeds",
        "verdict",
        "fail p50",
        "fail p99",
        "split max",
        "unavail avg",
        "-".repeat(93)
    );
    s
}

/// The `q`th percentile (nearest rank).
pub fn percentile(values: &[u64], q: usize) -> Option<u64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_unstable();
    let rank = (q * v.len()).div_ceil(100).max(1);
    Some(v[rank - 1])
}

fn mean(values: &[u64]) -> Option<u64> {
    (!values.is_empty()).then(|| values.iter().sum::<u64>() / values.len() as u64)
}

/// Milliseconds, or "-" when there is nothing to show.
pub fn ms(ns: Option<u64>) -> String {
    ns.map_or("-".into(), |ns| format!("{:.1}ms", ns as f64 / 1e6))
}
