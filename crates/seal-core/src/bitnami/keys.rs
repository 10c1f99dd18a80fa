//! bitnami sealed-secrets' private keys, as the user hands them to `seal migrate
//! --sealed-secrets-keys`: PEM (`RSA PRIVATE KEY` as the controller writes it, or
//! `PRIVATE KEY`), or the key Secrets as `kubectl get secret -o yaml` prints them (one or
//! several documents, `v1/List` included), each `kubernetes.io/tls` with the PEM in
//! `data.tls.key`.

use std::sync::atomic::{AtomicUsize, Ordering};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{
    KeyPair, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey,
};
use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use crate::documents;
use crate::error::Error;

/// The smallest and largest RSA keys accepted (bitnami makes 4096-bit keys by default).
const MIN_BITS: usize = 2048;
const MAX_BITS: usize = 8192;

/// One bitnami private key, ready for RSA-OAEP (SHA-256) decryption.
///
/// The RSA arithmetic is aws-lc's, which decrypts in constant time: the `rsa` crate that
/// did this before does not (RUSTSEC-2023-0071, the Marvin attack), and the controller's
/// `/v1/migrate` endpoint decrypts ciphertexts a client chose.
pub struct BitnamiKey {
    private: PrivateDecryptingKey,
    oaep: OaepPrivateDecryptingKey,
    fingerprint: String,
    public_der: Vec<u8>,
}

impl BitnamiKey {
    /// Reads a PKCS#1 `RSAPrivateKey` (DER), the form of bitnami's `tls.key`.
    fn from_pkcs1_der(der: &[u8]) -> Result<Self, ()> {
        // aws-lc reads PKCS#1 only as a signing key pair; its PKCS#8 form is what the
        // decrypting key reads. Both encodings stay inside aws-lc's wiped buffers.
        let pair = KeyPair::from_der(der).map_err(|_| ())?;
        let pkcs8 = AsDer::as_der(&pair).map_err(|_| ())?;
        Self::from_pkcs8_der(pkcs8.as_ref())
    }

    /// Reads a PKCS#8 `PrivateKeyInfo` (DER) holding an RSA key.
    fn from_pkcs8_der(der: &[u8]) -> Result<Self, ()> {
        let private = PrivateDecryptingKey::from_pkcs8(der).map_err(|_| ())?;
        let public_der = AsDer::as_der(&private.public_key())
            .map_err(|_| ())?
            .as_ref()
            .to_vec();
        let fingerprint = fingerprint_of(&public_der);
        let oaep = OaepPrivateDecryptingKey::new(private.clone()).map_err(|_| ())?;
        Ok(Self {
            private,
            oaep,
            fingerprint,
            public_der,
        })
    }

    /// The size of the modulus (and of every RSA block sealed to it) in bytes.
    pub fn size(&self) -> usize {
        self.oaep.key_size_bytes()
    }

    /// The key's public fingerprint: `sha256:` and the hex SHA-256 of its public key
    /// (X.509 `SubjectPublicKeyInfo`, DER). Safe to show; says nothing of the private key.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The private key as PKCS#8 PEM (`PRIVATE KEY`), wiped on drop: the form the
    /// controller stores imported keys in (read back by [`BitnamiKeys::add_file`]).
    pub fn to_pkcs8_pem(&self) -> Option<Zeroizing<String>> {
        let der = AsDer::as_der(&self.private).ok()?;
        let pem = pem::Pem::new("PRIVATE KEY", der.as_ref());
        let text = Zeroizing::new(pem::encode(&pem));
        // `Pem` owns a copy of the DER: wipe it before it is dropped.
        let mut contents = pem.into_contents();
        contents.zeroize();
        Some(text)
    }

    /// The public key (X.509 `SubjectPublicKeyInfo`, DER).
    pub fn public_key_der(&self) -> &[u8] {
        &self.public_der
    }

