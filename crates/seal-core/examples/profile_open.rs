//! Opens one sealed value N times, for a profiler: `perf record` or
//! `valgrind --tool=callgrind` on
//! `target/release/examples/profile_open 100000 [open|age|dh]` (`age`: through the
//! `age` crate's reader; `dh`: the bare X25519 Diffie-Hellman). The rates, measured in
//! turns, are `scripts/bench crypto`'s.

use age::x25519;
use seal_core::envelope::{open_value, open_value_with_age, seal_value};
use seal_core::{Binding, KeyRing, Recipients, Scope};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(Ok(1000), |a| a.parse())?;
    let mode = args.next().unwrap_or_default();
    let binding = Binding::new(Scope::Strict, "apps", "db", "password")?;
    let id = x25519::Identity::generate();
    let mut one = Recipients::new();
    one.insert(id.to_public());
    let mut ring = KeyRing::new();
    ring.insert(id);
    let hint = one.to_strings();
    let sealed = seal_value(&binding, &[7u8; 16], &one)?;
    let scalar = [9u8; 32];
    for _ in 0..n {
        match mode.as_str() {
            "dh" => {
                std::hint::black_box(x25519_dalek::x25519(
                    std::hint::black_box(scalar),
                    x25519_dalek::X25519_BASEPOINT_BYTES,
                ));
            }
            "age" => {
                std::hint::black_box(open_value_with_age(&sealed, &binding, &ring, &hint).ok());
            }
            _ => {
                std::hint::black_box(open_value(&sealed, &binding, &ring, &hint).ok());
            }
        }
    }
    Ok(())
}
