//! Start-up and readiness checks: the TLS certificate and key, free disk space and the
//! permissions of the data folder and the secret files.
//!
//! Everything here is a plain function with no state, so the server start-up, the
//! `agenttrace doctor` command and `/health/ready` all ask the same questions the same way.
//! Every error and every problem names the file concerned and says how to fix it; none of them
//! ever carries key material.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

/// Why a TLS certificate and key pair could not be used.
///
/// Every variant names the file at fault and says how to fix it. None of them holds key material:
/// the key file's contents are never quoted, only what kind of problem was found.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate or key file could not be read (missing, unreadable, a folder, ...).
    #[error(
        "could not read the TLS {what} file {}: {source}; check the path in the configuration \
         and that the user running AgentTrace may read the file",
        path.display()
    )]
    Read {
        /// `"certificate"` or `"private key"`.
        what: &'static str,
        /// The file that could not be read.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// The file is not well-formed PEM.
    #[error(
        "the TLS {what} file {} is not valid PEM: {reason}; replace it with the PEM file your \
         certificate authority or `openssl` produced",
        path.display()
    )]
    BadPem {
        /// `"certificate"` or `"private key"`.
        what: &'static str,
        /// The malformed file.
        path: PathBuf,
        /// What is wrong with it, in words; never any of the file's contents.
        reason: &'static str,
    },

    /// The certificate file holds no `CERTIFICATE` PEM block.
    #[error(
        "the TLS certificate file {} holds no PEM certificate (no `-----BEGIN CERTIFICATE-----` \
         block){hint}; point the certificate setting at the PEM certificate chain, leaf \
         certificate first",
        path.display()
    )]
    NoCertificate {
        /// The file without a certificate.
        path: PathBuf,
        /// Extra advice when the file looks like something else (empty when there is none).
        hint: &'static str,
    },

    /// The key file holds no private key in a form AgentTrace reads.
    #[error(
        "the TLS private key file {} holds no PEM private key (expected a PKCS#8 `BEGIN PRIVATE \
         KEY`, PKCS#1 `BEGIN RSA PRIVATE KEY` or SEC1 `BEGIN EC PRIVATE KEY` block){hint}; point \
         the key setting at the unencrypted private key of the certificate",
        path.display()
    )]
    NoPrivateKey {
        /// The file without a private key.
        path: PathBuf,
        /// Extra advice when the file looks like something else (empty when there is none).
        hint: &'static str,
    },

    /// The key file holds only a passphrase-protected key.
    #[error(
        "the TLS private key in {} is encrypted with a passphrase, which AgentTrace cannot use; \
         write an unencrypted copy with `openssl pkey -in {} -out <new file>`, run \
         `chmod 600 <new file>` and point the key setting at it",
        path.display(),
        path.display()
    )]
    EncryptedKey {
        /// The file with the encrypted key.
        path: PathBuf,
    },

    /// The key was found but the crypto provider cannot use it (unknown algorithm, bad DER).
    #[error(
        "the TLS private key in {} cannot be used: {source}; use an RSA, ECDSA (P-256 or P-384) \
         or Ed25519 key",
        path.display()
    )]
    UnusableKey {
        /// The file with the unusable key.
        path: PathBuf,
        /// The reason rustls gave (it never quotes the key).
        #[source]
        source: rustls::Error,
    },

    /// A certificate in the chain could not be parsed as X.509.
    #[error(
        "certificate number {position} in the TLS certificate file {} is not a valid X.509 \
         certificate ({reason}); replace the file with the chain your certificate authority issued",
        path.display()
    )]
    CertificateUnparsable {
        /// The file holding the bad certificate.
        path: PathBuf,
        /// Where the certificate is in the file, counting from 1 (1 is the leaf).
        position: usize,
        /// What the parser said.
        reason: String,
    },

    /// The private key does not belong to the leaf certificate.
    #[error(
        "the TLS private key in {} does not belong to the first certificate in {} (their public \
         keys differ){hint}",
        key_path.display(),
        cert_path.display()
    )]
    KeyMismatch {
        /// The certificate file.
        cert_path: PathBuf,
        /// The key file.
        key_path: PathBuf,
        /// How to fix it, depending on whether the key matches another certificate of the chain.
        hint: &'static str,
    },

    /// rustls refused the configuration for another reason.
    #[error(
        "could not build the TLS configuration from {} and {}: {source}; check that both files \
         are the certificate chain and key your certificate authority issued",
        cert_path.display(),
        key_path.display()
    )]
    Rustls {
        /// The certificate file.
        cert_path: PathBuf,
        /// The key file.
        key_path: PathBuf,
        /// What rustls said.
        #[source]
        source: rustls::Error,
    },
}

