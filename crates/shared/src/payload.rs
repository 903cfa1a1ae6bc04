//! Encrypted request bodies (DESIGN 4.8): `{"encrypted": "<ivhex>:<cthex>[:<machex>]"}` with
//! AES-256-CBC/PKCS#7 under the 32 UTF-8 bytes of `ENCRYPTION_KEY`, optionally authenticated with
//! HMAC-SHA256 over IV‖ciphertext (encrypt-then-MAC) under a key derived from `ENCRYPTION_KEY`.

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

type Aes256CbcEnc = cbc::Encryptor<aes::Aes256>;
type Aes256CbcDec = cbc::Decryptor<aes::Aes256>;
type HmacSha256 = Hmac<Sha256>;

/// The label the MAC key is derived with: `mac_key = HMAC-SHA256(ENCRYPTION_KEY, MAC_KEY_LABEL)`.
pub const MAC_KEY_LABEL: &[u8] = b"ecommerce payload mac v1";

/// Whether the unauthenticated legacy form is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacPolicy {
    /// Both `<iv>:<ct>` and `<iv>:<ct>:<mac>` are accepted (compatible with the original's clients).
    Optional,
    /// Only `<iv>:<ct>:<mac>` is accepted (`PAYLOAD_MAC=required`).
    Required,
}

/// Why a payload could not be decrypted. All variants map to the same 400 for clients.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PayloadError {
    /// Not `<hex>:<hex>[:<hex>]`, or hex of the wrong size.
    #[error("malformed encrypted payload")]
    Malformed,
    /// The MAC is missing although required, or does not match.
    #[error("payload authentication failed")]
    BadMac,
    /// Wrong key or corrupted ciphertext (bad padding).
    #[error("payload decryption failed")]
    Decrypt,
}

/// Encrypts and decrypts payloads with one key.
#[derive(Clone)]
pub struct PayloadCipher {
    key: [u8; 32],
    mac_key: [u8; 32],
    policy: MacPolicy,
}

impl std::fmt::Debug for PayloadCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PayloadCipher")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl PayloadCipher {
    /// Builds a cipher from `ENCRYPTION_KEY`, which must be exactly 32 bytes of UTF-8.
    pub fn new(key: &str, policy: MacPolicy) -> Result<Self, String> {
        let bytes = key.as_bytes();
        let key: [u8; 32] = bytes.try_into().map_err(|_| {
            format!(
                "ENCRYPTION_KEY must be exactly 32 bytes (got {})",
                bytes.len()
            )
        })?;
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&key).map_err(|e| e.to_string())?;
        mac.update(MAC_KEY_LABEL);
        let mac_key: [u8; 32] = mac.finalize().into_bytes().into();
        Ok(Self {
            key,
            mac_key,
            policy,
        })
    }

    /// The policy in force.
    pub fn policy(&self) -> MacPolicy {
        self.policy
    }

    /// Encrypts with a given IV into the legacy `<iv>:<ct>` form.
    pub fn encrypt_legacy_with_iv(&self, plaintext: &[u8], iv: [u8; 16]) -> String {
        let ct = Aes256CbcEnc::new(&self.key.into(), &iv.into())
            .encrypt_padded_vec_mut::<Pkcs7>(plaintext);
        format!("{}:{}", hex::encode(iv), hex::encode(ct))
    }

    /// Encrypts with a given IV into the authenticated `<iv>:<ct>:<mac>` form.
    pub fn encrypt_with_iv(&self, plaintext: &[u8], iv: [u8; 16]) -> String {
        let ct = Aes256CbcEnc::new(&self.key.into(), &iv.into())
            .encrypt_padded_vec_mut::<Pkcs7>(plaintext);
        let tag = self.tag(&iv, &ct);
        format!(
            "{}:{}:{}",
            hex::encode(iv),
            hex::encode(ct),
            hex::encode(tag)
        )
    }

    /// Encrypts with a fresh random IV into the authenticated form.
    pub fn encrypt(&self, plaintext: &[u8]) -> String {
        self.encrypt_with_iv(plaintext, random_iv())
    }

    /// Encrypts with a fresh random IV into the legacy form.
    pub fn encrypt_legacy(&self, plaintext: &[u8]) -> String {
        self.encrypt_legacy_with_iv(plaintext, random_iv())
    }

    fn tag(&self, iv: &[u8], ct: &[u8]) -> [u8; 32] {
        // The key is 32 bytes; HMAC accepts any length, so this cannot fail.
        let Ok(mut mac) = <HmacSha256 as KeyInit>::new_from_slice(&self.mac_key) else {
            unreachable!("HMAC takes keys of any length")
        };
        mac.update(iv);
        mac.update(ct);
        mac.finalize().into_bytes().into()
    }

    /// Decrypts either form (the legacy one only when the policy allows it).
    pub fn decrypt(&self, payload: &str) -> Result<Vec<u8>, PayloadError> {
        let parts: Vec<&str> = payload.trim().split(':').collect();
        let (iv_hex, ct_hex, mac_hex) = match parts.as_slice() {
            [iv, ct] => (*iv, *ct, None),
            [iv, ct, mac] => (*iv, *ct, Some(*mac)),
            _ => return Err(PayloadError::Malformed),
        };
        let iv: [u8; 16] = hex::decode(iv_hex)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or(PayloadError::Malformed)?;
        let ct = hex::decode(ct_hex).map_err(|_| PayloadError::Malformed)?;
        if ct.is_empty() || ct.len() % 16 != 0 {
            return Err(PayloadError::Malformed);
        }
        match mac_hex {
            Some(mac_hex) => {
                let given = hex::decode(mac_hex).map_err(|_| PayloadError::Malformed)?;
                let expected = self.tag(&iv, &ct);
                if given.len() != expected.len() || !bool::from(given.ct_eq(&expected)) {
                    return Err(PayloadError::BadMac);
                }
            }
            None if self.policy == MacPolicy::Required => return Err(PayloadError::BadMac),
            None => {}
        }
        Aes256CbcDec::new(&self.key.into(), &iv.into())
            .decrypt_padded_vec_mut::<Pkcs7>(&ct)
            .map_err(|_| PayloadError::Decrypt)
    }
}

