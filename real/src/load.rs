//! Reading the configuration a user wrote: native TOML or the source system's hostconfig.
//!
//! Both end in the same [`Config`]; on top of core's validation the daemon checks what only it
//! uses (mail addresses), so `failoverd --check` refuses everything the daemon would refuse.
//! Every error names the file and the line or field.

use failover_core::{hostconfig, Config, ConfigError};
use lettre::Address;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Where the configuration comes from; kept by the daemon to re-read it on SIGHUP.
#[derive(Clone, Debug)]
pub enum Source {
    /// `--config FILE`: the native TOML form.
    Toml(PathBuf),
    /// `--hostconfig FILE`: the source system's `/etc/hostconfig` keys.
    Hostconfig(PathBuf),
}

impl Source {
    /// The file's path.
    pub fn path(&self) -> &Path {
        match self {
            Source::Toml(path) | Source::Hostconfig(path) => path,
        }
    }
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
}

/// Reads and validates the configuration.
pub fn load(source: &Source) -> Result<Config, LoadError> {
    let path = source.path().display().to_string();
    let text = std::fs::read_to_string(source.path()).map_err(|e| LoadError::Read {
        path: path.clone(),
        source: e,
    })?;
    let config = match source {
        Source::Toml(_) => Config::from_toml_str(&text, &path).map_err(|error| match error {
            ConfigError::Parse { .. } => LoadError::Syntax(error),
            ConfigError::Invalid { .. } => LoadError::Invalid {
                path: path.clone(),
                error,
            },
        })?,
        Source::Hostconfig(_) => hostconfig::parse(&text, &path)?,
    };
    match (check_mail_addresses(&config), source) {
        (Ok(()), _) => Ok(config),
        (Err(error), Source::Toml(_)) => Err(LoadError::Invalid { path, error }),
        (Err(error), Source::Hostconfig(_)) => {
            // Only the recipient comes from a hostconfig file: name its key and line.
            let key = "FAILOVER_EMAIL_RECIPIENT";
            let line = text
                .lines()
                .enumerate()
                .filter(|(_, l)| l.trim_start().starts_with(key))
                .last()
                .map_or(0, |(i, _)| i + 1);
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
