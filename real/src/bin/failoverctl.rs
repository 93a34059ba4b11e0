//! `failoverctl`: asks a running `failoverd` for its status.

use clap::{Parser, Subcommand};
use failover_real::status::{query, Answer, DEFAULT_SOCKET};
use std::io::ErrorKind;
use std::path::PathBuf;
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
}

fn main() -> ExitCode {
    let args = Args::parse();
    let Cmd::Status { json } = args.command;
    let line = match query(&args.socket) {
        Ok(line) => line,
        Err(e) => {
            let hint = if e.kind() == ErrorKind::PermissionDenied {
                "only root and the members of the socket's group may ask (control.socket_group)"
            } else {
                "is it running? see --socket"
            };
            eprintln!(
                "failoverctl: cannot ask failoverd at {}: {e} ({hint})",
                args.socket.display()
            );
            return ExitCode::FAILURE;
        }
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
