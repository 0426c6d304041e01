//! HTTPS: the certificate of the `server.https` listener and the rustls configuration that serves
//! it (`docs/security.md`, "HTTPS"). The certificate comes from `server.tls_cert`/`tls_key` or is
//! the self-signed one in `data_dir/tls/` ([`self_signed`]); either way its SHA-256 fingerprint is
//! logged at start-up and reported by `GET /api/status`, so a user can check what the browser shows
//! before trusting it. The accept loop (`crate::http::serve`) wraps each admitted socket with
//! [`Tls::acceptor`], so the connection caps and the header-read timeout are those of plain HTTP.
//!
//! rustls with the `ring` provider; TLS 1.3 and 1.2; ALPN offers only `http/1.1`, the one
//! protocol the accept loop speaks.

pub mod self_signed;

use crate::config::{CertSource, ServerConfig};
use anyhow::Context;
use base64::Engine;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The HTTPS listener's certificate and the acceptor that serves it.
#[derive(Clone)]
pub struct Tls {
    /// Wraps an accepted socket in a TLS server session.
    pub acceptor: TlsAcceptor,
    /// What the status page shows about the certificate.
    pub info: Arc<TlsInfo>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("info", &self.info).finish()
    }
}

/// The certificate as `GET /api/status` reports it (`https`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TlsInfo {
    /// SHA-256 of the leaf certificate's DER, upper-case hex pairs joined by `:` (as browsers and
    /// `openssl x509 -fingerprint -sha256` show it).
    pub fingerprint_sha256: String,
    /// Base64 SHA-256 of the certificate's SubjectPublicKeyInfo: the pin Chromium takes in
    /// `--ignore-certificate-errors-spki-list` and HPKP-style tools compare.
    pub spki_sha256_base64: String,
    /// True for the certificate made by the server (`data_dir/tls/cert.pem`).
    pub self_signed: bool,
    /// The certificate file.
    pub cert_file: PathBuf,
}

/// The HTTPS identity for `server` (with `data_dir` already created), or `None` when
/// `server.https` is not set. Errors name the file and what is wrong with it.
pub fn load(server: &ServerConfig) -> anyhow::Result<Option<Tls>> {
    if server.https.is_none() {
        return Ok(None);
    }
    let (cert_file, key_file, self_signed) = match server.cert_source() {
        CertSource::Files { cert, key } => (cert, key, false),
        CertSource::SelfSigned { names } => {
            let files = self_signed::load_or_make(&server.data_dir, &names)?;
            (files.cert, files.key, true)
        }
    };
    let chain = read_chain(&cert_file)?;
    let key = read_key(&key_file)?;
    let tls = from_der(chain, key, &cert_file, &key_file, self_signed)?;
    Ok(Some(tls))
}

/// The acceptor for `chain` (leaf first) and its `key`; the files only label errors.
fn from_der(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    cert_file: &Path,
    key_file: &Path,
    self_signed: bool,
) -> anyhow::Result<Tls> {
    // rustls 0.23.48 deprecates the ring provider because it has no post-quantum key exchange
    // (aws-lc-rs has). We keep ring on purpose: aws-lc-rs builds a large C library with cmake on
    // every clean build, and what this listener protects (pixels on a LAN, `docs/security.md`)
    // does not call for post-quantum key exchange yet.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let signing = provider.key_provider.load_private_key(key.clone_key()).map_err(|e| {
        anyhow::anyhow!(
            "server.tls_key {}: the key cannot sign ({e}); rustls takes ECDSA P-256/P-384, Ed25519 and RSA keys",
            key_file.display()
        )
    })?;
    let spki = signing.public_key().map(|k| sha256(k.as_ref()));
    let leaf = sha256(chain[0].as_ref());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("rustls has no safe protocol version with the ring provider")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| {
            anyhow::anyhow!(
                "server.tls_cert {} with server.tls_key {}: {e} (is the key that of the certificate?)",
                cert_file.display(),
                key_file.display()
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let b64 = base64::engine::general_purpose::STANDARD;
    Ok(Tls {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        info: Arc::new(TlsInfo {
            fingerprint_sha256: colon_hex(&leaf),
            spki_sha256_base64: spki.map(|d| b64.encode(d)).unwrap_or_default(),
            self_signed,
            cert_file: cert_file.to_path_buf(),
        }),
    })
}

/// The certificates of a PEM file, leaf first.
pub fn read_chain(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let pem = std::fs::read(path)
        .with_context(|| format!("cannot read server.tls_cert {}", path.display()))?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("server.tls_cert {}: bad PEM: {e}", path.display()))?;
    if chain.is_empty() {
        anyhow::bail!(
            "server.tls_cert {}: no certificate in it (expected PEM \"-----BEGIN CERTIFICATE-----\")",
            path.display()
        );
    }
    Ok(chain)
}

