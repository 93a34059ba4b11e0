//! Virtual addresses on Linux interfaces, through netlink (`ip addr add/del`, without the
//! `ip` binary).
//!
//! Every change is idempotent: adding an address already there and removing one already gone
//! both succeed, so a retried or repeated request never turns into an error, and a leftover
//! from a crash is found and removed at start instead of being added a second time.
//!
//! An IPv6 address is added with `IFA_F_NODAD` (`ip addr add ... nodad`, as keepalived does):
//! otherwise it stays "tentative" for a second or more of duplicate address detection, during
//! which the kernel neither answers for it nor sends from it — and a takeover while the old
//! owner still has it (a split brain, or a daemon killed on a live host) would leave it
//! marked `dadfailed`, held but never working.

use failover_core::config::VipSettings;
use futures_util::TryStreamExt;
use nix::errno::Errno;
use rtnetlink::packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, CacheInfo,
};
use rtnetlink::Handle;
use std::io;
use thiserror::Error;

/// An address change that did not happen.
#[derive(Debug, Error)]
pub enum VipError {
    /// The configured interface does not exist.
    #[error("interface `{0}` does not exist")]
    NoInterface(String),
    /// The kernel refused.
    #[error("{address} on {interface}: {source}")]
    Netlink {
        /// The address.
        address: String,
        /// The interface.
        interface: String,
        /// The kernel's answer.
        source: io::Error,
    },
}

/// What a change found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// The address was added or removed.
    Done,
    /// It was already there (add) or already gone (remove).
    AlreadySo,
}

/// A netlink connection for address changes.
#[derive(Clone)]
pub struct Addresses {
    handle: Handle,
}

impl Addresses {
    /// Opens the netlink socket; its connection runs as a task of the current runtime.
    pub fn connect() -> io::Result<Addresses> {
        let (connection, handle, _) = rtnetlink::new_connection()?;
        tokio::spawn(connection);
        Ok(Addresses { handle })
    }

    /// Adds the address (prefix included) to its interface — in quorum mode with a lifetime
    /// of `lifetime` seconds (`valid_lft` and `preferred_lft`), after which the kernel removes
    /// it by itself. An address already there gets that lifetime.
    ///
    /// An address already there with its prefix, and no lifetime to set, needs no change: it
    /// is not written again — a daemon whose kernel would refuse the write (no
    /// `CAP_NET_ADMIN`) still owns the host's own address, added by the system at boot.
    pub async fn add(&self, vip: &VipSettings, lifetime: Option<u32>) -> Result<Change, VipError> {
        let index = self.link_index(&vip.interface).await?;
        if lifetime.is_none() {
            let found = self.find(index, vip).await?;
            if found
                .iter()
                .any(|m| m.header.prefix_len == vip.prefix_len())
            {
                return Ok(Change::AlreadySo);
            }
        }
        let mut request = self
            .handle
            .address()
            .add(index, vip.address, vip.prefix_len());
        no_dad(vip, request.message_mut());
        if let Some(secs) = lifetime {
            request
                .message_mut()
                .attributes
                .push(lifetime_attribute(secs));
        }
        match request.execute().await.map_err(|e| kernel_error(vip, e)) {
            Ok(()) => Ok(Change::Done),
            Err(VipError::Netlink { source, .. })
                if source.kind() == io::ErrorKind::AlreadyExists =>
            {
                if let Some(secs) = lifetime {
                    self.renew(vip, secs).await?;
                }
                Ok(Change::AlreadySo)
            }
            Err(e) => Err(e),
        }
    }

    /// Quorum mode: sets the address's lifetime to `secs` seconds from now (`ip addr
    /// replace ... valid_lft secs preferred_lft secs`), adding it again if the kernel had
    /// already removed it.
    pub async fn renew(&self, vip: &VipSettings, secs: u32) -> Result<(), VipError> {
        let index = self.link_index(&vip.interface).await?;
        let mut request = self
            .handle
            .address()
            .add(index, vip.address, vip.prefix_len())
            .replace();
        no_dad(vip, request.message_mut());
        request
            .message_mut()
            .attributes
            .push(lifetime_attribute(secs));
        request.execute().await.map_err(|e| kernel_error(vip, e))
    }

