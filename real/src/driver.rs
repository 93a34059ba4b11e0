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
//! A witness may serve several groups in one process (`--config` given several witness
//! configurations, or a directory of them): the loop then owns one node per group, each with
//! its own inbox, and the sockets hand each datagram to the inbox of its group's node
//! ([`crate::net`]). Every wake-up reads all sockets first and then hands each node its own
//! inputs by the same rule, so no node's timer judges a peer whose heartbeat waits unread.
//! Witnesses hold no address and run no hook, so only a single-group daemon's node ever has
//! an answer to wait for.
//!
//! An operator's request (`failoverctl standby`, `active`, `switchover`) is one more command
//! for the node — for the first node, in a witness serving several groups: a witness answers
//! every one alike (it holds nothing). Its answer goes back once the node's standby flag is
//! in the state directory ([`crate::standby`]), and a daemon started with the flag set starts
//! its node in standby.
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
use crate::operator::{OperatorRequest, Reply};
use crate::standby;
use crate::status::{
    self, Answer, GroupReport, Groups, Report, ReportRequest, SocketFile, Unclaimed,
};
use crate::vip::{Addresses, Change, VipError};
use failover_core::acts::Carried;
use failover_core::{
    wire, Command, Config, ConfigError, Event, Inbox, Instant, Node, Output, Request, Role, VipId,
};
use std::collections::BTreeMap;
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
    /// The configuration files, re-read on SIGHUP: one, or several witnesses' (one per
    /// group, checked by [`crate::load::check_together`]).
    pub sources: Vec<Source>,
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
    /// The state directory's standby flag cannot be read or makes no sense.
    #[error("--state-dir: {0}")]
    Standby(io::Error),
    /// A path's socket.
    #[error("{file}: {source}")]
    Bind {
        /// The configuration whose path it is.
        file: String,
        /// What went wrong.
        source: BindError,
    },
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
    Operator(Request, tokio::sync::oneshot::Sender<Reply>),
    Readable,
}

/// One group's node, and what belongs to it alone.
struct Member {
    node: Node,
    /// Its configuration file, re-read on SIGHUP.
    source: Source,
    events: EventLog,
    /// Around everything logged for this node: `group{group=N}` when the process serves
    /// several groups, nothing otherwise.
    span: tracing::Span,
    /// A reload was handled and the datagram re-announcing the node is still to be recorded
    /// (`--events`: [`Act::Reannounced`]).
    reannouncing: bool,
}

struct Driver {
    members: Vec<Member>,
    /// `inboxes[i]` holds what waits for `members[i]`.
    inboxes: Vec<Inbox<Vec<u8>>>,
    origin: tokio::time::Instant,
    sockets: PathSockets,
    actions: mpsc::UnboundedSender<Action>,
    mail: mpsc::UnboundedSender<Mail>,
    drops: DropLog,
    /// Datagrams of no group served here (several groups only).
    unclaimed: Unclaimed,
    /// Operators' requests: the flag kept in the state directory and the answers to send.
    operators: Operators,
}

/// Operators' requests handed to the (first) node, waiting for its answer, and the task that
/// stores its standby flag before each answer goes out.
struct Operators {
    /// Keeps the standby flag in the state directory, off the loop, and answers operators.
    writer: mpsc::UnboundedSender<standby::Job>,
    /// Requests by id, waiting for the node's answer.
    waiting: BTreeMap<u64, tokio::sync::oneshot::Sender<Reply>>,
    next_request: u64,
    /// The node's standby flag as last recorded (`--events`).
    standby_seen: bool,
}

impl Operators {
    /// Hands `request` to `inbox`'s node, its answer to go to `reply`.
    fn ask(
        &mut self,
        inbox: &mut Inbox<Vec<u8>>,
        request: Request,
        reply: tokio::sync::oneshot::Sender<Reply>,
    ) {
        tracing::info!(%request, "operator's request");
        self.next_request += 1;
        let id = self.next_request;
        self.waiting.insert(id, reply);
        inbox.command(Command::Operator { id, request });
    }

    /// `node` answered an operator: recorded, then its standby flag goes to the state
    /// directory first (a request answered is one a restart keeps), then the answer to
    /// whoever asked — both in the writer's task, so no fsync holds up the loop.
    fn answered(&mut self, node: &Node, events: &EventLog, answer: failover_core::Answer) {
        let standby = node.standby();
        events.write(Act::Answered {
            answer: answer.clone(),
        });
        if std::mem::replace(&mut self.standby_seen, standby) != standby {
            events.write(Act::Standby { on: standby });
        }
        let _ = self.writer.send(standby::Job {
            standby,
            reply: self.waiting.remove(&answer.id),
            answer,
            config: node.config().clone(),
        });
    }
}

