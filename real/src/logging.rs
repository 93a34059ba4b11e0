//! Log output: plain text on stderr, colours only on a terminal, and no timestamps of our own
//! under systemd (journald stamps every line, and `JOURNAL_STREAM` says it is listening).

use std::io::IsTerminal;
use tracing_subscriber::filter::LevelFilter;

/// Installs the global subscriber at `level`.
pub fn init(level: LevelFilter) {
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .with_max_level(level);
    if std::env::var_os("JOURNAL_STREAM").is_some() {
        builder.without_time().init();
    } else {
        builder.init();
    }
}
