//! The operator's edit of a node's configuration file and its SIGHUP (a `reload` fault), done
//! as `failoverd` does it: the daemon hands the file to `Node::reconfigure`, which takes it or
//! refuses it keeping the running configuration, logs which, and — either way — re-announces
//! (`Command::Reannounce`, handed over by the input rule after what waits in its sockets).
//!
//! Each edit is made to the file as the daemon last took it, when the daemon reads it: a
//! stopped daemon handles each SIGHUP in order once it runs again (real signals coalesce; the
//! simulator keeps each, as an operator who waits for `configuration reloaded` before the next
//! edit would), and one that ends first leaves the edits to the file, for its next start.

use super::World;
use crate::record::{Carried, Observation};
use failover_core::{wire, Command, Config, ConfigError, Node};

impl World<'_> {
    /// The operator edits host `i`'s file for `reload` fault `fault` (at its start, or at its
    /// end putting the fields back) and sends its daemon SIGHUP: handled now if the daemon
    /// runs, once it runs again if it is stopped; with no daemon, the file is what its next
    /// start reads.
    pub(super) fn hang_up(&mut self, i: usize, fault: usize, ends: bool) {
        if self.hosts[i].runs() {
            self.reload(i, fault, ends);
        } else if self.hosts[i].node.is_some() {
            self.note(Some(i), "SIGHUP waits: the daemon is stopped".into());
            self.hosts[i].hups.push((fault, ends));
        } else {
            self.edit_file(i, fault, ends);
        }
    }

    /// The SIGHUPs that waited for host `i`'s daemon to run again, handled in order.
    pub(super) fn handle_hups(&mut self, i: usize) {
        if !self.hosts[i].runs() {
            return;
        }
        let mut hups = std::mem::take(&mut self.hosts[i].hups).into_iter();
        // (one may end the daemon — a planned shutdown's goodbye sent — or leave it stopped)
        while let Some((fault, ends)) = hups.next() {
            if !self.hosts[i].runs() {
                let left = std::iter::once((fault, ends)).chain(hups);
                self.hosts[i].hups.extend(left);
                if self.hosts[i].node.is_none() {
                    self.hups_unread(i);
                }
                return;
            }
            self.reload(i, fault, ends);
        }
    }

    /// Host `i`'s daemon ends with SIGHUPs unread: their edits stay in the file.
    pub(super) fn hups_unread(&mut self, i: usize) {
        for (fault, ends) in std::mem::take(&mut self.hosts[i].hups) {
            self.edit_file(i, fault, ends);
        }
    }

    /// The file of host `i` as fault `fault`'s edit leaves it: its change made to the file
    /// as it is (kept, to be put back at the end of its duration), or put back.
    fn edited(&mut self, i: usize, fault: usize, ends: bool) -> Config {
        (self.edits).edit(fault, &self.faults[fault], &self.hosts[i].config, ends)
    }

    /// No daemon runs on host `i`: the edit is written if a daemon would take it — core's
    /// `reconfigure` on a throwaway node of the file as it is says so (the simulator gives
    /// every node the same addresses, so what needs a restart never reaches the disk).
    fn edit_file(&mut self, i: usize, fault: usize, ends: bool) {
        let edited = self.edited(i, fault, ends);
        let now = self.local(i);
        let file = self.hosts[i].config.clone();
        let mut scratch = Node::new(file, 0, now).expect("the file ran before");
        let refused = match scratch.reconfigure(edited.clone()) {
            Ok(()) => {
                self.hosts[i].config = edited;
                self.note(
                    Some(i),
                    "file edited; no daemon runs: its next start reads it".into(),
                );
                None
            }
            Err(e) => Some(self.refused(i, e)),
        };
        self.observe(Observation::Reloaded {
            node: i,
            fault,
            ends,
            refused,
            announced: None,
        });
    }

    /// `failoverd`'s SIGHUP: `reconfigure`, logged either way, then a re-announcement.
    fn reload(&mut self, i: usize, fault: usize, ends: bool) {
        let edited = self.edited(i, fault, ends);
        let h = &mut self.hosts[i];
        let node = h.node.as_mut().expect("a running daemon");
        let refused = match node.reconfigure(edited.clone()) {
            Ok(()) => {
                h.ledger.configure(&edited);
                h.config = edited;
                self.note(Some(i), "configuration reloaded".into());
                None
            }
            Err(e) => Some(self.refused(i, e)),
        };
        self.hosts[i].reloaded.push((fault, ends, refused));
        self.hosts[i].inbox.command(Command::Reannounce);
        self.wake(i);
    }

    /// Logs a refused reload as the daemon does; the field refused.
    fn refused(&mut self, i: usize, e: ConfigError) -> String {
        let what = format!("reload refused, keeping the running configuration: {e}");
        self.note(Some(i), what);
        e.field().to_string()
    }

    /// The first datagram host `i`'s daemon sends after its reloads: what it announces now,
    /// read as a peer whose file has the same `auth_key` would read it.
    pub(super) fn announced(&mut self, i: usize, payload: &[u8]) {
        if self.hosts[i].reloaded.is_empty() {
            return;
        }
        let key = (self.hosts[i].config.protocol.auth_key.as_ref())
            .map(|k| wire::AuthKey::new(k.as_bytes()));
        let announced = Carried::of(payload, key.as_ref());
        // (only the last reload handled decides what it sends)
        let reloaded = std::mem::take(&mut self.hosts[i].reloaded);
        let last = reloaded.len() - 1;
        for (k, (fault, ends, refused)) in reloaded.into_iter().enumerate() {
            self.observe(Observation::Reloaded {
                node: i,
                fault,
                ends,
                refused,
                announced: (k == last).then(|| announced.clone()),
            });
        }
    }
}
