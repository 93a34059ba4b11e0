//! Reading the configuration a user wrote: native TOML or the source system's hostconfig.
//!
//! Both end in the same [`Config`]; on top of core's validation the daemon checks what only it
//! uses (mail addresses, the hook scripts' ownership and modes, the status socket's group), so
//! `failoverd --check` refuses everything the daemon would refuse. Every error names the file
//! and the line or field.
//!
//! The file itself must be one root can trust ([`trust`]: owned by root or the daemon's user,
//! writable by no one else, nor are the directories above it), a regular file of at most
//! [`MAX_CONFIG_BYTES`], and UTF-8 text: anything else is refused with its name and what is
//! wrong, never read half-way or in a loop (a link to `/dev/zero` or a FIFO is not a file).

use crate::access;
use crate::hooks;
use crate::trust::{self, Kind, Untrusted};
use failover_core::hostconfig::{self, HostAddress, Machine};
use failover_core::{Config, ConfigError};
use lettre::Address;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The largest configuration file read: a real one is a few kilobytes.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Where the configuration comes from; kept by the daemon to re-read it on SIGHUP.
#[derive(Clone, Debug)]
pub enum Source {
    /// `--config FILE`: the native TOML form.
    Toml(PathBuf),
    /// `--hostconfig FILE`: the source system's `/etc/hostconfig` keys, and the master's
    /// public address if `--public-address` names it.
    Hostconfig(PathBuf, Option<HostAddress>),
}

impl Source {
    /// The file's path.
    pub fn path(&self) -> &Path {
        match self {
            Source::Toml(path) | Source::Hostconfig(path, _) => path,
        }
    }
}

/// What a hostconfig master needs to know of this machine: its interfaces' addresses
/// (`getifaddrs`), and the public address named on the command line.
fn this_machine(public: Option<HostAddress>) -> Machine {
    let addresses = nix::ifaddrs::getifaddrs()
        .map(|all| {
            all.filter_map(|a| {
                let (address, netmask) = (a.address?, a.netmask?);
                let (address, prefix) = if let (Some(ip), Some(mask)) =
                    (address.as_sockaddr_in(), netmask.as_sockaddr_in())
                {
                    (IpAddr::V4(ip.ip()), mask.ip().to_bits().count_ones())
                } else {
                    let (ip, mask) = (address.as_sockaddr_in6()?, netmask.as_sockaddr_in6()?);
                    (IpAddr::V6(ip.ip()), mask.ip().to_bits().count_ones())
                };
                Some(HostAddress {
                    interface: a.interface_name,
                    address,
                    prefix: u8::try_from(prefix).unwrap_or(0),
                })
            })
            .collect()
        })
        .unwrap_or_default();
    Machine { addresses, public }
}

/// A configuration that cannot be used. The message starts with the file name.
#[derive(Debug, Error)]
pub enum LoadError {
    /// The file cannot be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file, or a hook script it leads to, is not one root can trust.
    #[error(transparent)]
    Untrusted(#[from] Untrusted),
    /// The file is larger than any configuration.
    #[error(
        "{path}: {size} bytes or more; a configuration is at most {MAX_CONFIG_BYTES} bytes \
         (is this the right file?)"
    )]
    TooLarge {
        /// The file.
        path: String,
        /// How much was read before giving up.
        size: u64,
    },
    /// The file is not UTF-8 text.
    #[error("{path}: line {line}, column {column}: not UTF-8 text (byte 0x{byte:02x})")]
    NotUtf8 {
        /// The file.
        path: String,
        /// Line of the first byte that is not UTF-8 (from 1).
        line: usize,
        /// Its column, in bytes (from 1).
        column: usize,
        /// The byte.
        byte: u8,
    },
    /// TOML syntax or schema error; core's message has the file, line and column.
    #[error("{0}")]
    Syntax(ConfigError),
    /// A field with a value that cannot work.
    #[error("{path}: {error}")]
    Invalid {
        /// The file.
        path: String,
        /// Core's error, naming the field.
        error: ConfigError,
    },
    /// A hostconfig error; its message has the file and line.
    #[error("{0}")]
    Hostconfig(#[from] hostconfig::HostconfigError),
    /// A directory given to `--config` that holds no configuration.
    #[error("{path}: no *.toml file in this directory")]
    EmptyDirectory {
        /// The directory.
        path: String,
    },
    /// Configurations that cannot run in one process (see [`check_together`]).
    #[error("{path}: {field}: {message}")]
    Together {
        /// The file at fault.
        path: String,
        /// Its field.
        field: &'static str,
        /// Why, naming the other file concerned.
        message: String,
    },
}

