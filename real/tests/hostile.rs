//! Hostile configuration and hook directories, through the real binary: links to unexpected
//! places, scripts others may write or own, huge files, devices and FIFOs, bytes that are not
//! UTF-8. Each is refused with a message naming the file and what is wrong — never a panic,
//! never a hang — and a daemon that refuses has touched no address. The tests that need root
//! (another owner, an address on an interface) skip without it (or fail under
//! `FAILOVER_REQUIRE_NETNS=1`); the others need none.

use failover_real::status::{query, Report};
use failover_testbed::{
    root_or_skip, wait_until, Bed, Daemon, Netns, Smtp, BACKUP, MAIL_SERVER, MASTER,
};
use nix::sys::signal::Signal;
use std::ffi::OsString;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;
use tempfile::TempDir;

const FAILOVERD: &str = env!("CARGO_BIN_EXE_failoverd");
const DEADLINE: Duration = Duration::from_secs(15);

/// A good configuration whose hooks live under `hooks`.
fn config(hooks: &Path) -> String {
    format!(
        "[node]\nname = \"master\"\n[[path]]\nname = \"lan\"\nlocal = \"192.0.2.10:1694\"\n\
         peers = [\"192.0.2.11:1694\"]\n[[vip]]\naddress = \"192.0.2.100\"\ninterface = \"eth0\"\n\
         [hooks]\ndir = \"{}\"\n",
        hooks.display()
    )
}

/// A private directory (0755) with a good configuration and an empty hook directory for the
/// address, as `(dir, config file, the address's hook directory)`.
fn setup() -> (TempDir, PathBuf, PathBuf) {
    let dir = TempDir::new().unwrap();
    chmod(dir.path(), 0o755);
    let hooks = dir.path().join("hooks");
    let address = hooks.join("192.0.2.100");
    std::fs::create_dir_all(&address).unwrap();
    let file = dir.path().join("failoverd.toml");
    std::fs::write(&file, config(&hooks)).unwrap();
    (dir, file, address)
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn script(dir: &Path, name: &str, mode: u32) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, "#!/bin/sh\nexit 0\n").unwrap();
    chmod(&path, mode);
    path
}

fn check(flag: &str, file: &Path) -> Output {
    Command::new(FAILOVERD)
        .args(["--check", flag])
        .arg(file)
        .output()
        .expect("run failoverd")
}

/// `failoverd --check --config FILE` refuses; its message, which must name `named`.
fn refused(file: &Path, named: &Path) -> String {
    let out = check("--config", file);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{}: {err}", file.display());
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains(&named.display().to_string()),
        "names {}: {err}",
        named.display()
    );
    err
}

#[test]
fn a_hook_script_others_may_write_is_refused_naming_it_and_why() {
    let (_dir, file, hooks) = setup();
    let ok = script(&hooks, "PreAcq-1", 0o755);
    assert!(check("--config", &file).status.success());
    for (mode, writers) in [(0o777, "its group and everyone"), (0o775, "its group")] {
        chmod(&ok, mode);
        let err = refused(&file, &ok);
        assert!(err.contains(&format!("writable by {writers}")), "{err}");
        assert!(err.contains("Strict modes"), "{err}");
    }
    // Not executable, it never runs: it is skipped, not refused.
    chmod(&ok, 0o666);
    assert!(check("--config", &file).status.success());
}

#[test]
fn a_hook_directory_others_may_write_is_refused_unless_sticky() {
    let (_dir, file, hooks) = setup();
    script(&hooks, "Test", 0o755);
    chmod(&hooks, 0o777);
    let err = refused(&file, &hooks);
    assert!(
        err.contains("is writable by its group and everyone (mode 0777)"),
        "{err}"
    );
    chmod(&hooks, 0o1777);
    assert!(check("--config", &file).status.success());
}

#[test]
fn links_are_judged_by_where_they_lead_and_where_they_live() {
    let (dir, file, hooks) = setup();
    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    chmod(&open, 0o777);
    // A hook that leads into a directory anyone may write.
    let evil = script(&open, "evil", 0o755);
    let hook = hooks.join("PostAcq");
    symlink(&evil, &hook).unwrap();
    let err = refused(&file, &hook);
    assert!(
        err.contains(&format!("the link leads to {}", evil.display())),
        "{err}"
    );
    std::fs::remove_file(&hook).unwrap();
    // The documented notification-only Test: a link to /bin/false, accepted.
    symlink("/bin/false", hooks.join("Test")).unwrap();
    assert!(check("--config", &file).status.success());
    // A configuration reached through a link that lives where anyone may write.
    let link = open.join("failoverd.toml");
    symlink(&file, &link).unwrap();
    let err = refused(&link, &link);
    assert!(
        err.contains(&format!("{} is writable by", open.display())),
        "{err}"
    );
    // A whole hook directory that is a link into such a place.
    let moved = open.join("hooks");
    std::fs::rename(dir.path().join("hooks"), &moved).unwrap();
    symlink(&moved, dir.path().join("hooks")).unwrap();
    refused(&file, &hooks);
}

#[test]
fn a_configuration_others_may_write_is_refused() {
    let (_dir, file, _) = setup();
    chmod(&file, 0o666);
    let err = refused(&file, &file);
    assert!(
        err.contains("writable by its group and everyone (mode 0666)"),
        "{err}"
    );
}

