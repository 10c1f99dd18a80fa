//! Sealing and opening one value, against the floor (one X25519 Diffie-Hellman, with
//! x25519-dalek and with `openssl speed ecdhx25519`) and against what sealed-secrets pays
//! (one RSA-4096 private-key operation, `openssl speed rsa4096`).

use std::process::Command;
use std::time::{Duration, Instant};

use age::x25519;
use seal_core::envelope::{open_value, open_value_with_age, seal_value};
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
/// every moment, so their ratios hold even when the absolute rates do not. Returns the
/// rates over all rounds and each round's rates (for per-round ratios).
pub fn interleaved(
    rounds: usize,
    slice: Duration,
    fs: &mut [&mut dyn FnMut()],
) -> (Vec<f64>, Vec<Vec<f64>>) {
    let mut counts = vec![0u64; fs.len()];
    let mut times = vec![Duration::ZERO; fs.len()];
    let mut per_round = Vec::with_capacity(rounds);
    for f in fs.iter_mut() {
        for _ in 0..16 {
            f();
        }
    }
    for _ in 0..rounds {
        let mut round = Vec::with_capacity(fs.len());
        for (i, f) in fs.iter_mut().enumerate() {
            let start = Instant::now();
            let mut n = 0u64;
            while start.elapsed() < slice {
                for _ in 0..8 {
                    f();
                }
                n += 8;
            }
            let took = start.elapsed();
            counts[i] += n;
            times[i] += took;
            round.push(n as f64 / took.as_secs_f64());
        }
        per_round.push(round);
    }
    let rates = counts
        .iter()
        .zip(&times)
        .map(|(n, t)| *n as f64 / t.as_secs_f64())
        .collect();
    (rates, per_round)
}

/// The median over rounds of `rounds[i][a] / rounds[i][b]`: the ratio of two operations
/// measured side by side, robust to a round that a burst of load hit.
pub fn median_ratio(rounds: &[Vec<f64>], a: usize, b: usize) -> f64 {
    let mut ratios: Vec<f64> = rounds.iter().map(|r| r[a] / r[b]).collect();
    ratios.sort_by(f64::total_cmp);
    ratios.get(ratios.len() / 2).copied().unwrap_or(f64::NAN)
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
    let (rates, rounds) = interleaved(
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
                std::hint::black_box(open_value_with_age(&sealed, &binding, &ring1, &hint).ok());
            },
            &mut || {
                std::hint::black_box(age::decrypt(&ids[0], std::hint::black_box(&raw)).ok());
            },
            &mut || {
                std::hint::black_box(age::decrypt(&ours, std::hint::black_box(&raw)).ok());
            },
        ],
    );
    let (dalek, open1, open1_age, raw_age, raw_ours) =
        (rates[0], rates[1], rates[2], rates[3], rates[4]);
    let open1_median = median_ratio(&rounds, 1, 0);
    // One ChaCha20-Poly1305 open of a 32-byte message (a wrapped file key), as the
    // `chacha20poly1305` crate (what age uses) and AWS-LC (what we open with) do it.
    let aead_key = [1u8; 32];
    let boxed = {
        use chacha20poly1305::aead::{Aead, KeyInit};
        chacha20poly1305::ChaCha20Poly1305::new(&aead_key.into())
            .encrypt(&[0u8; 12].into(), &[5u8; 16][..])
            .map_err(|_| anyhow::anyhow!("chacha20poly1305 seals"))?
    };
    let (aead, _) = interleaved(
        20,
        Duration::from_millis(50),
        &mut [
            &mut || {
                use chacha20poly1305::aead::{Aead, KeyInit};
                let key =
                    chacha20poly1305::ChaCha20Poly1305::new(std::hint::black_box(&aead_key).into());
                std::hint::black_box(key.decrypt(&[0u8; 12].into(), &boxed[..]).ok());
            },
            &mut || {
                use aws_lc_rs::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
                let mut in_out = [0u8; 32];
                in_out.copy_from_slice(&boxed);
                let opened = UnboundKey::new(&CHACHA20_POLY1305, std::hint::black_box(&aead_key))
                    .map(LessSafeKey::new)
                    .map(|key| {
                        key.open_in_place(
                            Nonce::assume_unique_for_key([0u8; 12]),
                            Aad::empty(),
                            &mut in_out,
                        )
                        .is_ok()
                    });
                std::hint::black_box(opened.ok());
            },
        ],
    );
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
        "  open, 1 key held:   {open1:>10.0} /s  = {} RSA-4096 (target >= 100x), {:.2}x x25519-dalek (target >= 0.9x; median of the 40 rounds' ratios {open1_median:.3}), {} openssl X25519",
        ratio(open1, rsa),
        open1 / dalek,
        ratio(open1, openssl_x25519)
    );
    println!(
        "  the same open through the age crate's reader: {open1_age:>8.0} /s = {:.2}x x25519-dalek (our one-pass reader: {:.2}x of it; median of rounds {:.3}x)",
        open1_age / dalek,
        open1 / open1_age,
        median_ratio(&rounds, 1, 2)
    );
    println!(
        "  ChaCha20-Poly1305 open of 32 bytes: chacha20poly1305 crate {:.2} us, AWS-LC {:.2} us",
        1e6 / aead[0],
        1e6 / aead[1]
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
