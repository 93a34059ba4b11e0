//! A node's clock: the true time of the run seen through a jump and a drift.

/// `local = base_local + (t - base_true) · (1 + ppm/1e6)`; never runs backwards.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Clock {
    pub base_true: u64,
    pub base_local: u64,
    pub ppm: f64,
}

impl Clock {
    /// The local reading at true time `t`.
    pub fn local(&self, t: u64) -> u64 {
        let elapsed = t.saturating_sub(self.base_true);
        if self.ppm == 0.0 {
            self.base_local + elapsed
        } else {
            self.base_local + (elapsed as f64 * (1.0 + self.ppm / 1e6)) as u64
        }
    }

    /// The first true instant at which the local clock reads `local` or later. (Floating
    /// point can land a nanosecond short; a timer set there would find nothing due and be set
    /// again for the same instant, for ever.)
    pub fn true_time(&self, local: u64) -> u64 {
        let ahead = local.saturating_sub(self.base_local);
        if self.ppm == 0.0 {
            return self.base_true + ahead;
        }
        let mut t = self.base_true + (ahead as f64 / (1.0 + self.ppm / 1e6)).ceil() as u64;
        while self.local(t) < local {
            t += 1;
        }
        while t > self.base_true && self.local(t - 1) >= local {
            t -= 1;
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::Clock;

    #[test]
    fn a_timer_set_on_a_drifting_clock_never_fires_before_its_local_deadline() {
        for ppm in [-5_000.0, -123.4, 0.0, 77.7, 5_000.0, 50_000.0] {
            let clock = Clock {
                base_true: 1_000_003,
                base_local: 3_600_000_000_007,
                ppm,
            };
            for k in 0..20_000u64 {
                let local = clock.base_local + k * 1_000_037 + k % 7;
                let t = clock.true_time(local);
                assert!(
                    clock.local(t) >= local,
                    "ppm {ppm}: local {local} read at {t}"
                );
                assert!(
                    t == clock.base_true || clock.local(t - 1) < local,
                    "the first such instant"
                );
            }
        }
    }
}
