//! The daemon's loop: one task owns the core [`Node`] and feeds it every input — datagrams,
//! its timer, answers to hooks and address changes, signals — then carries out what it asks
//! for. Protocol decisions are all core's; this module only moves bytes, time and requests
//! across the boundary.
//!
//! Time is tokio's monotonic clock, as nanoseconds since the daemon started. Anything that can
//! take time (address changes, hooks, mail, answering `failoverctl`) runs in tasks of its own,
//! so the loop is always ready for the next heartbeat. Whatever wakes the loop, it then reads
//! everything already waiting — every socket's buffered datagrams (up to [`BATCH`], so a flood
//! cannot starve the timer), every finished request — into an [`Inbox`], which hands it to the
//! node by core's input rule: datagrams, then answers and commands, then the timer if it is
//! still due. After a stall (SIGSTOP, a VM pause, a starved CPU) the owner's heartbeats queued
//! meanwhile are therefore seen before the silence they end is judged.
//!
//! With `--events`, the loop also records what it starts and what core tells it — the start,
//! leftovers removed, role changes, notifications, the stop — in the [`EventLog`]; the action
//! worker records the rest.

use crate::access::{self, Access};
use crate::actions::{self, Action};
use crate::drop_log::DropLog;
use crate::epoch;
use crate::events::{Act, EventLog};
use crate::hooks::{self, HookJob};
use crate::load::{load, LoadError, Source};
use crate::mail::{self, Mail};
use crate::metrics::{self, MetricsAt};
use crate::net::{bind_addr, BindError, PathSockets};
use crate::status::{self, Report, ReportRequest, SocketFile};
use crate::vip::{Addresses, Change, VipError};
use failover_core::{
    Command, Config, ConfigError, Event, Inbox, Instant, Node, Output, Role, VipId,
};
use std::io;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};
use thiserror::Error;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::mpsc;

/// Where the boot epoch is kept unless `--state-dir` says otherwise.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/failoverd";
/// How long a stopping daemon waits for queued mail.
const MAIL_GRACE: Duration = Duration::from_secs(10);
/// Datagrams read per wake-up at most: more than the kernel's default socket buffers hold
/// (about 500 heartbeats on two paths), so every one waiting at a wake-up is read before the
/// timer, yet a flood is taken in bounded bites between timer checks.
pub const BATCH: usize = 1024;

/// Settings of the process, as opposed to the failover group's configuration.
#[derive(Clone, Debug)]
pub struct Options {
    /// The configuration file, re-read on SIGHUP.
    pub source: Source,
    /// Directory for the boot epoch counter.
    pub state_dir: PathBuf,
    /// The status socket's path.
    pub socket: PathBuf,
    /// Where `/metrics` is served, if wanted ([`metrics::metrics_at`]).
    pub metrics: Option<MetricsAt>,
    /// File the daemon's acts are appended to (`--events`), if wanted.
    pub events: Option<PathBuf>,
}

