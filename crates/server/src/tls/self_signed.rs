//! The self-signed certificate of the HTTPS listener when the config names none: made with rcgen
//! on first start (ECDSA P-256, valid for the subject alternative names below, `serverAuth`) and
//! kept in `data_dir/tls/` — `cert.pem`, `key.pem` (mode 0600) and `names.txt` (the names it was
//! made for) — so later starts serve the same certificate and a browser trusted once stays
//! trusting. The names are `localhost`, the machine's host name, `127.0.0.1`, `::1` and
//! `server.tls_names`; when that list changes (a new `tls_names`, a renamed host), a new
//! certificate is made, with a new fingerprint, and the start-up log says so.

use anyhow::Context;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The files of the certificate in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFiles {
    /// `tls/cert.pem`.
    pub cert: PathBuf,
    /// `tls/key.pem`.
    pub key: PathBuf,
}

/// The names a certificate is made for: the fixed ones, the host name, then `extra`, without
/// repeats.
pub fn names(extra: &[String]) -> Vec<String> {
    let mut out: Vec<String> = vec!["localhost".into()];
    if let Some(h) = host_name() {
        out.push(h);
    }
    out.push("127.0.0.1".into());
    out.push("::1".into());
    for n in extra {
        if !out.contains(n) {
            out.push(n.clone());
        }
    }
    out
}

/// The machine's host name (`uname -n`), when it is a usable DNS name other than `localhost`.
fn host_name() -> Option<String> {
    let uts = rustix::system::uname();
    let name = uts.nodename().to_str().ok()?.to_ascii_lowercase();
    let ok = !name.is_empty()
        && name != "localhost"
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    ok.then_some(name)
}

/// The certificate in `data_dir/tls/` for `names(extra)`: the one there if it was made for those
/// names, else a new one (written before it is used).
pub fn load_or_make(data_dir: &Path, extra: &[String]) -> anyhow::Result<CertFiles> {
    let dir = data_dir.join("tls");
    let files = CertFiles {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    let names_file = dir.join("names.txt");
    let wanted = names(extra);
    let listed = wanted.join("\n") + "\n";
    let have = files.cert.is_file() && files.key.is_file();
    let made_for = std::fs::read_to_string(&names_file).ok();
    if have && made_for.as_deref() == Some(listed.as_str()) {
        return Ok(files);
    }
    if have {
        tracing::info!(
            dir = %dir.display(),
            was = ?made_for.unwrap_or_default().lines().collect::<Vec<_>>(),
            now = ?wanted,
            "the self-signed certificate's names changed: making a new one (its fingerprint changes; browsers must trust it again)"
        );
    } else {
        tracing::info!(dir = %dir.display(), names = ?wanted, "making a self-signed certificate for HTTPS");
    }
    let (cert_pem, key_pem) = make(&wanted)?;
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create {} (server.data_dir)", dir.display()))?;
    // The directory holds a private key: owner only, whatever the umask.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot restrict {} to its owner", dir.display()))?;
    write_new(&files.key, key_pem.as_bytes(), 0o600)?;
    write_new(&files.cert, cert_pem.as_bytes(), 0o644)?;
    write_new(&names_file, listed.as_bytes(), 0o644)?;
    Ok(files)
}

/// A self-signed certificate for `names` and its key, as PEM.
fn make(names: &[String]) -> anyhow::Result<(String, String)> {
    let mut params = rcgen::CertificateParams::new(names.to_vec())
        .with_context(|| format!("cannot make a certificate for {names:?}"))?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "pixelwire self-signed");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    let key = rcgen::KeyPair::generate().context("cannot generate a key pair")?;
    let cert = params
        .self_signed(&key)
        .context("cannot sign the certificate")?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Writes `bytes` to `path` through a temporary file made with `mode`, renamed over `path`: a crash
/// leaves the old file or the new one, never half of one, and the key is never readable by others.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A fresh directory under the system's temporary one, removed when dropped.
    pub(crate) struct TempDir(PathBuf);

    impl TempDir {
        pub(crate) fn new(what: &str) -> Self {
            use std::sync::atomic::{AtomicU32, Ordering};
            static N: AtomicU32 = AtomicU32::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let p =
                std::env::temp_dir().join(format!("pixelwire-{what}-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
            Self(p)
        }

        pub(crate) fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn fingerprint(files: &CertFiles) -> String {
        let chain = crate::tls::read_chain(&files.cert).unwrap();
        assert_eq!(chain.len(), 1);
        format!("{:?}", crate::tls::sha256(chain[0].as_ref()))
    }

    #[test]
    fn names_hold_localhost_loopback_and_extras_once() {
        let n = names(&[
            "pixelwire.test".into(),
            "localhost".into(),
            "10.0.0.5".into(),
        ]);
        assert_eq!(n[0], "localhost");
        assert!(n.contains(&"127.0.0.1".to_string()) && n.contains(&"::1".to_string()));
        assert_eq!(n.iter().filter(|x| *x == "localhost").count(), 1);
        assert_eq!(&n[n.len() - 2..], ["pixelwire.test", "10.0.0.5"]);
    }

    #[test]
    fn made_on_first_start_and_reused_after() {
        let dir = TempDir::new("tls-reuse");
        let first = load_or_make(dir.path(), &["pixelwire.test".into()]).unwrap();
        assert_eq!(first.cert, dir.path().join("tls/cert.pem"));
        let mode = std::fs::metadata(&first.key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "key.pem is the owner's only");
        let dir_mode = std::fs::metadata(dir.path().join("tls"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        let fp = fingerprint(&first);
        let key = std::fs::read(&first.key).unwrap();

        let second = load_or_make(dir.path(), &["pixelwire.test".into()]).unwrap();
        assert_eq!(second, first);
        assert_eq!(
            fingerprint(&second),
            fp,
            "same certificate on the second start"
        );
        assert_eq!(std::fs::read(&second.key).unwrap(), key);
        assert!(!dir.path().join("tls/key.tmp").exists());

        let renamed = load_or_make(dir.path(), &["other.test".into()]).unwrap();
        assert_ne!(fingerprint(&renamed), fp, "new names, new certificate");

        std::fs::remove_file(&renamed.key).unwrap();
        let remade = load_or_make(dir.path(), &["other.test".into()]).unwrap();
        assert!(remade.key.is_file(), "a lost key means a new certificate");
    }

    #[test]
    fn a_served_certificate_reports_the_fingerprint_of_its_file() {
        let dir = TempDir::new("tls-fp");
        let cfg = crate::config::ServerConfig {
            https: Some("127.0.0.1:0".parse().unwrap()),
            data_dir: dir.path().to_path_buf(),
            ..Default::default()
        };
        let a = crate::tls::load(&cfg).unwrap().unwrap();
        let b = crate::tls::load(&cfg).unwrap().unwrap();
        assert!(a.info.self_signed);
        assert_eq!(
            a.info, b.info,
            "the second start serves the same certificate"
        );
    }
}
