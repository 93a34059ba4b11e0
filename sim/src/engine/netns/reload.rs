//! The `reload` fault for real: the operator edits the node's configuration file and sends its
//! daemon SIGHUP, then reads the daemon's answer (`failoverd --events`: the reload taken, or
//! refused naming the field) and, told it was refused, puts the file back — as the simulator's
//! operator does (`world::reload`), with the very edits ([`crate::fault::Edits`]).
//!
//! A daemon the engine has stopped (`pause`, `freeze`) gets its SIGHUPs when it runs again,
//! one at a time, each after the answer to the one before (real signals to a stopped process
//! coalesce; an operator who waits for `configuration reloaded` sends them one by one): the
//! first is sent just before SIGCONT, as the simulator's stopped daemon finds it waiting. The
//! simulator then handles it before what waited in the sockets; a real daemon may not — on
//! SIGCONT its loop, its timer long due, may run a round before the thread that caught the
//! signal has told it (seen here: heartbeats of the old priority 3 ms before `reloaded`) —
//! so a reload landing while a daemon is stopped need not give the simulator's ownership
//! sequence (`scenarios/real` has none). With
//! no daemon running, the edit is written if a daemon would take it (core's `reconfigure` on a
//! throwaway node of the file decides, as in the simulator), for its next start to read.

use super::{record, Run};
use crate::record::Observation;
use failover_core::acts::{Act, Record};
use failover_core::{Config, Instant, Node};
use nix::sys::signal::Signal;
use std::time::Duration;

/// How long a daemon may take to start handling signals, or to answer a SIGHUP, before the
/// run is given up.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

impl Run<'_> {
    /// The operator edits node `node`'s file for `reload` fault `id` (at its start, or at its
    /// end putting the fields back) and sends its daemon SIGHUP; a stopped daemon gets it when
    /// it runs again.
    pub(super) fn hang_up(&mut self, node: usize, id: usize, ends: bool) -> Result<(), String> {
        let runs = self.daemon_runs(node);
        if runs && self.stopped[node] {
            self.waiting_hups[node].push((id, ends));
            return Ok(());
        }
        self.reload(node, (id, ends), false)
    }

    /// SIGCONT to node `node`'s stopped daemon, with the SIGHUPs that waited: the first sent
    /// just before it, so the daemon finds it pending and handles it before anything else —
    /// as the simulator's stopped daemon does —, the others after, one by one.
    pub(super) fn continue_daemon(&mut self, node: usize) -> Result<(), String> {
        self.stopped[node] = false;
        let mut waiting = std::mem::take(&mut self.waiting_hups[node]).into_iter();
        match waiting.next() {
            Some(hup) => self.reload(node, hup, true)?,
            None => self.signal(node, Signal::SIGCONT),
        }
        for (id, ends) in waiting {
            self.hang_up(node, id, ends)?;
        }
        Ok(())
    }

    /// Node `node`'s daemon ended with SIGHUPs unread: their edits go to the file.
    pub(super) fn unread_hups(&mut self, node: usize) -> Result<(), String> {
        self.stopped[node] = false;
        for (id, ends) in std::mem::take(&mut self.waiting_hups[node]) {
            self.hang_up(node, id, ends)?;
        }
        Ok(())
    }

    /// One edit (`hup`: the reload fault, and whether at its end) for the daemon, if one runs
    /// (continued first if `continuing`), else for the file.
    fn reload(&mut self, node: usize, hup: (usize, bool), continuing: bool) -> Result<(), String> {
        let file = self.files[node].clone();
        let edited = (self.edits).edit(hup.0, &self.plan.faults[hup.0], &file, hup.1);
        if self.daemon_runs(node) && self.reload_daemon(node, hup, continuing, &file, &edited)? {
            return Ok(());
        }
        self.edit_file(node, hup, file, edited)
    }

    /// `edited` written, SIGHUP sent to the running daemon (SIGCONT after it if
    /// `continuing`) and its answer awaited: taken, the file stays; refused, the operator
    /// puts `file` back. False if the daemon ended first, the signal unread.
    fn reload_daemon(
        &mut self,
        node: usize,
        hup: (usize, bool),
        mut continuing: bool,
        file: &Config,
        edited: &Config,
    ) -> Result<bool, String> {
        // (a daemon just started may not handle SIGHUP yet: it does once it has written
        // `start`; one stopped before that is continued first)
        let starts = self.starts[node];
        let started = |acts: &[Record]| acts.iter().filter(|r| is_start(&r.act)).count() >= starts;
        let events = self.events(node);
        if continuing && !started(&record::read_acts(&events)?) {
            self.signal(node, Signal::SIGCONT);
            continuing = false;
        }
        if self.await_acts(node, started)?.is_none() {
            return Ok(false);
        }
        let answers = |acts: &[Record]| acts.iter().filter(|r| is_reloaded(&r.act)).count();
        let before = answers(&record::read_acts(&events)?);
        self.write_file(node, edited)?;
        self.signal(node, Signal::SIGHUP);
        if continuing {
            self.signal(node, Signal::SIGCONT);
        }
        let Some(acts) = self.await_acts(node, |acts| answers(acts) > before)? else {
            return Ok(false);
        };
        self.hups[node].push(hup);
        let refused = acts.iter().rev().find_map(|r| match &r.act {
            Act::Reloaded { refused } => Some(refused.is_some()),
            _ => None,
        });
        match refused {
            Some(false) => self.files[node] = edited.clone(),
            _ => self.write_file(node, file)?,
        }
        Ok(true)
    }

    /// No daemon reads the edit now: it is written if a daemon would take it (a throwaway
    /// node of `file` says), and the outcome noted.
    fn edit_file(
        &mut self,
        node: usize,
        (fault, ends): (usize, bool),
        file: Config,
        edited: Config,
    ) -> Result<(), String> {
        let refused = match Node::new(file.clone(), 0, Instant::ZERO) {
            Ok(mut scratch) => scratch.reconfigure(edited.clone()).err(),
            Err(e) => Some(e),
        };
        let refused = refused.map(|e| e.field().to_string());
        let kept = if refused.is_none() { edited } else { file };
        self.write_file(node, &kept)?;
        self.files[node] = kept;
        self.note(Observation::Reloaded {
            node,
            fault,
            ends,
            refused,
            announced: None,
        });
        Ok(())
    }

    /// Waits until node `node`'s act log satisfies `done`: its acts then, or none if the
    /// daemon ended first.
    fn await_acts(
        &mut self,
        node: usize,
        done: impl Fn(&[Record]) -> bool,
    ) -> Result<Option<Vec<Record>>, String> {
        let events = self.events(node);
        let started = std::time::Instant::now();
        loop {
            let acts = record::read_acts(&events)?;
            if done(&acts) {
                return Ok(Some(acts));
            }
            if !self.daemon_runs(node) {
                return Ok(None);
            }
            if started.elapsed() > ANSWER_WITHIN || super::interrupted() {
                let name = &self.plan.scenario.nodes[node].name;
                return Err(format!(
                    "{name}'s daemon neither started nor answered SIGHUP within {ANSWER_WITHIN:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Writes node `node`'s configuration file.
    pub(super) fn write_file(&self, node: usize, config: &Config) -> Result<(), String> {
        let file = self.config_file(node);
        std::fs::write(&file, config.to_toml_string())
            .map_err(|e| format!("{}: {e}", file.display()))
    }
}

fn is_start(act: &Act) -> bool {
    matches!(act, Act::Start { .. })
}

fn is_reloaded(act: &Act) -> bool {
    matches!(act, Act::Reloaded { .. })
}
