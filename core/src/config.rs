//! Node configuration: the native TOML form, its defaults and its validation.
//!
//! The same [`Config`] is produced by the TOML reader here and by the source system's
//! `/etc/hostconfig` reader in [`crate::hostconfig`], so every driver sees one shape.

use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use thiserror::Error;

/// The UDP port of the source system's heartbeatd/failoverd, used when an address has none.
pub const DEFAULT_PORT: u16 = 1694;

/// The shortest heartbeat interval accepted (VRRPv3 allows 10 ms too).
pub const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// Quorum mode: how much longer than one `interval` a lease must last at least. A lease is
/// renewed every interval, and what is left of it must still be a whole second for the
/// kernel's address lifetime (plus the lead with which core asks for it).
pub const MIN_LEASE_SLACK: Duration = Duration::from_millis(1500);

/// Everything one node needs to take part in a failover group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Who this node is.
    pub node: NodeSettings,
    /// Timing and safety settings shared by the whole group.
    #[serde(default)]
    pub protocol: ProtocolSettings,
    /// The networks heartbeats travel on (the public LAN and the direct link, in the source).
    #[serde(rename = "path")]
    pub paths: Vec<PathSettings>,
    /// The virtual addresses the group's owner holds.
    #[serde(rename = "vip", default)]
    pub vips: Vec<VipSettings>,
    /// Where notifications go.
    #[serde(default)]
    pub notify: NotifySettings,
    /// How hook scripts are run.
    #[serde(default)]
    pub hooks: HookSettings,
    /// Who may ask the daemon how things stand: the status socket and the metrics endpoint.
    #[serde(default, skip_serializing_if = "ControlSettings::is_default")]
    pub control: ControlSettings,
}

/// This node's identity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSettings {
    /// Unique name within the group; carried in every message (at most 64 bytes).
    pub name: String,
    /// 1–255; the highest-priority live node owns the addresses. Ties go to the smaller name.
    #[serde(default = "default_priority")]
    pub priority: u8,
    /// A quorum-mode voter that never holds an address: the third vote on a third machine, so
    /// two servers keep a majority when one of them is cut off (Pacemaker's qdevice, in one
    /// small process).
    #[serde(default, skip_serializing_if = "is_false")]
    pub witness: bool,
}

/// Which guarantee the group gives when the network misbehaves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The source system's behaviour: an owner whenever one can be, at the price of split brain
    /// when every path between live nodes is cut.
    #[default]
    Classic,
    /// Never two owners: an address is held only under a lease granted by a majority of
    /// `protocol.voters`, and the kernel removes it when the lease runs out (see
    /// [`crate::node::quorum`] for the argument and its assumptions).
    Quorum,
}

/// Timing and safety settings; every node of a group should use the same values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProtocolSettings {
    /// The safety mode.
    pub mode: Mode,
    /// Time between heartbeats (default 1 s, at least 10 ms).
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Silence after which a path, and when every path is silent a peer, counts as dead
    /// (default 3 × interval).
    #[serde(with = "humantime_serde")]
    pub dead_after: Option<Duration>,
    /// Whether a higher-priority node takes the addresses back when it returns (default true,
    /// like the source's automatic failback).
    pub preempt: bool,
    /// Group number, so several groups can share a port (like VRRP's virtual router id).
    pub group: u16,
    /// Shared key; when set every message carries an HMAC-SHA256 tag (at least 16 bytes).
    pub auth_key: Option<String>,
    /// A second key accepted on receive while a key rotation is under way (never used to
    /// send): every node can take up a new `auth_key` in turn without any of them dropping
    /// the others' messages meanwhile. Needs `auth_key`, and must differ from it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_auth_key: Option<String>,
    /// How often the owner announces its addresses again (gratuitous ARP), so clients whose
    /// neighbour caches went stale — another node held the address during a split brain the
    /// owner never heard of — come back (default 10 s, or 10 × interval if that is longer;
    /// `0s` turns it off).
    #[serde(with = "humantime_serde")]
    pub announce_every: Option<Duration>,
    /// Quorum mode: every voter of the group by name — the address nodes and the witnesses,
    /// this node included. A lease needs more than half of them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub voters: Vec<String>,
    /// Quorum mode: how long a lease lasts from the moment it was asked for (default
    /// `dead_after` − `interval`/2, and at least `interval` + 1.5 s so the kernel, which counts
    /// address lifetimes in whole seconds, can always be given one).
    #[serde(with = "humantime_serde")]
    pub lease: Option<Duration>,
    /// Quorum mode: the most any node's clock may run fast or slow, in parts per million
    /// (default 1000, far beyond a server's crystal; NTP keeps them within tens). Voters wait
    /// that much longer before they grant another node: safety rests on this bound.
    pub max_clock_drift_ppm: u32,
}

