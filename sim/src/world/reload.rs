//! The operator's edit of a node's configuration file and its SIGHUP (a `reload` fault), done
//! as `failoverd` does it: the daemon hands the file to `Node::reconfigure`, which takes it or
//! refuses it keeping the running configuration, logs which, and — either way — re-announces
//! (`Command::Reannounce`, handed over by the input rule after what waits in its sockets).

use super::World;
use crate::record::{Announced, Observation};
use failover_core::{wire, Command, Config, ConfigError, Node};

impl World<'_> {
    /// Host `i`'s configuration file as it is now on its disk, with an edit a stopped daemon
    /// has not read yet.
    pub(super) fn file(&self, i: usize) -> &Config {
        let h = &self.hosts[i];
        h.hup.as_ref().map_or(&h.config, |(_, edited)| edited)
    }

    /// The file of host `i` edited as `edited` and its daemon sent SIGHUP (for `reload` fault
    /// `fault`): handled now if the daemon runs, once it runs again if it is stopped. With no
    /// daemon, the file is what its next start reads — if a daemon would take it: core's
    /// `reconfigure` on a throwaway node of the file as it is says so (the simulator gives
    /// every node the same addresses, so what needs a restart is never written).
    pub(super) fn hang_up(&mut self, i: usize, fault: usize, edited: Config) {
        if self.hosts[i].runs() {
            self.reload(i, fault, edited);
            return;
        }
        if self.hosts[i].node.is_some() {
            self.note(Some(i), "SIGHUP waits: the daemon is stopped".into());
            self.hosts[i].hup = Some((fault, edited));
            return;
        }
        let now = self.local(i);
        let h = &mut self.hosts[i];
        let mut scratch = Node::new(h.config.clone(), 0, now).expect("the file ran before");
        let refused = match scratch.reconfigure(edited.clone()) {
            Ok(()) => {
                h.config = edited;
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
            refused,
            announced: None,
        });
    }

    /// A SIGHUP that waited for host `i`'s daemon to run again: handled now.
    pub(super) fn handle_hup(&mut self, i: usize) {
        if !self.hosts[i].runs() {
            return;
        }
        if let Some((fault, edited)) = self.hosts[i].hup.take() {
            self.reload(i, fault, edited);
        }
    }

    /// `failoverd`'s SIGHUP: `reconfigure`, logged either way, then a re-announcement.
    fn reload(&mut self, i: usize, fault: usize, edited: Config) {
        let h = &mut self.hosts[i];
        let node = h.node.as_mut().expect("a running daemon");
        let refused = match node.reconfigure(edited.clone()) {
            Ok(()) => {
                h.config = edited;
                self.note(Some(i), "configuration reloaded".into());
                None
            }
            Err(e) => Some(self.refused(i, e)),
        };
        self.hosts[i].reloaded = Some((fault, refused));
        self.hosts[i].inbox.command(Command::Reannounce);
        self.wake(i);
    }

    /// Logs a refused reload as the daemon does; the field refused.
    fn refused(&mut self, i: usize, e: ConfigError) -> String {
        let what = format!("reload refused, keeping the running configuration: {e}");
        self.note(Some(i), what);
        match e {
            ConfigError::Invalid { field, .. } => field,
            ConfigError::Parse { .. } => "the file".into(),
        }
    }

    /// The first datagram host `i`'s daemon sends after a reload: what it announces now,
    /// read as a peer whose file has the same `auth_key` would read it.
    pub(super) fn announced(&mut self, i: usize, payload: &[u8]) {
        let Some((fault, refused)) = self.hosts[i].reloaded.take() else {
            return;
        };
        let key = (self.hosts[i].config.protocol.auth_key.as_ref())
            .map(|k| wire::AuthKey::new(k.as_bytes()));
        let announced = wire::decode_raw(payload, key.as_ref())
            .map(|m| Announced {
                priority: m.priority,
                group: m.group,
            })
            .map_err(|e| e.to_string());
        self.observe(Observation::Reloaded {
            node: i,
            fault,
            refused,
            announced: Some(announced),
        });
    }
}
