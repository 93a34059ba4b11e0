//! `failoverd --check` and start-up refusals through the real binary: a bad configuration
//! never starts, and the message names the file and the field or line. Needs no root.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tempfile::TempDir;

const FAILOVERD: &str = env!("CARGO_BIN_EXE_failoverd");
const FAILOVERCTL: &str = env!("CARGO_BIN_EXE_failoverctl");

const GOOD: &str = r#"# two-node classic set-up, master side
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

const HOSTCONFIG: &str = "##\n# /etc/hostconfig\nHOSTNAME=-AUTOMATIC-\n\
    FAILOVER_BCAST_IPS=\"192.0.2.11 198.51.100.11\"\n\
    FAILOVER_PEER_IP_PAIRS=\"en0:192.0.2.100\"\n\
    FAILOVER_EMAIL_RECIPIENT=\"ops@example.com\"\n";

fn file(dir: &TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn failoverd(args: &[&str], file: &Path) -> Output {
    Command::new(FAILOVERD)
        .args(args)
        .arg(file)
        .output()
        .expect("run failoverd")
}

/// Runs `failoverd --check <flag> FILE` expecting failure; returns stderr.
fn refused(flag: &str, name: &str, text: &str) -> String {
    let dir = TempDir::new().unwrap();
    let path = file(&dir, name, text);
    let out = failoverd(&["--check", flag], &path);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{name} was accepted: {err}");
    assert!(err.contains(name), "the message names the file: {err}");
    err
}

#[test]
fn a_good_toml_file_and_a_good_hostconfig_pass_the_check() {
    let dir = TempDir::new().unwrap();
    let out = failoverd(&["--check", "--config"], &file(&dir, "good.toml", GOOD));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("valid") && said.contains("node master (priority 200)"),
        "{said}"
    );

    let out = failoverd(
        &["--check", "--hostconfig"],
        &file(&dir, "hostconfig", HOSTCONFIG),
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("2 path(s), 1 address(es)"), "{said}");
}

/// The source document's master: it names only where heartbeats go, and its own public
/// address is the one that fails over.
const MASTER_HOSTCONFIG: &str = "HOSTNAME=-AUTOMATIC-\n\
    FAILOVER_BCAST_IPS=\"192.0.2.11 198.51.100.11\"\n\
    FAILOVER_EMAIL_RECIPIENT=ops@example.com\n";

