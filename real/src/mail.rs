//! Notifications by mail, through a queue that never holds up the protocol and never loses a
//! message.
//!
//! The driver renders a notification into a [`Mail`] and hands it over without waiting. One
//! task writes it to the [spool](crate::spool) on disk — before the first attempt — and
//! delivers the queue in order over SMTP. A delivery that fails is tried again after 1 s,
//! 2 s, 4 s ..., the wait doubling up to `notify.retry_max` (5 min by default) and staying
//! there for as long as the server is away: there is no last attempt, so mail held up for an
//! hour arrives at most `retry_max` after the server is back, in the order it happened. Order
//! is kept: a recovery notice is never delivered before the anomaly notice it follows. Only a
//! message the server refuses for good (a 5xx answer) leaves the queue undelivered, set aside
//! in the spool's `failed/` directory with an error in the log.
//!
//! When the spool cannot be written (a full disk, a read-only state directory) the message is
//! held in memory and delivered all the same; the trouble is logged once and mailed, and
//! logged again when the spool works anew. Only then can a restart lose mail: what was held
//! in memory only. A stopping daemon makes one more attempt and leaves the rest spooled for
//! its next start. SMTP has no exactly-once: a daemon killed between the server's "250 OK" and
//! the removal of the file sends that message again after its restart.

use crate::spool::{Spool, Spooled};
use failover_core::{Config, HookOutcome, Notification};
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io;
use std::path::Path;
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::sleep;

const FIRST_RETRY: Duration = Duration::from_secs(1);
const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

/// One message, with the server it goes through (taken from the configuration when the
/// notification happened, so a reload applies to later mail only). It is what a spool file
/// holds, as JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mail {
    /// The node it is from.
    pub node: String,
    /// `host` of the SMTP server.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// Sender.
    pub from: String,
    /// Recipient.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
    /// `notify.retry_max`: the longest wait between two attempts.
    pub retry_max: Duration,
}

