//! A TCP service on a host that answers every connection with the host's name, and the
//! client's request to it: "the client reaches the address, and here is who answered".

use crate::Netns;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The listener's thread; stopped and joined on drop.
#[derive(Debug)]
pub struct Service {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Service {
    /// Listens on every address of `ns` (so also on a virtual address added later) at `port`.
    pub fn start(ns: &Netns, port: u16, name: &str) -> Service {
        let listener = ns.run(|| TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)));
        let listener = listener.unwrap_or_else(|e| panic!("service in {}: {e}", ns.name()));
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let stop = Arc::new(AtomicBool::new(false));
        let name = name.to_string();
        let stopping = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        let _ = stream.write_all(name.as_bytes());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Service {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
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