#[test]
fn the_public_address_named_on_the_command_line_is_the_one_that_fails_over() {
    let dir = TempDir::new().unwrap();
    let path = file(&dir, "hostconfig", MASTER_HOSTCONFIG);
    let path = path.to_str().unwrap();
    let out = Command::new(FAILOVERD)
        .args(["--check", "--hostconfig", path])
        .args(["--public-address", "eth7:192.0.2.10/25"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("1 address(es): 192.0.2.10/25 on eth7 (this host's own)"),
        "{said}"
    );

    // (The flag wins over a guess: a machine that has an address of its own on 192.0.2.0/24,
    // as some test machines do, still fails over the one named.)

    // No address of this machine is on the heartbeats' network (a documentation prefix no
    // host is given): without the flag nothing can be found, and the error says what to do.
    let nowhere = MASTER_HOSTCONFIG.replace("192.0.2.11", "2001:db8:0:9::11");
    let elsewhere = file(&dir, "hostconfig-v6", &nowhere);
    let out = Command::new(FAILOVERD)
        .args(["--check", "--hostconfig"])
        .arg(&elsewhere)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(err.contains("--public-address"), "{err}");

    for bad in ["192.0.2.10/24", "eth0:not-an-address", "eth0:192.0.2.10/33"] {
        let out = Command::new(FAILOVERD)
            .args(["--check", "--hostconfig", path, "--public-address", bad])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{bad} was accepted");
        assert!(
            err.contains("--public-address") && err.contains(bad),
            "the error names the flag and the value: {err}"
        );
    }
}

#[test]
fn toml_errors_name_the_line_or_the_field() {
    let err = refused(
        "--config",
        "syntax.toml",
        &GOOD.replace("priority = 200", "priority = "),
    );
    assert!(err.contains("line 4"), "{err}");

    let err = refused(
        "--config",
        "typo.toml",
        &GOOD.replace("interval =", "intervall ="),
    );
    assert!(err.contains("intervall") && err.contains("line 7"), "{err}");

    let err = refused("--config", "fast.toml", &GOOD.replace("100ms", "5ms"));
    assert!(err.contains("protocol.interval"), "{err}");

    let err = refused(
        "--config",
        "peer.toml",
        &GOOD.replace("\"192.0.2.11:1694\"", "\"192.0.2.11\""),
    );
    assert!(err.contains("line 12"), "a peer needs a port: {err}");

    let err = refused(
        "--config",
        "mail.toml",
        &GOOD.replace("ops@example.com", "ops at example"),
    );
    assert!(
        err.contains("notify.email_recipient") && err.contains("ops at example"),
        "{err}"
    );

    let server = GOOD.replace(
        "email_recipient = \"ops@example.com\"",
        "smtp_server = \"mail.example.com\"",
    );
    let err = refused("--config", "server.toml", &server);
    assert!(err.contains("notify.smtp_server"), "{err}");
}

#[test]
fn hostconfig_errors_name_the_line_and_the_key() {
    let err = refused(
        "--hostconfig",
        "hostconfig.ip",
        &HOSTCONFIG.replace("198.51.100.11", "198.51.100.x"),
    );
    assert!(
        err.contains("hostconfig.ip:4:") && err.contains("FAILOVER_BCAST_IPS"),
        "{err}"
    );

    let err = refused(
        "--hostconfig",
        "hostconfig.mail",
        &HOSTCONFIG.replace("ops@example.com", "not a mailbox"),
    );
    assert!(
        err.contains("hostconfig.mail:6:") && err.contains("FAILOVER_EMAIL_RECIPIENT"),
        "{err}"
    );

    let err = refused("--hostconfig", "hostconfig.empty", "HOSTNAME=store\n");
    assert!(err.contains("FAILOVER_BCAST_IPS"), "{err}");
}

#[test]
fn a_bad_configuration_refuses_to_start_not_only_to_check() {
    let dir = TempDir::new().unwrap();
    let path = file(
        &dir,
        "bad.toml",
        &GOOD.replace("priority = 200", "priority = 0"),
    );
    let out = failoverd(&["--config"], &path);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("bad.toml") && err.contains("node.priority"),
        "{err}"
    );

    let missing = dir.path().join("missing.toml");
    let out = failoverd(&["--config"], &missing);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("missing.toml"), "{err}");
}