/// The private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
pub fn read_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    let pem = std::fs::read(path)
        .with_context(|| format!("cannot read server.tls_key {}", path.display()))?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        anyhow::anyhow!(
            "server.tls_key {}: no private key in it ({e}; expected PEM \"-----BEGIN PRIVATE KEY-----\")",
            path.display()
        )
    })
}

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// `AB:CD:…`.
fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn https_config(dir: &Path) -> ServerConfig {
        ServerConfig {
            https: Some("127.0.0.1:0".parse().unwrap()),
            data_dir: dir.to_path_buf(),
            ..ServerConfig::default()
        }
    }

    #[test]
    fn fingerprint_is_colon_hex_of_sha256() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            colon_hex(&sha256(b"abc")),
            "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
        );
    }

    #[test]
    fn off_unless_https_is_set() {
        let dir = self_signed::tests::TempDir::new("tls-off");
        let mut cfg = https_config(dir.path());
        cfg.https = None;
        assert!(load(&cfg).unwrap().is_none());
        assert!(!dir.path().join("tls").exists());
    }

    #[test]
    fn configured_files_are_served_and_reported() {
        let dir = self_signed::tests::TempDir::new("tls-files");
        let made = self_signed::load_or_make(&dir.path().join("made"), &[]).unwrap();
        let mut cfg = https_config(dir.path());
        cfg.tls_cert = Some(made.cert.clone());
        cfg.tls_key = Some(made.key.clone());
        let tls = load(&cfg).unwrap().unwrap();
        assert!(!tls.info.self_signed);
        assert_eq!(tls.info.cert_file, made.cert);
        assert_eq!(tls.info.fingerprint_sha256.len(), 32 * 3 - 1);
        assert_eq!(tls.info.spki_sha256_base64.len(), 44);
    }

    #[test]
    fn bad_files_name_the_file() {
        let dir = self_signed::tests::TempDir::new("tls-bad");
        let made = self_signed::load_or_make(&dir.path().join("made"), &[]).unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate\n").unwrap();
        let missing = dir.path().join("missing.pem");
        let err = |cert: &Path, key: &Path| {
            let mut cfg = https_config(dir.path());
            cfg.tls_cert = Some(cert.to_path_buf());
            cfg.tls_key = Some(key.to_path_buf());
            format!("{:#}", load(&cfg).unwrap_err())
        };
        let m = err(&missing, &made.key);
        assert!(
            m.contains("cannot read server.tls_cert") && m.contains("missing.pem"),
            "{m}"
        );
        let m = err(&junk, &made.key);
        assert!(
            m.contains("server.tls_cert") && m.contains("junk.pem") && m.contains("no certificate"),
            "{m}"
        );
        let m = err(&made.cert, &junk);
        assert!(
            m.contains("server.tls_key") && m.contains("junk.pem"),
            "{m}"
        );
        // A certificate with the key of another one.
        let other =
            self_signed::load_or_make(&dir.path().join("other"), &["x.lan".into()]).unwrap();
        let m = err(&made.cert, &other.key);
        assert!(m.contains("is the key that of the certificate"), "{m}");
        // Truncated PEM.
        let cut = dir.path().join("cut.pem");
        let text = std::fs::read_to_string(&made.cert).unwrap();
        std::fs::write(&cut, &text[..text.len() / 2]).unwrap();
        let m = err(&cut, &made.key);
        assert!(m.contains("cut.pem"), "{m}");
    }
}
