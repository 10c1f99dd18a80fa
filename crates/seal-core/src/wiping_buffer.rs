//! [`WipingBuffer`]: an output buffer for text that holds plaintext (a rendered Secret, a
//! hook body). A `String` that grows leaves each outgrown copy behind in freed memory;
//! this buffer zeroes the old allocation every time it grows, and itself when dropped.

use std::fmt;
use std::io;

use zeroize::Zeroizing;

/// A growable byte buffer that never leaves an unwiped copy behind.
#[derive(Default)]
pub struct WipingBuffer {
    bytes: Zeroizing<Vec<u8>>,
}

impl WipingBuffer {
    /// An empty buffer with room for `capacity` bytes before it first grows.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            bytes: Zeroizing::new(Vec::with_capacity(capacity)),
        }
    }

    /// Appends bytes, moving to a larger allocation (and wiping the old one) when full.
    pub fn push_bytes(&mut self, more: &[u8]) {
        let needed = self.bytes.len() + more.len();
        if needed > self.bytes.capacity() {
            let mut bigger = Zeroizing::new(Vec::with_capacity(needed.max(64).next_power_of_two()));
            bigger.extend_from_slice(&self.bytes);
            // The old allocation is zeroed when `Zeroizing` drops it here.
            self.bytes = bigger;
        }
        self.bytes.extend_from_slice(more);
    }

    /// The bytes so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Whether the buffer ends with this byte.
    pub fn ends_with(&self, byte: u8) -> bool {
        self.bytes.last() == Some(&byte)
    }

    /// The text, when it is UTF-8 (the same allocation, still wiped on drop).
    pub fn into_string(mut self) -> Result<Zeroizing<String>, std::string::FromUtf8Error> {
        let bytes = std::mem::take(&mut *self.bytes);
        String::from_utf8(bytes).map(Zeroizing::new)
    }
}

impl fmt::Write for WipingBuffer {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push_bytes(s.as_bytes());
        Ok(())
    }
}

impl io::Write for WipingBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.push_bytes(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;

    #[test]
    fn growth_keeps_the_text_and_its_utf8() {
        let mut buffer = WipingBuffer::with_capacity(1);
        for i in 0..1000 {
            write!(buffer, "{i}é").expect("writes");
        }
        let text = buffer.into_string().expect("utf-8");
        assert!(text.starts_with("0é1é2é"));
        assert!(text.ends_with("999é"));
    }
}
