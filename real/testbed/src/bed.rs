//! The classic set-up of the source document, in namespaces:
//!
//! ```text
//!             LAN 192.0.2.0/24 and 2001:db8:0:1::/64 (bridge br0 in its own namespace)
//!      ┌──────────────┬──────────────┬──────────────┐
//!   master .10     backup .11      client .50 (SMTP server :2525)
//!      └─ eth1 ── direct link 198.51.100.0/24 and 2001:db8:0:2::/64 ── eth1 ─┘
//!                     virtual address 192.0.2.100 on eth0
//! ```
//!
//! Every interface has an IPv6 address too, the twin of its IPv4 one ([`twin`]: 192.0.2.10 is
//! 2001:db8:0:1::10, 198.51.100.11 is 2001:db8:0:2::11), without duplicate address detection
//! (`accept_dad` 0: usable at once) and kept when the link is taken down (`keep_addr_on_down`
//! 1, as IPv4 addresses are), so tests of either family cut and heal links alike.
//!
//! Every host runs a TCP service on [`SERVICE_PORT`] that answers with its name, on both
//! families, so a client request to the virtual address says which host holds it.

use crate::daemon::{NodeConfig, PathConfig};
use crate::{Daemon, Netns, Service};
use std::ffi::OsString;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tempfile::TempDir;

/// The virtual address.
pub const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
/// The IPv6 virtual address of tests in that family: 2001:db8:0:1::100, on the LAN.
pub const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, 0x100);
/// The client's address.
pub const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 50);

/// The IPv6 address of a bed's interface whose IPv4 address is `v4`: the LAN's
/// 192.0.2.0/24 maps to 2001:db8:0:1::/64, the second network's 198.51.100.0/24 to
/// 2001:db8:0:2::/64, and the last byte is written the same (192.0.2.10 → 2001:db8:0:1::10).
pub fn twin(v4: Ipv4Addr) -> Ipv6Addr {
    let [a, b, c, host] = v4.octets();
    let net = match (a, b, c) {
        (192, 0, 2) => 1,
        (198, 51, 100) => 2,
        _ => panic!("{v4} is not on a bed's network"),
    };
    let last = u16::from_str_radix(&host.to_string(), 16).expect("decimal digits read as hex");
    Ipv6Addr::new(0x2001, 0xdb8, 0, net, 0, 0, 0, last)
}
/// The SMTP server, on the client host.
pub const MAIL_SERVER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(CLIENT), 2525);
/// The port of every host's name service.
pub const SERVICE_PORT: u16 = 8080;
/// The master's LAN and direct-link addresses.
pub const MASTER: Host = Host {
    name: "master",
    lan: Ipv4Addr::new(192, 0, 2, 10),
    direct: Ipv4Addr::new(198, 51, 100, 10),
};
/// The backup's LAN and direct-link addresses.
pub const BACKUP: Host = Host {
    name: "backup",
    lan: Ipv4Addr::new(192, 0, 2, 11),
    direct: Ipv4Addr::new(198, 51, 100, 11),
};

/// A failover node's place in a bed.
#[derive(Clone, Copy, Debug)]
pub struct Host {
    /// Node name.
    pub name: &'static str,
    /// Address on the LAN (eth0).
    pub lan: Ipv4Addr,
    /// Address on the second network (eth1): the direct link of a pair, a trio's backend LAN.
    pub direct: Ipv4Addr,
}

impl Host {
    /// This node with `priority`, heartbeating to `peers` on the LAN (path `public`) and on
    /// eth1 (path `second`), the virtual address on eth0, hooks under `dir/hooks-NAME` (killed
    /// after 2 s), mail to the bed's server.
    pub(crate) fn config(
        self,
        priority: u8,
        peers: &[Host],
        second: &str,
        interval: Duration,
        dir: &Path,
    ) -> NodeConfig {
        let at = |ip: Ipv4Addr| SocketAddr::new(ip.into(), 1694);
        let path = |name: &str, local: Ipv4Addr, peer: fn(&Host) -> Ipv4Addr| PathConfig {
            name: name.into(),
            local: at(local),
            peers: peers.iter().map(|p| at(peer(p))).collect(),
        };
        NodeConfig {
            name: self.name.to_string(),
            priority,
            interval,
            paths: vec![
                path("public", self.lan, |p| p.lan),
                path(second, self.direct, |p| p.direct),
            ],
            vips: vec![VIP.into()],
            vip_interface: "eth0".into(),
            hooks_dir: dir.join(format!("hooks-{}", self.name)),
            hook_timeout: Duration::from_secs(2),
            smtp: MAIL_SERVER,
            auth_key: None,
            mail_retry_max: None,
        }
    }
}

/// Master, backup and client on a LAN, and the direct link; removed on drop.
#[derive(Debug)]
pub struct Bed {
    // Drop order: services (they hold sockets in the namespaces), then namespaces, then files.
    _services: Vec<Service>,
    /// The master host.
    pub master: Netns,
    /// The backup host.
    pub backup: Netns,
    /// The client host (and the mail server).
    pub client: Netns,
    switch: Netns,
    dir: TempDir,
}