/// One network heartbeats travel on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathSettings {
    /// Name used in notifications and status ("public", "direct").
    pub name: String,
    /// Local address to send from and listen on; `None` means any address of either family on
    /// the default port (`[::]:1694`, which takes IPv4 too; `0.0.0.0:1694` where the host has
    /// no IPv6).
    #[serde(default)]
    pub local: Option<SocketAddr>,
    /// Peer addresses on this path that receive every heartbeat.
    #[serde(default)]
    pub peers: Vec<SocketAddr>,
}

/// One virtual address.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VipSettings {
    /// The address clients use (the one behind store.example.com).
    pub address: IpAddr,
    /// Prefix length (default 24 for IPv4, 64 for IPv6).
    #[serde(default)]
    pub prefix: Option<u8>,
    /// Interface the address is added to.
    pub interface: String,
    /// This host's own address (the source's master fails over its primary address): the
    /// operating system adds it at boot, so the daemon never removes it at start as a
    /// leftover of a crash; it is still released on a hand-over and announced only by the
    /// owner.
    #[serde(default, skip_serializing_if = "is_false")]
    pub primary: bool,
}

fn is_false(b: &bool) -> bool {
    !b
}

/// Where notifications go. Only the daemon sends mail; the simulator records notifications.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifySettings {
    /// `FAILOVER_EMAIL_RECIPIENT`; root@localhost if unset, as in the source.
    pub email_recipient: String,
    /// SMTP server as `host:port` (default `localhost:25`: the local MTA, as the source's
    /// `NotifyFailover` relied on the machine's own mail system).
    pub smtp_server: String,
    /// The mail's `From:` address (default `failoverd@localhost`).
    pub from: String,
    /// The longest wait between two delivery attempts of a message the server did not take
    /// (default 5 min, at least 1 s, at most 1 h): waits double from 1 s up to this, for as
    /// long as the server is away, so mail arrives at most this long after it returns.
    #[serde(with = "humantime_serde")]
    pub retry_max: Duration,
}

/// The default of [`NotifySettings::retry_max`].
pub const DEFAULT_MAIL_RETRY_MAX: Duration = Duration::from_secs(300);

/// How hooks run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HookSettings {
    /// A hook with no answer by then counts as failed (a hung `Test` vetoes).
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Directory holding one sub-directory of scripts per virtual address (used by the daemon).
    pub dir: Option<String>,
}

/// Who may ask the daemon how things stand (used by the daemon only). The status socket's
/// path and the metrics address may also be given on the command line (`--socket`,
/// `--metrics`); the flag wins.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ControlSettings {
    /// The status socket file's mode, in octal (`"0600"`): by default the owner (root) only,
    /// or `"0660"` when `socket_group` is set. Never any access for others.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub socket_mode: Option<String>,
    /// The group the status socket belongs to; its members may ask too (the daemon checks
    /// each client's credentials as well as the file's mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub socket_group: Option<String>,
    /// Serve Prometheus metrics at this address (off by default). A loopback address unless
    /// `metrics_allow_remote` says otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<SocketAddr>,
    /// Allow a metrics address other hosts can reach: the endpoint has no authentication and
    /// tells anyone who asks which node holds which address.
    #[serde(skip_serializing_if = "is_false")]
    pub metrics_allow_remote: bool,
}

/// The status socket's mode when `control.socket_mode` is not set: owner only.
pub const DEFAULT_SOCKET_MODE: u32 = 0o600;
/// The status socket's mode when only `control.socket_group` is set: owner and group.
pub const DEFAULT_GROUP_SOCKET_MODE: u32 = 0o660;

impl ControlSettings {
    fn is_default(&self) -> bool {
        *self == ControlSettings::default()
    }

