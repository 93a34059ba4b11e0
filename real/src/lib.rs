//! `failoverd`, the production daemon: the unchanged core [`failover_core::Node`] driven by
//! real UDP sockets, the monotonic clock, netlink, hook scripts and mail; and `failoverctl`,
//! which asks a running daemon for its status.
//!
//! | module | what |
//! |---|---|
//! | [`driver`] | the loop that owns the node (one per group for a witness serving several), and start-up |
//! | [`drop_log`] | dropped datagrams in the log at a bounded rate |
//! | [`load`] | reading `--config` (TOML; several witnesses' files together) or `--hostconfig` |
//! | [`net`] | the paths' UDP sockets, and which group's node each datagram is for |
//! | [`actions`] | address changes and hooks, in core's order, off the loop |
//! | [`vip`], [`garp`], [`ndisc`] | virtual addresses through netlink; gratuitous ARP and IPv6's unsolicited neighbour advertisements |
//! | [`hooks`] | `Test`, `PreAcq*`, `PostAcq*`, `PreRel*`, `PostRel*` scripts |
//! | [`mail`], [`spool`] | the notification queue, over SMTP; its spool on disk |
//! | [`status`], [`metrics`] | `failoverctl status` over a UNIX socket; Prometheus `/metrics` |
//! | [`access`] | who may ask over the status socket: its mode and group, each client's credentials |
//! | [`clients`] | how many local clients those serve at once, and for how long |
//! | [`trust`] | strict modes: who may write the configuration and the hooks |
//! | [`operator`] | `failoverctl standby`, `active`, `switchover` over the status socket |
//! | [`epoch`], [`standby`], [`state_file`] | the boot epoch that grows with every start; the standby flag kept across restarts; how both are written |
//! | [`events`] | `--events`: every act as a JSON line with CLOCK_MONOTONIC time, for test harnesses |
//! | [`logging`] | `tracing` output fit for a terminal and for journald |

pub mod access;
pub mod actions;
pub mod clients;
pub mod driver;
pub mod drop_log;
pub mod epoch;
pub mod events;
pub mod garp;
pub mod hooks;
pub mod load;
pub mod logging;
pub mod mail;
pub mod metrics;
pub mod ndisc;
pub mod net;
pub mod operator;
pub mod spool;
pub mod standby;
pub mod state_file;
pub mod status;
pub mod trust;
pub mod vip;
