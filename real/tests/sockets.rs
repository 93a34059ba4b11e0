//! The wire codec over real UDP sockets on loopback (127.0.0.x), through the daemon's socket
//! layer: what one node sends, the other receives on the right path. Needs no root.

use failover_core::config::{NodeSettings, PathSettings, ProtocolSettings, VipSettings};
use failover_core::{Config, Inbox, Instant, Node, Output, PathId};
use failover_real::driver::BATCH;
use failover_real::net::PathSockets;
use std::net::SocketAddr;
use std::time::Duration;

fn config(name: &str, priority: u8, locals: [&str; 2], peers: [Vec<SocketAddr>; 2]) -> Config {
    let [public, direct] = peers;
    Config {
        node: NodeSettings {
            name: name.into(),
            priority,
            witness: false,
        },
        protocol: ProtocolSettings {
            auth_key: Some("sixteen bytes at least".into()),
            ..ProtocolSettings::default()
        },
        paths: [("public", locals[0], public), ("direct", locals[1], direct)]
            .into_iter()
            .map(|(path, local, peers)| PathSettings {
                name: path.into(),
                local: Some(local.parse().unwrap()),
                peers,
            })
            .collect(),
        vips: vec![VipSettings {
            address: "192.0.2.100".parse().unwrap(),
            prefix: None,
            interface: "eth0".into(),
            primary: false,
        }],
        notify: Default::default(),
        hooks: Default::default(),
        control: Default::default(),
    }
}

/// Sends everything `node` wants to send through `sockets`.
fn flush(node: &mut Node, sockets: &mut PathSockets) -> usize {
    let mut sent = 0;
    while let Some(out) = node.poll_output() {
        if let Output::Transmit(t) = out {
            sockets.send(0, node.config(), &t);
            sent += 1;
        }
    }
    sent
}

/// Receives `count` datagrams into `node`, returning the paths they were attributed to.
async fn receive(node: &mut Node, sockets: &PathSockets, count: usize) -> Vec<PathId> {
    let mut buf = [0u8; 2048];
    let mut paths = Vec::new();
    while paths.len() < count {
        let ready = tokio::time::timeout(Duration::from_secs(10), sockets.readable());
        ready.await.expect("a datagram within 10 s");
        while let Some((socket, from, len)) = sockets.try_recv(&mut buf) {
            let (_, path) = sockets
                .route(&[node.config()], socket, from, &buf[..len])
                .expect("one node takes everything");
            node.handle_datagram(Instant::from_nanos(1), path, from, &buf[..len]);
            paths.push(path);
        }
    }
    paths
}

#[tokio::test(flavor = "current_thread")]
async fn heartbeats_cross_real_sockets_on_both_paths_authenticated() {
    // Port 0: the kernel picks free ports, so parallel test runs never collide.
    let placeholder = || vec!["127.0.0.9:9".parse().unwrap()];
    let b_config = config(
        "backup",
        100,
        ["127.0.0.3:0", "127.0.0.5:0"],
        [placeholder(), placeholder()],
    );
    let mut b_sockets = PathSockets::bind(&[&b_config]).unwrap();
    let b_addrs = b_sockets.local_addrs();
    let a_config = config(
        "master",
        200,
        ["127.0.0.2:0", "127.0.0.4:0"],
        [vec![b_addrs[0]], vec![b_addrs[1]]],
    );
    let mut a_sockets = PathSockets::bind(&[&a_config]).unwrap();
    let a_addrs = a_sockets.local_addrs();
    let b_config = config(
        "backup",
        100,
        ["127.0.0.3:0", "127.0.0.5:0"],
        [vec![a_addrs[0]], vec![a_addrs[1]]],
    );

    let mut a = Node::new(a_config, 7, Instant::ZERO).unwrap();
    let mut b = Node::new(b_config, 3, Instant::ZERO).unwrap();
    a.handle_timeout(Instant::ZERO); // the first heartbeat, on every path
    assert_eq!(flush(&mut a, &mut a_sockets), 2);
    let mut paths = receive(&mut b, &b_sockets, 2).await;
    paths.sort();
    assert_eq!(paths, vec![PathId(0), PathId(1)], "one heartbeat per path");
    let status = b.status(Instant::from_nanos(1));
    assert_eq!(status.counters.received, 2);
    assert_eq!(
        status.counters.unauthenticated + status.counters.malformed,
        0
    );
    let master = &status.peers[0];
    assert_eq!(
        (master.name.as_str(), master.epoch, master.priority),
        ("master", 7, 200)
    );
    assert!(
        master.last_heard_ms.iter().all(Option::is_some),
        "heard on both paths"
    );

    // And back: the backup answers a newcomer at once, through its own sockets.
    assert!(flush(&mut b, &mut b_sockets) >= 2);
    receive(&mut a, &a_sockets, 2).await;
    assert_eq!(a.status(Instant::from_nanos(1)).peers[0].name, "backup");
}