/// Runs the daemon until a planned shutdown has handed the addresses over. `configs` are
/// `options.sources`' configurations, in order: one, or several witnesses' that
/// [`crate::load::check_together`] accepted.
pub async fn run(options: Options, configs: Vec<Config>) -> Result<(), StartError> {
    // Handlers first: a SIGTERM during start-up must not kill the process half-way.
    let sig = |kind| signal(kind).map_err(StartError::Signals);
    let mut signals = Signals {
        term: sig(SignalKind::terminate())?,
        int: sig(SignalKind::interrupt())?,
        hup: sig(SignalKind::hangup())?,
    };
    // Before anything that needs privileges or the network: a wrong path is named first.
    let mut events = Vec::with_capacity(configs.len());
    for config in &configs {
        events.push(match &options.events {
            Some(path) => {
                EventLog::open(path, &config.node.name).map_err(|source| StartError::Events {
                    path: path.clone(),
                    source,
                })?
            }
            None => EventLog::default(),
        });
    }
    // The socket first: it tells whether another daemon already runs here, before this one
    // touches any address. `[control]` is the same in every configuration.
    let control = &configs[0];
    let group = access::socket_group(control)?;
    let mode =
        (control.control.socket_mode()).unwrap_or(failover_core::config::DEFAULT_SOCKET_MODE);
    let listener = status::bind(&options.socket, mode, group.as_ref().map(|g| g.gid))
        .map_err(StartError::Status)?;
    let access = Access::new(nix::unistd::geteuid().as_raw(), group);
    let _socket_file = SocketFile(options.socket.clone());
    let sockets = PathSockets::bind(&configs.iter().collect::<Vec<_>>()).map_err(|source| {
        StartError::Bind {
            file: options.sources[source.config].path().display().to_string(),
            source,
        }
    })?;
    let epoch::Next { epoch, stored } =
        epoch::next(&options.state_dir).map_err(StartError::Epoch)?;
    let in_standby = standby::load(&options.state_dir).map_err(StartError::Standby)?;
    let addresses = Addresses::connect().map_err(StartError::Netlink)?;
    for (config, events) in configs.iter().zip(&events) {
        reconcile(&addresses, config, events).await?;
    }
    let (report_tx, mut report_rx) = mpsc::channel::<ReportRequest>(16);
    if let Some(at) = options.metrics {
        let tcp = tokio::net::TcpListener::bind(at.addr)
            .await
            .map_err(|source| StartError::Metrics { at, source })?;
        tokio::spawn(metrics::serve(tcp, report_tx.clone()));
    }
    let (operator_tx, mut operator_rx) = mpsc::channel::<OperatorRequest>(16);
    tokio::spawn(status::serve(listener, report_tx, operator_tx, access));
    let (answer_tx, mut answers) = mpsc::unbounded_channel();
    // Only a single group's node asks for address changes and hooks (see the module docs).
    let (action_tx, worker) = actions::spawn(addresses, answer_tx, events[0].clone());
    let (mail_tx, mailer, spool_error) = mail::spawn(&options.state_dir);
    let troubles = [
        stored
            .err()
            .map(|e| format!("cannot store the boot epoch: {e}")),
        spool_error.map(|e| format!("cannot open the mail spool: {e}")),
    ];
    for trouble in troubles.into_iter().flatten() {
        // Logged and mailed (once to each recipient); the node runs all the same (see
        // `epoch` and `mail`).
        tracing::error!("--state-dir: {trouble}; going on");
        let subject = "state directory cannot be written";
        let what = format!("The state directory cannot be written: {trouble}.");
        for (i, config) in configs.iter().enumerate() {
            if configs[..i].iter().all(|c| c.notify != config.notify) {
                let _ = mail_tx.send(mail::trouble(config, subject, &what, SystemTime::now()));
            }
        }
    }

    let origin = tokio::time::Instant::now();
    let several = configs.len() > 1;
    let mut members = Vec::with_capacity(configs.len());
    let mut inboxes = Vec::with_capacity(configs.len());
    for ((config, events), source) in configs.into_iter().zip(events).zip(options.sources) {
        let span = if several {
            tracing::info_span!("group", group = config.protocol.group)
        } else {
            tracing::Span::none()
        };
        span.in_scope(|| {
            tracing::info!(
                node = %config.node.name,
                priority = config.node.priority,
                epoch,
                listening = ?sockets.local_addrs(),
                "failoverd started"
            )
        });
        inboxes.push(Inbox::new(config.paths.len(), usize::MAX));
        let mut node = Node::new(config, epoch, Instant::ZERO)?;
        events.write(Act::Start { epoch });
        // (A witness ignores the flag: it has nothing to stand by for.)
        if in_standby {
            node = node.in_standby();
        }
        if node.standby() {
            span.in_scope(|| tracing::warn!(
                "in standby (the state directory says so): this node will not take the addresses until `failoverctl active`"
            ));
            events.write(Act::Standby { on: true });
        }
        members.push(Member {
            node,
            source,
            events,
            span,
            reannouncing: false,
        });
    }
    let operators = Operators {
        writer: standby::spawn_writer(options.state_dir.clone(), in_standby, mail_tx.clone()),
        waiting: BTreeMap::new(),
        next_request: 0,
        standby_seen: members[0].node.standby(),
    };
    let mut driver = Driver {
        members,
        inboxes,
        origin,
        sockets,
        actions: action_tx,
        mail: mail_tx,
        drops: DropLog::new(Instant::ZERO),
        unclaimed: Unclaimed::default(),
        operators,
    };
    let timer = tokio::time::sleep_until(origin);
    tokio::pin!(timer);
    loop {
        driver.flush();
        if driver
            .members
            .iter()
            .all(|m| m.node.role() == Role::Stopped)
        {
            break;
        }
        let deadline = driver
            .members
            .iter()
            .filter_map(|m| m.node.poll_timeout())
            .min();
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
            Some((request, reply)) = operator_rx.recv() => Wake::Operator(request, reply),
            () = driver.sockets.readable() => Wake::Readable,
            () = &mut timer, if deadline.is_some() => Wake::Timer,
        };
        let now = driver.now();
        match wake {
            Wake::Shutdown => {
                tracing::info!("stopping: handing over what this node holds");
                for inbox in &mut driver.inboxes {
                    inbox.command(Command::Shutdown);
                }
            }
            Wake::Reload => {
                driver.reload();
                for inbox in &mut driver.inboxes {
                    inbox.command(Command::Reannounce);
                }
            }
            Wake::Answer(answer) => driver.inboxes[0].command(answer),
            Wake::Operator(request, reply) => {
                (driver.operators).ask(&mut driver.inboxes[0], request, reply)
            }
            Wake::Status(reply) => {
                // Every request waiting is answered now; then the loop goes on as after any
                // wake-up, so a stream of `failoverctl status` never keeps the sockets unread
                // or the timer waiting.
                let answer = driver.answer(now);
                while let Ok(reply) = report_rx.try_recv() {
                    let _ = reply.send(answer.clone());
                }
                let _ = reply.send(answer);
            }
            Wake::Readable | Wake::Timer => {}
        }
        // Everything else already waiting, then each node, by the input rule.
        while let Ok(answer) = answers.try_recv() {
            driver.inboxes[0].command(answer);
        }
        let configs: Vec<&Config> = driver.members.iter().map(|m| m.node.config()).collect();
        let (unclaimed, drops) = (&mut driver.unclaimed, &mut driver.drops);
        driver
            .sockets
            .drain(&configs, &mut driver.inboxes, BATCH, |reason| {
                unclaimed.count(reason);
                drops.dropped(now, reason);
            });
        for (member, inbox) in driver.members.iter_mut().zip(&mut driver.inboxes) {
            inbox.deliver(&mut member.node, now);
        }
        driver.drops.tick(now);
    }
    let Driver {
        actions,
        mail,
        members,
        ..
    } = driver;
    drop(actions);
    let _ = worker.await; // every release applied
    drop(mail);
    if tokio::time::timeout(MAIL_GRACE, mailer).await.is_err() {
        tracing::warn!("stopped with mail still undelivered");
    }
    tracing::info!("failoverd stopped");
    for member in members {
        member.events.write(Act::Stop);
    }
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

    /// What `failoverctl status` and `/metrics` are told at `now`.
    fn answer(&self, now: Instant) -> Answer {
        let uptime = self.origin.elapsed();
        let report = |m: &Member| Report::new(&m.node, now, uptime);
        match &self.members[..] {
            [member] => Answer::One(Box::new(report(member))),
            members => Answer::Groups(Groups {
                groups: members
                    .iter()
                    .map(|m| GroupReport {
                        group: m.node.config().protocol.group,
                        report: report(m),
                    })
                    .collect(),
                unclaimed: self.unclaimed,
            }),
        }
    }

    /// Carries out everything every node asked for.
    fn flush(&mut self) {
        let origin = self.origin;
        let now = self.now();
        for (index, member) in self.members.iter_mut().enumerate() {
            let _span = member.span.enter();
            while let Some(output) = member.node.poll_output() {
                let config = member.node.config();
                match output {
                    Output::Transmit(t) => {
                        if std::mem::take(&mut member.reannouncing) {
                            let key = (config.protocol.auth_key.as_ref())
                                .map(|k| wire::AuthKey::new(k.as_bytes()));
                            let carried = Carried::of(&t.payload, key.as_ref());
                            member.events.write(Act::Reannounced { carried });
                        }
                        self.sockets.send(index, config, &t)
                    }
                    Output::Acquire {
                        id,
                        vip: index,
                        until,
                    } => {
                        let vip = config.vips[index.0].clone();
                        tracing::info!(address = %vip.address, interface = %vip.interface, "acquiring");
                        let until = until.map(|u| origin + Duration::from_nanos(u.as_nanos()));
                        let _ = self.actions.send(Action::Acquire(id, index, vip, until));
                    }
                    Output::Extend { vip: index, until } => {
                        let vip = config.vips[index.0].clone();
                        let until = origin + Duration::from_nanos(until.as_nanos());
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
                            deadline: origin + Duration::from_nanos(req.deadline.as_nanos()),
                            timeout: config.hooks.timeout,
                        };
                        let _ = self.actions.send(Action::Hook(req.id, req.vip, job));
                    }
                    Output::Notify(note) => {
                        tracing::warn!("notification: {}", note.summary());
                        let _ = self
                            .mail
                            .send(mail::render(config, &note, SystemTime::now()));
                        member.events.write(Act::Notified {
                            notification: *note,
                        });
                    }
                    Output::Answer(answer) => {
                        self.operators
                            .answered(&member.node, &member.events, *answer)
                    }
                    Output::Event(Event::Dropped { reason }) => self.drops.dropped(now, reason),
                    Output::Event(event) => {
                        if let Event::RoleChanged { from, to } = event {
                            member.events.write(Act::Role { from, to });
                        }
                        log_event(&event);
                    }
                }
            }
        }
    }

    /// SIGHUP: re-read every file and apply each that is good, keeping all state; in any
    /// case the caller re-announces, like heartbeatd's tickle. Each file is taken or refused
    /// on its own; what must stay shared between several groups' files (their `[control]`,
    /// each one's group) needs a restart to change, so a file taken alone cannot break it.
    /// `--events` records each outcome, with the field refused, and the next datagram sent.
    fn reload(&mut self) {
        let several = self.members.len() > 1;
        for member in &mut self.members {
            let _span = member.span.enter();
            let file = member.source.path().display().to_string();
            let old = member.node.config().clone();
            let result = load(&member.source)
                .map_err(|e| (e.to_string(), refused_field(&e)))
                .and_then(|new| {
                    let checked = check_locals(&old, &new)
                        .and_then(|()| check_control(&old, &new))
                        .and_then(|()| check_group(several, &old, &new))
                        .and_then(|()| member.node.reconfigure(new));
                    checked.map_err(|e| (format!("{file}: {e}"), e.field().to_string()))
                });
            let refused = match result {
                Ok(()) => {
                    tracing::info!(%file, "configuration reloaded");
                    None
                }
                Err((e, field)) => {
                    tracing::error!("reload refused, keeping the running configuration: {e}");
                    Some(field)
                }
            };
            member.events.write(Act::Reloaded { refused });
            member.reannouncing = true;
        }
    }
}

/// The field a reload refused for `e`: the one core's validation names, or `the file`.
fn refused_field(e: &LoadError) -> String {
    match e {
        LoadError::Invalid { error, .. } | LoadError::Syntax(error) => error.field().to_string(),
        LoadError::Together { field, .. } => (*field).to_string(),
        _ => "the file".to_string(),
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

/// A process serving several groups routes datagrams by group and needs each to stay its own:
/// changing one needs a restart (which checks them together).
fn check_group(several: bool, old: &Config, new: &Config) -> Result<(), ConfigError> {
    if !several || old.protocol.group == new.protocol.group {
        return Ok(());
    }
    Err(ConfigError::Invalid {
        field: "protocol.group".into(),
        message: "changing the group of a failoverd that serves several groups needs a \
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
        Event::LeaseFailed => tracing::warn!(
            "takeover has no lease: asking for nothing more, giving it up once the step in flight answers"
        ),
    }
}
