//! One simulated server: its daemon (the core node), its host (which addresses are on its
//! interfaces), and the queue in which the daemon runs hooks and address changes one at a
//! time, in the order core asked for them — as the daemon's action queue does.

use super::clock::Clock;
use crate::fault::HookBehavior;
use failover_core::{
    AddressChange, Config, Coverage, HookEvent, HookKind, Inbox, Instant, Node, RequestId, VipId,
};
use std::collections::VecDeque;
use std::sync::Arc;

/// What a request asks for.
#[derive(Clone, Copy, Debug)]
pub(super) enum Task {
    /// Run a hook; core stops waiting at `deadline` (on the node's clock), and the daemon kills
    /// a hook still running then.
    Hook {
        kind: HookKind,
        vip: VipId,
        event: HookEvent,
        /// When core asked for it (true time).
        asked: u64,
        /// Core's deadline, on the node's clock: the daemon kills the hook when its clock
        /// reads this, however that clock is slewed meanwhile.
        deadline: u64,
    },
    /// Add or remove an address (quorum mode: an add with the lease's end, on the node's
    /// clock, that the kernel's lifetime is counted to).
    Address {
        change: AddressChange,
        vip: VipId,
        until: Option<Instant>,
    },
}

/// A request in the queue.
#[derive(Clone, Copy, Debug)]
pub(super) struct Job {
    pub id: RequestId,
    pub task: Task,
}

/// The job being run: when it ends by itself (true time; a hook may be killed sooner, at its
/// deadline) unless suspended, and how much of it was left when it was.
#[derive(Clone, Copy, Debug)]
pub(super) struct Running {
    pub job: Job,
    pub ends: u64,
    /// Bumped whenever the job is suspended, so the event of its old end is ignored.
    pub generation: u64,
    pub suspended: Option<u64>,
}

/// One server.
pub(super) struct Host {
    pub name: String,
    pub config: Config,
    /// Path index → segment index.
    pub segments: Vec<usize>,
    /// The daemon, while it runs.
    pub node: Option<Node>,
    /// Starts of the daemon so far: its boot epoch.
    pub incarnation: u64,
    /// The host runs (false from a crash to its reboot).
    pub up: bool,
    /// The daemon process is stopped (SIGSTOP).
    pub paused: bool,
    /// The whole host is stopped (a VM pause).
    pub frozen: bool,
    /// What arrived for the daemon and it has not read yet.
    pub inbox: Inbox<Arc<[u8]>>,
    pub clock: Clock,
    /// Addresses on the host's interface.
    pub held: Vec<bool>,
    /// Quorum mode: when (true time) the kernel removes each address, its lifetime over.
    pub expires: Vec<Option<u64>>,
    pub queue: VecDeque<Job>,
    pub running: Option<Running>,
    /// Hook faults in force: (fault id, hook, what it does).
    pub hook_faults: Vec<(usize, HookKind, HookBehavior)>,
    /// Address faults in force: (fault id, the change the kernel refuses).
    pub address_faults: Vec<(usize, AddressChange)>,
    /// Listed to be handed its inbox at the end of the current instant.
    pub woken: bool,
    /// Its daemon was just handed its inputs by the input rule, the timer last: nothing of
    /// its may be due at this instant any more (checked as its timer is set again).
    pub handed: bool,
    /// The standby flag in the daemon's state directory: survives every restart.
    pub standby: bool,
    /// What the daemons that ran here and are gone went through.
    pub coverage: Coverage,
    /// SIGHUPs sent while the daemon was stopped, handled in order when it runs again: each
    /// `reload` fault, and whether it is its end (the fields put back).
    pub hups: Vec<(usize, bool)>,
    /// Reloads the daemon handled and has not announced yet: each fault, whether it is its
    /// end, and the field refused; recorded with the first datagram it sends.
    pub reloaded: Vec<(usize, bool, Option<String>)>,
    /// Addresses whose gratuitous ARP the stopped daemon holds back until it runs again.
    pub announcing: Vec<usize>,
    /// The simulator's own account of the daemon process, for the `status` checker.
    pub ledger: super::ledger::Ledger,
}

impl Host {
    pub fn new(
        name: String,
        config: Config,
        segments: Vec<usize>,
        vips: usize,
        buffer: usize,
        (me, nodes): (usize, usize),
    ) -> Host {
        let paths = config.paths.len();
        let ledger = super::ledger::Ledger::new(&config, me, nodes);
        Host {
            name,
            config,
            segments,
            node: None,
            incarnation: 0,
            up: true,
            paused: false,
            frozen: false,
            inbox: Inbox::new(paths, buffer),
            clock: Clock::default(),
            held: vec![false; vips],
            expires: vec![None; vips],
            queue: VecDeque::new(),
            running: None,
            hook_faults: Vec::new(),
            address_faults: Vec::new(),
            woken: false,
            handed: false,
            standby: false,
            coverage: Coverage::default(),
            hups: Vec::new(),
            reloaded: Vec::new(),
            announcing: Vec::new(),
            ledger,
        }
    }

    /// Whether the daemon can take inputs now.
    pub fn runs(&self) -> bool {
        self.node.is_some() && !self.paused && !self.frozen
    }

    /// Whether the host answers on the network (ARP, the service): up and not frozen.
    pub fn answers(&self) -> bool {
        self.up && !self.frozen
    }

    /// The hook fault in force for `kind`, if any (the latest wins).
    pub fn hook_behavior(&self, kind: HookKind) -> Option<HookBehavior> {
        (self.hook_faults.iter().rev())
            .find(|f| f.1 == kind)
            .map(|f| f.2)
    }

    /// Whether the kernel refuses `change` now.
    pub fn refuses(&self, change: AddressChange) -> bool {
        self.address_faults.iter().any(|f| f.1 == change)
    }

    /// The daemon is gone: what it had asked for and not yet got goes with it (what it went
    /// through is kept).
    pub fn forget_process(&mut self) {
        if let Some(node) = self.node.take() {
            self.coverage.union(node.coverage());
        }
        self.paused = false;
        self.reloaded.clear();
        self.announcing.clear();
        self.inbox.clear();
        self.queue.clear();
        self.running = None;
    }
}
