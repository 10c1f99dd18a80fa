//! `seal keygen`: a new age identity in the standard key-file format.

use std::io::IsTerminal;
use std::time::{SystemTime, UNIX_EPOCH};

use age::secrecy::ExposeSecret;
use age::x25519;
use seal_core::files::{self, Overwrite};
use zeroize::Zeroizing;

use crate::cli::KeygenArgs;
use crate::output;

/// Writes the identity (0600, never over an existing file) or prints it; the recipient
/// goes to standard error either way.
pub fn run(args: KeygenArgs) -> anyhow::Result<()> {
    let identity = x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let text = Zeroizing::new(format!(
        "# created: {}\n# public key: {recipient}\n{}\n",
        utc_now_rfc3339(),
        identity.to_string().expose_secret()
    ));
    match &args.output {
        Some(path) => files::write_atomic(path, text.as_bytes(), 0o600, Overwrite::Refuse)?,
        None => {
            if std::io::stdout().is_terminal() {
                eprintln!("seal: note: printing a private key to the terminal; prefer -o FILE");
            }
            output::print(text.as_bytes())?;
        }
    }
    eprintln!("Public key: {recipient}");
    Ok(())
}

/// The current time as `YYYY-MM-DDTHH:MM:SSZ`.
fn utc_now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    rfc3339(secs)
}

/// Formats Unix seconds as an RFC 3339 UTC timestamp (proleptic Gregorian calendar).
fn rfc3339(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or_default();
    let rem = secs % 86_400;
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_869_045), "2026-11-28T12:30:45Z");
    }
}
