//! Bounds on the local clients of the status socket and the metrics port.
//!
//! Each connection is served by a task of its own, which may take at most [`CLIENT_TIME`];
//! at most [`MAX_CLIENTS`] run at once per listener. When one more connects, the oldest still
//! running is ended: a well-behaved client (`failoverctl`, a Prometheus scrape) asks at once
//! and is answered within a millisecond, so the oldest connection is almost always one that
//! connected and said nothing. Like sshd's `MaxStartups`, this keeps a crowd of silent or
//! slow clients from holding the daemon's file descriptors — which its hooks, its mail and
//! netlink need too — while a client that asks is still answered. Clients never reach the
//! loop that owns the node except through its bounded report channel.

use std::collections::VecDeque;
use std::future::Future;
use std::time::Duration;
use tokio::task::AbortHandle;

/// Connections served at once per listener.
pub const MAX_CLIENTS: usize = 32;
/// The longest one connection is served, whatever it does.
pub const CLIENT_TIME: Duration = Duration::from_secs(5);

/// The connections of one listener being served.
#[derive(Debug)]
pub struct Clients {
    /// What the listener is, for the log.
    what: &'static str,
    /// Oldest first.
    running: VecDeque<AbortHandle>,
    /// Connections ended early to make room.
    evicted: u64,
}

impl Clients {
    /// No connection yet; `what` names the listener in the log ("status socket").
    pub fn new(what: &'static str) -> Clients {
        Clients {
            what,
            running: VecDeque::with_capacity(MAX_CLIENTS),
            evicted: 0,
        }
    }

    /// Serves a new connection with `serve`, ended after [`CLIENT_TIME`]; the oldest
    /// connection still served is ended first if [`MAX_CLIENTS`] are.
    pub fn serve(&mut self, serve: impl Future<Output = ()> + Send + 'static) {
        self.running.retain(|task| !task.is_finished());
        if self.running.len() >= MAX_CLIENTS {
            if let Some(oldest) = self.running.pop_front() {
                oldest.abort();
                self.evicted += 1;
                // Once, then every thousandth: a crowd of clients must not flood the log.
                if self.evicted % 1000 == 1 {
                    tracing::warn!(
                        evicted = self.evicted,
                        "{}: more than {MAX_CLIENTS} clients at once; the oldest connection was \
                         closed to make room",
                        self.what
                    );
                }
            }
        }
        let task = tokio::spawn(async move {
            let _ = tokio::time::timeout(CLIENT_TIME, serve).await;
        });
        self.running.push_back(task.abort_handle());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::oneshot;

    #[tokio::test(flavor = "current_thread")]
    async fn one_client_too_many_ends_the_oldest_and_only_it() {
        let mut clients = Clients::new("test");
        let mut ended = Vec::new();
        for _ in 0..=MAX_CLIENTS {
            let (held, end) = oneshot::channel::<()>();
            // A silent client: its task waits for ever, holding `held`.
            clients.serve(async move {
                let _held = held;
                std::future::pending::<()>().await;
            });
            ended.push(end);
        }
        let oldest = ended.remove(0);
        let closed = tokio::time::timeout(Duration::from_secs(10), oldest).await;
        assert!(matches!(closed, Ok(Err(_))), "the oldest was ended");
        for mut end in ended {
            assert_eq!(end.try_recv(), Err(oneshot::error::TryRecvError::Empty));
        }
        assert_eq!(clients.running.len(), MAX_CLIENTS);
    }
}