    /// The status socket's mode: `socket_mode` read as octal, or the default for whether a
    /// group is set. `None` if `socket_mode` is not octal (validation refuses that).
    pub fn socket_mode(&self) -> Option<u32> {
        match &self.socket_mode {
            Some(text)
                if (1..=4).contains(&text.len())
                    && text.bytes().all(|b| matches!(b, b'0'..=b'7')) =>
            {
                u32::from_str_radix(text, 8).ok()
            }
            Some(_) => None,
            None if self.socket_group.is_some() => Some(DEFAULT_GROUP_SOCKET_MODE),
            None => Some(DEFAULT_SOCKET_MODE),
        }
    }

    /// Refuses modes that open the socket to everyone or shut out its group, and a metrics
    /// address beyond this host unless allowed.
    fn validate(&self) -> Result<(), ConfigError> {
        let mode = match self.socket_mode() {
            Some(mode) if mode <= 0o777 => mode,
            _ => {
                return Err(invalid(
                    "control.socket_mode",
                    format!(
                        "is `{}`; expected an octal file mode such as \"0600\" or \"0660\"",
                        self.socket_mode.as_deref().unwrap_or_default()
                    ),
                ))
            }
        };
        if mode & 0o007 != 0 {
            return Err(invalid(
                "control.socket_mode",
                format!(
                    "is {mode:04o}, which opens the status socket to every local user; use \
                     0600 (root only) or 0660 with control.socket_group"
                ),
            ));
        }
        if let Some(group) = &self.socket_group {
            if group.trim().is_empty() {
                return Err(invalid("control.socket_group", "must not be empty"));
            }
            if mode & 0o020 == 0 {
                return Err(invalid(
                    "control.socket_mode",
                    format!(
                        "is {mode:04o}, which gives control.socket_group `{group}` no access \
                         (connecting needs write permission); use 0660"
                    ),
                ));
            }
        }
        if let Some(addr) = self.metrics {
            if !addr.ip().is_loopback() && !self.metrics_allow_remote {
                return Err(invalid(
                    "control.metrics",
                    format!(
                        "is {addr}, which other hosts can reach; the endpoint has no \
                         authentication and tells who holds which address: use a loopback \
                         address (127.0.0.1, ::1), or set control.metrics_allow_remote = true"
                    ),
                ));
            }
        }
        Ok(())
    }
}

fn default_priority() -> u8 {
    100
}

impl Default for ProtocolSettings {
    fn default() -> Self {
        ProtocolSettings {
            mode: Mode::Classic,
            interval: Duration::from_secs(1),
            dead_after: None,
            preempt: true,
            group: 1,
            auth_key: None,
            previous_auth_key: None,
            announce_every: None,
            voters: Vec::new(),
            lease: None,
            max_clock_drift_ppm: 1000,
        }
    }
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            email_recipient: "root@localhost".to_string(),
            smtp_server: "localhost:25".to_string(),
            from: "failoverd@localhost".to_string(),
            retry_max: DEFAULT_MAIL_RETRY_MAX,
        }
    }
}

impl Default for HookSettings {
    fn default() -> Self {
        HookSettings {
            timeout: Duration::from_secs(10),
            dir: None,
        }
    }
}

impl ProtocolSettings {
    /// Silence after which a path or peer counts as dead.
    pub fn dead_after(&self) -> Duration {
        self.dead_after.unwrap_or(self.interval * 3)
    }

    /// How often the owner announces its addresses again; `None` when it does not.
    pub fn announce_every(&self) -> Option<Duration> {
        let every =
            (self.announce_every).unwrap_or((self.interval * 10).max(Duration::from_secs(10)));
        (!every.is_zero()).then_some(every)
    }

    /// Quorum mode: how long a lease granted by a majority lasts, from when it was asked for.
    pub fn lease(&self) -> Duration {
        self.lease
            .unwrap_or((self.dead_after() - self.interval / 2).max(self.interval + MIN_LEASE_SLACK))
    }
}

impl NotifySettings {
    /// The host part of `smtp_server` (brackets around an IPv6 address removed).
    pub fn smtp_host(&self) -> &str {
        let host = self.split_server().map_or("", |(host, _)| host);
        host.trim_start_matches('[').trim_end_matches(']')
    }

    /// The port of `smtp_server`, if it has a valid one.
    pub fn smtp_port(&self) -> Option<u16> {
        self.split_server()?.1.parse().ok()
    }

