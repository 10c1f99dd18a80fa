//! The committed example key (`keys-example/`): its identity is public, so anything sealed
//! to it is readable by anyone. `seal` warns, once per run, when it seals to it.

use std::sync::atomic::{AtomicBool, Ordering};

use seal_core::Recipients;

/// The recipient of `keys-example/identity.txt` (a test keeps the two equal).
pub const EXAMPLE_RECIPIENT: &str =
    "age1wkhm4lujjhde4zaq8s0jd48qqthgljl5j3l9etu06h8704gxzaqs968m74";

/// The warning, without the `seal: warning: ` prefix.
pub const WARNING: &str = "sealing to the public example key from keys-example/ (anyone can open this; never for a real cluster)";

/// Whether this run sealed to the example key.
static USED: AtomicBool = AtomicBool::new(false);

/// Records that this run seals to `recipients` (only the example key is remembered).
pub fn note(recipients: &Recipients) {
    if recipients
        .to_strings()
        .iter()
        .any(|r| r == EXAMPLE_RECIPIENT)
    {
        USED.store(true, Ordering::Relaxed);
    }
}

/// The warning to print when this run sealed to the example key.
pub fn warning() -> Option<&'static str> {
    USED.load(Ordering::Relaxed).then_some(WARNING)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_constant_is_the_committed_example_recipient() {
        let committed = include_str!("../../../../keys-example/recipients.txt");
        let listed: Vec<&str> = committed
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        assert_eq!(listed, [EXAMPLE_RECIPIENT]);
    }
}