    /// The public half, for sealing test values the way kubeseal does.
    pub fn public_key(&self) -> Option<OaepPublicEncryptingKey> {
        let public = aws_lc_rs::rsa::PublicEncryptingKey::from_der(&self.public_der).ok()?;
        OaepPublicEncryptingKey::new(public).ok()
    }

    /// RSA-OAEP (SHA-256, MGF1-SHA-256) decryption of one block with `label`, into a
    /// buffer wiped on drop; `None` when it does not decrypt (all failures look alike).
    pub fn decrypt(&self, block: &[u8], label: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(vec![0u8; self.oaep.min_output_size()]);
        let len = self
            .oaep
            .decrypt(
                &aws_lc_rs::rsa::OAEP_SHA256_MGF1SHA256,
                block,
                &mut out,
                Some(label),
            )
            .ok()?
            .len();
        out.truncate(len);
        Some(out)
    }
}

impl std::fmt::Debug for BitnamiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BitnamiKey({})", self.fingerprint)
    }
}

/// `sha256:<hex>` of a public key's DER.
fn fingerprint_of(public_der: &[u8]) -> String {
    let digest = Sha256::digest(public_der);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The bitnami private keys given; every one is tried on every value.
#[derive(Default)]
pub struct BitnamiKeys {
    keys: Vec<BitnamiKey>,
    /// The key that opened the last value: tried first, since values sealed together
    /// were sealed with the same key (bitnami renews its key every 30 days, so a cluster
    /// holds dozens, and each RSA-4096 try costs milliseconds).
    last_opened: AtomicUsize,
}

impl std::fmt::Debug for BitnamiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BitnamiKeys({} keys)", self.keys.len())
    }
}

impl BitnamiKeys {
    /// No keys.
    pub fn new() -> Self {
        Self::default()
    }

    /// The keys.
    pub fn iter(&self) -> impl Iterator<Item = &BitnamiKey> {
        self.keys.iter()
    }

    /// The keys with their index, the one that opened the last value first.
    pub fn in_trial_order(&self) -> impl Iterator<Item = (usize, &BitnamiKey)> {
        let first = self
            .last_opened
            .load(Ordering::Relaxed)
            .min(self.keys.len());
        let rest = self.keys.iter().enumerate();
        self.keys
            .get(first)
            .map(|k| (first, k))
            .into_iter()
            .chain(rest.filter(move |(i, _)| *i != first))
    }

    /// Notes which key opened a value.
    pub fn opened_with(&self, index: usize) {
        self.last_opened.store(index, Ordering::Relaxed);
    }