impl Bed {
    /// Builds the bed.
    pub fn new() -> Bed {
        let switch = Netns::new("sw");
        let master = Netns::new("m");
        let backup = Netns::new("b");
        let client = Netns::new("c");
        switch.ip("link add br0 type bridge");
        switch.ip("link set br0 up");
        plug(&switch, "br0", "pm", &master, "eth0", MASTER.lan);
        plug(&switch, "br0", "pb", &backup, "eth0", BACKUP.lan);
        plug(&switch, "br0", "pc", &client, "eth0", CLIENT);
        master.ip(&format!(
            "link add eth1 type veth peer name eth1 netns {}",
            backup.name()
        ));
        for (host, addr) in [(&master, MASTER.direct), (&backup, BACKUP.direct)] {
            address(host, "eth1", addr);
            host.ip("link set eth1 up");
        }
        let services = vec![
            Service::start(&master, SERVICE_PORT, MASTER.name),
            Service::start(&backup, SERVICE_PORT, BACKUP.name),
        ];
        Bed {
            _services: services,
            master,
            backup,
            client,
            switch,
            dir: bed_dir(),
        }
    }

    /// The bed's directory: configurations, logs, state, hooks, mail.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The namespace of `host`.
    pub fn ns(&self, host: Host) -> &Netns {
        if host.name == MASTER.name {
            &self.master
        } else {
            &self.backup
        }
    }

    /// The hook directory of `host`'s virtual address (created).
    pub fn hook_dir(&self, host: Host) -> PathBuf {
        self.hook_dir_of(host, VIP.into())
    }

    /// The hook directory of `host`'s virtual address `address` (created).
    pub fn hook_dir_of(&self, host: Host, address: IpAddr) -> PathBuf {
        let dir = self
            .dir()
            .join(format!("hooks-{}", host.name))
            .join(address.to_string());
        std::fs::create_dir_all(&dir).expect("hook directory");
        dir
    }

    /// The classic two-node configuration of `host` (the master has priority 200, the
    /// backup 100), both paths, the LAN's mail server.
    pub fn config(&self, host: Host, interval: Duration, hook_timeout: Duration) -> NodeConfig {
        let (me, peer, priority) = if host.name == MASTER.name {
            (MASTER, BACKUP, 200)
        } else {
            (BACKUP, MASTER, 100)
        };
        NodeConfig {
            hook_timeout,
            ..me.config(priority, &[peer], "direct", interval, self.dir())
        }
    }

    /// Writes `config` and starts failoverd with it on its host.
    pub fn start(&self, bin: &Path, host: Host, config: &NodeConfig) -> Daemon {
        let file = config.write(self.dir());
        let args = [OsString::from("--config"), file.into_os_string()];
        Daemon::start(bin, self.ns(host), self.dir(), host.name, &args)
    }

    /// Takes `host`'s LAN port on the switch down (its eth0 loses carrier) or up again.
    pub fn set_lan(&self, host: Host, up: bool) {
        let port = if host.name == MASTER.name { "pm" } else { "pb" };
        self.switch.set_link(port, up);
    }

    /// Takes the direct link down (both ends lose carrier) or up again.
    pub fn set_direct(&self, up: bool) {
        self.master.set_link("eth1", up);
    }

    /// Whether `host` has the virtual address on eth0.
    pub fn holds(&self, host: Host) -> bool {
        self.holds_address(host, VIP.into())
    }

    /// Whether `host` has `address` on eth0.
    pub fn holds_address(&self, host: Host, address: IpAddr) -> bool {
        self.ns(host).has_address("eth0", &address.to_string())
    }

    /// The address clients use, at the name service's port.
    pub fn service() -> SocketAddr {
        Bed::service_at(VIP.into())
    }

    /// `address` at the name service's port.
    pub fn service_at(address: IpAddr) -> SocketAddr {
        SocketAddr::new(address, SERVICE_PORT)
    }
}

/// Plugs `host` into `bridge` on `switch` through a veth pair, `port` on the switch's side and
/// `dev` with `addr`/24 and its IPv6 twin on the host's, both ends up.
pub(crate) fn plug(
    switch: &Netns,
    bridge: &str,
    port: &str,
    host: &Netns,
    dev: &str,
    addr: Ipv4Addr,
) {
    switch.ip(&format!(
        "link add {port} type veth peer name {dev} netns {}",
        host.name()
    ));
    switch.ip(&format!("link set {port} master {bridge} up"));
    address(host, dev, addr);
    host.ip(&format!("link set {dev} up"));
}

/// Gives `dev` on `host` `addr`/24 and its IPv6 twin /64, IPv6 set up first as the module docs
/// say (no duplicate address detection, addresses kept when the link goes down).
fn address(host: &Netns, dev: &str, addr: Ipv4Addr) {
    host.sysctl(&format!("net/ipv6/conf/{dev}/accept_dad"), "0");
    host.sysctl(&format!("net/ipv6/conf/{dev}/keep_addr_on_down"), "1");
    host.ip(&format!("addr add {addr}/24 dev {dev}"));
    host.ip(&format!("addr add {}/64 dev {dev}", twin(addr)));
}

/// A bed's directory for configurations, logs, state, hooks and mail; removed on drop.
pub(crate) fn bed_dir() -> TempDir {
    tempfile::Builder::new()
        .prefix("failover-bed-")
        .tempdir()
        .expect("a temporary directory")
}

impl Default for Bed {
    fn default() -> Self {
        Bed::new()
    }
}
