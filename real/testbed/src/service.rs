//! A TCP service on a host that answers every connection with the host's name, and the
//! client's request to it: "the client reaches the address, and here is who answered".

use crate::Netns;
use nix::sys::socket::{shutdown, Shutdown};
use std::io::{Read, Write};
use std::net::{Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The listener's thread; stopped and joined on drop.
#[derive(Debug)]
pub struct Service {
    stop: Arc<AtomicBool>,
    /// The listening socket, shut down on drop to wake the thread's blocking `accept`.
    listener: TcpListener,
    thread: Option<JoinHandle<()>>,
}

impl Service {
    /// Listens on every address of `ns`, of both families (so also on a virtual address added
    /// later) at `port`. (`[::]` takes IPv4 too: a new namespace's `net.ipv6.bindv6only` is 0.)
    pub fn start(ns: &Netns, port: u16, name: &str) -> Service {
        let listener = ns.run(|| TcpListener::bind((Ipv6Addr::UNSPECIFIED, port)));
        let listener = listener.unwrap_or_else(|e| panic!("service in {}: {e}", ns.name()));
        let accepting = listener.try_clone().expect("listener handle");
        let stop = Arc::new(AtomicBool::new(false));
        let name = name.to_string();
        let stopping = Arc::clone(&stop);
        // Blocking accept: an answer costs no polling delay, so it does not blur measurements.
        let thread = std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                if let Ok((mut stream, _)) = accepting.accept() {
                    let _ = stream.write_all(name.as_bytes());
                }
            }
        });
        Service {
            stop,
            listener,
            thread: Some(thread),
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Shutting a listening socket down makes a blocked accept return (EINVAL) on Linux.
        let _ = shutdown(self.listener.as_raw_fd(), Shutdown::Read);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One request from inside `ns` to `to`: the name of the host that answered, or `None` if
/// nothing did within `timeout`.
pub fn request(ns: &Netns, to: SocketAddr, timeout: Duration) -> Option<String> {
    ns.run(|| ask(to, timeout))
}

/// The same request from a thread already inside the client's namespace (see
/// [`Netns::run`]), for a measurement loop.
pub fn ask(to: SocketAddr, timeout: Duration) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&to, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    let mut name = String::new();
    stream.read_to_string(&mut name).ok()?;
    (!name.is_empty()).then_some(name)
}
