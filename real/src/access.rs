//! Who may ask the daemon how things stand over its status socket.
//!
//! Two locks, both by default root's alone. The socket file's mode and group
//! (`control.socket_mode`, `control.socket_group`; `0600` root only by default, `0660` with a
//! group) are the kernel's check: connecting needs write permission on the file. Then the
//! daemon asks the kernel who connected (`SO_PEERCRED`) and answers only root, its own user and
//! members of the socket's group — its primary group or one of its supplementary groups, as
//! the kernel sees the connecting process (`/proc/PID/status`), not as a user database says,
//! so no lookup can block the daemon's one thread. The second check still holds when the file
//! is opened up by hand (a `chmod 666` to "fix" a permission error), or when the daemon's
//! umask lets a client in before the mode is set. Anyone else gets a one-line refusal naming
//! who may ask, and the log a line saying who was refused (at most one a second, so a stream
//! of refused clients cannot fill the disk).

use failover_core::{Config, ConfigError};
use nix::unistd::{Gid, Group};
use std::time::{Duration, Instant};

/// The group whose members may ask, resolved when the configuration is loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketGroup {
    /// As written in `control.socket_group`.
    pub name: String,
    /// Its id.
    pub gid: u32,
}

/// `control.socket_group` looked up (a name, or a number for a group id); an error naming the
/// field if no such group exists, so `failoverd --check` refuses it too.
pub fn socket_group(config: &Config) -> Result<Option<SocketGroup>, ConfigError> {
    let Some(name) = &config.control.socket_group else {
        return Ok(None);
    };
    let found = match name.parse::<u32>() {
        Ok(gid) => Group::from_gid(Gid::from_raw(gid)),
        Err(_) => Group::from_name(name),
    };
    match found {
        Ok(Some(group)) => Ok(Some(SocketGroup {
            name: name.clone(),
            gid: group.gid.as_raw(),
        })),
        Ok(None) => Err(ConfigError::Invalid {
            field: "control.socket_group".into(),
            message: format!("no group `{name}` on this host (see /etc/group)"),
        }),
        Err(e) => Err(ConfigError::Invalid {
            field: "control.socket_group".into(),
            message: format!("cannot look up group `{name}`: {e}"),
        }),
    }
}

/// A connected client, as the kernel told it at `connect`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Client {
    /// Effective user id.
    pub uid: u32,
    /// Effective group id.
    pub gid: u32,
    /// Process id, when the kernel knows it (not for a client in another PID namespace).
    pub pid: Option<i32>,
}

/// The rule: root, the daemon's own user, the socket group's members.
#[derive(Clone, Debug)]
pub struct Access {
    daemon_uid: u32,
    group: Option<SocketGroup>,
}

impl Access {
    /// The rule for a daemon running as `daemon_uid` with the socket in `group`.
    pub fn new(daemon_uid: u32, group: Option<SocketGroup>) -> Access {
        Access { daemon_uid, group }
    }

    /// Whether `client` may ask; `Err` holds the refusal to tell it. Its supplementary groups
    /// are read only when nothing else lets it in.
    pub fn check(&self, client: Client) -> Result<(), String> {
        let allowed = client.uid == 0
            || client.uid == self.daemon_uid
            || self.group.as_ref().is_some_and(|g| {
                client.gid == g.gid || supplementary_groups(client).contains(&g.gid)
            });
        if allowed {
            return Ok(());
        }
        let who = match &self.group {
            Some(g) => format!(
                "root, failoverd's own user and the members of group `{}` (control.socket_group)",
                g.name
            ),
            None => {
                "root and failoverd's own user (control.socket_group names a group that may too)"
                    .to_string()
            }
        };
        Err(format!(
            "permission denied: uid {} may not ask failoverd; only {who} may",
            client.uid
        ))
    }
}

/// The client's supplementary groups as the kernel holds them, if its process is still the
/// one that connected (same effective uid); none otherwise.
fn supplementary_groups(client: Client) -> Vec<u32> {
    let Some(status) = client
        .pid
        .and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
    else {
        return Vec::new();
    };
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .map(|rest| {
                rest.split_whitespace()
                    .filter_map(|n| n.parse::<u32>().ok())
            })
    };
    // Uid: real, effective, saved, filesystem.
    let effective = field("Uid:").and_then(|mut ids| ids.nth(1));
    if effective != Some(client.uid) {
        return Vec::new();
    }
    field("Groups:").map(Iterator::collect).unwrap_or_default()
}

/// Refused clients in the log at most once a second, with a count of the rest.
#[derive(Debug, Default)]
pub struct RefusalLog {
    last: Option<Instant>,
    unlogged: u64,
}

impl RefusalLog {
    /// Logs a refusal of `client` (or counts it, if a line was written within the second).
    pub fn refused(&mut self, client: Client, why: &str) {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|t| now.duration_since(t) < Duration::from_secs(1))
        {
            self.unlogged += 1;
            return;
        }
        let more = std::mem::take(&mut self.unlogged);
        self.last = Some(now);
        tracing::warn!(
            uid = client.uid,
            gid = client.gid,
            pid = client.pid,
            refused_since_last_line = more,
            "status socket: client refused: {why}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(uid: u32, gid: u32) -> Client {
        // No process behind it: its supplementary groups cannot be read.
        Client {
            uid,
            gid,
            pid: None,
        }
    }

    #[test]
    fn root_and_the_daemons_user_may_ask_and_no_one_else_without_a_group() {
        let access = Access::new(998, None);
        assert_eq!(access.check(client(0, 0)), Ok(()));
        assert_eq!(access.check(client(998, 998)), Ok(()));
        let refusal = access.check(client(65534, 65534)).unwrap_err();
        assert!(refusal.contains("uid 65534"), "{refusal}");
        assert!(refusal.contains("control.socket_group"), "{refusal}");
    }

    #[test]
    fn a_member_of_the_socket_group_may_ask() {
        let group = SocketGroup {
            name: "failover".into(),
            gid: 4242,
        };
        let access = Access::new(0, Some(group));
        assert_eq!(access.check(client(1000, 4242)), Ok(()), "primary group");
        let refusal = access.check(client(1000, 1000)).unwrap_err();
        assert!(refusal.contains("group `failover`"), "{refusal}");
    }

    #[test]
    fn supplementary_groups_are_the_processes_own_and_only_while_it_is_the_one_that_connected() {
        let me = std::process::id() as i32;
        let uid = nix::unistd::geteuid().as_raw();
        let groups = nix::unistd::getgroups().unwrap();
        let mut ours = supplementary_groups(Client {
            uid,
            gid: 0,
            pid: Some(me),
        });
        let mut expected: Vec<u32> = groups.iter().map(|g| g.as_raw()).collect();
        ours.sort_unstable();
        expected.sort_unstable();
        assert_eq!(ours, expected, "read from /proc");
        let other_uid = supplementary_groups(Client {
            uid: uid.wrapping_add(1),
            gid: 0,
            pid: Some(me),
        });
        assert!(other_uid.is_empty(), "a process that is not the client's");
    }
}