/// The configurations `--config` names, in order: a file as itself, a directory as its
/// `*.toml` files in name order (the directory must be one root can trust, as the files
/// must; anything else in it is ignored).
pub fn sources(paths: &[PathBuf]) -> Result<Vec<Source>, LoadError> {
    let mut sources = Vec::new();
    for path in paths {
        if !path.is_dir() {
            sources.push(Source::Toml(path.clone()));
            continue;
        }
        let read = |source| LoadError::Read {
            path: path.display().to_string(),
            source,
        };
        let real = trust::check(path, Kind::Directory)?;
        let mut files = Vec::new();
        for entry in std::fs::read_dir(real).map_err(read)? {
            let name = entry.map_err(read)?.file_name();
            if Path::new(&name).extension().is_some_and(|e| e == "toml") {
                files.push(path.join(name));
            }
        }
        if files.is_empty() {
            return Err(LoadError::EmptyDirectory {
                path: path.display().to_string(),
            });
        }
        files.sort();
        sources.extend(files.into_iter().map(Source::Toml));
    }
    Ok(sources)
}

/// Reads and validates every configuration, then checks that they can run in one process.
pub fn load_all(sources: &[Source]) -> Result<Vec<Config>, LoadError> {
    let configs = sources.iter().map(load).collect::<Result<Vec<_>, _>>()?;
    check_together(sources, &configs)?;
    Ok(configs)
}

/// Whether `configs` (read from `sources`, in the same order) can be served by one process.
/// One configuration always can. Several can only be witnesses' — nodes that vote and hold
/// nothing, so that no two groups ever ask for hooks or addresses in one process — each of
/// its own group (a datagram goes to the node of the group its header names), all with the
/// same `[control]` (one process has one status socket and one metrics endpoint). The error
/// names the file at fault and the other file concerned.
pub fn check_together(sources: &[Source], configs: &[Config]) -> Result<(), LoadError> {
    if configs.len() < 2 {
        return Ok(());
    }
    let name = |i: usize| sources[i].path().display().to_string();
    for (i, config) in configs.iter().enumerate() {
        let refuse = |field, message| {
            Err(LoadError::Together {
                path: name(i),
                field,
                message,
            })
        };
        if !config.node.witness {
            return refuse(
                "node.witness",
                format!(
                    "is not set, and one failoverd serves several configurations only if all \
                     are witnesses' ({} configurations were given); run one failoverd per \
                     group for address nodes",
                    configs.len()
                ),
            );
        }
        let group = config.protocol.group;
        if let Some(j) = (0..i).find(|&j| configs[j].protocol.group == group) {
            return refuse(
                "protocol.group",
                format!(
                    "group {group} is served by {} already; each configuration of one \
                     failoverd must be of its own group (a datagram goes to the node of the \
                     group its header names)",
                    name(j)
                ),
            );
        }
        if config.control != configs[0].control {
            return refuse(
                "control",
                format!(
                    "differs from {}'s; one failoverd has one status socket and one metrics \
                     endpoint, so every configuration it serves must say the same",
                    name(0)
                ),
            );
        }
    }
    Ok(())
}

/// Reads and validates the configuration.
pub fn load(source: &Source) -> Result<Config, LoadError> {
    let path = source.path().display().to_string();
    let text = read_text(source.path())?;
    let config = match source {
        Source::Toml(_) => Config::from_toml_str(&text, &path).map_err(|error| match error {
            ConfigError::Parse { .. } => LoadError::Syntax(error),
            ConfigError::Invalid { .. } => LoadError::Invalid {
                path: path.clone(),
                error,
            },
        })?,
        Source::Hostconfig(_, public) => {
            hostconfig::parse(&text, &path, &this_machine(public.clone()))?
        }
    };
    match (check_mail_addresses(&config), source) {
        (Ok(()), _) => {
            hooks::check_trusted(&config)?;
            access::socket_group(&config).map_err(|error| LoadError::Invalid { path, error })?;
            Ok(config)
        }
        (Err(error), Source::Toml(_)) => Err(LoadError::Invalid { path, error }),
        (Err(error), Source::Hostconfig(..)) => {
            // Only the recipient comes from a hostconfig file: name its key and line.
            let key = "FAILOVER_EMAIL_RECIPIENT";
            let line = text
                .lines()
                .enumerate()
                .filter(|(_, l)| l.trim_start().starts_with(key))
                .last()
                .map(|(i, _)| i + 1);
            let message = match error {
                ConfigError::Invalid { message, .. } => format!("{key}: {message}"),
                other => other.to_string(),
            };
            Err(LoadError::Hostconfig(hostconfig::HostconfigError {
                source_name: path,
                line,
                message,
            }))
        }
    }
}

