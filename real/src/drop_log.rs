//! Dropped datagrams in the log, at a bounded rate.
//!
//! Core counts every dropped datagram (`failoverctl status` shows the counters) and tells the
//! driver of each one. Logging each would let anyone who can reach the heartbeat port fill
//! the disk and the daemon's time with log lines: a flood of garbage at 100,000 datagrams a
//! second is 100,000 lines a second. So each drop is logged at debug level up to
//! [`LOGGED_PER_SECOND`] a second; the others of that second are summed up in one warning
//! when it is over — a flood costs the log two dozen lines a second, and is seen at the
//! default level.

use failover_core::{DropReason, Instant};
use std::time::Duration;

/// Drops logged one by one in a second; the rest go into the second's summary.
pub const LOGGED_PER_SECOND: u32 = 20;
const WINDOW: Duration = Duration::from_secs(1);

/// The current second's drops.
#[derive(Debug)]
pub struct DropLog {
    window_start: Instant,
    logged: u32,
    /// Per reason (in [`DropReason`]'s order), drops not logged one by one this second.
    unlogged: [u64; 4],
}

impl DropLog {
    /// A log whose first second starts at `now`.
    pub fn new(now: Instant) -> DropLog {
        DropLog {
            window_start: now,
            logged: 0,
            unlogged: [0; 4],
        }
    }

    /// A datagram was dropped at `now` for `reason`.
    pub fn dropped(&mut self, now: Instant, reason: DropReason) {
        self.tick(now);
        if self.logged < LOGGED_PER_SECOND {
            self.logged += 1;
            tracing::debug!(?reason, "datagram dropped");
        } else {
            self.unlogged[index(reason)] += 1;
        }
    }

    /// Ends the second if it is over, writing its summary if some drops went unlogged. Called
    /// at every wake-up, so a flood's last summary is not held back until the next drop.
    pub fn tick(&mut self, now: Instant) {
        if now.saturating_since(self.window_start) < WINDOW {
            return;
        }
        let unlogged: u64 = self.unlogged.iter().sum();
        if unlogged > 0 {
            let [malformed, unauthenticated, replayed, foreign] = self.unlogged;
            tracing::warn!(
                unlogged,
                malformed,
                unauthenticated,
                replayed,
                foreign,
                "datagrams dropped faster than {LOGGED_PER_SECOND} a second (a flood?); \
                 these were not logged one by one (every one is counted: failoverctl status)"
            );
        }
        *self = DropLog::new(now);
    }
}

fn index(reason: DropReason) -> usize {
    match reason {
        DropReason::Malformed => 0,
        DropReason::Unauthenticated => 1,
        DropReason::Replayed => 2,
        DropReason::Foreign => 3,
    }
}
