//! The native TOML configuration: defaults a user can rely on, and errors that name the field.

use failover_core::{Config, ConfigError};
use std::time::Duration;

const TWO_NODE_MASTER: &str = r#"
[node]
name = "master"
priority = 200

[protocol]
interval = "100ms"

[[path]]
name = "public"
local = "192.0.2.10:1694"
peers = ["192.0.2.11:1694"]

[[path]]
name = "direct"
local = "198.51.100.10:1694"
peers = ["198.51.100.11:1694"]

[[vip]]
address = "192.0.2.100"
interface = "eth0"

[notify]
email_recipient = "ops@example.com"
"#;

fn field_error(text: &str) -> (String, String) {
    match Config::from_toml_str(text, "failover.toml") {
        Err(ConfigError::Invalid { field, message }) => (field, message),
        other => panic!("expected a field error, got {other:?}"),
    }
}

#[test]
fn a_minimal_file_gets_the_source_systems_defaults() {
    let text = r#"
        node = { name = "backup" }
        [[path]]
        name = "direct"
        peers = ["198.51.100.10:1694"]
        [[vip]]
        address = "192.0.2.100"
        interface = "eth0"
    "#;
    let c = Config::from_toml_str(text, "f.toml").unwrap();
    assert_eq!(c.node.priority, 100);
    assert_eq!(c.protocol.interval, Duration::from_secs(1));
    assert_eq!(c.dead_after(), Duration::from_secs(3));
    assert!(c.protocol.preempt);
    assert_eq!(c.notify.email_recipient, "root@localhost");
    assert_eq!(
        (c.notify.smtp_host(), c.notify.smtp_port()),
        ("localhost", Some(25))
    );
    assert_eq!(c.notify.from, "failoverd@localhost");
    assert_eq!(c.vips[0].prefix_len(), 24);
    assert_eq!(c.hooks.timeout, Duration::from_secs(10));
}

#[test]
fn a_two_node_file_round_trips_through_toml() {
    let c = Config::from_toml_str(TWO_NODE_MASTER, "f.toml").unwrap();
    assert_eq!(c.paths.len(), 2);
    assert_eq!(c.protocol.interval, Duration::from_millis(100));
    let again = Config::from_toml_str(&c.to_toml_string(), "again.toml").unwrap();
    assert_eq!(again, c);
}

/// Found fuzzing the hostconfig reader (`fuzz/regressions/hostconfig/`): a value with a run of
/// 256 or more quotes of one kind overflowed a counter in the TOML writer of toml 0.8
/// (toml-rs/toml#1188), a panic in every build with overflow checks.
#[test]
fn values_with_long_runs_of_quotes_round_trip_through_toml() {
    let mut c = Config::from_toml_str(TWO_NODE_MASTER, "f.toml").unwrap();
    for quote in ["\"", "'"] {
        c.notify.email_recipient = format!("ops{}@example.com", quote.repeat(300));
        let again = Config::from_toml_str(&c.to_toml_string(), "again.toml").unwrap();
        assert_eq!(again, c);
    }
}

#[test]
fn syntax_and_schema_errors_name_the_file_and_line() {
    let err = Config::from_toml_str("[node]\nname = \n", "bad.toml").unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("bad.toml: "), "{text}");
    assert!(text.contains("line 2"), "{text}");

    let typo = TWO_NODE_MASTER.replace("interval =", "intervall =");
    let text = Config::from_toml_str(&typo, "typo.toml")
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("intervall"),
        "unknown fields are refused by name: {text}"
    );
}