    /// Removes the address from its interface, whatever prefix length it was added with.
    pub async fn remove(&self, vip: &VipSettings) -> Result<Change, VipError> {
        let index = self.link_index(&vip.interface).await?;
        let mut change = Change::AlreadySo;
        for message in self.find(index, vip).await? {
            match self.handle.address().del(message).execute().await {
                Ok(()) => change = Change::Done,
                Err(e) => match kernel_error(vip, e) {
                    // removed by someone else in between
                    VipError::Netlink { source, .. }
                        if matches!(
                            source.kind(),
                            io::ErrorKind::AddrNotAvailable | io::ErrorKind::NotFound
                        ) => {}
                    other => return Err(other),
                },
            }
        }
        Ok(change)
    }

    /// Removes the address for a release: from its interface, as [`remove`](Self::remove)
    /// does, and from any other interface of the host it is found on. Linux answers for an
    /// address whichever of its interfaces has it, so a release is done only when none has.
    /// An interface renamed under the daemon (`ip link set vip0 name vip1`) keeps its
    /// addresses — and another may have been made with the old name since: the node would
    /// otherwise believe it released an address its host still serves (or, the name gone,
    /// stay the owner for ever, and a planned shutdown never end). An interface deleted took
    /// its addresses with it: nothing is found, and the address is gone.
    pub async fn release(&self, vip: &VipSettings) -> Result<Change, VipError> {
        let mut change = match self.remove(vip).await {
            Err(VipError::NoInterface(_)) => Change::AlreadySo,
            other => other?,
        };
        let found: Vec<_> = self
            .handle
            .address()
            .get()
            .set_address_filter(vip.address)
            .execute()
            .try_collect()
            .await
            .map_err(|e| kernel_error(vip, e))?;
        for message in found {
            let index = message.header.index;
            match self.handle.address().del(message).execute().await {
                Ok(()) => {
                    tracing::warn!(address = %vip.address, interface = %vip.interface, index,
                        "the address was found on the interface with this index instead \
                         (renamed?) and removed there");
                    change = Change::Done;
                }
                Err(e) => match kernel_error(vip, e) {
                    // removed by someone else in between
                    VipError::Netlink { source, .. }
                        if matches!(
                            source.kind(),
                            io::ErrorKind::AddrNotAvailable | io::ErrorKind::NotFound
                        ) => {}
                    other => return Err(other),
                },
            }
        }
        Ok(change)
    }

    /// The address on the interface of index `index`, whatever its prefix (a lookup: the
    /// kernel answers it without `CAP_NET_ADMIN`).
    async fn find(&self, index: u32, vip: &VipSettings) -> Result<Vec<AddressMessage>, VipError> {
        self.handle
            .address()
            .get()
            .set_link_index_filter(index)
            .set_address_filter(vip.address)
            .execute()
            .try_collect()
            .await
            .map_err(|e| kernel_error(vip, e))
    }

    async fn link_index(&self, name: &str) -> Result<u32, VipError> {
        let link = self
            .handle
            .link()
            .get()
            .match_name(name.to_string())
            .execute()
            .try_next()
            .await;
        match link {
            Ok(Some(link)) => Ok(link.header.index),
            Ok(None) => Err(VipError::NoInterface(name.to_string())),
            Err(rtnetlink::Error::NetlinkError(e))
                if e.to_io().raw_os_error() == Some(Errno::ENODEV as i32) =>
            {
                Err(VipError::NoInterface(name.to_string()))
            }
            Err(e) => Err(VipError::Netlink {
                address: String::new(),
                interface: name.to_string(),
                source: to_io(e),
            }),
        }
    }
}

/// An IPv6 address usable at once (see the module docs): `IFA_F_NODAD`, in the header's
/// flags and in `IFA_FLAGS`, as `ip` sends it. IPv4 has no such detection.
fn no_dad(vip: &VipSettings, message: &mut AddressMessage) {
    if vip.address.is_ipv6() {
        message.header.flags |= AddressHeaderFlags::Nodad;
        message
            .attributes
            .push(AddressAttribute::Flags(AddressFlags::Nodad));
    }
}

/// `IFA_CACHEINFO` with both lifetimes set to `secs`.
fn lifetime_attribute(secs: u32) -> AddressAttribute {
    let mut info = CacheInfo::default();
    info.ifa_valid = secs;
    info.ifa_preferred = secs;
    AddressAttribute::CacheInfo(info)
}

fn kernel_error(vip: &VipSettings, e: rtnetlink::Error) -> VipError {
    VipError::Netlink {
        address: format!("{}/{}", vip.address, vip.prefix_len()),
        interface: vip.interface.clone(),
        source: to_io(e),
    }
}

fn to_io(e: rtnetlink::Error) -> io::Error {
    match e {
        rtnetlink::Error::NetlinkError(message) => message.to_io(),
        other => io::Error::other(other.to_string()),
    }
}