    fn split_server(&self) -> Option<(&str, &str)> {
        self.smtp_server
            .rsplit_once(':')
            .filter(|(host, _)| !host.is_empty())
    }
}

impl VipSettings {
    /// The prefix length, defaulted by address family.
    pub fn prefix_len(&self) -> u8 {
        self.prefix.unwrap_or(match self.address {
            IpAddr::V4(_) => 24,
            IpAddr::V6(_) => 64,
        })
    }
}

/// The IPv4 address an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) stands for. Such an
/// address is refused in a configuration: a socket reports a peer's IPv4 address as such, so
/// a peer written mapped would never be recognised.
fn v4_mapped(ip: IpAddr) -> Option<std::net::Ipv4Addr> {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped(),
        IpAddr::V4(_) => None,
    }
}

/// Whether `addr` is a link-local IPv6 address (`fe80::/10`) without a scope id: it means
/// nothing until an interface is named, and the kernel refuses to send to it.
fn lacks_scope(addr: &SocketAddr) -> bool {
    match addr {
        SocketAddr::V6(v6) => (v6.ip().segments()[0] & 0xffc0) == 0xfe80 && v6.scope_id() == 0,
        SocketAddr::V4(_) => false,
    }
}

/// A path's addresses: one family each way (a socket bound to an IPv4 address cannot send to
/// an IPv6 peer, nor one bound to a particular IPv6 address to an IPv4 peer; a path without a
/// `local`, or with the IPv6 wildcard `[::]`, listens and sends in both families), IPv6
/// multicast left out, link-local IPv6 addresses only with a scope id.
fn validate_path_addresses(i: usize, path: &PathSettings) -> Result<(), ConfigError> {
    let addresses = path.local.iter().map(|a| ("local".to_string(), a));
    let peers = (path.peers.iter().enumerate()).map(|(j, a)| (format!("peers[{j}]"), a));
    for (what, addr) in addresses.chain(peers) {
        let field = || format!("path[{i}].{what}");
        if let Some(v4) = v4_mapped(addr.ip()) {
            return Err(invalid(
                field(),
                format!("write the IPv4 address {v4} as such"),
            ));
        }
        if lacks_scope(addr) {
            return Err(invalid(
                field(),
                format!(
                    "{addr} is link-local: give its interface's index as a scope id \
                     ([fe80::1%2]:1694), or use a global or unique-local address"
                ),
            ));
        }
        if addr.is_ipv6() && addr.ip().is_multicast() {
            return Err(invalid(
                field(),
                format!("{addr}: IPv6 multicast heartbeats are not supported; list the peers' own addresses"),
            ));
        }
    }
    let Some(local) = path.local else {
        return Ok(());
    };
    let dual_stack = local.is_ipv6() && local.ip().is_unspecified();
    for (j, peer) in path.peers.iter().enumerate() {
        if !dual_stack && peer.is_ipv6() != local.is_ipv6() {
            let family = |a: &SocketAddr| if a.is_ipv6() { "IPv6" } else { "IPv4" };
            return Err(invalid(
                format!("path[{i}].peers[{j}]"),
                format!(
                    "{peer} is {} but path[{i}].local ({local}) is {}: a path's socket speaks \
                     one family (leave `local` out, or use [::]:PORT, to listen on both)",
                    family(peer),
                    family(&local)
                ),
            ));
        }
    }
    Ok(())
}

/// A configuration that cannot be used, naming the field at fault.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// The text is not valid TOML or does not fit the schema.
    #[error("{source_name}: {message}")]
    Parse {
        /// File name (or other label) of the text.
        source_name: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A field has a value the protocol cannot work with.
    #[error("field `{field}`: {message}")]
    Invalid {
        /// Dotted path of the field, e.g. `protocol.interval` or `path[1].peers`.
        field: String,
        /// What is wrong and what is allowed.
        message: String,
    },
}