#[test]
fn out_of_range_values_name_the_field() {
    let cases = [
        (
            "interval = \"100ms\"",
            "interval = \"5ms\"",
            "protocol.interval",
        ),
        (
            "interval = \"100ms\"",
            "interval = \"100ms\"\ndead_after = \"150ms\"",
            "protocol.dead_after",
        ),
        (
            "interval = \"100ms\"",
            "interval = \"100ms\"\nauth_key = \"short\"",
            "protocol.auth_key",
        ),
        ("priority = 200", "priority = 0", "node.priority"),
        ("name = \"direct\"", "name = \"public\"", "path[1].name"),
        (
            "interface = \"eth0\"",
            "interface = \"\"",
            "vip[0].interface",
        ),
        (
            "address = \"192.0.2.100\"",
            "address = \"192.0.2.100\"\nprefix = 33",
            "vip[0].prefix",
        ),
        ("ops@example.com", " ", "notify.email_recipient"),
        (
            "email_recipient = \"ops@example.com\"",
            "smtp_server = \"mail.example.com\"",
            "notify.smtp_server",
        ),
        (
            "email_recipient = \"ops@example.com\"",
            "smtp_server = \"mail.example.com:smtp\"",
            "notify.smtp_server",
        ),
        (
            "email_recipient = \"ops@example.com\"",
            "from = \"\"",
            "notify.from",
        ),
    ];
    for (from, to, field) in cases {
        let text = TWO_NODE_MASTER.replace(from, to);
        assert_eq!(
            field_error(&text).0,
            field,
            "after replacing {from:?} with {to:?}"
        );
    }
}

#[test]
fn the_mail_server_is_host_and_port() {
    let text = TWO_NODE_MASTER.replace(
        "email_recipient = \"ops@example.com\"",
        "smtp_server = \"[2001:db8::25]:2525\"\nfrom = \"failover@example.com\"",
    );
    let c = Config::from_toml_str(&text, "f.toml").unwrap();
    assert_eq!(c.notify.smtp_host(), "2001:db8::25");
    assert_eq!(c.notify.smtp_port(), Some(2525));
    assert_eq!(c.notify.from, "failover@example.com");
}

#[test]
fn a_config_without_heartbeat_destinations_or_addresses_is_refused() {
    let no_peers = TWO_NODE_MASTER
        .replace("peers = [\"192.0.2.11:1694\"]", "")
        .replace("peers = [\"198.51.100.11:1694\"]", "");
    assert_eq!(field_error(&no_peers).0, "path.peers");
    let no_vip = TWO_NODE_MASTER.replace(
        "[[vip]]\naddress = \"192.0.2.100\"\ninterface = \"eth0\"",
        "",
    );
    assert_eq!(field_error(&no_vip).0, "vip");
}

/// The master of a pair whose heartbeats go over IPv6 on the LAN and IPv4 on the direct link,
/// with one address of each family to fail over.
const MIXED_MASTER: &str = r#"
[node]
name = "master"
[[path]]
name = "public"
local = "[2001:db8:0:1::10]:1694"
peers = ["[2001:db8:0:1::11]:1694"]
[[path]]
name = "direct"
local = "198.51.100.10:1694"
peers = ["198.51.100.11:1694"]
[[vip]]
address = "2001:db8:0:1::100"
interface = "eth0"
[[vip]]
address = "192.0.2.100"
interface = "eth0"
"#;

#[test]
fn ipv6_paths_and_addresses_mix_with_ipv4_ones() {
    let c = Config::from_toml_str(MIXED_MASTER, "f.toml").unwrap();
    assert_eq!(
        c.vips[0].prefix_len(),
        64,
        "an IPv6 address's default prefix"
    );
    assert_eq!(c.vips[1].prefix_len(), 24);
    assert!(c.paths[0].local.unwrap().is_ipv6() && c.paths[1].local.unwrap().is_ipv4());
    let again = Config::from_toml_str(&c.to_toml_string(), "again.toml").unwrap();
    assert_eq!(again, c);
    // A path without a local address, or on the IPv6 wildcard, listens in both families.
    for local in ["", "local = \"[::]:1694\""] {
        let text = MIXED_MASTER
            .replace("local = \"198.51.100.10:1694\"", local)
            .replace(
                "[\"198.51.100.11:1694\"]",
                "[\"198.51.100.11:1694\", \"[2001:db8:0:2::11]:1694\"]",
            );
        Config::from_toml_str(&text, "f.toml").unwrap_or_else(|e| panic!("{local:?}: {e}"));
    }
}

