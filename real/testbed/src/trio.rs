//! Three nodes, as `real/dist/three-node/` configures them: each on the public LAN and on a
//! backend LAN (three machines cannot share a crossover cable), both bridges in one switch
//! namespace; the client and its mail server on the public LAN only. Every interface has the
//! IPv6 twin of its address too (see [`crate::twin`]).
//!
//! ```text
//!                  public LAN 192.0.2.0/24 (br0)
//!      ┌──────────────┬──────────────┬──────────────┐
//!   alpha .21      bravo .22     charlie .23     client .50 (SMTP server :2525)
//!      └──────────────┴──────────────┘
//!        backend LAN 198.51.100.0/24 (br1), on eth1
//!                 virtual address 192.0.2.100 on eth0
//! ```

use crate::bed::{bed_dir, plug};
use crate::daemon::NodeConfig;
use crate::{Daemon, Host, Netns, Service, CLIENT, SERVICE_PORT, VIP};
use std::ffi::OsString;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;
use tempfile::TempDir;

/// The first in line (priority 200 in the examples).
pub const ALPHA: Host = Host {
    name: "alpha",
    lan: Ipv4Addr::new(192, 0, 2, 21),
    direct: Ipv4Addr::new(198, 51, 100, 21),
};
/// The second in line.
pub const BRAVO: Host = Host {
    name: "bravo",
    lan: Ipv4Addr::new(192, 0, 2, 22),
    direct: Ipv4Addr::new(198, 51, 100, 22),
};
/// The third in line.
pub const CHARLIE: Host = Host {
    name: "charlie",
    lan: Ipv4Addr::new(192, 0, 2, 23),
    direct: Ipv4Addr::new(198, 51, 100, 23),
};
/// The trio's nodes, in the order of [`Trio::ns`].
pub const TRIO: [Host; 3] = [ALPHA, BRAVO, CHARLIE];

/// Alpha, bravo, charlie and the client on two LANs; removed on drop.
#[derive(Debug)]
pub struct Trio {
    // Drop order: services (they hold sockets in the namespaces), then namespaces, then files.
    _services: Vec<Service>,
    nodes: Vec<Netns>,
    /// The client host (and the mail server).
    pub client: Netns,
    _switch: Netns,
    dir: TempDir,
}

impl Trio {
    /// Builds the bed.
    pub fn new() -> Trio {
        let switch = Netns::new("sw");
        for bridge in ["br0", "br1"] {
            switch.ip(&format!("link add {bridge} type bridge"));
            switch.ip(&format!("link set {bridge} up"));
        }
        let client = Netns::new("c");
        plug(&switch, "br0", "pc", &client, "eth0", CLIENT);
        let nodes: Vec<Netns> = TRIO
            .iter()
            .map(|host| {
                let ns = Netns::new(&host.name[..1]);
                let port = |n: u8| format!("p{}{n}", &host.name[..1]);
                plug(&switch, "br0", &port(0), &ns, "eth0", host.lan);
                plug(&switch, "br1", &port(1), &ns, "eth1", host.direct);
                ns
            })
            .collect();
        let services = TRIO
            .iter()
            .zip(&nodes)
            .map(|(host, ns)| Service::start(ns, SERVICE_PORT, host.name))
            .collect();
        Trio {
            _services: services,
            nodes,
            client,
            _switch: switch,
            dir: bed_dir(),
        }
    }

    /// The bed's directory: configurations, logs, state, mail.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The namespace of `host`, one of [`TRIO`].
    pub fn ns(&self, host: Host) -> &Netns {
        let i = TRIO.iter().position(|h| h.name == host.name);
        &self.nodes[i.unwrap_or_else(|| panic!("{} is not in the trio", host.name))]
    }

    /// `host` with `priority`, heartbeating to the two others on both LANs.
    pub fn config(&self, host: Host, priority: u8, interval: Duration) -> NodeConfig {
        let peers: Vec<Host> = TRIO.into_iter().filter(|h| h.name != host.name).collect();
        host.config(priority, &peers, "backend", interval, self.dir())
    }

    /// Writes `config` and starts failoverd with it on its host.
    pub fn start(&self, bin: &Path, host: Host, config: &NodeConfig) -> Daemon {
        let file = config.write(self.dir());
        let args = [OsString::from("--config"), file.into_os_string()];
        Daemon::start(bin, self.ns(host), self.dir(), host.name, &args)
    }

    /// Whether `host` has the virtual address on eth0.
    pub fn holds(&self, host: Host) -> bool {
        self.ns(host).has_address("eth0", &VIP.to_string())
    }
}

impl Default for Trio {
    fn default() -> Self {
        Trio::new()
    }
}
