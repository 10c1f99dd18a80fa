//! Sealing and opening one value, against the floor (one X25519 Diffie-Hellman, with
//! x25519-dalek and with `openssl speed ecdhx25519`) and against what sealed-secrets pays
//! (one RSA-4096 private-key operation, `openssl speed rsa4096`).

use std::process::Command;
use std::time::{Duration, Instant};

use age::x25519;
use seal_core::envelope::{open_value, seal_value};
use seal_core::{Binding, KeyRing, Recipients, Scope};

/// Operations per second of `f` on one core, over at least `at_least`.
pub fn per_second(at_least: Duration, mut f: impl FnMut()) -> f64 {
    for _ in 0..16 {
        f();
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < at_least {
        for _ in 0..16 {
            f();
        }
        n += 16;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// Operations per second of each of `fs`, measured in turns of `slice` for `rounds`
/// rounds: on a machine whose load changes from second to second, each gets its share of
/// every moment, so their ratios hold even when the absolute rates do not.
pub fn interleaved(rounds: usize, slice: Duration, fs: &mut [&mut dyn FnMut()]) -> Vec<f64> {
    let mut counts = vec![0u64; fs.len()];
    let mut times = vec![Duration::ZERO; fs.len()];
    for f in fs.iter_mut() {
        for _ in 0..16 {
            f();
        }
    }
    for _ in 0..rounds {
        for (i, f) in fs.iter_mut().enumerate() {
            let start = Instant::now();
            while start.elapsed() < slice {
                for _ in 0..8 {
                    f();
                }
                counts[i] += 8;
            }
            times[i] += start.elapsed();
        }
    }
    counts
        .iter()
        .zip(&times)
        .map(|(n, t)| *n as f64 / t.as_secs_f64())
        .collect()
}

/// `openssl speed -mr ALG` operations per second (the first figure of its `+F` line).
fn openssl(alg: &str) -> Option<f64> {
    let out = Command::new("openssl")
        .args(["speed", "-seconds", "2", "-mr", alg])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("+F"))?;
    line.split(':').nth(3)?.parse().ok()
}

fn ratio(x: f64, reference: Option<f64>) -> String {
    reference.map_or("n/a (openssl missing)".to_owned(), |r| {
        format!("{:.2}x", x / r)
    })
}

/// Prints the crypto figures.
pub fn run() -> anyhow::Result<()> {
    let window = Duration::from_secs(2);
    let binding = Binding::new(Scope::Strict, "apps", "db", "password")?;
    let value = [7u8; 16];
    let ids: Vec<x25519::Identity> = (0..24).map(|_| x25519::Identity::generate()).collect();
    let mut one = Recipients::new();
    one.insert(ids[0].to_public());
    let mut ring1 = KeyRing::new();
    ring1.insert(ids[0].clone());
    let mut ring24 = KeyRing::new();
    for id in ids.iter().rev() {
        ring24.insert(id.clone());
    }
    let hint = one.to_strings();
    let sealed = seal_value(&binding, &value, &one)?;

    let scalar = [9u8; 32];
    let point = x25519_dalek::X25519_BASEPOINT_BYTES;
    // age's X25519 identity derives its own public key (a fixed-base multiplication) on
    // every stanza it unwraps, for the HKDF salt; ours computes it once.
    let secret = x25519_dalek::StaticSecret::from(scalar);
    let derive_public = per_second(window, || {
        std::hint::black_box(x25519_dalek::PublicKey::from(std::hint::black_box(&secret)));
    });
    let openssl_x25519 = openssl("ecdhx25519");
    let rsa = openssl("rsa4096");
    // The same age file opened with the age crate's X25519 identity and with ours (the
    // public key computed once): everything but the stanza unwrap is the same.
    let raw = age::encrypt(&ids[0].to_public(), &value)?;
    let ours = seal_core::x25519::Identity::from_age(&ids[0]);
    // The DH floor and the opens measured in turns, 40 rounds of 100 ms each.
    let rates = interleaved(
        40,
        Duration::from_millis(100),
        &mut [
            &mut || {
                std::hint::black_box(x25519_dalek::x25519(std::hint::black_box(scalar), point));
            },
            &mut || {
                std::hint::black_box(open_value(&sealed, &binding, &ring1, &hint).ok());
            },
            &mut || {
                std::hint::black_box(age::decrypt(&ids[0], std::hint::black_box(&raw)).ok());
            },
            &mut || {
                std::hint::black_box(age::decrypt(&ours, std::hint::black_box(&raw)).ok());
            },
        ],
    );
    let (dalek, open1, raw_age, raw_ours) = (rates[0], rates[1], rates[2], rates[3]);
    let open24 = per_second(window, || {
        std::hint::black_box(open_value(&sealed, &binding, &ring24, &hint).ok());
    });
    let open24_nohint = per_second(window, || {
        std::hint::black_box(open_value(&sealed, &binding, &ring24, &[]).ok());
    });
    let seal1 = per_second(window, || {
        std::hint::black_box(seal_value(&binding, &value, &one).ok());
    });
    let mut seal_n = Vec::new();
    for n in [2usize, 4, 8] {
        let mut to = Recipients::new();
        for id in &ids[..n] {
            to.insert(id.to_public());
        }
        seal_n.push((
            n,
            per_second(window, || {
                std::hint::black_box(seal_value(&binding, &value, &to).ok());
            }),
        ));
    }
    println!("\n== one value (16 bytes, strict scope, 1 core) ==");
    println!(
        "  (x25519-dalek, open and the two bare age opens measured in turns: 40 x 100 ms each)"
    );
    println!("  X25519 DH (floor), x25519-dalek:   {dalek:>10.0} /s");
    match openssl_x25519 {
        Some(v) => println!("  X25519 DH (floor), openssl speed:  {v:>10.0} /s"),
        None => println!("  X25519 DH (floor), openssl speed:  n/a"),
    }
    match rsa {
        Some(v) => println!("  RSA-4096 private op (sealed-secrets): {v:>7.0} /s"),
        None => println!("  RSA-4096 private op: n/a"),
    }
    println!(
        "  open, 1 key held:   {open1:>10.0} /s  = {} RSA-4096 (target >= 100x), {:.2}x x25519-dalek (target >= 0.9x), {} openssl X25519",
        ratio(open1, rsa),
        open1 / dalek,
        ratio(open1, openssl_x25519)
    );
    let micros = |rate: f64| 1e6 / rate;
    println!(
        "    where an open's {:.1} us go: X25519 DH {:.1} us, the rest (base64, header, HKDF, HMAC, ChaCha20-Poly1305, binding) {:.1} us; a public-key derivation, which age's own identity adds per stanza, costs {:.1} us",
        micros(open1),
        micros(dalek),
        micros(open1) - micros(dalek),
        micros(derive_public)
    );
    println!(
        "  a bare age file (16 bytes), age crate's X25519 identity: {raw_age:>8.0} /s = {:.2}x x25519-dalek",
        raw_age / dalek
    );
    println!(
        "  the same, our X25519 identity (public key once):         {raw_ours:>8.0} /s = {:.2}x x25519-dalek, {:.2}x the age crate's",
        raw_ours / dalek,
        raw_ours / raw_age
    );
    println!(
        "  open, 24 keys held: {open24:>10.0} /s  = {:.3}x of 1 key (target within 10%)",
        open24 / open1
    );
    println!(
        "  open, 24 keys, no spec.recipients hint: {open24_nohint:>6.0} /s  = {:.3}x of 1 key (why the hint matters)",
        open24_nohint / open1
    );
    println!(
        "  seal, 1 recipient:  {seal1:>10.0} /s  = {:.2}x x25519-dalek (target >= 0.3x)",
        seal1 / dalek
    );
    for (n, rate) in seal_n {
        println!(
            "  seal, {n} recipients: {rate:>9.0} /s  = cost {:.2}x of 1 recipient (linear would be {n}x)",
            seal1 / rate
        );
    }
    Ok(())
}