#[test]
fn ipv6_addresses_a_path_or_vip_cannot_use_name_the_field() {
    let cases = [
        // a socket bound to one family cannot reach a peer of the other
        (
            "[2001:db8:0:1::11]:1694",
            "192.0.2.11:1694",
            "path[0].peers[0]",
        ),
        (
            "198.51.100.11:1694",
            "[2001:db8:0:2::11]:1694",
            "path[1].peers[0]",
        ),
        // link-local without a scope id; with one it is fine (see below)
        (
            "[2001:db8:0:1::11]:1694",
            "[fe80::11]:1694",
            "path[0].peers[0]",
        ),
        (
            "[2001:db8:0:1::10]:1694",
            "[fe80::10]:1694",
            "path[0].local",
        ),
        // multicast heartbeats, mapped IPv4
        (
            "[2001:db8:0:1::11]:1694",
            "[ff02::1%2]:1694",
            "path[0].peers[0]",
        ),
        (
            "198.51.100.11:1694",
            "[::ffff:198.51.100.11]:1694",
            "path[1].peers[0]",
        ),
        (
            "\"2001:db8:0:1::100\"",
            "\"::ffff:192.0.2.100\"",
            "vip[0].address",
        ),
        ("\"2001:db8:0:1::100\"", "\"::\"", "vip[0].address"),
        ("\"2001:db8:0:1::100\"", "\"ff02::1\"", "vip[0].address"),
        (
            "interface = \"eth0\"\n[[vip]]",
            "interface = \"eth0\"\nprefix = 129\n[[vip]]",
            "vip[0].prefix",
        ),
    ];
    for (from, to, field) in cases {
        let text = MIXED_MASTER.replacen(from, to, 1);
        assert_ne!(text, MIXED_MASTER, "{from:?} is in the file");
        let (got, message) = field_error(&text);
        assert_eq!(
            got, field,
            "after replacing {from:?} with {to:?}: {message}"
        );
    }
    let scoped = MIXED_MASTER
        .replace("[2001:db8:0:1::10]", "[fe80::10%2]")
        .replace("[2001:db8:0:1::11]", "[fe80::11%2]");
    Config::from_toml_str(&scoped, "f.toml").expect("link-local with a scope id");
}

#[test]
fn a_previous_key_needs_a_key_in_use_and_differs_from_it() {
    let with = |protocol: &str| TWO_NODE_MASTER.replace("interval = \"100ms\"", protocol);
    let rotating = with(
        "auth_key = \"the new key, 16+ bytes\"\nprevious_auth_key = \"the old key, 16+ bytes\"",
    );
    let c = Config::from_toml_str(&rotating, "f.toml").unwrap();
    assert_eq!(
        c.protocol.previous_auth_key.as_deref(),
        Some("the old key, 16+ bytes")
    );
    let again = Config::from_toml_str(&c.to_toml_string(), "again.toml").unwrap();
    assert_eq!(again, c, "the previous key survives a round trip");
    for (protocol, message) in [
        ("previous_auth_key = \"the old key, 16+ bytes\"", "needs protocol.auth_key"),
        (
            "auth_key = \"the new key, 16+ bytes\"\nprevious_auth_key = \"short\"",
            "at least 16 bytes",
        ),
        (
            "auth_key = \"the same key, 16+ bytes\"\nprevious_auth_key = \"the same key, 16+ bytes\"",
            "must differ",
        ),
    ] {
        let (field, text) = field_error(&with(protocol));
        assert_eq!(field, "protocol.previous_auth_key", "{protocol}");
        assert!(text.contains(message), "{protocol}: {text}");
    }
}

