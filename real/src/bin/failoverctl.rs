//! `failoverctl`: asks a running `failoverd` for its status, and for planned maintenance
//! without stopping it: standby, active, switchover.

use clap::{Parser, Subcommand};
use failover_core::Request;
use failover_real::operator;
use failover_real::status::{query, Answer, DEFAULT_SOCKET};
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Talks to a running failoverd over its UNIX socket.
#[derive(Parser)]
#[command(name = "failoverctl", version)]
struct Args {
    /// The daemon's status socket (failoverd --socket).
    #[arg(long, value_name = "PATH", default_value = DEFAULT_SOCKET, global = true)]
    socket: PathBuf,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Role, who holds each address, each peer's last heartbeat per path, datagram counters
    /// (of every group, for a witness serving several).
    Status {
        /// Print the daemon's report as JSON (one line) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Put this node in standby: if it holds the addresses it hands them over in order to
    /// the best other live node; it stays a backup that never takes them — also across
    /// restarts of the daemon — until `failoverctl active`. Refused (exit status 1) when no
    /// other node that could take the addresses answers within dead_after.
    Standby,
    /// Leave standby: the node takes part in the election again (with preemption it gets
    /// the addresses back, in order).
    Active,
    /// On the owner: hand the addresses over, in order, to NODE (or to the best other live
    /// node), which keeps them against preemption until it lets them go. Refused (exit
    /// status 1) when that node is unknown, not alive, a witness or in standby, or when this
    /// node does not hold the addresses.
    Switchover {
        /// The node to hand over to.
        #[arg(long, value_name = "NODE")]
        to: Option<String>,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    let request = match args.command {
        Cmd::Status { json } => return status(&args.socket, json),
        Cmd::Standby => Request::Standby,
        Cmd::Active => Request::Active,
        Cmd::Switchover { to } => Request::Switchover { to },
    };
    match operator::ask(&args.socket, &request) {
        Ok(reply) if reply.ok => {
            println!("{}", reply.message);
            ExitCode::SUCCESS
        }
        Ok(reply) => {
            eprintln!("failoverctl {request}: {}", reply.message);
            ExitCode::FAILURE
        }
        Err(e) => cannot_ask(&args.socket, &e),
    }
}

/// Says why the daemon could not be asked, with a hint at the likely cause.
fn cannot_ask(socket: &Path, e: &io::Error) -> ExitCode {
    let hint = if e.kind() == ErrorKind::PermissionDenied {
        "only root and the members of the socket's group may ask (control.socket_group)"
    } else {
        "is it running? see --socket"
    };
    eprintln!(
        "failoverctl: cannot ask failoverd at {}: {e} ({hint})",
        socket.display()
    );
    ExitCode::FAILURE
}

fn status(socket: &Path, json: bool) -> ExitCode {
    let line = match query(socket) {
        Ok(line) => line,
        Err(e) => return cannot_ask(socket, &e),
    };
    let refusal = serde_json::from_str::<serde_json::Value>(&line)
        .ok()
        .and_then(|answer| Some(answer.get("error")?.as_str()?.to_string()));
    if let Some(refusal) = refusal {
        eprintln!("failoverctl: failoverd refused: {refusal}");
        return ExitCode::FAILURE;
    }
    if json {
        print!("{line}");
        return ExitCode::SUCCESS;
    }
    match serde_json::from_str::<Answer>(&line) {
        Ok(answer) => {
            print!("{}", answer.to_text());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("failoverctl: unexpected answer from failoverd ({e}): {line}");
            ExitCode::FAILURE
        }
    }
}
