//! Scenario suites live in `suite/` as TOML files; the tests in `tests/` run them through the
//! simulator. This library only locates the suite for those tests and for tools.

use std::path::PathBuf;

/// The directory of the built-in suite, the one `failover-sim run` runs by default.
pub fn suite_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("suite")
}