/// Facts about the leaf certificate, for `agenttrace doctor` and the start-up log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// The subject distinguished name, e.g. `CN=agenttrace.example.com`.
    pub subject: String,
    /// The start of the validity period.
    pub not_before: OffsetDateTime,
    /// The end of the validity period.
    pub not_after: OffsetDateTime,
    /// The DNS names of the subject alternative name extension, in certificate order (IP
    /// addresses and other kinds of names are left out).
    pub dns_names: Vec<String>,
}

impl CertInfo {
    /// Whether `now` lies within the validity period (both ends included).
    pub fn is_valid_at(&self, now: OffsetDateTime) -> bool {
        self.not_before <= now && now <= self.not_after
    }
}

/// Reads a PEM certificate chain and a PEM private key (PKCS#8, PKCS#1 or SEC1) and builds a
/// rustls [`ServerConfig`](rustls::ServerConfig) with the *ring* provider, the safe default
/// protocol versions, no client authentication and ALPN `h2` then `http/1.1`.
///
/// The first certificate of the chain must be the leaf; the others (intermediates) are sent to
/// clients as they are. Fails when a file cannot be read, holds no certificate or key, when a
/// certificate is not valid X.509, or when the key does not match the leaf certificate. An
/// expired certificate is *not* an error here: see [`inspect_certificate`].
pub fn load_server_config(
    cert_path: &Path,
    key_path: &Path,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    load_pair(cert_path, key_path).map(|(config, _)| config)
}

/// Loads and checks the pair exactly as [`load_server_config`] does, including the key match,
/// and returns the facts of the leaf certificate.
///
/// The validity period is reported, not judged: the caller compares
/// [`CertInfo::not_after`] with the clock to warn about an expired or expiring certificate.
pub fn inspect_certificate(cert_path: &Path, key_path: &Path) -> Result<CertInfo, TlsError> {
    load_pair(cert_path, key_path).map(|(_, info)| info)
}

/// Does the work of [`load_server_config`] and [`inspect_certificate`].
fn load_pair(
    cert_path: &Path,
    key_path: &Path,
) -> Result<(Arc<rustls::ServerConfig>, CertInfo), TlsError> {
    let chain = read_cert_chain(cert_path)?;
    let key = read_private_key(key_path)?;

    // Parse every certificate, not only the leaf: a broken intermediate would otherwise only show
    // up as a handshake failure on the client side.
    let mut spkis = Vec::with_capacity(chain.len());
    let mut info = None;
    for (index, der) in chain.iter().enumerate() {
        let unparsable = |reason: String| TlsError::CertificateUnparsable {
            path: cert_path.to_path_buf(),
            position: index + 1,
            reason,
        };
        let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref())
            .map_err(|e| unparsable(e.to_string()))?;
        if index == 0 {
            info = Some(cert_info(&cert).map_err(unparsable)?);
        }
        spkis.push(cert.public_key().raw.to_vec());
    }
    let Some(info) = info else {
        // read_cert_chain never returns an empty chain; this keeps the code free of panics.
        return Err(TlsError::NoCertificate {
            path: cert_path.to_path_buf(),
            hint: "",
        });
    };

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|source| TlsError::UnusableKey {
            path: key_path.to_path_buf(),
            source,
        })?;

    // The key's public half, as a SubjectPublicKeyInfo, for the "wrong order" hint below. rustls
    // compares the same bytes in `keys_match`.
    let key_spki = signing_key.public_key().map(|spki| spki.as_ref().to_vec());
    let certified = CertifiedKey::new(chain, signing_key);
    let rustls_error = |source: rustls::Error| TlsError::Rustls {
        cert_path: cert_path.to_path_buf(),
        key_path: key_path.to_path_buf(),
        source,
    };
    match certified.keys_match() {
        Ok(()) => {}
        // The provider cannot derive the public key, so the pair cannot be compared. rustls's own
        // `with_single_cert` accepts such keys too; *ring* derives it for every key it loads.
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            let matches_other = key_spki
                .as_deref()
                .is_some_and(|key| spkis.iter().skip(1).any(|spki| spki.as_slice() == key));
            return Err(TlsError::KeyMismatch {
                cert_path: cert_path.to_path_buf(),
                key_path: key_path.to_path_buf(),
                hint: if matches_other {
                    "; the key belongs to a later certificate in the file, so the chain is in the \
                     wrong order: put the server's own certificate first, then its intermediates"
                } else {
                    "; use the key that was generated together with this certificate, or the \
                     certificate that was issued for this key"
                },
            });
        }
        Err(other) => return Err(rustls_error(other)),
    }

    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(rustls_error)?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(SingleCertAndKey::from(certified)));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((Arc::new(config), info))
}