#[test]
fn metrics_are_refused_on_an_address_other_hosts_can_reach() {
    let dir = TempDir::new().unwrap();
    let path = file(&dir, "good.toml", GOOD);
    let out = failoverd(
        &["--check", "--metrics", "192.0.2.10:9694", "--config"],
        &path,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("--metrics") && err.contains("loopback"),
        "{err}"
    );
    let out = failoverd(
        &["--check", "--metrics", "127.0.0.1:9694", "--config"],
        &path,
    );
    assert!(out.status.success());

    // The same address in the file: the daemon refuses to start, naming the file and field.
    let remote = format!("{GOOD}\n[control]\nmetrics = \"192.0.2.10:9694\"\n");
    let path = file(&dir, "remote.toml", &remote);
    let out = failoverd(&["--config"], &path);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("remote.toml")
            && err.contains("control.metrics")
            && err.contains("192.0.2.10:9694")
            && err.contains("metrics_allow_remote"),
        "{err}"
    );

    // Allowed on purpose: in the file, and for the flag.
    let allowed = format!("{remote}metrics_allow_remote = true\n");
    let path = file(&dir, "allowed.toml", &allowed);
    let out = failoverd(&["--check", "--config"], &path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = failoverd(&["--check", "--metrics", "0.0.0.0:9694", "--config"], &path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_status_socket_open_to_everyone_or_in_a_group_that_does_not_exist_is_refused() {
    let control = |lines: &str| format!("{GOOD}\n[control]\n{lines}\n");
    let err = refused("--config", "open.toml", &control("socket_mode = \"0666\""));
    assert!(
        err.contains("control.socket_mode") && err.contains("every local user"),
        "{err}"
    );
    let err = refused(
        "--config",
        "nogroup.toml",
        &control("socket_group = \"no-such-group-here\""),
    );
    assert!(
        err.contains("control.socket_group") && err.contains("no-such-group-here"),
        "{err}"
    );
    // A group of this host (every system has group 0) passes.
    let dir = TempDir::new().unwrap();
    let path = file(&dir, "group.toml", &control("socket_group = \"0\""));
    let out = failoverd(&["--check", "--config"], &path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_events_file_that_cannot_be_opened_refuses_the_start_naming_the_flag_and_the_path() {
    let dir = TempDir::new().unwrap();
    let path = file(&dir, "good.toml", GOOD);
    let state = dir.path().to_str().unwrap();
    let socket = dir.path().join("failoverd.sock");
    let out = failoverd(
        &[
            "--events",
            "/nonexistent-dir/x",
            "--state-dir",
            state,
            "--socket",
            socket.to_str().unwrap(),
            "--config",
        ],
        &path,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("--events /nonexistent-dir/x: No such file or directory"),
        "{err}"
    );
    assert!(!Path::new("/nonexistent-dir").exists());
}

#[test]
fn the_command_line_needs_one_configuration_and_explains_itself() {
    let out = Command::new(FAILOVERD).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--config") && err.contains("--hostconfig"),
        "{err}"
    );

    let out = Command::new(FAILOVERD).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--check",
        "--state-dir",
        "--socket",
        "--metrics",
        "--events",
        "CLOCK_MONOTONIC",
        "SIGTERM",
        "SIGHUP",
    ] {
        assert!(help.contains(flag), "--help mentions {flag}:\n{help}");
    }
}

#[test]
fn failoverctl_says_clearly_when_no_daemon_answers() {
    let dir = TempDir::new().unwrap();
    let socket = dir.path().join("none.sock");
    let out = Command::new(FAILOVERCTL)
        .args(["--socket"])
        .arg(&socket)
        .arg("status")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("none.sock") && err.contains("is it running"),
        "{err}"
    );
}

/// `real/dist/`, relative to this crate.
fn dist(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("dist")
        .join(path)
}

#[test]
fn every_shipped_example_configuration_is_valid() {
    let mut checked = 0;
    for (dir, flag) in [
        ("two-node", "--config"),
        ("three-node", "--config"),
        ("ipv6", "--config"),
        ("hostconfig", "--hostconfig"),
    ] {
        for entry in std::fs::read_dir(dist(dir)).unwrap() {
            let path = entry.unwrap().path();
            let out = failoverd(&["--check", flag], &path);
            assert!(
                out.status.success(),
                "{}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            checked += 1;
        }
    }
    assert_eq!(
        checked, 9,
        "2 two-node, 3 three-node, 2 ipv6, 2 hostconfig examples"
    );
}

#[test]
fn the_systemd_units_command_lines_are_ones_failoverd_accepts() {
    let unit = std::fs::read_to_string(dist("failoverd.service")).unwrap();
    let config = dist("two-node/master.toml");
    let mut commands = 0;
    for line in unit.lines() {
        let Some(command) = line
            .strip_prefix("ExecStartPre=")
            .or_else(|| line.strip_prefix("ExecStart="))
        else {
            continue;
        };
        let words: Vec<&str> = command.split_whitespace().collect();
        assert_eq!(words[0], "/usr/local/sbin/failoverd", "{line}");
        // Run its flags with --check, against the shipped example instead of /etc.
        let mut args: Vec<&str> = words[1..]
            .iter()
            .copied()
            .filter(|w| *w != "/etc/failover/failoverd.toml" && *w != "--check")
            .collect();
        args.insert(0, "--check");
        let out = failoverd(&args, &config);
        assert!(
            out.status.success(),
            "{line}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        commands += 1;
    }
    assert_eq!(commands, 2, "ExecStartPre and ExecStart");
    assert!(unit.contains("ExecReload=/bin/kill -HUP $MAINPID"));
    assert!(unit.contains("CAP_NET_ADMIN") && unit.contains("CAP_NET_RAW"));
}

/// A witness's configuration for `group`, listening on `local`.
fn witness(group: u16, local: &str) -> String {
    format!(
        "[node]\nname = \"witness\"\nwitness = true\n\
         [protocol]\nmode = \"quorum\"\ngroup = {group}\n\
         voters = [\"alpha\", \"beta\", \"witness\"]\n\
         [[path]]\nname = \"lan\"\nlocal = \"{local}\"\n\
         peers = [\"192.0.2.10:1694\", \"192.0.2.11:1694\"]\n"
    )
}

/// Runs `failoverd --check` with these arguments; returns (success, stdout, stderr).
fn check(args: &[&Path]) -> (bool, String, String) {
    let mut command = Command::new(FAILOVERD);
    command.arg("--check");
    for arg in args {
        command.arg("--config").arg(arg);
    }
    let out = command.output().expect("run failoverd");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn one_witness_process_takes_several_groups_from_files_or_a_directory() {
    let dir = TempDir::new().unwrap();
    let one = file(&dir, "w1.toml", &witness(1, "192.0.2.12:1694"));
    let two = file(&dir, "w2.toml", &witness(2, "192.0.2.12:1694"));
    let (ok, said, err) = check(&[&one, &two]);
    assert!(ok, "{said}{err}");
    assert!(
        said.contains("w1.toml: configuration is valid: node witness (priority 100), group 1")
            && said
                .contains("w2.toml: configuration is valid: node witness (priority 100), group 2"),
        "{said}"
    );

    let witnesses = dir.path().join("witness.d");
    std::fs::create_dir(&witnesses).unwrap();
    for (name, group) in [("b.toml", 2), ("a.toml", 1), ("c.toml", 3)] {
        std::fs::write(witnesses.join(name), witness(group, "[::]:1694")).unwrap();
    }
    std::fs::write(witnesses.join("README"), "not a configuration").unwrap();
    let (ok, said, err) = check(&[&witnesses]);
    assert!(ok, "{said}{err}");
    let lines: Vec<&str> = said.lines().collect();
    assert_eq!(lines.len(), 3, "every *.toml file, nothing else: {said}");
    for (line, (name, group)) in lines.iter().zip([("a", 1), ("b", 2), ("c", 3)]) {
        assert!(
            line.contains(&format!("witness.d/{name}.toml: configuration is valid"))
                && line.contains(&format!("group {group},")),
            "in name order: {said}"
        );
    }
}

#[test]
fn several_configurations_are_refused_unless_witnesses_of_distinct_groups_sharing_control() {
    let dir = TempDir::new().unwrap();
    let one = file(&dir, "w1.toml", &witness(1, "192.0.2.12:1694"));
    let master = file(&dir, "master.toml", GOOD);
    let (ok, _, err) = check(&[&one, &master]);
    assert!(!ok);
    assert!(
        err.contains("master.toml: node.witness: is not set"),
        "names the address node's file: {err}"
    );

    let again = file(&dir, "again.toml", &witness(1, "198.51.100.12:1694"));
    let (ok, _, err) = check(&[&one, &again]);
    assert!(!ok);
    assert!(
        err.contains("again.toml: protocol.group: group 1 is served by")
            && err.contains("w1.toml already"),
        "{err}"
    );

    let metrics = witness(2, "192.0.2.12:1694") + "[control]\nmetrics = \"127.0.0.1:9694\"\n";
    let other = file(&dir, "w2.toml", &metrics);
    let (ok, _, err) = check(&[&one, &other]);
    assert!(!ok);
    assert!(
        err.contains("w2.toml: control: differs from") && err.contains("w1.toml's"),
        "{err}"
    );

    let empty = dir.path().join("empty.d");
    std::fs::create_dir(&empty).unwrap();
    let (ok, _, err) = check(&[&empty]);
    assert!(!ok);
    assert!(
        err.contains("empty.d: no *.toml file in this directory"),
        "{err}"
    );
}
