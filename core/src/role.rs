//! The role a node plays for its group of virtual addresses.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A node's role, carried in every message so peers can order hand-overs.
///
/// `Acquiring` and `Releasing` exist so that a hand-over is visible on the wire while hooks run:
/// a node never starts acquiring while any live peer is `Acquiring`, `Master` or `Releasing`,
/// which is what keeps two nodes from holding an address at once on a healthy network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Holds nothing and claims nothing; watches the peers.
    Backup,
    /// Decided to take over; running `Test`/`PreAcq` hooks and acquiring.
    Acquiring,
    /// Owns the group (holds every address its `Test` hook allowed).
    Master,
    /// Giving the group up; running `PreRel`/`PostRel` hooks and releasing.
    Releasing,
    /// Said goodbye on a planned shutdown; sends nothing more.
    Stopped,
}

impl Role {
    /// Whether a peer in this role owns, or is about to own or still owns, the addresses.
    pub fn claims_ownership(self) -> bool {
        matches!(self, Role::Acquiring | Role::Master | Role::Releasing)
    }

    /// The role's wire code (see `wire`).
    pub fn code(self) -> u8 {
        match self {
            Role::Backup => 0,
            Role::Acquiring => 1,
            Role::Master => 2,
            Role::Releasing => 3,
            Role::Stopped => 4,
        }
    }

    /// The role for a wire code, if it is one.
    pub fn from_code(code: u8) -> Option<Role> {
        Some(match code {
            0 => Role::Backup,
            1 => Role::Acquiring,
            2 => Role::Master,
            3 => Role::Releasing,
            4 => Role::Stopped,
            _ => return None,
        })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Backup => "backup",
            Role::Acquiring => "acquiring",
            Role::Master => "master",
            Role::Releasing => "releasing",
            Role::Stopped => "stopped",
        })
    }
}