/// Renders a notification of node `config.node.name` into mail.
pub fn render(config: &Config, note: &Notification, when: SystemTime) -> Mail {
    let node = &config.node.name;
    let address = |vip: &failover_core::VipId| {
        config.vips.get(vip.0).map_or_else(
            || format!("#{}", vip.0),
            |v| format!("{}/{} on {}", v.address, v.prefix_len(), v.interface),
        )
    };
    let mut body = format!("{}\n\n", note.summary());
    let line = |body: &mut String, key: &str, value: &str| {
        let _ = writeln!(body, "{key:<11}{value}");
    };
    line(&mut body, "Node:", node);
    line(
        &mut body,
        "Time:",
        &humantime::format_rfc3339_seconds(when).to_string(),
    );
    let (event, subject) = match note {
        Notification::Failover {
            from,
            acquired,
            vetoed,
        } => {
            line(
                &mut body,
                "Came from:",
                from.as_deref().unwrap_or("unknown"),
            );
            for vip in acquired {
                line(&mut body, "Acquired:", &address(vip));
            }
            for vip in vetoed {
                line(&mut body, "Vetoed:", &address(vip));
            }
            if !vetoed.is_empty() {
                body.push_str("\nThe Test hook said no: these addresses were NOT taken over.\n");
            }
            ("failover", note.summary())
        }
        Notification::HandBackVetoed { to, vetoed } => {
            line(&mut body, "Kept from:", to.as_deref().unwrap_or("unknown"));
            for vip in vetoed {
                line(&mut body, "Vetoed:", &address(vip));
            }
            body.push_str(
                "\nThe Test hook said no: this node keeps every address and asks again later.\n",
            );
            ("hand-back vetoed", note.summary())
        }
        Notification::Released { to } => {
            line(
                &mut body,
                "Given to:",
                to.as_deref().unwrap_or("no one (shutdown)"),
            );
            for vip in &config.vips {
                line(
                    &mut body,
                    "Released:",
                    &format!("{} on {}", vip.address, vip.interface),
                );
            }
            ("release", note.summary())
        }
        Notification::NetworkAnomaly { peer, path } => {
            line(&mut body, "Peer:", peer);
            line(&mut body, "Path:", path);
            body.push_str("\nHeartbeats still arrive on another path: no takeover.\n");
            (
                "network anomaly",
                format!("network anomaly: {peer} silent on {path}"),
            )
        }
        Notification::NetworkRecovered { peer, path } => {
            line(&mut body, "Peer:", peer);
            line(&mut body, "Path:", path);
            (
                "network recovered",
                format!("network recovered: {peer} on {path}"),
            )
        }
        Notification::HookFailed { hook, vip, outcome } => {
            line(&mut body, "Hook:", hook.script_prefix());
            line(&mut body, "Address:", &address(vip));
            let how = match outcome {
                HookOutcome::TimedOut => "hung: killed after hooks.timeout".to_string(),
                HookOutcome::Failed(Some(code)) => format!("exit status {code}"),
                HookOutcome::Failed(None) => "could not run".to_string(),
                HookOutcome::Success => "succeeded".to_string(),
            };
            line(&mut body, "Outcome:", &how);
            body.push_str("\nThe hand-over went on without it.\n");
            ("hook failed", format!("hook {hook} failed ({how})"))
        }
        Notification::AddressFailed { vip, change, error } => {
            line(&mut body, "Address:", &address(vip));
            line(&mut body, "Change:", &change.to_string());
            line(&mut body, "Error:", error);
            match change {
                failover_core::AddressChange::Add => body
                    .push_str("\nThe address was NOT taken over; this node tries again later.\n"),
                failover_core::AddressChange::Remove => body.push_str(
                    "\nThe address is STILL ON THIS HOST. This node keeps claiming it while it \
                     is here, so a node waiting for it waits, and tries again to remove it with \
                     back-off. If the kernel goes on refusing, remove it by hand (ip addr del): \
                     the next try finds it gone and the hand-over goes on.\n",
                ),
            }
            let verb = match change {
                failover_core::AddressChange::Add => "add",
                failover_core::AddressChange::Remove => "remove",
            };
            (
                "address change failed",
                format!("could not {verb} {}: {error}", address(vip)),
            )
        }
        Notification::RivalClaim { peer, vips } => {
            line(&mut body, "Claimer:", peer);
            for vip in vips {
                line(&mut body, "Address:", &address(vip));
            }
            body.push_str(
                "\nBoth nodes hold the address: the other one does not hear this node's \
                 heartbeats (a one-way cut?). Classic mode cannot settle this; the owner keeps \
                 the address and the clients may reach either.\n",
            );
            let vips: Vec<String> = vips.iter().map(address).collect();
            (
                "rival claim",
                format!("{peer} claims {} while this node holds it", vips.join(", ")),
            )
        }
        Notification::NoQuorum {
            granted,
            late,
            needed,
        } => {
            line(&mut body, "Granted by:", &granted.join(", "));
            line(&mut body, "Needed:", &needed.to_string());
            if !late.is_empty() {
                line(&mut body, "Too late:", &late.join(", "));
                body.push_str(
                    "\nThese voters granted the lease, but their votes took so long to come back \
                     that less than the second of kernel lifetime an address needs was left of \
                     it: the network between this node and them is too slow for the lease \
                     (protocol.lease).\n",
                );
            }
            body.push_str(
                "\nNo majority of voters granted the lease: this node did NOT take the \
                 addresses over. Either the owner still holds them (and the voters are keeping \
                 their promise to it), or this node cannot reach enough voters. It tries again \
                 later.\n",
            );
            ("no quorum", note.summary())
        }
        Notification::LeaseLost { vips, granted } => {
            for vip in vips {
                line(&mut body, "Address:", &address(vip));
            }
            line(&mut body, "Renewed by:", &granted.join(", "));
            body.push_str(
                "\nThe lease ran out before a majority of voters renewed it: this node no \
                 longer serves the addresses (the kernel removes them at the lease's end in any \
                 case), so another node can take them over safely.\n",
            );
            ("lease lost", note.summary())
        }
    };
    line(&mut body, "Event:", event);
    Mail::new(config, &subject, body)
}

/// Mail about the daemon's own trouble (its state directory), not the protocol's.
pub fn trouble(config: &Config, subject: &str, what: &str, when: SystemTime) -> Mail {
    let node = &config.node.name;
    let time = humantime::format_rfc3339_seconds(when);
    let body = format!(
        "{what}\n\nNode:      {node}\nTime:      {time}\n\nThe protocol goes on; this node's \
         failover duties are not affected.\n"
    );
    Mail::new(config, subject, body)
}

impl Mail {
    fn new(config: &Config, subject: &str, body: String) -> Mail {
        let node = &config.node.name;
        Mail {
            node: node.clone(),
            host: config.notify.smtp_host().to_string(),
            port: config.notify.smtp_port().unwrap_or(25),
            from: config.notify.from.clone(),
            to: config.notify.email_recipient.clone(),
            subject: format!("[failover] {node}: {subject}"),
            body,
            retry_max: config.notify.retry_max,
        }
    }

    /// Mail about the spool failing, to the same recipient through the same server.
    fn spool_trouble(&self, error: &io::Error) -> Mail {
        Mail {
            subject: format!("[failover] {}: mail spool cannot be written", self.node),
            body: format!(
                "The mail spool cannot be written: {error}\n\nNode:      {}\n\nMail is held in \
                 memory and still delivered, but a restart of the daemon before the spool \
                 works again loses what is held. Free space in, or fix the permissions of, \
                 the state directory.\n",
                self.node
            ),
            ..self.clone()
        }
    }
}