/// The file's text, if it is a trusted regular file of UTF-8 text within the size limit.
fn read_text(file: &Path) -> Result<String, LoadError> {
    let path = file.display().to_string();
    let read = |source| LoadError::Read {
        path: path.clone(),
        source,
    };
    // A missing or unreadable file is said as such, before its modes are judged.
    std::fs::metadata(file).map_err(read)?;
    let real = trust::check(file, Kind::File)?;
    let mut bytes = Vec::new();
    std::fs::File::open(real)
        .and_then(|f| f.take(MAX_CONFIG_BYTES + 1).read_to_end(&mut bytes))
        .map_err(read)?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(LoadError::TooLarge {
            path,
            size: bytes.len() as u64,
        });
    }
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let at = e.utf8_error().valid_up_to();
        let line_start = bytes[..at]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        LoadError::NotUtf8 {
            path,
            line: bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1,
            column: at - line_start + 1,
            byte: bytes[at],
        }
    })
}

/// Mail addresses must parse before the first failover, not when the mail is due.
fn check_mail_addresses(config: &Config) -> Result<(), ConfigError> {
    let fields = [
        ("notify.email_recipient", &config.notify.email_recipient),
        ("notify.from", &config.notify.from),
    ];
    for (field, value) in fields {
        if let Err(e) = value.parse::<Address>() {
            return Err(ConfigError::Invalid {
                field: field.to_string(),
                message: format!("`{value}` is not a mail address ({e})"),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A witness of `group` listening on `local`, with `extra` appended.
    fn witness(group: u16, local: &str, extra: &str) -> String {
        format!(
            "[node]\nname = \"witness\"\nwitness = true\n\
             [protocol]\nmode = \"quorum\"\ngroup = {group}\n\
             voters = [\"alpha\", \"beta\", \"witness\"]\n\
             [[path]]\nname = \"lan\"\nlocal = \"{local}\"\n\
             peers = [\"192.0.2.10:1694\", \"192.0.2.11:1694\"]\n{extra}"
        )
    }

    const ADDRESS_NODE: &str = "[node]\nname = \"alpha\"\n\
        [protocol]\nmode = \"quorum\"\nvoters = [\"alpha\", \"beta\", \"witness\"]\n\
        [[path]]\nname = \"lan\"\nlocal = \"192.0.2.10:1694\"\npeers = [\"192.0.2.12:1694\"]\n\
        [[vip]]\naddress = \"192.0.2.100\"\ninterface = \"eth0\"\n";

    /// Checks the texts together as files named `w0.toml`, `w1.toml` ...
    fn together(texts: &[String]) -> Result<(), String> {
        let sources: Vec<Source> = (0..texts.len())
            .map(|i| Source::Toml(format!("w{i}.toml").into()))
            .collect();
        let configs: Vec<Config> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| Config::from_toml_str(t, &format!("w{i}.toml")).unwrap())
            .collect();
        check_together(&sources, &configs).map_err(|e| e.to_string())
    }

    #[test]
    fn witnesses_of_different_groups_go_together_on_one_address_or_several() {
        let one = witness(1, "192.0.2.12:1694", "");
        let two = witness(2, "192.0.2.12:1694", "");
        let three = witness(3, "198.51.100.12:1694", "");
        assert_eq!(together(&[one, two, three]), Ok(()));
    }

    #[test]
    fn one_configuration_of_any_kind_goes_alone() {
        assert_eq!(together(&[ADDRESS_NODE.to_string()]), Ok(()));
    }

    #[test]
    fn an_address_node_beside_a_witness_is_refused_naming_its_file() {
        let err = together(&[witness(1, "192.0.2.12:1694", ""), ADDRESS_NODE.into()]).unwrap_err();
        assert!(
            err.starts_with("w1.toml: node.witness: is not set"),
            "{err}"
        );
        assert!(err.contains("witnesses'"), "{err}");
    }

    #[test]
    fn two_configurations_of_one_group_are_refused_naming_both_files() {
        let err = together(&[
            witness(1, "192.0.2.12:1694", ""),
            witness(2, "192.0.2.12:1694", ""),
            witness(1, "198.51.100.12:1694", ""),
        ])
        .unwrap_err();
        assert!(
            err.starts_with("w2.toml: protocol.group: group 1 is served by w0.toml already"),
            "{err}"
        );
    }

    #[test]
    fn configurations_that_disagree_on_the_status_socket_or_metrics_are_refused() {
        let metrics = "[control]\nmetrics = \"127.0.0.1:9694\"\n";
        let err = together(&[
            witness(1, "192.0.2.12:1694", metrics),
            witness(2, "192.0.2.12:1694", ""),
        ])
        .unwrap_err();
        assert!(
            err.starts_with("w1.toml: control: differs from w0.toml's"),
            "{err}"
        );
        assert_eq!(
            together(&[
                witness(1, "192.0.2.12:1694", metrics),
                witness(2, "192.0.2.12:1694", metrics),
            ]),
            Ok(())
        );
    }
}