/// Reads the whole file, naming it in the error.
fn read_file(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_path_buf(),
        source,
    })
}

/// Reads every `CERTIFICATE` block of a PEM file; never returns an empty chain.
fn read_cert_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    const WHAT: &str = "certificate";
    let pem = read_file(WHAT, path)?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad_pem(WHAT, path, &e))?;
    if chain.is_empty() {
        let hint = if contains(&pem, b"PRIVATE KEY-----") {
            " but a private key (are the certificate and key settings swapped?)"
        } else if pem.iter().all(u8::is_ascii_whitespace) {
            " because the file is empty"
        } else {
            ""
        };
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
            hint,
        });
    }
    Ok(chain)
}

/// Reads the first private key (PKCS#8, PKCS#1 or SEC1) of a PEM file.
fn read_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    const WHAT: &str = "private key";
    let pem = read_file(WHAT, path)?;
    match PrivateKeyDer::from_pem_slice(&pem) {
        Ok(key) => Ok(key),
        Err(pem::Error::NoItemsFound) => {
            if contains(&pem, b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
                || contains(&pem, b"Proc-Type: 4,ENCRYPTED")
            {
                return Err(TlsError::EncryptedKey {
                    path: path.to_path_buf(),
                });
            }
            let hint = if contains(&pem, b"-----BEGIN CERTIFICATE-----") {
                " but a certificate (are the certificate and key settings swapped?)"
            } else if pem.iter().all(u8::is_ascii_whitespace) {
                " because the file is empty"
            } else {
                ""
            };
            Err(TlsError::NoPrivateKey {
                path: path.to_path_buf(),
                hint,
            })
        }
        Err(e) => Err(bad_pem(WHAT, path, &e)),
    }
}

/// Describes a PEM syntax error in words only: the parser's own messages may quote a line or a
/// byte of the file, which for the key file would be key material.
fn bad_pem(what: &'static str, path: &Path, error: &pem::Error) -> TlsError {
    let reason = match error {
        pem::Error::MissingSectionEnd { .. } => {
            "a `-----BEGIN` block has no matching `-----END` line"
        }
        pem::Error::IllegalSectionStart { .. } => "a `-----BEGIN` line is malformed",
        pem::Error::Base64Decode(_) => "a block's body is not valid base64",
        pem::Error::SectionTooLarge => "a block is larger than 256 MB",
        pem::Error::NoItemsFound => "it holds no usable block",
        _ => "it could not be decoded",
    };
    TlsError::BadPem {
        what,
        path: path.to_path_buf(),
        reason,
    }
}