impl ConfigError {
    /// The field at fault, as a log names it: the dotted path of an invalid one, or `the
    /// file` for text that does not parse.
    pub fn field(&self) -> &str {
        match self {
            ConfigError::Parse { .. } => "the file",
            ConfigError::Invalid { field, .. } => field,
        }
    }
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

impl Config {
    /// Parses and validates native TOML; `source_name` (usually the file name) prefixes errors.
    pub fn from_toml_str(text: &str, source_name: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            source_name: source_name.to_string(),
            message: e.to_string(),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// The configuration as TOML, e.g. to show what a hostconfig file was read as.
    pub fn to_toml_string(&self) -> String {
        toml::to_string_pretty(self).expect("a Config always serializes")
    }

    /// How often the owner announces its addresses again; `None` when it does not.
    pub fn announce_every(&self) -> Option<Duration> {
        self.protocol.announce_every()
    }

    /// Quorum mode: how long a lease granted by a majority lasts, from when it was asked for.
    pub fn lease(&self) -> Duration {
        self.protocol.lease()
    }

    /// Silence after which a path or peer counts as dead.
    pub fn dead_after(&self) -> Duration {
        self.protocol.dead_after()
    }

    /// Checks every rule the protocol relies on; the error names the first offending field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let name = &self.node.name;
        if name.is_empty() || name.len() > 64 {
            return Err(invalid("node.name", "must be 1 to 64 bytes long"));
        }
        if self.node.priority == 0 {
            return Err(invalid("node.priority", "must be between 1 and 255"));
        }
        let p = &self.protocol;
        if p.interval < MIN_INTERVAL || p.interval > Duration::from_secs(60) {
            return Err(invalid(
                "protocol.interval",
                format!("is {:?}; must be between 10ms and 60s", p.interval),
            ));
        }
        if let Some(dead) = p.dead_after {
            if dead < p.interval * 2 {
                return Err(invalid(
                    "protocol.dead_after",
                    format!(
                        "is {dead:?}; must be at least twice protocol.interval ({:?}) so one lost heartbeat is not a failure",
                        p.interval
                    ),
                ));
            }
        }
        if let Some(every) = p.announce_every.filter(|e| !e.is_zero() && *e < p.interval) {
            return Err(invalid(
                "protocol.announce_every",
                format!(
                    "is {every:?}; must be at least protocol.interval ({:?}), or 0s for never",
                    p.interval
                ),
            ));
        }
        if let Some(key) = &p.auth_key {
            if key.len() < 16 {
                return Err(invalid(
                    "protocol.auth_key",
                    "must be at least 16 bytes long",
                ));
            }
        }
        if let Some(previous) = &p.previous_auth_key {
            let problem = match &p.auth_key {
                None => Some("needs protocol.auth_key: it is only accepted beside the key in use"),
                Some(_) if previous.len() < 16 => Some("must be at least 16 bytes long"),
                Some(key) if key == previous => Some("must differ from protocol.auth_key"),
                Some(_) => None,
            };
            if let Some(problem) = problem {
                return Err(invalid("protocol.previous_auth_key", problem));
            }
        }
        if self.paths.is_empty() {
            return Err(invalid("path", "at least one [[path]] is required"));
        }
        if self.paths.len() > 8 {
            return Err(invalid("path", "at most 8 paths are supported"));
        }
        for (i, path) in self.paths.iter().enumerate() {
            if path.name.is_empty() {
                return Err(invalid(format!("path[{i}].name"), "must not be empty"));
            }
            if self.paths[..i].iter().any(|other| other.name == path.name) {
                return Err(invalid(
                    format!("path[{i}].name"),
                    format!("`{}` is used by an earlier path", path.name),
                ));
            }
            validate_path_addresses(i, path)?;
        }
        self.validate_mode()?;
        if self.paths.iter().all(|path| path.peers.is_empty()) && !self.node.witness {
            return Err(invalid(
                "path.peers",
                "no path has a peer address: heartbeats would go nowhere",
            ));
        }
        if self.vips.is_empty() && !self.node.witness {
            return Err(invalid("vip", "at least one [[vip]] is required"));
        }
        if !self.vips.is_empty() && self.node.witness {
            return Err(invalid(
                "vip",
                "a witness votes and never holds an address: remove its [[vip]] tables",
            ));
        }
        for (i, vip) in self.vips.iter().enumerate() {
            let field = || format!("vip[{i}].address");
            if vip.address.is_unspecified() || vip.address.is_multicast() {
                return Err(invalid(
                    field(),
                    format!("{} is not a unicast address", vip.address),
                ));
            }
            if let Some(v4) = v4_mapped(vip.address) {
                return Err(invalid(
                    field(),
                    format!("write the IPv4 address {v4} as such"),
                ));
            }
            let max = if vip.address.is_ipv4() { 32 } else { 128 };
            if vip.prefix_len() > max {
                return Err(invalid(
                    format!("vip[{i}].prefix"),
                    format!("must be at most {max} for {}", vip.address),
                ));
            }
            if vip.interface.is_empty() {
                return Err(invalid(format!("vip[{i}].interface"), "must not be empty"));
            }
            if self.vips[..i]
                .iter()
                .any(|other| other.address == vip.address)
            {
                return Err(invalid(
                    format!("vip[{i}].address"),
                    format!("{} is listed twice", vip.address),
                ));
            }
        }
        if self.notify.email_recipient.trim().is_empty() {
            return Err(invalid("notify.email_recipient", "must not be empty"));
        }
        if self.notify.from.trim().is_empty() {
            return Err(invalid("notify.from", "must not be empty"));
        }
        let retry_max = self.notify.retry_max;
        if retry_max < Duration::from_secs(1) || retry_max > Duration::from_secs(3600) {
            return Err(invalid(
                "notify.retry_max",
                format!("is {retry_max:?}; must be between 1s and 1h"),
            ));
        }
        if self.notify.smtp_port().is_none() {
            return Err(invalid(
                "notify.smtp_server",
                format!(
                    "is `{}`; expected host:port, e.g. localhost:25",
                    self.notify.smtp_server
                ),
            ));
        }
        if self.hooks.timeout.is_zero() {
            return Err(invalid("hooks.timeout", "must be more than zero"));
        }
        self.control.validate()
    }