    /// The index of the key that opened the last value (0 before any).
    pub fn last_opened(&self) -> usize {
        self.last_opened.load(Ordering::Relaxed)
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Adds every key of a file's text (`file` names it in errors); returns how many.
    /// A file with no key at all is an error; no error ever shows the file's content.
    pub fn add_file(&mut self, file: &str, text: &str) -> Result<usize, Error> {
        let before = self.keys.len();
        let added = self.add_file_keys(file, text);
        if added.is_err() {
            self.keys.truncate(before);
        }
        added
    }

    fn add_file_keys(&mut self, file: &str, text: &str) -> Result<usize, Error> {
        let input = |problem: String| Error::Input {
            file: file.to_owned(),
            problem,
        };
        let before = self.keys.len();
        if text.trim_start().starts_with("-----BEGIN") {
            self.add_pem(text).map_err(input)?;
        } else {
            let mut docs = documents::parse(file, text).map_err(|_| {
                input("neither PEM nor YAML/JSON key Secrets (kubectl get secret -o yaml)".into())
            })?;
            let added = docs.iter().try_for_each(|doc| {
                let pem = tls_key_of(&doc.value).map_err(|p| Error::Field {
                    at: doc.at.clone(),
                    field: p.0.to_owned(),
                    problem: p.1,
                })?;
                let pem = std::str::from_utf8(&pem).map_err(|_| Error::Field {
                    at: doc.at.clone(),
                    field: "data.tls.key".into(),
                    problem: "not PEM text".into(),
                })?;
                self.add_pem(pem).map_err(|problem| Error::Field {
                    at: doc.at.clone(),
                    field: "data.tls.key".into(),
                    problem,
                })
            });
            // The parsed documents hold the keys' base64: wiped, whatever happened.
            for doc in &mut docs {
                wipe_data(&mut doc.value);
            }
            added?;
        }
        match self.keys.len() - before {
            0 => Err(input("no private key in it".into())),
            n => Ok(n),
        }
    }

    /// Adds the private keys of PEM text (certificates beside them are skipped).
    fn add_pem(&mut self, text: &str) -> Result<(), String> {
        let mut rest = text;
        let mut found = 0;
        while let Some(start) = rest.find("-----BEGIN ") {
            let block = &rest[start..];
            let label_end = block[11..]
                .find("-----")
                .map(|i| i + 11)
                .ok_or("a PEM header is not closed")?;
            let label = &block[11..label_end];
            let end_marker = format!("-----END {label}-----");
            let end = block
                .find(&end_marker)
                .ok_or_else(|| format!("a PEM {} block has no end", shown_label(label)))?
                + end_marker.len();
            let der = |pem: &str| -> Result<Zeroizing<Vec<u8>>, String> {
                let parsed =
                    pem::parse(pem).map_err(|_| format!("a PEM {label} block is not valid PEM"))?;
                if parsed.headers().iter().next().is_some() {
                    return Err(format!(
                        "a PEM {label} block is encrypted or has headers; give the plain key"
                    ));
                }
                Ok(Zeroizing::new(parsed.into_contents()))
            };
            let pem = Zeroizing::new(block[..end].to_owned());
            let key = match label {
                "RSA PRIVATE KEY" => Some(BitnamiKey::from_pkcs1_der(&der(&pem)?)),
                "PRIVATE KEY" => Some(BitnamiKey::from_pkcs8_der(&der(&pem)?)),
                "CERTIFICATE" | "PUBLIC KEY" | "RSA PUBLIC KEY" => None,
                other => {
                    return Err(format!(
                        "a PEM {} block is not an RSA private key",
                        shown_label(other)
                    ));
                }
            };
            if let Some(key) = key {
                let key = key.map_err(|()| {
                    format!(
                        "a PEM {label} block is not a valid RSA private key (2048 to 8192 bits)"
                    )
                })?;
                let bits = key.size() * 8;
                if !(MIN_BITS..=MAX_BITS).contains(&bits) {
                    return Err(format!(
                        "an RSA key of {bits} bits (expected {MIN_BITS} to {MAX_BITS})"
                    ));
                }
                self.keys.push(key);
                found += 1;
            }
            rest = &block[end..];
        }
        if found == 0 {
            return Err("no RSA private key in it".into());
        }
        Ok(())
    }
}

/// Wipes every string under `data` of a parsed key Secret.
fn wipe_data(value: &mut Value) {
    if let Some(Value::Object(data)) = value.get_mut("data") {
        for item in data.values_mut() {
            if let Value::String(text) = item {
                text.zeroize();
            }
        }
    }
}

/// A PEM label as shown in a message: only if it is short plain text.
fn shown_label(label: &str) -> String {
    if label.len() <= 40 && label.chars().all(|c| c.is_ascii_uppercase() || c == ' ') {
        label.to_owned()
    } else {
        "(unreadable label)".to_owned()
    }
}

/// The PEM bytes in a key Secret's `data.tls.key`, or the field and problem.
fn tls_key_of(value: &Value) -> Result<Zeroizing<Vec<u8>>, (&'static str, String)> {
    if value.get("kind").and_then(Value::as_str) != Some("Secret") {
        return Err((
            "kind",
            "expected a Secret holding a sealed-secrets key".into(),
        ));
    }
    let Some(text) = value.pointer("/data/tls.key").and_then(Value::as_str) else {
        return Err((
            "data.tls.key",
            "missing (not a sealed-secrets key Secret)".into(),
        ));
    };
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map(Zeroizing::new)
        .map_err(|_| ("data.tls.key", "not base64".into()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The throw-away key of keys-example/ (published on purpose).
    pub(crate) const TEST_KEY: &str = include_str!("../../../../keys-example/sealed-secrets.key");
    const TEST_CERT: &str = include_str!("../../../../keys-example/sealed-secrets.crt");

    pub(crate) fn test_keys() -> BitnamiKeys {
        let mut keys = BitnamiKeys::new();
        keys.add_file("test.key", TEST_KEY)
            .expect("the test key reads");
        keys
    }

    fn key_secret(pem: &str) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(pem);
        format!(
            "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  type: kubernetes.io/tls\n  metadata:\n    name: sealed-secrets-key1\n    namespace: kube-system\n  data:\n    tls.crt: ''\n    tls.key: {b64}\n"
        )
    }

    #[test]
    fn pem_and_key_secrets_read() {
        let mut keys = BitnamiKeys::new();
        let with_cert = format!("{TEST_KEY}{TEST_CERT}");
        assert_eq!(keys.add_file("k.pem", &with_cert).expect("PEM"), 1);
        assert_eq!(
            keys.add_file("keys.yaml", &key_secret(TEST_KEY))
                .expect("List"),
            1
        );
        assert_eq!(keys.len(), 2);
    }

    #[test]
    fn a_key_has_one_fingerprint_in_every_form_and_round_trips_as_pkcs8() {
        let pkcs1 = test_keys();
        let key = pkcs1.iter().next().expect("a key");
        assert!(key.fingerprint().starts_with("sha256:"));
        assert_eq!(key.fingerprint().len(), 7 + 64);
        let pkcs8 = key.to_pkcs8_pem().expect("exports");
        assert!(pkcs8.starts_with("-----BEGIN PRIVATE KEY-----"));
        let mut again = BitnamiKeys::new();
        assert_eq!(again.add_file("stored.pem", &pkcs8).expect("reads"), 1);
        let other = again.iter().next().expect("a key");
        assert_eq!(other.fingerprint(), key.fingerprint());
        let mut second = BitnamiKeys::new();
        second
            .add_file(
                "other.pem",
                include_str!("../../../../keys-example/sealed-secrets-other.key"),
            )
            .expect("other");
        assert_ne!(
            second.iter().next().expect("a key").fingerprint(),
            key.fingerprint()
        );
    }

    /// An attacker's (or a mistaken) key file: nothing in it is taken, and no message
    /// shows its content.
    #[test]
    fn files_that_are_not_keys_are_refused_without_showing_them() {
        let cases = [
            ("cert.pem", TEST_CERT.to_owned()),
            ("age.txt", "AGE-SECRET-KEY-1QQQQ\n".to_owned()),
            (
                "secret.yaml",
                "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\ndata: {password: c2VjcmV0}\n"
                    .to_owned(),
            ),
            (
                "bad-pem.yaml",
                key_secret(
                    "-----BEGIN RSA PRIVATE KEY-----\nc2VjcmV0\n-----END RSA PRIVATE KEY-----\n",
                ),
            ),
            ("truncated.pem", TEST_KEY[..TEST_KEY.len() / 2].to_owned()),
            (
                "ec.pem",
                "-----BEGIN EC PRIVATE KEY-----\nc2VjcmV0\n-----END EC PRIVATE KEY-----\n"
                    .to_owned(),
            ),
        ];
        for (file, text) in cases {
            let mut keys = BitnamiKeys::new();
            let error = keys.add_file(file, &text).expect_err(file).to_string();
            assert!(error.starts_with(file), "{error}");
            assert!(
                !error.contains("c2VjcmV0") && !error.contains("QQQQ") && !error.contains("MII"),
                "{error}"
            );
            assert!(keys.is_empty(), "{file}");
        }
    }
}