/// The facts [`inspect_certificate`] reports, or why the extensions could not be read.
fn cert_info(cert: &X509Certificate<'_>) -> Result<CertInfo, String> {
    let dns_names = cert
        .subject_alternative_name()
        .map_err(|e| format!("its subject alternative names cannot be read: {e}"))?
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    GeneralName::DNSName(dns) => Some((*dns).to_owned()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let validity = cert.validity();
    Ok(CertInfo {
        subject: cert.subject().to_string(),
        not_before: validity.not_before.to_datetime(),
        not_after: validity.not_after.to_datetime(),
        dns_names,
    })
}

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Bytes available to an unprivileged user on the file system holding `path`
/// (`statvfs`: `f_bavail * f_frsize`). Space reserved for root is not counted.
///
/// `path` may be any file or folder on that file system. Not supported (an
/// [`Unsupported`](std::io::ErrorKind::Unsupported) error) on non-unix systems.
pub fn free_disk_bytes(path: &Path) -> std::io::Result<u64> {
    #[cfg(unix)]
    {
        let stat = rustix::fs::statvfs(path)?;
        // POSIX counts f_bavail in fragments; a zero fragment size (seen on some FUSE file
        // systems) means the block size is the unit.
        let unit = if stat.f_frsize == 0 {
            stat.f_bsize
        } else {
            stat.f_frsize
        };
        Ok(stat.f_bavail.saturating_mul(unit))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "free disk space is only measured on unix systems",
        ))
    }
}

/// A file or folder whose permissions let other users at AgentTrace's data or secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionProblem {
    /// The file or folder.
    pub path: PathBuf,
    /// Its permission bits (`mode & 0o7777`), e.g. `0o755`; 0 when they could not be read.
    pub mode: u32,
    /// What is wrong, as a sentence naming the path.
    pub problem: String,
    /// How to fix it: the exact shell command to run (e.g. `chmod 700 /var/lib/agenttrace`),
    /// or, when the permissions could not be read at all, a sentence ending in that command.
    pub fix: String,
}

/// Checks the permissions of the data folder and the secret files.
///
/// On unix the data folder must not be readable, writable or searchable by other users
/// (`mode & 0o007 == 0`; the group may keep access), and each secret file (TLS key, token-signing
/// secret file, ...) must be readable and writable by its owner only (`mode & 0o077 == 0`). The
/// fix of each problem is the exact `chmod` command (`chmod 700 <dir>`, `chmod 600 <file>`).
/// Symbolic links are followed, as `chmod` does. Missing paths are skipped; a path whose
/// permissions cannot be read for another reason is reported with mode 0.
///
/// On other systems it returns no problems.
pub fn permission_problems(data_dir: &Path, secret_files: &[&Path]) -> Vec<PermissionProblem> {
    #[cfg(unix)]
    {
        let mut problems = Vec::new();
        if let Some(problem) = check_mode(data_dir, Kind::DataDir) {
            problems.push(problem);
        }
        for file in secret_files {
            if let Some(problem) = check_mode(file, Kind::SecretFile) {
                problems.push(problem);
            }
        }
        problems
    }
    #[cfg(not(unix))]
    {
        let _ = (data_dir, secret_files);
        Vec::new()
    }
}

/// What a checked path is, which decides the bits it may have.
#[cfg(unix)]
#[derive(Clone, Copy)]
enum Kind {
    DataDir,
    SecretFile,
}

#[cfg(unix)]
fn check_mode(path: &Path, kind: Kind) -> Option<PermissionProblem> {
    use std::os::unix::fs::PermissionsExt;

    let (noun, forbidden, wanted) = match kind {
        Kind::DataDir => ("the data folder", 0o007, "700"),
        Kind::SecretFile => ("the secret file", 0o077, "600"),
    };
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            return Some(PermissionProblem {
                path: path.to_path_buf(),
                mode: 0,
                problem: format!(
                    "the permissions of {noun} {} cannot be read: {e}",
                    path.display()
                ),
                fix: format!(
                    "make sure the user running AgentTrace may reach {}, then run \
                     `chmod {wanted} {}`",
                    path.display(),
                    shell_quote(path)
                ),
            });
        }
    };
    let mode = metadata.permissions().mode() & 0o7777;
    let excess = mode & forbidden;
    if excess == 0 {
        return None;
    }
    let who = match (excess & 0o070 != 0, excess & 0o007 != 0) {
        (true, true) => "its group and by other users",
        (true, false) => "its group",
        _ => "other users",
    };
    Some(PermissionProblem {
        path: path.to_path_buf(),
        mode,
        problem: format!(
            "{noun} {} can be {} by {who} (mode {mode:o})",
            path.display(),
            access_words(excess, kind)
        ),
        fix: format!("chmod {wanted} {}", shell_quote(path)),
    })
}

