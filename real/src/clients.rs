//! Bounds on the local clients of the status socket and the metrics port.
//!
//! Each connection is served by a task of its own, which may take at most [`CLIENT_TIME`];
//! at most [`MAX_CLIENTS`] that have not yet asked anything are kept per listener. When one
//! more connects, the oldest of those is closed: a well-behaved client (`failoverctl`, a
//! Prometheus scrape) asks at once and is answered within a millisecond, so the connection
//! closed is one that connected and said nothing, or too little, while others came. Like
//! sshd's `MaxStartups`, this keeps a crowd of silent or slow clients from holding the
//! daemon's file descriptors — which its hooks, its mail and netlink need too — while a client
//! that asks is still answered. A connection that has asked is never closed early; it is done
//! as soon as its answer is written. After each connection the listener lets the other tasks
//! run, so a new client's request is read before a burst of newer connections can push it
//! out. Clients never reach the loop that owns the node except through its bounded report
//! channel.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::AbortHandle;

/// Connections served at once per listener.
pub const MAX_CLIENTS: usize = 32;
/// The longest one connection is served before it has asked, and for an ordinary answer.
pub const CLIENT_TIME: Duration = Duration::from_secs(5);
/// How much longer a connection that has asked may wait for its answer: an operator's
/// hand-over is answered within the node's `dead_after`, after the other nodes have answered.
/// Only one such request is in progress at a time (the node refuses a second at once).
pub const ANSWER_TIME: Duration = Duration::from_secs(600);

/// The connections of one listener being served.
#[derive(Debug)]
pub struct Clients {
    /// What the listener is, for the log.
    what: &'static str,
    /// Oldest first.
    running: VecDeque<(AbortHandle, Asked)>,
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

    /// Serves a new connection with `serve(asked)`, ended after [`CLIENT_TIME`] (or, if it
    /// has asked by then, [`ANSWER_TIME`] later), then lets other tasks run. `serve` calls [`Asked::mark`] once it has read the client's request.
    /// If [`MAX_CLIENTS`] connections have not asked yet, the oldest of them is closed first.
    pub async fn serve<F>(&mut self, serve: impl FnOnce(Asked) -> F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.running.retain(|(task, _)| !task.is_finished());
        let silent = || self.running.iter().filter(|(_, asked)| !asked.is_marked());
        if silent().count() >= MAX_CLIENTS {
            let oldest = self
                .running
                .iter()
                .position(|(_, asked)| !asked.is_marked());
            if let Some((oldest, _)) = oldest.and_then(|i| self.running.remove(i)) {
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
        let asked = Asked::default();
        let serving = serve(asked.clone());
        let waiting = asked.clone();
        let task = tokio::spawn(async move {
            tokio::pin!(serving);
            if tokio::time::timeout(CLIENT_TIME, &mut serving)
                .await
                .is_err()
                && waiting.is_marked()
            {
                let _ = tokio::time::timeout(ANSWER_TIME, serving).await;
            }
        });
        self.running.push_back((task.abort_handle(), asked));
        tokio::task::yield_now().await;
    }
}

/// Whether a connection's client has asked its question (then it is not closed early).
#[derive(Clone, Debug, Default)]
pub struct Asked(Arc<AtomicBool>);

impl Asked {
    /// The request has been read.
    pub fn mark(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    fn is_marked(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::oneshot;

    #[tokio::test(flavor = "current_thread")]
    async fn one_silent_client_too_many_ends_the_oldest_silent_one_only() {
        let mut clients = Clients::new("test");
        let mut ends = Vec::new();
        // The first has asked (it waits for its answer); the others say nothing.
        for i in 0..=MAX_CLIENTS + 1 {
            let (held, end) = oneshot::channel::<()>();
            clients
                .serve(move |asked: Asked| async move {
                    if i == 0 {
                        asked.mark();
                    }
                    let _held = held;
                    std::future::pending::<()>().await;
                })
                .await;
            ends.push(end);
        }
        let mut ends = ends.into_iter();
        let mut asking = ends.next().unwrap();
        let oldest_silent = ends.next().unwrap();
        let closed = tokio::time::timeout(Duration::from_secs(10), oldest_silent).await;
        assert!(
            matches!(closed, Ok(Err(_))),
            "the oldest silent client was ended"
        );
        assert_eq!(
            asking.try_recv(),
            Err(oneshot::error::TryRecvError::Empty),
            "a client that asked is kept"
        );
        for mut end in ends {
            assert_eq!(end.try_recv(), Err(oneshot::error::TryRecvError::Empty));
        }
        assert_eq!(clients.running.len(), MAX_CLIENTS + 1);
    }
}
