//! A real SMTP server for the bed: Debian's aiosmtpd (`python3-aiosmtpd`, run by the system's
//! `/usr/bin/python3`), storing what it receives in a Maildir the test reads.

use crate::{eventually, Netns, Process};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The Python that has Debian's aiosmtpd (pyenv's python3 earlier in PATH does not).
const PYTHON: &str = "/usr/bin/python3";

/// A running SMTP server; killed on drop.
#[derive(Debug)]
pub struct Smtp {
    _process: Process,
    maildir: PathBuf,
}

/// One delivered message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mail {
    /// `Subject:`, unfolded.
    pub subject: String,
    /// The envelope recipient.
    pub to: String,
    /// The envelope sender.
    pub from: String,
    /// The body.
    pub body: String,
}

impl Smtp {
    /// Starts the server inside `ns` on `addr`, storing mail under `dir`, and waits until it
    /// accepts connections.
    pub fn start(ns: &Netns, addr: SocketAddr, dir: &Path) -> Smtp {
        let ok = Command::new(PYTHON)
            .args(["-c", "import aiosmtpd"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "{PYTHON} has no aiosmtpd: install Debian's python3-aiosmtpd (bash .ci/test does)"
        );
        let maildir = dir.join("maildir");
        let mut command = ns.command(PYTHON);
        command
            .args(["-m", "aiosmtpd", "-n", "-l", &addr.to_string()])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir);
        let process = Process::spawn(command, "aiosmtpd", &dir.join("smtp.log"));
        eventually(Duration::from_secs(20), "the SMTP server to listen", || {
            ns.run(|| TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok())
        });
        Smtp {
            _process: process,
            maildir,
        }
    }

    /// Every message delivered so far, oldest first.
    pub fn messages(&self) -> Vec<Mail> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else {
            return Vec::new();
        };
        let mut files: Vec<((u64, u64), PathBuf)> = entries
            .filter_map(Result::ok)
            .map(|e| (order(&e.file_name().to_string_lossy()), e.path()))
            .collect();
        files.sort();
        files
            .iter()
            .filter_map(|(_, path)| std::fs::read_to_string(path).ok())
            .map(|text| parse(&text))
            .collect()
    }

    /// Waits up to `timeout` for a message whose subject contains `needle`.
    pub fn wait_for(&self, timeout: Duration, needle: &str) -> Mail {
        eventually(timeout, &format!("a mail about `{needle}`"), || {
            self.messages()
                .into_iter()
                .find(|m| m.subject.contains(needle))
        })
    }
}

/// Maildir names start `SECONDS.M<MICROSECONDS>P...`: delivery order.
fn order(name: &str) -> (u64, u64) {
    let (secs, rest) = name.split_once('.').unwrap_or((name, ""));
    let micros = rest
        .strip_prefix('M')
        .and_then(|r| r.split('P').next())
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    (secs.parse().unwrap_or(0), micros)
}

fn parse(text: &str) -> Mail {
    let text = text.replace("\r\n", "\n");
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let unfolded = head.replace("\n ", " ").replace("\n\t", " ");
    let header = |name: &str| {
        unfolded
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    Mail {
        subject: header("Subject:"),
        to: header("X-RcptTo:"),
        from: header("X-MailFrom:"),
        body: body.to_string(),
    }
}