/// Names the accesses granted by the group and other bits of `bits`, e.g. "read and entered".
#[cfg(unix)]
fn access_words(bits: u32, kind: Kind) -> String {
    // Fold the group bits onto the other bits: the sentence already says who.
    let rwx = (bits | (bits >> 3)) & 0o7;
    let execute = match kind {
        Kind::DataDir => "entered",
        Kind::SecretFile => "executed",
    };
    let words: Vec<&str> = [(0o4, "read"), (0o2, "written"), (0o1, execute)]
        .into_iter()
        .filter(|(bit, _)| rwx & bit != 0)
        .map(|(_, word)| word)
        .collect();
    match words.as_slice() {
        [] => String::new(),
        [only] => (*only).to_owned(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Quotes `path` for a POSIX shell when it holds anything but plainly safe characters, so the
/// suggested command can be pasted as it is.
#[cfg(unix)]
fn shell_quote(path: &Path) -> String {
    let text = path.to_string_lossy();
    let safe = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+,:@%=".contains(c));
    if safe {
        text.into_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    struct Pair {
        dir: tempfile::TempDir,
        cert: PathBuf,
        key: PathBuf,
    }

    /// Writes a PEM certificate and key into a fresh temp dir.
    fn write_pair(cert_pem: &str, key_pem: &str) -> Pair {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        fs::write(&cert, cert_pem).unwrap();
        fs::write(&key, key_pem).unwrap();
        Pair { dir, cert, key }
    }

    fn self_signed(names: &[&str]) -> rcgen::CertifiedKey<rcgen::KeyPair> {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        rcgen::generate_simple_self_signed(names).unwrap()
    }

    #[test]
    fn fresh_self_signed_pair_loads_and_is_inspected() {
        let ck = self_signed(&["agenttrace.test", "localhost"]);
        let pair = write_pair(&ck.cert.pem(), &ck.signing_key.serialize_pem());

        let config = load_server_config(&pair.cert, &pair.key).unwrap();
        assert_eq!(
            config.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );

        let info = inspect_certificate(&pair.cert, &pair.key).unwrap();
        assert_eq!(info.dns_names, vec!["agenttrace.test", "localhost"]);
        assert!(info.subject.contains("CN="), "{}", info.subject);
        let now = OffsetDateTime::now_utc();
        assert!(info.not_before <= now, "{info:?}");
        assert!(info.not_after > now, "{info:?}");
        assert!(info.is_valid_at(now));
    }

    #[test]
    fn chain_with_intermediate_after_leaf_loads() {
        let leaf = self_signed(&["leaf.test"]);
        let other = self_signed(&["other.test"]);
        let chain = format!("{}{}", leaf.cert.pem(), other.cert.pem());
        let pair = write_pair(&chain, &leaf.signing_key.serialize_pem());
        let info = inspect_certificate(&pair.cert, &pair.key).unwrap();
        assert_eq!(info.dns_names, vec!["leaf.test"]);
    }

    #[test]
    fn key_of_another_pair_is_refused() {
        let ck = self_signed(&["agenttrace.test"]);
        let stranger = rcgen::KeyPair::generate().unwrap();
        let pair = write_pair(&ck.cert.pem(), &stranger.serialize_pem());

        let error = load_server_config(&pair.cert, &pair.key).unwrap_err();
        assert!(matches!(error, TlsError::KeyMismatch { .. }), "{error:?}");
        let text = error.to_string();
        assert!(text.contains("does not belong"), "{text}");
        assert!(text.contains(&pair.key.display().to_string()), "{text}");
        assert!(text.contains(&pair.cert.display().to_string()), "{text}");
        assert!(text.contains("generated together"), "{text}");
        assert!(!text.contains("PRIVATE KEY"), "{text}");

        let error = inspect_certificate(&pair.cert, &pair.key).unwrap_err();
        assert!(matches!(error, TlsError::KeyMismatch { .. }), "{error:?}");
    }

    #[test]
    fn chain_in_wrong_order_is_explained() {
        let leaf = self_signed(&["leaf.test"]);
        let other = self_signed(&["other.test"]);
        let chain = format!("{}{}", other.cert.pem(), leaf.cert.pem());
        let pair = write_pair(&chain, &leaf.signing_key.serialize_pem());
        let error = load_server_config(&pair.cert, &pair.key).unwrap_err();
        assert!(error.to_string().contains("wrong order"), "{error}");
    }

    #[test]
    fn empty_or_garbage_pem_names_the_file() {
        let ck = self_signed(&["agenttrace.test"]);
        let key_pem = ck.signing_key.serialize_pem();
        let cert_pem = ck.cert.pem();

        for bad in ["", "this is not a certificate\n"] {
            let pair = write_pair(bad, &key_pem);
            let error = load_server_config(&pair.cert, &pair.key).unwrap_err();
            assert!(matches!(error, TlsError::NoCertificate { .. }), "{error:?}");
            let text = error.to_string();
            assert!(text.contains("no PEM certificate"), "{text}");
            assert!(text.contains(&pair.cert.display().to_string()), "{text}");

            let pair = write_pair(&cert_pem, bad);
            let error = inspect_certificate(&pair.cert, &pair.key).unwrap_err();
            assert!(matches!(error, TlsError::NoPrivateKey { .. }), "{error:?}");
            let text = error.to_string();
            assert!(text.contains("no PEM private key"), "{text}");
            assert!(text.contains(&pair.key.display().to_string()), "{text}");
        }
    }

    #[test]
    fn swapped_files_are_hinted() {
        let ck = self_signed(&["agenttrace.test"]);
        let pair = write_pair(&ck.signing_key.serialize_pem(), &ck.cert.pem());
        let error = load_server_config(&pair.cert, &pair.key).unwrap_err();
        assert!(error.to_string().contains("swapped"), "{error}");
    }

    #[test]
    fn broken_key_pem_does_not_quote_the_file() {
        let ck = self_signed(&["agenttrace.test"]);
        let key_pem = ck.signing_key.serialize_pem();
        // Cut the END line off: the body is key material and must not appear in the error.
        let truncated: String = key_pem
            .lines()
            .filter(|line| !line.starts_with("-----END"))
            .map(|line| format!("{line}\n"))
            .collect();
        let pair = write_pair(&ck.cert.pem(), &truncated);
        let error = load_server_config(&pair.cert, &pair.key).unwrap_err();
        assert!(matches!(error, TlsError::BadPem { .. }), "{error:?}");
        let text = format!("{error} {error:?}");
        let body_line = key_pem.lines().nth(1).unwrap();
        assert!(!text.contains(body_line), "{text}");
        assert!(text.contains(&pair.key.display().to_string()), "{text}");
    }

    #[test]
    fn encrypted_key_is_explained() {
        let ck = self_signed(&["agenttrace.test"]);
        let encrypted =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let pair = write_pair(&ck.cert.pem(), encrypted);
        let error = load_server_config(&pair.cert, &pair.key).unwrap_err();
        assert!(matches!(error, TlsError::EncryptedKey { .. }), "{error:?}");
        assert!(error.to_string().contains("openssl pkey"), "{error}");
    }

    #[test]
    fn missing_file_is_named() {
        let ck = self_signed(&["agenttrace.test"]);
        let pair = write_pair(&ck.cert.pem(), &ck.signing_key.serialize_pem());
        let missing = pair.dir.path().join("nope.pem");
        let error = load_server_config(&missing, &pair.key).unwrap_err();
        assert!(matches!(error, TlsError::Read { .. }), "{error:?}");
        assert!(
            error.to_string().contains(&missing.display().to_string()),
            "{error}"
        );
    }

    #[test]
    fn unparsable_certificate_is_reported() {
        let ck = self_signed(&["agenttrace.test"]);
        // Valid PEM and base64, but not DER.
        let junk = "-----BEGIN CERTIFICATE-----\nAAECAwQFBgcICQ==\n-----END CERTIFICATE-----\n";
        let pair = write_pair(junk, &ck.signing_key.serialize_pem());
        let error = load_server_config(&pair.cert, &pair.key).unwrap_err();
        assert!(
            matches!(error, TlsError::CertificateUnparsable { position: 1, .. }),
            "{error:?}"
        );
    }

    #[test]
    fn expired_certificate_reports_its_past_not_after() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["old.test".to_owned()]).unwrap();
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        let cert = params.self_signed(&key).unwrap();
        let pair = write_pair(&cert.pem(), &key.serialize_pem());

        // Still loads: judging the dates is the caller's business.
        load_server_config(&pair.cert, &pair.key).unwrap();
        let info = inspect_certificate(&pair.cert, &pair.key).unwrap();
        assert_eq!(info.not_after, rcgen::date_time_ymd(2021, 1, 1));
        assert_eq!(info.not_before, rcgen::date_time_ymd(2020, 1, 1));
        let now = OffsetDateTime::now_utc();
        assert!(info.not_after < now, "{info:?}");
        assert!(!info.is_valid_at(now));
        assert_eq!(info.dns_names, vec!["old.test"]);
    }

    #[test]
    fn free_disk_bytes_of_a_temp_dir_is_positive() {
        let dir = tempfile::tempdir().unwrap();
        assert!(free_disk_bytes(dir.path()).unwrap() > 0);
        assert!(free_disk_bytes(&dir.path().join("missing")).is_err());
    }

    #[cfg(unix)]
    fn chmod(path: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn permission_problems_flags_open_dir_and_readable_secret() {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        fs::create_dir(&data).unwrap();
        let secret = data.join("jwt.secret");
        fs::write(&secret, "s").unwrap();
        chmod(&data, 0o755);
        chmod(&secret, 0o644);

        let problems = permission_problems(&data, &[secret.as_path()]);
        assert_eq!(problems.len(), 2, "{problems:?}");

        assert_eq!(problems[0].path, data);
        assert_eq!(problems[0].mode, 0o755);
        assert_eq!(problems[0].fix, format!("chmod 700 {}", data.display()));
        assert!(
            problems[0].problem.contains("read and entered"),
            "{problems:?}"
        );
        assert!(problems[0].problem.contains("755"), "{problems:?}");

        assert_eq!(problems[1].path, secret);
        assert_eq!(problems[1].mode, 0o644);
        assert_eq!(problems[1].fix, format!("chmod 600 {}", secret.display()));
        assert_eq!(
            problems[1].problem,
            format!(
                "the secret file {} can be read by its group and by other users (mode 644)",
                secret.display()
            )
        );
    }

    #[cfg(unix)]
    #[test]
    fn permission_problems_passes_private_dir_and_secret() {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        fs::create_dir(&data).unwrap();
        let secret = data.join("tls.key");
        fs::write(&secret, "s").unwrap();
        chmod(&data, 0o700);
        chmod(&secret, 0o600);
        let missing = data.join("missing.key");

        let problems = permission_problems(&data, &[secret.as_path(), missing.as_path()]);
        assert_eq!(problems, Vec::new());

        // The group may keep access to the folder, but not to a secret.
        chmod(&data, 0o750);
        chmod(&secret, 0o640);
        let problems = permission_problems(&data, &[secret.as_path()]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].path, secret);
        assert!(
            problems[0]
                .problem
                .ends_with("can be read by its group (mode 640)"),
            "{problems:?}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn chmod_fix_quotes_awkward_paths() {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("my data's");
        fs::create_dir(&data).unwrap();
        chmod(&data, 0o777);
        let problems = permission_problems(&data, &[]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(
            problems[0].fix,
            format!("chmod 700 '{}/my data'\\''s'", root.path().display())
        );
        assert!(
            problems[0].problem.contains("read, written and entered"),
            "{problems:?}"
        );
    }
}
