//! Secrets: the appliance key and AEAD for provider credentials at rest, argon2id password
//! hashes, random tokens stored as SHA-256, and constant-time comparison (SPEC §11).

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::path::Path;
use subtle::ConstantTimeEq;

const CIPHERTEXT_VERSION: &str = "v1:";

/// The 32-byte appliance key that encrypts provider secrets.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

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
        Ok(SecretKey(array))
    }

    pub fn generate() -> SecretKey {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        SecretKey(key)
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
                write_private_file(&path, STANDARD.encode(key.0).as_bytes()).map_err(io_err)?;
                Ok(key)
            }
            Err(e) => Err(io_err(e)),
        }
    }

    /// Encrypts `plaintext`, binding it to `context` (e.g. the account SID) so a ciphertext
    /// copied to another row does not decrypt.
    pub fn encrypt(&self, plaintext: &str, context: &str) -> String {
        let cipher = XChaCha20Poly1305::new((&self.0).into());
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
        let cipher = XChaCha20Poly1305::new((&self.0).into());
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

/// `n` random lowercase hex characters (Twilio-style SIDs are a prefix + 32 of these).
pub fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n.div_ceil(2)];
    rand::rngs::OsRng.fill_bytes(&mut buf);
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

pub fn hash_password(password: &str) -> Result<String, CryptoError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CryptoError::Hash(e.to_string()))
}

/// Verifies an argon2id hash. With no stored hash it still does the work of one check, so
/// response time does not reveal whether an email exists.
pub fn verify_password(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_password("not-a-real-password").unwrap_or_default());
    let candidate = stored.unwrap_or(dummy);
    let Ok(parsed) = PasswordHash::new(candidate) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
        && stored.is_some()
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
    fn generated_passwords_are_long_and_pass_the_strength_check() {
        let p = generate_password();
        assert_eq!(p.len(), 20);
        assert!(check_password_strength(&p).is_ok());
        assert!(check_password_strength("short").is_err());
    }
}