fn random_iv() -> [u8; 16] {
    let mut iv = [0u8; 16];
    rand::rng().fill_bytes(&mut iv);
    iv
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(s: &str) -> [u8; 16] {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    // The original's three vectors (reference §8), verified there with Node and OpenSSL.
    #[test]
    fn legacy_vectors_match_the_original() {
        let c =
            PayloadCipher::new("12345678901234567890123456789012", MacPolicy::Optional).unwrap();
        assert_eq!(
            c.encrypt_legacy_with_iv(
                br#"{"email":"user@example.com","password":"securepass123"}"#,
                iv("00112233445566778899aabbccddeeff")
            ),
            "00112233445566778899aabbccddeeff:6353e57f0dfd50e27d00025aeccba0a86a584a8bc0a3ead48e616d06375da46ae693db8d4d29f44a5734da79623ea9c292963c83a3c123b3f96ac003dce6d245"
        );
        assert_eq!(
            c.encrypt_legacy_with_iv(b"{}", iv("000102030405060708090a0b0c0d0e0f")),
            "000102030405060708090a0b0c0d0e0f:f736615cba530a608c0b28b94de5552c"
        );
        let c2 =
            PayloadCipher::new("32-character-encryption-key-here", MacPolicy::Optional).unwrap();
        let third = "000102030405060708090a0b0c0d0e0f:da3fe0b1c3c87667540079c83a398ae3ca3b3e52c3575a9c675791181bb870ddf374d1962278ff613415b1c8da411dce298a5f9225f360024c2ea0de397cd1e0";
        assert_eq!(
            c2.encrypt_legacy_with_iv(
                br#"{"items":[{"productId":"PRODUCT_ID","quantity":1}]}"#,
                iv("000102030405060708090a0b0c0d0e0f")
            ),
            third
        );
        assert_eq!(
            c2.decrypt(third).unwrap(),
            br#"{"items":[{"productId":"PRODUCT_ID","quantity":1}]}"#
        );
    }

    // Our authenticated form's vector, published in the README.
    #[test]
    fn mac_vector_is_stable() {
        let c =
            PayloadCipher::new("12345678901234567890123456789012", MacPolicy::Required).unwrap();
        let s = c.encrypt_with_iv(b"{}", iv("000102030405060708090a0b0c0d0e0f"));
        assert_eq!(
            s,
            "000102030405060708090a0b0c0d0e0f:f736615cba530a608c0b28b94de5552c:".to_string()
                + MAC_VECTOR_TAG
        );
        assert_eq!(c.decrypt(&s).unwrap(), b"{}");
    }

    const MAC_VECTOR_TAG: &str = "f84a00c878687c10bb9ed2b0fcb28b77f30f6576b9208842cde295f48434ec1b";

    #[test]
    fn tampering_and_policy_are_enforced() {
        let c =
            PayloadCipher::new("12345678901234567890123456789012", MacPolicy::Required).unwrap();
        let s = c.encrypt(br#"{"a":1}"#);
        let mut tampered = s.into_bytes();
        tampered[40] = if tampered[40] == b'0' { b'1' } else { b'0' };
        assert_eq!(
            c.decrypt(std::str::from_utf8(&tampered).unwrap()),
            Err(PayloadError::BadMac)
        );
        let legacy = c.encrypt_legacy(b"{}");
        assert_eq!(c.decrypt(&legacy), Err(PayloadError::BadMac));
        assert_eq!(c.decrypt("zz:00"), Err(PayloadError::Malformed));
        assert_eq!(c.decrypt("nothing"), Err(PayloadError::Malformed));
    }

    #[test]
    fn wrong_key_fails_and_short_keys_are_refused() {
        let a =
            PayloadCipher::new("12345678901234567890123456789012", MacPolicy::Optional).unwrap();
        let b =
            PayloadCipher::new("abcdefghijabcdefghijabcdefghijab", MacPolicy::Optional).unwrap();
        let s = a.encrypt_legacy(br#"{"email":"user@example.com"}"#);
        assert!(
            b.decrypt(&s).is_err() || b.decrypt(&s).unwrap() != br#"{"email":"user@example.com"}"#
        );
        assert!(PayloadCipher::new("short", MacPolicy::Optional).is_err());
    }
}
