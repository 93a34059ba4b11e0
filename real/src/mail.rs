//! Notifications by mail, through a queue that never holds up the protocol.
//!
//! The driver renders a notification into a [`Mail`] and hands it over without waiting; one
//! task delivers the queue in order over SMTP, retrying a failed delivery with exponential
//! backoff (1 s, 2 s, 4 s ... at most 5 min apart) and giving a message up after
//! [`MAX_ATTEMPTS`], with an error in the log. Order is kept: a recovery notice is never
//! delivered before the anomaly notice it follows.

use failover_core::{Config, HookOutcome, Notification};
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::sleep;

/// Deliveries tried per message before it is given up (about 8 minutes of retries).
pub const MAX_ATTEMPTS: u32 = 10;
const FIRST_RETRY: Duration = Duration::from_secs(1);
const LONGEST_RETRY: Duration = Duration::from_secs(300);
const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

/// One message, with the server it goes through (taken from the configuration when the
/// notification happened, so a reload applies to later mail only).
#[derive(Clone, Debug)]
pub struct Mail {
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
                    "\nThe address may still be on this host while another takes it over: \
                     check the interface now.\n",
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
        Notification::NoQuorum { granted, needed } => {
            line(&mut body, "Granted by:", &granted.join(", "));
            line(&mut body, "Needed:", &needed.to_string());
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
    Mail {
        host: config.notify.smtp_host().to_string(),
        port: config.notify.smtp_port().unwrap_or(25),
        from: config.notify.from.clone(),
        to: config.notify.email_recipient.clone(),
        subject: format!("[failover] {node}: {subject}"),
        body,
    }
}

/// Starts the delivery task. Dropping the sender lets it finish the queue (one attempt per
/// message still waiting) and end.
pub fn spawn() -> (mpsc::UnboundedSender<Mail>, JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (tx, tokio::spawn(deliver(rx)))
}

async fn deliver(mut rx: mpsc::UnboundedReceiver<Mail>) {
    let mut queue: VecDeque<(Mail, u32)> = VecDeque::new();
    let mut open = true;
    loop {
        if queue.is_empty() {
            match rx.recv().await {
                Some(mail) => queue.push_back((mail, 0)),
                None => return,
            }
        }
        while let Ok(mail) = rx.try_recv() {
            queue.push_back((mail, 0));
        }
        let Some((mail, attempts)) = queue.front_mut() else {
            continue;
        };
        *attempts += 1;
        match send(mail).await {
            Ok(()) => {
                tracing::info!(to = %mail.to, subject = %mail.subject, "mail delivered");
                queue.pop_front();
                continue;
            }
            Err(e) if *attempts >= MAX_ATTEMPTS || !open => {
                tracing::error!(to = %mail.to, subject = %mail.subject, attempts = *attempts,
                    "mail given up: {e}");
                queue.pop_front();
                continue;
            }
            Err(e) => {
                tracing::warn!(to = %mail.to, server = %format!("{}:{}", mail.host, mail.port),
                    attempt = *attempts, "mail not delivered, will retry: {e}");
            }
        }
        let backoff = FIRST_RETRY
            .saturating_mul(1 << (*attempts - 1).min(16))
            .min(LONGEST_RETRY);
        // Wait out the backoff, still taking new mail (and noticing the daemon stopping).
        let wake = sleep(backoff);
        tokio::pin!(wake);
        loop {
            tokio::select! {
                () = &mut wake => break,
                got = rx.recv(), if open => match got {
                    Some(mail) => queue.push_back((mail, 0)),
                    None => { open = false; break; }
                },
            }
        }
    }
}

async fn send(mail: &Mail) -> Result<(), String> {
    let message = Message::builder()
        .from(mail.from.parse().map_err(|e| format!("from: {e}"))?)
        .to(mail.to.parse().map_err(|e| format!("to: {e}"))?)
        .subject(&mail.subject)
        .header(ContentType::TEXT_PLAIN)
        .body(mail.body.clone())
        .map_err(|e| e.to_string())?;
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&mail.host)
        .port(mail.port)
        .timeout(Some(SMTP_TIMEOUT))
        .build();
    transport
        .send(message)
        .await
        .map(drop)
        .map_err(|e| e.to_string())
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
