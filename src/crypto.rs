//! Secrets: the appliance key and AEAD for provider credentials at rest, argon2id password
//! hashes, random tokens stored as SHA-256, and constant-time comparison (SPEC §11).

use argon2::password_hash::{rand_core::OsRng, Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::path::Path;
use subtle::ConstantTimeEq;

const CIPHERTEXT_VERSION: &str = "v1:";

/// The 32-byte appliance key that encrypts provider secrets. Its clones share one copy of
/// the key.
#[derive(Clone)]
pub struct SecretKey(std::sync::Arc<[u8; 32]>);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey([redacted])")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("cannot read or create the secret key file {path}: {source}")]
    KeyFile {
        path: String,
        source: std::io::Error,
    },
    #[error("the secret key file {0} is invalid: it must hold 32 bytes as base64 (delete it only if no provider secrets were stored with it)")]
    BadKeyFile(String),
    #[error("a stored secret cannot be decrypted: it was written with another secret key or is corrupted")]
    Decrypt,
    #[error("password hashing failed: {0}")]
    Hash(String),
}

impl SecretKey {
    pub fn from_base64(text: &str) -> Result<SecretKey, String> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| {
            "is not valid base64; generate one with `openssl rand -base64 32`".to_string()
        })?;
        let array: [u8; 32] = bytes.try_into().map_err(|_| {
            "must decode to exactly 32 bytes; generate one with `openssl rand -base64 32`"
                .to_string()
        })?;
        Ok(SecretKey(std::sync::Arc::new(array)))
    }

    pub fn generate() -> SecretKey {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        SecretKey(std::sync::Arc::new(key))
    }

    /// Reads `secret.key` from the data dir, creating it (mode 0600) on first start.
    pub fn load_or_create(data_dir: &Path) -> Result<SecretKey, CryptoError> {
        let path = data_dir.join("secret.key");
        let io_err = |source| CryptoError::KeyFile {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => SecretKey::from_base64(&text)
                .map_err(|_| CryptoError::BadKeyFile(path.display().to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = SecretKey::generate();
                write_private_file(&path, STANDARD.encode(*key.0).as_bytes()).map_err(io_err)?;
                Ok(key)
            }
            Err(e) => Err(io_err(e)),
        }
    }

    /// Encrypts `plaintext`, binding it to `context` (e.g. the account SID) so a ciphertext
    /// copied to another row does not decrypt.
    pub fn encrypt(&self, plaintext: &str, context: &str) -> String {
        let cipher = XChaCha20Poly1305::new((&*self.0).into());
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .expect("XChaCha20Poly1305 encryption of an in-memory buffer cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{CIPHERTEXT_VERSION}{}", STANDARD.encode(out))
    }

    pub fn decrypt(&self, ciphertext: &str, context: &str) -> Result<String, CryptoError> {
        let raw = ciphertext
            .strip_prefix(CIPHERTEXT_VERSION)
            .and_then(|b| STANDARD.decode(b).ok())
            .filter(|raw| raw.len() > 24)
            .ok_or(CryptoError::Decrypt)?;
        let (nonce, sealed) = raw.split_at(24);
        let cipher = XChaCha20Poly1305::new((&*self.0).into());
        let plain = cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Decrypt)?;
        String::from_utf8(plain).map_err(|_| CryptoError::Decrypt)
    }
}

/// Writes a file readable only by its owner (0600 on Unix).
pub fn write_private_file(path: &Path, content: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(content)?;
    file.sync_all()
}

/// A random URL-safe token with `bytes` bytes of entropy.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// `n` random lowercase hex characters (Twilio-style SIDs are a prefix + 32 of these, a
/// request id 16). From the thread's generator, a CSPRNG seeded from the OS: no system
/// call per id, which the request log would otherwise make on every request.
pub fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n.div_ceil(2)];
    rand::thread_rng().fill_bytes(&mut buf);
    let mut s = hex::encode(buf);
    s.truncate(n);
    s
}

/// A random version-4-shaped UUID string (the id format Vapi uses).
pub fn random_uuid() -> String {
    let h = random_hex(32);
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// A password people can type: 20 characters from an unambiguous alphabet (~114 bits).
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    (0..20)
        .map(|_| ALPHABET[(rng.next_u32() as usize) % ALPHABET.len()] as char)
        .collect()
}

/// SHA-256 hex of a high-entropy token: sessions and API tokens are stored only this way.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Blocks (1 KiB each) reserved for one argon2 computation at the least. glibc serves an
/// allocation of 32 MiB or more (its highest dynamic mmap threshold) with a mapping of its
/// own and unmaps it on free. A smaller one, once freed, raises the threshold, so the next
/// ones come from the thread's malloc arena, which keeps the pages: that is how 64
/// concurrent sign-ins left the process at over 1 GiB. Reserving more than argon2 needs
/// costs address space only; pages it never touches are never resident.
const ARGON2_MIN_RESERVED_BLOCKS: usize = 33 * 1024;

/// The most memory a stored hash may ask for (256 MiB): a hash is ours, but a damaged or
/// planted row must not make one sign-in allocate without bound.
const ARGON2_MAX_BLOCKS: usize = 256 * 1024;