/// Why the daemon could not start; each names what to fix.
#[derive(Debug, Error)]
pub enum StartError {
    /// The configuration.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The configuration, as the node saw it.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The state directory's epoch file cannot be read or makes no sense.
    #[error("--state-dir: {0}")]
    Epoch(io::Error),
    /// A path's socket.
    #[error(transparent)]
    Bind(#[from] BindError),
    /// Netlink.
    #[error("netlink: {0}")]
    Netlink(io::Error),
    /// A virtual address's interface or the kernel's answer about it.
    #[error("{field}: {source}")]
    Vip {
        /// `vip[i].interface` or `vip[i]`.
        field: String,
        /// What went wrong.
        source: VipError,
    },
    /// The status socket.
    #[error("--socket: {0}")]
    Status(io::Error),
    /// The metrics listener.
    #[error("{} {}: {source}", at.setting, at.addr)]
    Metrics {
        /// The address, and the setting that named it.
        at: MetricsAt,
        /// Why it cannot be used.
        source: io::Error,
    },
    /// Signal handlers.
    #[error("signals: {0}")]
    Signals(io::Error),
    /// The file of acts.
    #[error("--events {}: {source}", path.display())]
    Events {
        /// The file.
        path: PathBuf,
        /// Why it cannot be opened for appending.
        source: io::Error,
    },
}

struct Signals {
    term: Signal,
    int: Signal,
    hup: Signal,
}

/// What woke the loop.
enum Wake {
    Shutdown,
    Reload,
    Timer,
    Answer(Command),
    Status(ReportRequest),
    Readable,
}

struct Driver {
    node: Node,
    origin: tokio::time::Instant,
    source: Source,
    sockets: PathSockets,
    actions: mpsc::UnboundedSender<Action>,
    mail: mpsc::UnboundedSender<Mail>,
    events: EventLog,
    drops: DropLog,
}

/// Runs the daemon until a planned shutdown has handed the addresses over.
pub async fn run(options: Options, config: Config) -> Result<(), StartError> {
    // Handlers first: a SIGTERM during start-up must not kill the process half-way.
    let sig = |kind| signal(kind).map_err(StartError::Signals);
    let mut signals = Signals {
        term: sig(SignalKind::terminate())?,
        int: sig(SignalKind::interrupt())?,
        hup: sig(SignalKind::hangup())?,
    };
    // Before anything that needs privileges or the network: a wrong path is named first.
    let events = match &options.events {
        Some(path) => {
            EventLog::open(path, &config.node.name).map_err(|source| StartError::Events {
                path: path.clone(),
                source,
            })?
        }
        None => EventLog::default(),
    };
    // The socket first: it tells whether another daemon already runs here, before this one
    // touches any address.
    let group = access::socket_group(&config)?;
    let mode = (config.control.socket_mode()).unwrap_or(failover_core::config::DEFAULT_SOCKET_MODE);
    let listener = status::bind(&options.socket, mode, group.as_ref().map(|g| g.gid))
        .map_err(StartError::Status)?;
    let access = Access::new(nix::unistd::geteuid().as_raw(), group);
    let _socket_file = SocketFile(options.socket.clone());
    let sockets = PathSockets::bind(&config)?;
    let epoch::Next { epoch, stored } =
        epoch::next(&options.state_dir).map_err(StartError::Epoch)?;
    let addresses = Addresses::connect().map_err(StartError::Netlink)?;
    reconcile(&addresses, &config, &events).await?;
    let (report_tx, mut report_rx) = mpsc::channel::<ReportRequest>(16);
    if let Some(at) = options.metrics {
        let tcp = tokio::net::TcpListener::bind(at.addr)
            .await
            .map_err(|source| StartError::Metrics { at, source })?;
        tokio::spawn(metrics::serve(tcp, report_tx.clone()));
    }
    tokio::spawn(status::serve(listener, report_tx, access));
    let (answer_tx, mut answers) = mpsc::unbounded_channel();
    let (action_tx, worker) = actions::spawn(addresses, answer_tx, events.clone());
    let (mail_tx, mailer, spool_error) = mail::spawn(&options.state_dir);
    let troubles = [
        stored
            .err()
            .map(|e| format!("cannot store the boot epoch: {e}")),
        spool_error.map(|e| format!("cannot open the mail spool: {e}")),
    ];
    for trouble in troubles.into_iter().flatten() {
        // Logged and mailed; the node runs all the same (see `epoch` and `mail`).
        tracing::error!("--state-dir: {trouble}; going on");
        let subject = "state directory cannot be written";
        let what = format!("The state directory cannot be written: {trouble}.");
        let _ = mail_tx.send(mail::trouble(&config, subject, &what, SystemTime::now()));
    }

    let origin = tokio::time::Instant::now();
    tracing::info!(
        node = %config.node.name,
        priority = config.node.priority,
        epoch,
        listening = ?sockets.local_addrs(),
        "failoverd started"
    );
    let node = Node::new(config, epoch, Instant::ZERO)?;
    events.write(Act::Start { epoch });
    let mut driver = Driver {
        node,
        origin,
        source: options.source,
        sockets,
        actions: action_tx,
        mail: mail_tx,
        events,
        drops: DropLog::new(Instant::ZERO),
    };
    let mut inbox = Inbox::new(driver.node.config().paths.len(), usize::MAX);
    let timer = tokio::time::sleep_until(origin);
    tokio::pin!(timer);
    loop {
        driver.flush();
        if driver.node.role() == Role::Stopped {
            break;
        }
        let deadline = driver.node.poll_timeout();
        if let Some(at) = deadline {
            let at = origin + Duration::from_nanos(at.as_nanos());
            if timer.deadline() != at {
                timer.as_mut().reset(at);
            }
        }
        let wake = tokio::select! {
            biased;
            _ = signals.term.recv() => Wake::Shutdown,
            _ = signals.int.recv() => Wake::Shutdown,
            _ = signals.hup.recv() => Wake::Reload,
            Some(answer) = answers.recv() => Wake::Answer(answer),
            Some(reply) = report_rx.recv() => Wake::Status(reply),
            () = driver.sockets.readable() => Wake::Readable,
            () = &mut timer, if deadline.is_some() => Wake::Timer,
        };
        let now = driver.now();
        match wake {
            Wake::Shutdown => {
                tracing::info!("stopping: handing over what this node holds");
                inbox.command(Command::Shutdown);
            }
            Wake::Reload => {
                driver.reload();
                inbox.command(Command::Reannounce);
            }
            Wake::Answer(answer) => inbox.command(answer),
            Wake::Status(reply) => {
                // Every request waiting is answered now; then the loop goes on as after any
                // wake-up, so a stream of `failoverctl status` never keeps the sockets unread
                // or the timer waiting.
                let report = Report::new(&driver.node, now, origin.elapsed());
                while let Ok(reply) = report_rx.try_recv() {
                    let _ = reply.send(report.clone());
                }
                let _ = reply.send(report);
            }
            Wake::Readable | Wake::Timer => {}
        }
        // Everything else already waiting, then the node, by the input rule.
        while let Ok(answer) = answers.try_recv() {
            inbox.command(answer);
        }
        driver
            .sockets
            .drain(driver.node.config(), &mut inbox, BATCH);
        inbox.deliver(&mut driver.node, now);
        driver.drops.tick(now);
    }
    let Driver {
        actions,
        mail,
        events,
        ..
    } = driver;
    drop(actions);
    let _ = worker.await; // every release applied
    drop(mail);
    if tokio::time::timeout(MAIL_GRACE, mailer).await.is_err() {
        tracing::warn!("stopped with mail still undelivered");
    }
    tracing::info!("failoverd stopped");
    events.write(Act::Stop);
    Ok(())
}

/// Removes addresses left on the interfaces by an earlier run that did not release them (a
/// crash, a kill -9): the node starts as a backup and must not answer for an address until
/// the protocol gives it one. A `primary` address is the host's own — the operating system
/// added it at boot — and stays; it is announced only once the protocol makes this node its
/// owner, after the one holding it released it. A missing interface refuses the start.
async fn reconcile(
    addresses: &Addresses,
    config: &Config,
    events: &EventLog,
) -> Result<(), StartError> {
    for (i, vip) in config.vips.iter().enumerate() {
        if vip.primary {
            tracing::info!(
                address = %vip.address,
                interface = %vip.interface,
                "this host's own address: kept; announced only when this node owns it"
            );
            continue;
        }
        let field = |source: VipError| StartError::Vip {
            field: match source {
                VipError::NoInterface(_) => format!("vip[{i}].interface"),
                VipError::Netlink { .. } => format!("vip[{i}]"),
            },
            source,
        };
        if addresses.remove(vip).await.map_err(field)? == Change::Done {
            tracing::warn!(
                address = %vip.address,
                interface = %vip.interface,
                "removed an address left over from an earlier run; it comes back if this node wins"
            );
            events.write(Act::LeftoverRemoved {
                vip: VipId(i),
                address: vip.address,
            });
        }
    }
    Ok(())
}

impl Driver {
    fn now(&self) -> Instant {
        let nanos = self.origin.elapsed().as_nanos();
        Instant::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// Carries out everything the node asked for.
    fn flush(&mut self) {
        while let Some(output) = self.node.poll_output() {
            let config = self.node.config();
            match output {
                Output::Transmit(t) => self.sockets.send(config, &t),
                Output::Acquire {
                    id,
                    vip: index,
                    until,
                } => {
                    let vip = config.vips[index.0].clone();
                    tracing::info!(address = %vip.address, interface = %vip.interface, "acquiring");
                    let until = until.map(|u| self.origin + Duration::from_nanos(u.as_nanos()));
                    let _ = self.actions.send(Action::Acquire(id, index, vip, until));
                }
                Output::Extend { vip: index, until } => {
                    let vip = config.vips[index.0].clone();
                    let until = self.origin + Duration::from_nanos(until.as_nanos());
                    let _ = self.actions.send(Action::Extend(index, vip, until));
                }
                Output::Release { id, vip: index } => {
                    let vip = config.vips[index.0].clone();
                    tracing::info!(address = %vip.address, interface = %vip.interface, "releasing");
                    let _ = self.actions.send(Action::Release(id, index, vip));
                }
                Output::Announce(index) => {
                    let vip = config.vips[index.0].clone();
                    tracing::debug!(address = %vip.address, interface = %vip.interface, "announcing again");
                    let _ = self.actions.send(Action::Announce(index, vip));
                }
                Output::RunHook(req) => {
                    let vip = &config.vips[req.vip.0];
                    let job = HookJob {
                        kind: req.kind,
                        event: req.event,
                        dir: hooks::dir_of(config, req.vip.0),
                        address: vip.address.to_string(),
                        prefix: vip.prefix_len(),
                        interface: vip.interface.clone(),
                        peer: req.peer,
                        node: config.node.name.clone(),
                        deadline: self.origin + Duration::from_nanos(req.deadline.as_nanos()),
                        timeout: config.hooks.timeout,
                    };
                    let _ = self.actions.send(Action::Hook(req.id, req.vip, job));
                }
                Output::Notify(note) => {
                    tracing::warn!("notification: {}", note.summary());
                    let _ = self
                        .mail
                        .send(mail::render(config, &note, SystemTime::now()));
                    self.events.write(Act::Notified {
                        notification: *note,
                    });
                }
                Output::Event(Event::Dropped { reason }) => {
                    let now = self.now();
                    self.drops.dropped(now, reason);
                }
                Output::Event(event) => {
                    if let Event::RoleChanged { from, to } = event {
                        self.events.write(Act::Role { from, to });
                    }
                    log_event(&event);
                }
            }
        }
    }

    /// SIGHUP: re-read the file and, if it is good, apply it keeping all state; in any case
    /// the caller re-announces, like heartbeatd's tickle.
    fn reload(&mut self) {
        let file = self.source.path().display().to_string();
        let result = load(&self.source)
            .map_err(|e| e.to_string())
            .and_then(|new| {
                check_locals(self.node.config(), &new).map_err(|e| format!("{file}: {e}"))?;
                check_control(self.node.config(), &new).map_err(|e| format!("{file}: {e}"))?;
                self.node
                    .reconfigure(new)
                    .map_err(|e| format!("{file}: {e}"))
            });
        match result {
            Ok(()) => tracing::info!(%file, "configuration reloaded"),
            Err(e) => tracing::error!("reload refused, keeping the running configuration: {e}"),
        }
    }
}

/// Sockets stay bound across a reload: a new local address needs a restart.
fn check_locals(old: &Config, new: &Config) -> Result<(), ConfigError> {
    if old.paths.len() != new.paths.len() {
        return Ok(()); // core names this one
    }
    for i in 0..old.paths.len() {
        if bind_addr(old, i) != bind_addr(new, i) {
            return Err(ConfigError::Invalid {
                field: format!("path[{i}].local"),
                message: "changing a local address needs a restart, not a reload".into(),
            });
        }
    }
    Ok(())
}

/// The status socket and the metrics listener are set up once: `[control]` needs a restart.
fn check_control(old: &Config, new: &Config) -> Result<(), ConfigError> {
    if old.control == new.control {
        return Ok(());
    }
    Err(ConfigError::Invalid {
        field: "control".into(),
        message: "changing the status socket's mode or group or the metrics address needs a \
                  restart, not a reload"
            .into(),
    })
}

fn log_event(event: &Event) {
    match event {
        Event::RoleChanged { from, to } => tracing::info!(%from, %to, "role changed"),
        Event::PeerUp { peer, epoch } => tracing::info!(%peer, epoch, "peer up"),
        Event::PeerDown { peer } => tracing::warn!(%peer, "peer down"),
        Event::Dropped { .. } => {} // through the DropLog
        Event::TakeoverAbandoned { peer } => {
            tracing::warn!(%peer, "takeover abandoned before any address was added: the owner is alive")
        }
    }
}