#[tokio::test(flavor = "current_thread")]
async fn a_socket_shared_by_paths_tells_them_apart_by_sender() {
    // The hostconfig form: two paths, no local address of their own, one socket. Here both
    // paths name the same loopback address; the direct path lists the master, the public one
    // lists no one (its peer is learned).
    let master_direct = std::net::UdpSocket::bind("127.0.0.6:0").unwrap();
    let master_public = std::net::UdpSocket::bind("127.0.0.7:0").unwrap();
    let mut c = config(
        "backup",
        100,
        ["127.0.0.8:0", "127.0.0.8:0"],
        [vec![], vec![master_direct.local_addr().unwrap()]],
    );
    let sockets = PathSockets::bind(&[&c]).unwrap();
    let shared = sockets.local_addrs();
    assert_eq!(shared.len(), 1, "one socket for both paths");
    // Port 0 would give each path's local a different meaning on reload; pin the real one.
    for p in &mut c.paths {
        p.local = Some(shared[0]);
    }
    let mut node = Node::new(c, 1, Instant::ZERO).unwrap();
    let mut from_master = Node::new(
        config(
            "master",
            200,
            ["127.0.0.6:0", "127.0.0.7:0"],
            [vec![shared[0]], vec![shared[0]]],
        ),
        9,
        Instant::ZERO,
    )
    .unwrap();
    from_master.handle_timeout(Instant::ZERO);
    let mut payloads = Vec::new();
    while let Some(out) = from_master.poll_output() {
        if let Output::Transmit(t) = out {
            payloads.push(t);
        }
    }
    // public heartbeat from the master's LAN address, direct one from its direct address
    master_public
        .send_to(&payloads[0].payload, shared[0])
        .unwrap();
    let got = receive(&mut node, &sockets, 1).await;
    master_direct
        .send_to(&payloads[1].payload, shared[0])
        .unwrap();
    let got2 = receive(&mut node, &sockets, 1).await;
    assert_eq!((got[0], got2[0]), (PathId(0), PathId(1)));
    let status = node.status(Instant::from_nanos(1));
    assert_eq!(status.counters.received, 2);
    assert!(status.peers[0].last_heard_ms.iter().all(Option::is_some));
}

#[tokio::test(flavor = "current_thread")]
async fn garbage_and_forged_datagrams_from_real_sockets_are_dropped_and_counted() {
    let c = config(
        "backup",
        100,
        ["127.0.0.10:0", "127.0.0.11:0"],
        [vec![], vec![]],
    );
    let mut c = c;
    c.paths[0].peers = vec!["127.0.0.12:9".parse().unwrap()];
    let sockets = PathSockets::bind(&[&c]).unwrap();
    let to = sockets.local_addrs()[0];
    let mut node = Node::new(c, 1, Instant::ZERO).unwrap();
    let sender = std::net::UdpSocket::bind("127.0.0.12:0").unwrap();

    let mut forger = config(
        "intruder",
        250,
        ["127.0.0.12:0", "127.0.0.13:0"],
        [vec![to], vec![to]],
    );
    forger.protocol.auth_key = Some("a different key, 16+".into());
    let mut forger = Node::new(forger, 1, Instant::ZERO).unwrap();
    forger.handle_timeout(Instant::ZERO);
    let Some(Output::Transmit(forged)) = forger.poll_output() else {
        panic!("a heartbeat");
    };
    sender.send_to(b"GET / HTTP/1.1\r\n\r\n", to).unwrap();
    sender.send_to(&forged.payload, to).unwrap();
    receive(&mut node, &sockets, 2).await;
    let counters = node.counters();
    assert_eq!(
        (
            counters.malformed,
            counters.unauthenticated,
            counters.received
        ),
        (1, 1, 0)
    );
    assert!(
        node.status(Instant::from_nanos(1)).peers.is_empty(),
        "no peer from forgeries"
    );
}

