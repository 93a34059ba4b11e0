//! An operator's requests over the status socket: `failoverctl standby`, `active` and
//! `switchover [--to NODE]`, each one line (`standby`, `active`, `switchover`,
//! `switchover NODE`) answered by one line of JSON ([`Reply`]) once the node has decided —
//! at once, or within `dead_after` when it must first learn which nodes are alive (see
//! "Operators" in `failover_core::node`).

use failover_core::{Answer, Request};
use serde::{Deserialize, Serialize};
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;
use tokio::sync::oneshot;

/// A request for the loop that owns the node, with where its answer goes.
pub type OperatorRequest = (Request, oneshot::Sender<Reply>);

/// How long `failoverctl` waits for an answer: the node answers within `dead_after`, and
/// the daemon keeps a connection that asked at least this long (`clients::ANSWER_TIME`).
pub const CLIENT_WAIT: Duration = Duration::from_secs(600);

/// The daemon's answer to an operator's request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// Done; false: refused, and nothing changed.
    pub ok: bool,
    /// What was done, or why not.
    pub message: String,
}

impl Reply {
    /// The reply to core's answer; `stored` says whether the standby flag reached the state
    /// directory (a request that was done but not stored is not ok: a restart would undo it).
    pub fn new(answer: &Answer, stored: Result<(), String>) -> Reply {
        match (&answer.outcome, stored) {
            (Ok(done), Ok(())) => Reply {
                ok: true,
                message: done.to_string(),
            },
            (Ok(done), Err(e)) => Reply {
                ok: false,
                message: format!(
                    "{done}; but the standby flag could not be stored ({e}): a restart of the daemon would not keep it"
                ),
            },
            (Err(refusal), _) => Reply {
                ok: false,
                message: format!("refused: {refusal}"),
            },
        }
    }
}

/// Asks a running daemon (blocking; used by `failoverctl`) and waits for its answer; a
/// refusal to let this client in comes back as a reply that is not ok.
pub fn ask(socket: &Path, request: &Request) -> io::Result<Reply> {
    let mut stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(CLIENT_WAIT))?;
    stream.write_all(request.line().as_bytes())?;
    let mut answer = String::new();
    BufReader::new(stream)
        .read_line(&mut answer)
        .map_err(|e| match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => io::Error::new(
                e.kind(),
                format!(
                    "no answer within {} s; the request may still be carried out (see failoverctl status)",
                    CLIENT_WAIT.as_secs()
                ),
            ),
            _ => e,
        })?;
    if answer.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the daemon closed the connection without answering (is it stopping?)",
        ));
    }
    // A client the daemon does not let in (see `crate::access`) is told so as in `status`.
    let refusal = serde_json::from_str::<serde_json::Value>(&answer)
        .ok()
        .and_then(|a| Some(a.get("error")?.as_str()?.to_string()));
    if let Some(refusal) = refusal {
        return Ok(Reply {
            ok: false,
            message: format!("failoverd refused: {refusal}"),
        });
    }
    serde_json::from_str(&answer).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unexpected answer ({e}): {}", answer.trim()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_reads_back_from_its_line() {
        for request in [
            Request::Standby,
            Request::Active,
            Request::Switchover { to: None },
            Request::Switchover {
                to: Some("bravo".into()),
            },
        ] {
            assert_eq!(Request::from_line(&request.line()), Some(Ok(request)));
        }
        assert_eq!(Request::from_line("status\n"), None);
        assert_eq!(Request::from_line(""), None);
        let err = Request::from_line("switchover bravo charlie\n")
            .unwrap()
            .unwrap_err();
        assert!(err.contains("`charlie`"), "{err}");
    }
}
