//! `failoverd`: the IP failover daemon. See `failoverd --help` and README.md.

use clap::{ArgGroup, Parser};
use failover_core::hostconfig::HostAddress;
use failover_real::driver::{self, Options, DEFAULT_STATE_DIR};
use failover_real::load::{load, load_all, sources, Source};
use failover_real::status::DEFAULT_SOCKET;
use failover_real::{logging, metrics};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use tracing_subscriber::filter::LevelFilter;

/// Keeps virtual IP addresses on the best live server of a group: heartbeats on every path
/// (UDP port 1694), takeover only when all paths fall silent, hook scripts and mail.
///
/// Signals: SIGTERM or SIGINT hands the addresses over at once (a backup takes over without
/// waiting for silence), then exits; SIGHUP re-reads the configuration (a bad one is logged
/// and the running one kept) and re-announces this node.
///
/// One witness process may serve several quorum groups: give --config once per group (or a
/// directory of *.toml files), every file a witness configuration of its own protocol.group.
#[derive(Parser)]
#[command(name = "failoverd", version)]
#[command(group(ArgGroup::new("source").required(true).args(["config", "hostconfig"])))]
struct Args {
    /// Configuration file in the native TOML form. Several (--config again, or a directory,
    /// read as its *.toml files in name order) only for a witness serving several groups:
    /// each a witness configuration of its own protocol.group, all with the same [control].
    #[arg(long, value_name = "FILE|DIR")]
    config: Vec<PathBuf>,
    /// Configuration from the source system's /etc/hostconfig keys (FAILOVER_BCAST_IPS,
    /// FAILOVER_PEER_IP, FAILOVER_PEER_IP_PAIRS, FAILOVER_EMAIL_RECIPIENT).
    #[arg(long, value_name = "FILE")]
    hostconfig: Option<PathBuf>,
    /// With --hostconfig on a master that lists no FAILOVER_PEER_IP_PAIRS (the source
    /// document's set-up): the public address that fails over, e.g. eth0:192.0.2.10/24.
    /// Without it, the address this machine has on the network of the first
    /// FAILOVER_BCAST_IPS address is used.
    #[arg(long, value_name = "IF:ADDRESS/PREFIX", requires = "hostconfig")]
    public_address: Option<HostAddress>,
    /// Check the configuration and exit: 0 if it is good, else 1 with the error naming the
    /// file and the field or line.
    #[arg(long)]
    check: bool,
    /// Directory where the boot epoch is kept.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_STATE_DIR)]
    state_dir: PathBuf,
    /// UNIX socket that `failoverctl` asks.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_SOCKET)]
    socket: PathBuf,
    /// Serve Prometheus metrics at http://ADDR/metrics (instead of control.metrics); a
    /// loopback address unless the configuration sets control.metrics_allow_remote = true.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<SocketAddr>,
    /// Append a machine-readable record of every act to FILE, for test harnesses: start,
    /// leftover addresses removed, role changes, address changes as the kernel finished them,
    /// announcements, hooks, notifications, stop. One JSON object per line, written at once,
    /// each with its CLOCK_MONOTONIC time in nanoseconds (`t_ns`), the clock every process on
    /// the host shares. Off by default.
    #[arg(long, value_name = "FILE")]
    events: Option<PathBuf>,
    /// Log level: error, warn, info, debug or trace.
    #[arg(long, value_name = "LEVEL", default_value = "info")]
    log_level: LevelFilter,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let loaded = match args.hostconfig {
        Some(file) => {
            let source = Source::Hostconfig(file, args.public_address);
            load(&source).map(|config| (vec![source], vec![config]))
        }
        None => sources(&args.config).and_then(|sources| {
            let configs = load_all(&sources)?;
            Ok((sources, configs))
        }),
    };
    let (sources, configs) = match loaded {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("failoverd: {e}");
            return ExitCode::FAILURE;
        }
    };
    // `[control]` is the same in every configuration (checked by `load_all`).
    let metrics = match metrics::metrics_at(args.metrics, &configs[0]) {
        Ok(metrics) => metrics,
        Err(e) => {
            eprintln!("failoverd: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.check {
        for (source, config) in sources.iter().zip(&configs) {
            let group = match configs.len() {
                1 => String::new(),
                _ => format!(", group {}", config.protocol.group),
            };
            // Which addresses fail over, said plainly: with the source document's master
            // form, the one found on this machine or named by --public-address.
            let addresses: Vec<String> = (config.vips.iter())
                .map(|v| {
                    let own = if v.primary { " (this host's own)" } else { "" };
                    format!("{}/{} on {}{own}", v.address, v.prefix_len(), v.interface)
                })
                .collect();
            let listed = match addresses.is_empty() {
                true => String::new(),
                false => format!(": {}", addresses.join(", ")),
            };
            println!(
                "{}: configuration is valid: node {} (priority {}){group}, {} path(s), {} address(es){listed}",
                source.path().display(),
                config.node.name,
                config.node.priority,
                config.paths.len(),
                config.vips.len()
            );
        }
        return ExitCode::SUCCESS;
    }
    logging::init(args.log_level);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("failoverd: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let options = Options {
        sources,
        state_dir: args.state_dir,
        socket: args.socket,
        metrics,
        events: args.events,
    };
    match runtime.block_on(driver::run(options, configs)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("cannot start: {e}");
            ExitCode::FAILURE
        }
    }
}