/// After SIGSTOP and SIGCONT the reactor's `epoll_wait` ends with EINTR and no events, and the
/// overdue timer wakes the daemon's loop before tokio has seen the datagrams that queued
/// meanwhile. A drain must still read every one of them (the input rule), or the backup judges
/// a live owner silent and starts a takeover.
#[tokio::test(flavor = "current_thread")]
async fn a_drain_reads_what_the_kernel_holds_before_tokio_has_seen_it() {
    let placeholder = || vec!["127.0.0.9:9".parse().unwrap()];
    let c = config(
        "backup",
        100,
        ["127.0.0.3:0", "127.0.0.5:0"],
        [placeholder(), placeholder()],
    );
    let sockets = PathSockets::bind(&[&c]).unwrap();
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for to in sockets.local_addrs() {
        for _ in 0..3 {
            sender.send_to(b"queued", to).unwrap();
        }
    }
    // Nothing awaited since the bind: the reactor has not turned, tokio knows of no datagram.
    let inbox = Inbox::new(c.paths.len(), usize::MAX);
    assert_eq!(sockets.drain(&[&c], &mut [inbox], BATCH, |_| ()), 6);
}

/// A flood on one path must not hide the heartbeats waiting on another: a drain that stops at
/// its limit has taken its turns on every socket, so the quiet path's datagram is read while
/// the flooded one still holds more than the limit.
#[tokio::test(flavor = "current_thread")]
async fn a_flood_on_one_socket_does_not_keep_another_unread() {
    let placeholder = || vec!["127.0.0.9:9".parse().unwrap()];
    let c = config(
        "backup",
        100,
        ["127.0.0.3:0", "127.0.0.5:0"],
        [placeholder(), placeholder()],
    );
    let sockets = PathSockets::bind(&[&c]).unwrap();
    let [flooded, quiet] = <[SocketAddr; 2]>::try_from(sockets.local_addrs()).unwrap();
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..20 {
        sender.send_to(b"flood", flooded).unwrap();
    }
    sender.send_to(b"heartbeat", quiet).unwrap();
    let inbox = Inbox::new(c.paths.len(), usize::MAX);
    assert_eq!(sockets.drain(&[&c], &mut [inbox], 10, |_| ()), 10);
    let mut buf = [0u8; 64];
    let mut left = Vec::new();
    while let Some((socket, _, len)) = sockets.try_recv(&mut buf) {
        left.push((socket, buf[..len].to_vec()));
    }
    assert_eq!(left.len(), 11, "the rest of the flood is still there");
    assert!(
        left.iter()
            .all(|(socket, bytes)| *socket == 0 && bytes == b"flood"),
        "the quiet socket's datagram was read in the limited drain"
    );
}

/// IPv6: a path on the IPv6 wildcard (as a path without a `local` gets) speaks both families
/// through one socket — to an IPv6 peer on `::1` and an IPv4 peer on 127.0.0.14 — and the
/// IPv4 peer's datagrams, which the kernel reports as `::ffff:127.0.0.14`, are told apart by
/// the address the configuration gives.
#[tokio::test(flavor = "current_thread")]
async fn a_socket_on_the_ipv6_wildcard_speaks_both_families() {
    let placeholder = || vec!["127.0.0.9:9".parse().unwrap()];
    let b_config = |peers| config("backup", 100, ["[::1]:0", "127.0.0.14:0"], peers);
    let mut b_sockets = PathSockets::bind(&[&b_config([placeholder(), placeholder()])]).unwrap();
    let b_addrs = b_sockets.local_addrs();
    assert!(b_addrs[0].is_ipv6() && b_addrs[1].is_ipv4(), "{b_addrs:?}");
    let mut a_config = config(
        "master",
        200,
        ["[::]:0", "[::]:0"],
        [vec![b_addrs[0]], vec![b_addrs[1]]],
    );
    let mut a_sockets = PathSockets::bind(&[&a_config]).unwrap();
    let a_addrs = a_sockets.local_addrs();
    assert_eq!(a_addrs.len(), 1, "one socket for both paths: {a_addrs:?}");
    let port = a_addrs[0].port();
    for p in &mut a_config.paths {
        p.local = Some(a_addrs[0]); // pin the port the kernel chose
    }
    let to_a = |ip: &str| format!("{ip}:{port}").parse::<SocketAddr>().unwrap();
    let b_config = b_config([vec![to_a("[::1]")], vec![to_a("127.0.0.14")]]);

    let mut a = Node::new(a_config, 7, Instant::ZERO).unwrap();
    let mut b = Node::new(b_config, 3, Instant::ZERO).unwrap();
    a.handle_timeout(Instant::ZERO);
    assert_eq!(flush(&mut a, &mut a_sockets), 2);
    let mut paths = receive(&mut b, &b_sockets, 2).await;
    paths.sort();
    assert_eq!(
        paths,
        vec![PathId(0), PathId(1)],
        "one heartbeat per family"
    );
    let status = b.status(Instant::from_nanos(1));
    assert_eq!(status.counters.received, 2);
    assert!(status.peers[0].last_heard_ms.iter().all(Option::is_some));

    // And back, each family to the one socket, each datagram on its own path.
    assert!(flush(&mut b, &mut b_sockets) >= 2);
    let mut paths = receive(&mut a, &a_sockets, 2).await;
    paths.sort();
    paths.dedup();
    assert_eq!(paths, vec![PathId(0), PathId(1)], "told apart by sender");
    let master = a.status(Instant::from_nanos(1));
    assert_eq!(master.peers[0].name, "backup");
    assert!(master.peers[0].last_heard_ms.iter().all(Option::is_some));
}

