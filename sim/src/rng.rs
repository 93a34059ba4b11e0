//! Every purpose gets a random stream of its own, derived from the run's seed: adding a node
//! or a link never shifts the numbers another one sees.

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The generator for `stream` under `seed` (splitmix64 of the two, then ChaCha8).
pub fn fork(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut z = seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    ChaCha8Rng::seed_from_u64(z ^ (z >> 31))
}