#[test]
fn a_huge_file_a_device_and_a_fifo_are_refused_without_reading_them_whole() {
    let (dir, file, _) = setup();
    // 64 MiB of comment lines: refused at the cap, not read whole.
    let mut text = std::fs::read_to_string(&file).unwrap();
    let line = format!("# {}\n", "x".repeat(1021));
    text.push_str(&line.repeat(64 * 1024));
    std::fs::write(&file, text).unwrap();
    let err = refused(&file, &file);
    assert!(
        err.contains("a configuration is at most 1048576 bytes"),
        "{err}"
    );
    let zero = dir.path().join("zero.toml");
    symlink("/dev/zero", &zero).unwrap();
    let err = refused(&zero, &zero);
    assert!(
        err.contains("is not a regular file (the link leads to /dev/zero)"),
        "{err}"
    );
    let fifo = dir.path().join("fifo.toml");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let err = refused(&fifo, &fifo);
    assert!(err.contains("is not a regular file"), "{err}");
}

#[test]
fn bytes_that_are_not_utf8_are_named_by_line_and_column() {
    let (dir, file, _) = setup();
    let mut bytes = b"[node]\nname = \"master\"\n# caf".to_vec();
    bytes.extend_from_slice(&[0xe9, b'\n']); // Latin-1 "é"
    std::fs::write(&file, &bytes).unwrap();
    let err = refused(&file, &file);
    assert!(
        err.contains("line 3, column 6: not UTF-8 text (byte 0xe9)"),
        "{err}"
    );
    let hostconfig = dir.path().join("hostconfig");
    std::fs::write(&hostconfig, b"FAILOVER_PEER_IP=192.0.2.10\n\xff\xfe\n").unwrap();
    let out = check("--hostconfig", &hostconfig);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "{}: line 2, column 1: not UTF-8 text (byte 0xff)",
            hostconfig.display()
        )),
        "{err}"
    );
}

#[test]
fn a_hook_owned_by_another_user_is_refused() {
    if !root_or_skip() {
        return;
    }
    let (_dir, file, hooks) = setup();
    let hook = script(&hooks, "PreRel", 0o755);
    std::os::unix::fs::chown(&hook, Some(65534), None).unwrap();
    let err = refused(&file, &hook);
    assert!(
        err.contains("is owned by uid 65534, neither root nor this daemon's user"),
        "{err}"
    );
}

#[test]
fn a_daemon_refusing_its_hooks_exits_before_touching_any_address() {
    if !root_or_skip() {
        return;
    }
    let ns = Netns::new("hx");
    ns.ip("link add va type veth peer name va-peer");
    ns.ip("link set va up");
    // A leftover address a normal start would remove.
    ns.ip("addr add 192.0.2.100/24 dev va");
    let (dir, file, hooks) = setup();
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("eth0", "va")).unwrap();
    script(&hooks, "PreAcq", 0o777);
    let args = [OsString::from("--config"), file.clone().into_os_string()];
    let mut daemon = Daemon::start(Path::new(FAILOVERD), &ns, dir.path(), "master", &args);
    let status = daemon.process().wait_exit(DEADLINE);
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(1),
        "{status:?}\n{}",
        daemon.log()
    );
    assert!(
        daemon.log().contains("writable by its group and everyone"),
        "{}",
        daemon.log()
    );
    assert!(
        ns.has_address("va", "192.0.2.100"),
        "the leftover was not touched"
    );
    assert!(!daemon.state_dir.exists(), "nothing was written");
}

#[test]
fn a_hook_made_writable_after_the_start_is_not_run_and_the_takeover_goes_on() {
    if !root_or_skip() {
        return;
    }
    let bed = Bed::new();
    let hooks = bed.hook_dir(BACKUP);
    let ran = bed.dir().join("ran");
    let hook = hooks.join("PreAcq");
    std::fs::write(&hook, format!("#!/bin/sh\ntouch {}\n", ran.display())).unwrap();
    chmod(&hook, 0o755);
    let smtp = Smtp::start(&bed.client, MAIL_SERVER, bed.dir());
    let config = |host| bed.config(host, Duration::from_millis(100), Duration::from_secs(2));
    let mut master = bed.start(Path::new(FAILOVERD), MASTER, &config(MASTER));
    let backup = bed.start(Path::new(FAILOVERD), BACKUP, &config(BACKUP));
    wait_until(DEADLINE, "the master to hold the address", || {
        bed.holds(MASTER)
    });
    // After the start, someone makes the script writable by all: it must not run.
    chmod(&hook, 0o777);
    master.signal(Signal::SIGKILL);
    bed.set_lan(MASTER, false);
    bed.set_direct(false);
    wait_until(DEADLINE, "the backup to hold the address", || {
        bed.holds(BACKUP)
    });
    let mail = smtp.wait_for(DEADLINE, "backup: hook PreAcq failed (could not run)");
    assert!(mail.body.contains("went on"), "{}", mail.body);
    assert!(!ran.exists(), "the script did not run");
    let log = backup.log();
    assert!(
        log.contains(&format!("hook not run: {}", hook.display())),
        "{log}"
    );
    let report: Report = serde_json::from_str(&query(&backup.socket).unwrap()).unwrap();
    assert_eq!(report.vips[0].holder.as_deref(), Some(BACKUP.name));
}