    /// The rules of the mode: a quorum group's voters and lease, a classic node's lack of them.
    fn validate_mode(&self) -> Result<(), ConfigError> {
        let p = &self.protocol;
        if p.mode == Mode::Classic {
            if self.node.witness {
                return Err(invalid(
                    "node.witness",
                    "a witness votes in quorum mode only: set protocol.mode = \"quorum\"",
                ));
            }
            if !p.voters.is_empty() || p.lease.is_some() {
                let field = if p.voters.is_empty() {
                    "lease"
                } else {
                    "voters"
                };
                return Err(invalid(
                    format!("protocol.{field}"),
                    "is a quorum-mode setting: set protocol.mode = \"quorum\" or remove it",
                ));
            }
            return Ok(());
        }
        if p.voters.len() < 3 {
            return Err(invalid(
                "protocol.voters",
                format!(
                    "lists {} voter(s); quorum mode needs at least 3 (two servers and a witness), \
                     or one failure leaves no majority",
                    p.voters.len()
                ),
            ));
        }
        for (i, name) in p.voters.iter().enumerate() {
            if p.voters[..i].contains(name) {
                return Err(invalid(
                    format!("protocol.voters[{i}]"),
                    format!("`{name}` is listed twice"),
                ));
            }
        }
        if !p.voters.contains(&self.node.name) {
            return Err(invalid(
                "protocol.voters",
                format!("must list this node, `{}`", self.node.name),
            ));
        }
        // A path naming no peer learns them from their heartbeats, but a witness never
        // speaks first: a node that cannot name it cannot ask it for a vote.
        if let Some(i) = self.paths.iter().position(|path| path.peers.is_empty()) {
            return Err(invalid(
                format!("path[{i}].peers"),
                "names no peer: in quorum mode every voter is asked at an address the file                  names (a witness answers only; learning peers from their heartbeats is for                  classic mode)",
            ));
        }
        let lease = self.lease();
        if lease < p.interval + MIN_LEASE_SLACK {
            return Err(invalid(
                "protocol.lease",
                format!(
                    "is {lease:?}; must be at least protocol.interval + {MIN_LEASE_SLACK:?} ({:?}): \
                     the kernel takes address lifetimes in whole seconds",
                    p.interval + MIN_LEASE_SLACK
                ),
            ));
        }
        if p.max_clock_drift_ppm > 100_000 {
            return Err(invalid(
                "protocol.max_clock_drift_ppm",
                format!(
                    "is {}; must be at most 100000 (10 %)",
                    p.max_clock_drift_ppm
                ),
            ));
        }
        Ok(())
    }
}