#[test]
fn the_status_socket_is_root_only_by_default_and_never_open_to_everyone() {
    let control = |lines: &str| format!("{TWO_NODE_MASTER}\n[control]\n{lines}\n");
    let mode = |text: &str| {
        let c = Config::from_toml_str(text, "f.toml").unwrap();
        c.control.socket_mode().unwrap()
    };
    assert_eq!(mode(TWO_NODE_MASTER), 0o600);
    assert_eq!(mode(&control("socket_group = \"failover\"")), 0o660);
    assert_eq!(
        mode(&control(
            "socket_mode = \"0620\"\nsocket_group = \"failover\""
        )),
        0o620
    );
    assert_eq!(
        mode(&control(
            "socket_mode = \"0660\"\nsocket_group = \"failover\""
        )),
        0o660
    );
    assert_eq!(mode(&control("socket_mode = \"600\"")), 0o600);
    for (lines, message) in [
        ("socket_mode = \"0666\"", "every local user"),
        ("socket_mode = \"0604\"", "every local user"),
        ("socket_mode = \"rw-------\"", "octal"),
        ("socket_mode = \"0800\"", "octal"),
        ("socket_mode = \"1777\"", "octal"),
        ("socket_mode = \"\"", "octal"),
        (
            "socket_mode = \"0600\"\nsocket_group = \"failover\"",
            "no access",
        ),
        (
            "socket_mode = \"0640\"\nsocket_group = \"failover\"",
            "no access",
        ),
        ("socket_group = \" \"", "must not be empty"),
    ] {
        let (field, text) = field_error(&control(lines));
        assert!(field.starts_with("control.socket_"), "{lines}: {field}");
        assert!(text.contains(message), "{lines}: {text}");
    }
}

#[test]
fn a_metrics_address_beyond_loopback_is_refused_unless_allowed() {
    let control = |lines: &str| format!("{TWO_NODE_MASTER}\n[control]\n{lines}\n");
    for local in ["127.0.0.1:9694", "127.0.0.5:9694", "[::1]:9694"] {
        let c = Config::from_toml_str(&control(&format!("metrics = \"{local}\"")), "f.toml");
        assert_eq!(c.unwrap().control.metrics, Some(local.parse().unwrap()));
    }
    for remote in ["192.0.2.10:9694", "0.0.0.0:9694", "[::]:9694"] {
        let (field, text) = field_error(&control(&format!("metrics = \"{remote}\"")));
        assert_eq!(field, "control.metrics");
        assert!(
            text.contains(remote) && text.contains("metrics_allow_remote"),
            "{text}"
        );
        let allowed = control(&format!(
            "metrics = \"{remote}\"\nmetrics_allow_remote = true"
        ));
        let c = Config::from_toml_str(&allowed, "f.toml").unwrap();
        assert!(c.control.metrics_allow_remote);
    }
    let err = Config::from_toml_str(&control("metrics_remote = true"), "f.toml").unwrap_err();
    assert!(
        err.to_string().contains("metrics_remote"),
        "a misspelt setting is named: {err}"
    );
}

#[test]
fn a_quorum_node_names_its_peers_on_every_path() {
    let quorum = TWO_NODE_MASTER.replace(
        "interval = \"100ms\"",
        "interval = \"100ms\"\nmode = \"quorum\"\nvoters = [\"master\", \"backup\", \"witness\"]",
    );
    assert!(Config::from_toml_str(&quorum, "failover.toml").is_ok());
    // As the source document's backup names only the master's direct-link address.
    let learning = quorum.replace("peers = [\"192.0.2.11:1694\"]", "peers = []");
    let (field, message) = field_error(&learning);
    assert_eq!(field, "path[0].peers");
    assert!(message.contains("a witness answers only"), "{message}");
    // Classic mode learns them.
    let classic = TWO_NODE_MASTER.replace("peers = [\"192.0.2.11:1694\"]", "peers = []");
    assert!(Config::from_toml_str(&classic, "failover.toml").is_ok());
}