/// Runs argon2 into `out` with memory that is returned to the system when it ends.
fn argon2_into(
    argon: &Argon2<'_>,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    let blocks = argon.params().block_count();
    if blocks > ARGON2_MAX_BLOCKS {
        return Err(argon2::Error::MemoryTooMuch);
    }
    let mut memory = Vec::with_capacity(blocks.max(ARGON2_MIN_RESERVED_BLOCKS));
    memory.resize(blocks, Block::default());
    argon.hash_password_into_with_memory(password, salt, out, &mut memory)
}

/// An argon2id hash in the PHC string format, with the crate's default (OWASP) parameters.
pub fn hash_password(password: &str) -> Result<String, CryptoError> {
    let fail = |e: argon2::password_hash::Error| CryptoError::Hash(e.to_string());
    let params = Params::default();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt.as_salt().decode_b64(&mut salt_buf).map_err(fail)?;
    let len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let hash = Output::init_with(len, |out| {
        Ok(argon2_into(&argon, password.as_bytes(), salt_bytes, out)?)
    })
    .map_err(fail)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(fail)?,
        salt: Some(salt.as_salt()),
        hash: Some(hash),
    };
    Ok(phc.to_string())
}

/// Verifies an argon2 hash in PHC format (with the parameters it was made with). With no
/// stored hash it still does the work of one check, so response time does not reveal
/// whether an email exists.
pub fn verify_password(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_password("not-a-real-password").unwrap_or_default());
    let candidate = stored.unwrap_or(dummy);
    let matches = PasswordHash::new(candidate)
        .ok()
        .and_then(|parsed| argon2_matches(password.as_bytes(), &parsed));
    matches == Some(true) && stored.is_some()
}

/// Recomputes the hash of `password` with `parsed`'s algorithm, version, parameters and
/// salt; `None` when the stored string is not an argon2 hash this build can check.
fn argon2_matches(password: &[u8], parsed: &PasswordHash<'_>) -> Option<bool> {
    let expected = parsed.hash?;
    let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).ok()?,
        None => Version::default(),
    };
    let params = Params::try_from(parsed).ok()?;
    let argon = Argon2::new(algorithm, version, params);
    let mut salt_buf = [0u8; 64];
    let salt = parsed.salt?.decode_b64(&mut salt_buf).ok()?;
    let computed = Output::init_with(expected.len(), |out| {
        Ok(argon2_into(&argon, password, salt, out)?)
    })
    .ok()?;
    // Output's equality is constant-time.
    Some(computed == expected)
}

/// Minimum rules for a password someone chose.
pub fn check_password_strength(password: &str) -> Result<(), String> {
    if password.chars().count() < 10 {
        return Err("the password must have at least 10 characters".into());
    }
    if password.len() > 1024 {
        return Err("the password must have at most 1024 bytes".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_secrets_round_trip_only_with_the_same_key_and_context() {
        let key = SecretKey::generate();
        let sealed = key.encrypt("auth-token-123", "AC1");
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("auth-token-123"));
        assert_eq!(key.decrypt(&sealed, "AC1").unwrap(), "auth-token-123");
        assert!(key.decrypt(&sealed, "AC2").is_err());
        assert!(SecretKey::generate().decrypt(&sealed, "AC1").is_err());
        assert!(key.decrypt("garbage", "AC1").is_err());
    }

    #[test]
    fn the_key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = SecretKey::load_or_create(dir.path()).unwrap();
        let second = SecretKey::load_or_create(dir.path()).unwrap();
        assert_eq!(first.0, second.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("secret.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_key_from_config_must_be_32_bytes_of_base64() {
        assert!(SecretKey::from_base64(&STANDARD.encode([7u8; 32])).is_ok());
        assert!(SecretKey::from_base64(&STANDARD.encode([7u8; 16]))
            .unwrap_err()
            .contains("32 bytes"));
        assert!(SecretKey::from_base64("!!!")
            .unwrap_err()
            .contains("base64"));
    }

    #[test]
    fn passwords_verify_with_argon2id() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", Some(&hash)));
        assert!(!verify_password("wrong", Some(&hash)));
        assert!(!verify_password("correct horse battery", None));
    }

    #[test]
    fn hashes_stay_interchangeable_with_the_argon2_crates_own_format() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        // A hash written before hashing had its own memory (and by any PHC argon2 tool).
        let salt = SaltString::generate(&mut OsRng);
        let theirs = Argon2::default()
            .hash_password(b"correct horse battery", &salt)
            .unwrap()
            .to_string();
        assert!(verify_password("correct horse battery", Some(&theirs)));
        assert!(!verify_password("correct horse batterY", Some(&theirs)));
        // Other parameters are read from the hash itself.
        let light = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x10,
            Params::new(1024, 3, 1, Some(24)).unwrap(),
        )
        .hash_password(b"pw-with-other-params", &salt)
        .unwrap()
        .to_string();
        assert!(verify_password("pw-with-other-params", Some(&light)));
        // Ours is what the crate's verifier accepts.
        let ours = hash_password("correct horse battery").unwrap();
        assert!(
            ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{ours}"
        );
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password(b"correct horse battery", &parsed)
            .is_ok());
    }

    #[test]
    fn a_stored_hash_asking_for_unbounded_memory_is_refused_not_computed() {
        let greedy = "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0$\
            aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
        assert!(!verify_password("anything", Some(greedy)));
        assert!(!verify_password("anything", Some("not a hash")));
    }

    #[test]
    fn generated_passwords_are_long_and_pass_the_strength_check() {
        let p = generate_password();
        assert_eq!(p.len(), 20);
        assert!(check_password_strength(&p).is_ok());
        assert!(check_password_strength("short").is_err());
    }
}