/// Starts the delivery task over the spool in `state_dir`, which first delivers what earlier
/// runs left there. Dropping the sender lets it make one more attempt and end, leaving what
/// is still undelivered spooled. The error, if any, says why the spool could not be opened
/// (mail is then held in memory until it can be written).
pub fn spawn(
    state_dir: &Path,
) -> (
    mpsc::UnboundedSender<Mail>,
    JoinHandle<()>,
    Option<io::Error>,
) {
    let (spool, waiting, error) = Spool::open(state_dir);
    if !waiting.is_empty() {
        tracing::info!(
            messages = waiting.len(),
            spool = %spool.dir().display(),
            "mail left by an earlier run goes out first"
        );
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let queue = Queue {
        spool,
        waiting: waiting.into(),
        spool_failing: error.is_some(),
    };
    (tx, tokio::spawn(deliver(rx, queue)), error)
}

/// What waits for delivery, oldest first.
struct Queue {
    spool: Spool,
    waiting: VecDeque<Spooled>,
    /// Whether the last write to the spool failed (its trouble is logged and mailed once).
    spool_failing: bool,
}

impl Queue {
    /// Spools `mail` (off the runtime's thread: fsync may take long) and queues it.
    async fn push(&mut self, mail: Mail) {
        let mut spool = self.spool.clone();
        let copy = mail.clone();
        let stored = tokio::task::spawn_blocking(move || {
            let stored = spool.store(copy);
            (spool, stored)
        })
        .await;
        let (spooled, error) = match stored {
            Ok((spool, stored)) => {
                self.spool = spool;
                stored
            }
            Err(e) => (Spooled { mail, file: None }, Some(io::Error::other(e))),
        };
        let trouble = match error {
            Some(e) if !self.spool_failing => {
                tracing::error!(
                    "mail spool: cannot write ({e}); mail is held in memory until it can"
                );
                self.spool_failing = true;
                Some(spooled.mail.spool_trouble(&e))
            }
            Some(_) => None,
            None if self.spool_failing => {
                tracing::info!(spool = %self.spool.dir().display(), "mail spool writable again");
                self.spool_failing = false;
                None
            }
            None => None,
        };
        self.waiting.push_back(spooled);
        self.waiting
            .extend(trouble.map(|mail| Spooled { mail, file: None }));
    }

    /// The front message is done with: delivered, or set aside.
    async fn pop(&mut self, delivered: bool) {
        let Some(done) = self.waiting.pop_front() else {
            return;
        };
        let spool = self.spool.clone();
        let result = tokio::task::spawn_blocking(move || match (&done.file, delivered) {
            (None, _) => Ok(None),
            (Some(_), true) => spool.remove(&done).map(|()| None),
            (Some(file), false) => spool.set_aside(file).map(Some),
        })
        .await
        .unwrap_or_else(|e| Err(io::Error::other(e)));
        match result {
            Ok(None) => {}
            Ok(Some(aside)) => tracing::error!(file = %aside.display(), "mail set aside"),
            Err(e) if delivered => tracing::error!(
                "mail spool: {e}: delivered, but its file stays; it goes out again after a restart"
            ),
            Err(e) => tracing::error!("mail spool: {e}"),
        }
    }
}

/// How a delivery failed.
enum Failure {
    /// Worth trying again (the server is away, busy, or said 4xx).
    Transient(String),
    /// The server refused this message for good (5xx), or it cannot be written as mail.
    Permanent(String),
}

async fn deliver(mut rx: mpsc::UnboundedReceiver<Mail>, mut queue: Queue) {
    let mut open = true;
    // Failed attempts of the front message in a row.
    let mut failures: u32 = 0;
    loop {
        if queue.waiting.is_empty() {
            match rx.recv().await {
                Some(mail) => queue.push(mail).await,
                None => return,
            }
        }
        while let Ok(mail) = rx.try_recv() {
            queue.push(mail).await;
        }
        let Some(front) = queue.waiting.front() else {
            continue;
        };
        let (to, subject) = (front.mail.to.clone(), front.mail.subject.clone());
        let server = format!("{}:{}", front.mail.host, front.mail.port);
        let retry_max = front.mail.retry_max;
        match send(&front.mail).await {
            Ok(()) => {
                tracing::info!(%to, %subject, "mail delivered");
                queue.pop(true).await;
                failures = 0;
                continue;
            }
            Err(Failure::Permanent(e)) => {
                tracing::error!(%to, %subject, %server, "mail refused for good: {e}");
                queue.pop(false).await;
                failures = 0;
                continue;
            }
            Err(Failure::Transient(e)) if !open => {
                let spooled = queue.waiting.iter().filter(|m| m.file.is_some()).count();
                tracing::warn!(
                    waiting = queue.waiting.len(),
                    spooled,
                    %server,
                    "stopping with mail undelivered ({e}); what is spooled goes out after the next start"
                );
                return;
            }
            Err(Failure::Transient(e)) => {
                failures += 1;
                let backoff = FIRST_RETRY
                    .saturating_mul(1 << (failures - 1).min(16))
                    .min(retry_max);
                tracing::warn!(%to, %server, attempt = failures, retry_in = ?backoff,
                    "mail not delivered, will retry: {e}");
                // Wait out the backoff, still taking new mail (and noticing the daemon
                // stopping, which is worth one more attempt at once).
                let wake = sleep(backoff);
                tokio::pin!(wake);
                loop {
                    tokio::select! {
                        () = &mut wake => break,
                        got = rx.recv() => match got {
                            Some(mail) => queue.push(mail).await,
                            None => { open = false; break; }
                        },
                    }
                }
            }
        }
    }
}

async fn send(mail: &Mail) -> Result<(), Failure> {
    let permanent = |e: String| Failure::Permanent(e);
    let message = Message::builder()
        .from(
            mail.from
                .parse()
                .map_err(|e| permanent(format!("from: {e}")))?,
        )
        .to(mail.to.parse().map_err(|e| permanent(format!("to: {e}")))?)
        .subject(&mail.subject)
        .header(ContentType::TEXT_PLAIN)
        .body(mail.body.clone())
        .map_err(|e| permanent(e.to_string()))?;
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&mail.host)
        .port(mail.port)
        .timeout(Some(SMTP_TIMEOUT))
        .build();
    match transport.send(message).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_permanent() => Err(Failure::Permanent(e.to_string())),
        Err(e) => Err(Failure::Transient(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use failover_core::{HookKind, VipId};

    fn config() -> Config {
        let text = r#"
            node = { name = "backup" }
            [[path]]
            name = "direct"
            peers = ["198.51.100.10:1694"]
            [[vip]]
            address = "192.0.2.100"
            interface = "eth0"
            [notify]
            email_recipient = "ops@example.com"
            smtp_server = "192.0.2.50:2525"
        "#;
        Config::from_toml_str(text, "test.toml").unwrap()
    }

    #[test]
    fn a_vetoed_failover_says_so_in_subject_and_body() {
        let note = Notification::Failover {
            from: Some("master".into()),
            acquired: vec![],
            vetoed: vec![VipId(0)],
        };
        let mail = render(&config(), &note, SystemTime::UNIX_EPOCH);
        assert_eq!((mail.host.as_str(), mail.port), ("192.0.2.50", 2525));
        assert_eq!(mail.to, "ops@example.com");
        assert!(
            mail.subject.starts_with("[failover] backup: "),
            "{}",
            mail.subject
        );
        assert!(
            mail.subject.contains("Test hook vetoed 1"),
            "{}",
            mail.subject
        );
        assert!(
            mail.body.contains("Vetoed:    192.0.2.100/24 on eth0"),
            "{}",
            mail.body
        );
        assert!(mail.body.contains("NOT taken over"), "{}", mail.body);
        assert!(
            mail.body.contains("Time:      1970-01-01T00:00:00Z"),
            "{}",
            mail.body
        );
    }

    #[test]
    fn a_vetoed_hand_back_names_the_node_kept_from_and_the_address() {
        let note = Notification::HandBackVetoed {
            to: Some("master".into()),
            vetoed: vec![VipId(0)],
        };
        let mail = render(&config(), &note, SystemTime::UNIX_EPOCH);
        assert!(
            mail.subject
                .ends_with("hand-back vetoed: Test hook kept the addresses from master"),
            "{}",
            mail.subject
        );
        assert!(mail.body.contains("Kept from: master"), "{}", mail.body);
        assert!(
            mail.body.contains("Vetoed:    192.0.2.100/24 on eth0"),
            "{}",
            mail.body
        );
        assert!(mail.body.contains("keeps every address"), "{}", mail.body);
    }

    #[test]
    fn a_hung_hook_and_an_anomaly_are_named() {
        let hung = Notification::HookFailed {
            hook: HookKind::PostAcq,
            vip: VipId(0),
            outcome: HookOutcome::TimedOut,
        };
        let mail = render(&config(), &hung, SystemTime::UNIX_EPOCH);
        assert!(
            mail.subject.contains("hook PostAcq failed (hung"),
            "{}",
            mail.subject
        );
        let anomaly = Notification::NetworkAnomaly {
            peer: "master".into(),
            path: "direct".into(),
        };
        let mail = render(&config(), &anomaly, SystemTime::UNIX_EPOCH);
        assert!(mail
            .subject
            .ends_with("network anomaly: master silent on direct"));
        assert!(mail.body.contains("no takeover"));
    }
}