/// A witness of two groups in one process: both groups' paths on one local address share one
/// socket, and each datagram goes to the node of the group its header names; one of a third
/// group, and one with no readable header, go to neither and are reported as foreign and
/// malformed.
#[tokio::test(flavor = "current_thread")]
async fn one_socket_shared_by_two_groups_hands_each_datagram_to_its_groups_node() {
    let witness = |group: u16, local: &str| {
        let mut c = config("witness", 1, [local, "127.0.0.17:0"], [vec![], vec![]]);
        c.node.witness = true;
        c.vips.clear();
        c.paths.truncate(1);
        c.paths[0].peers = vec!["127.0.0.15:1694".parse().unwrap()];
        c.protocol.group = group;
        c.protocol.mode = failover_core::config::Mode::Quorum;
        c.protocol.voters = vec!["alpha".into(), "beta".into(), "witness".into()];
        c
    };
    let one = witness(1, "127.0.0.16:0");
    let probe = PathSockets::bind(&[&one]).unwrap();
    let shared = probe.local_addrs()[0];
    drop(probe);
    let one = witness(1, &shared.to_string());
    let two = witness(2, &shared.to_string());
    let sockets = PathSockets::bind(&[&one, &two]).unwrap();
    assert_eq!(
        sockets.local_addrs(),
        [shared],
        "one socket for both groups"
    );

    let sender = std::net::UdpSocket::bind("127.0.0.15:0").unwrap();
    // Each from another boot of alpha, so none is a replay of another.
    let heartbeat = |group: u16, epoch: u64| {
        let mut c = config(
            "alpha",
            200,
            ["127.0.0.15:0", "127.0.0.18:0"],
            [vec![shared], vec![shared]],
        );
        c.protocol.group = group;
        c.protocol.mode = failover_core::config::Mode::Quorum;
        c.protocol.voters = vec!["alpha".into(), "beta".into(), "witness".into()];
        let mut node = Node::new(c, epoch, Instant::ZERO).unwrap();
        node.handle_timeout(Instant::ZERO);
        std::iter::from_fn(|| node.poll_output())
            .find_map(|out| match out {
                Output::Transmit(t) => Some(t.payload.to_vec()),
                _ => None,
            })
            .expect("a heartbeat")
    };
    let datagrams = [
        heartbeat(2, 1),
        heartbeat(1, 2),
        heartbeat(2, 3),
        heartbeat(3, 4),
        b"FO".to_vec(),
    ];
    for bytes in datagrams {
        sender.send_to(&bytes, shared).unwrap();
    }
    let mut inboxes = [Inbox::new(1, usize::MAX), Inbox::new(1, usize::MAX)];
    let mut dropped = Vec::new();
    let mut read = 0;
    while read < 5 {
        let ready = tokio::time::timeout(Duration::from_secs(10), sockets.readable());
        ready.await.expect("the datagrams within 10 s");
        read += sockets.drain(&[&one, &two], &mut inboxes, BATCH, |r| dropped.push(r));
    }
    assert_eq!(
        dropped,
        [
            failover_core::DropReason::Foreign,
            failover_core::DropReason::Malformed
        ]
    );
    let mut nodes = [one, two].map(|c| Node::new(c, 5, Instant::ZERO).unwrap());
    for (node, inbox) in nodes.iter_mut().zip(&mut inboxes) {
        inbox.deliver(node, Instant::from_nanos(1));
    }
    let received = nodes.each_ref().map(|n| n.counters().received);
    assert_eq!(
        received,
        [1, 2],
        "group 1's node got one heartbeat, group 2's two"
    );
    for node in &nodes {
        let c = node.counters();
        assert_eq!(
            c.foreign + c.malformed + c.unauthenticated + c.replayed,
            0,
            "{c:?}"
        );
    }
}
