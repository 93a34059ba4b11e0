//! `config_toml`: the daemon's configuration file, `Config::from_toml_str`.

use failover_core::{Config, ConfigError, Instant, Node};

/// Reads `data` (as UTF-8, invalid sequences replaced) as a configuration file: an error
/// names the file or the field; what is accepted starts a node, and written back as TOML
/// (`failoverd --print-config` shows a hostconfig so) reads the same.
pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match Config::from_toml_str(&text, "fuzz.toml") {
        Ok(config) => accepted(&config),
        Err(ConfigError::Parse { source_name, .. }) => assert_eq!(source_name, "fuzz.toml"),
        Err(ConfigError::Invalid { field, message }) => {
            assert!(!field.is_empty() && !message.is_empty());
        }
    }
}

/// What must hold of every configuration a reader accepts.
pub fn accepted(config: &Config) {
    let written = config.to_toml_string();
    let again = Config::from_toml_str(&written, "written")
        .unwrap_or_else(|e| panic!("a configuration written back does not read: {e}\n{written}"));
    assert_eq!(
        &again, config,
        "written back and read, it changed:\n{written}"
    );
    Node::new(config.clone(), 1, Instant::ZERO).expect("an accepted configuration starts a node");
}
