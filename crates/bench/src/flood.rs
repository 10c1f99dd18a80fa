//! The stanza flood of issue 10: a value whose age header repeats a well-formed X25519
//! stanza thousands of times. Before the shape check age parsed it (quadratic in
//! stanzas) and tried every stanza with every key; now it is refused before age sees it.
//! Printed: the refusal of a 6,000-stanza value through `open_value`, beside what age
//! itself spends on the same header (once, on 1,000 and 2,000 stanzas: the quadratic
//! growth shows between the two; 6,000 would take many seconds).

use std::io::Read as _;
use std::time::Instant;

use age::x25519;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use seal_core::envelope::{open_value, seal_value};
use seal_core::{Binding, KeyRing, Recipients, Scope};

/// The ciphertext of `sealed` (base64) with its first stanza repeated `n` times.
fn flooded(sealed: &str, n: usize) -> anyhow::Result<Vec<u8>> {
    let bytes = STANDARD.decode(sealed)?;
    let at = |from: usize, needle: &[u8]| {
        bytes[from..]
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|p| p + from)
    };
    let first = at(0, b"\n-> X25519 ").ok_or_else(|| anyhow::anyhow!("no stanza"))? + 1;
    let line_end = at(first, b"\n").ok_or_else(|| anyhow::anyhow!("no stanza line"))? + 1;
    let body_end = at(line_end, b"\n").ok_or_else(|| anyhow::anyhow!("no stanza body"))? + 1;
    let mut out = bytes[..first].to_vec();
    for _ in 0..n {
        out.extend_from_slice(&bytes[first..body_end]);
    }
    out.extend_from_slice(&bytes[body_end..]);
    Ok(out)
}

/// What age alone spends on `bytes` with `ring` (parse, then try the keys).
fn age_alone(bytes: &[u8], ring: &x25519::Identity) -> f64 {
    let started = Instant::now();
    if let Ok(d) = age::Decryptor::new_buffered(bytes)
        && let Ok(mut r) = d.decrypt(std::iter::once(ring as &dyn age::Identity))
    {
        let mut sink = Vec::new();
        let _ = r.read_to_end(&mut sink);
    }
    started.elapsed().as_secs_f64() * 1e3
}

/// Prints the flood figures.
pub fn run() -> anyhow::Result<()> {
    let binding = Binding::new(Scope::Strict, "apps", "db", "password")?;
    let id = x25519::Identity::generate();
    let mut to = Recipients::new();
    to.insert(id.to_public());
    let mut ring = KeyRing::new();
    ring.insert(id.clone());
    let sealed = seal_value(&binding, b"0123456789abcdef", &to)?;
    let six_thousand = STANDARD.encode(flooded(&sealed, 6000)?);
    let started = Instant::now();
    let refused = open_value(&six_thousand, &binding, &ring, &[]);
    let refusal_ms = started.elapsed().as_secs_f64() * 1e3;
    println!("\n== stanza flood (issue 10) ==");
    println!(
        "  6,000 stanzas ({} KB base64): refused in {refusal_ms:.2} ms ({}; target well under 100 ms)",
        six_thousand.len() / 1000,
        refused
            .err()
            .map_or("opened?!".to_owned(), |e| e.to_string())
    );
    let one_k = age_alone(&flooded(&sealed, 1000)?, &id);
    let two_k = age_alone(&flooded(&sealed, 2000)?, &id);
    println!(
        "  what age alone spends on the header, 1 key: 1,000 stanzas {one_k:.0} ms, 2,000 stanzas {two_k:.0} ms ({:.1}x for 2x the stanzas); the refusal is {:.0}x faster than age on 1,000",
        two_k / one_k,
        one_k / refusal_ms
    );
    Ok(())
}
