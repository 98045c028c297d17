//! The ciphers and key derivations the formats share, from RustCrypto's
//! crates: AES-256-GCM, AES-CBC (PSKC, Bitwarden) and PBKDF2. A format's own choice of
//! parameters is checked in its file before these run.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use zeroize::Zeroizing;

/// AES-256-GCM: `sealed` is the ciphertext followed by its 16-byte tag.
/// `None` when the tag does not match (a wrong key, or a damaged file).
pub fn aes_gcm_open(
    key: &[u8; 32],
    nonce: &[u8; 12],
    sealed: &[u8],
    aad: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    Aes256Gcm::new(key.into())
        .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad })
        .ok()
        .map(Zeroizing::new)
}

/// AES-256-GCM sealing: the ciphertext followed by its 16-byte tag.
pub fn aes_gcm_seal(key: &[u8; 32], nonce: &[u8; 12], plain: &[u8]) -> Vec<u8> {
    Aes256Gcm::new(key.into())
        .encrypt(Nonce::from_slice(nonce), plain)
        .expect("AES-GCM seals any message this size")
}

/// PBKDF2-HMAC-SHA256 into a 32-byte key.
pub fn pbkdf2_sha256(password: &[u8], salt: &[u8], rounds: u32) -> Zeroizing<[u8; 32]> {
    let mut key = Zeroizing::new([0u8; 32]);
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, salt, rounds, &mut key[..]);
    key
}

/// PBKDF2-HMAC-SHA1 into a 32-byte key.
pub fn pbkdf2_sha1(password: &[u8], salt: &[u8], rounds: u32) -> Zeroizing<[u8; 32]> {
    let mut key = Zeroizing::new([0u8; 32]);
    pbkdf2::pbkdf2_hmac::<sha1::Sha1>(password, salt, rounds, &mut key[..]);
    key
}

/// AES-CBC with PKCS#7 padding over `data` = IV ‖ ciphertext; `None` when
/// the key has the wrong size or the padding is wrong (a wrong key).
pub fn cbc_decrypt(key: &[u8], data: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    use aes::cipher::{BlockDecryptMut, KeyIvInit, block_padding::Pkcs7};
    if data.len() < 32 || !data.len().is_multiple_of(16) {
        return None;
    }
    let (iv, sealed) = data.split_at(16);
    let mut buf = Zeroizing::new(sealed.to_vec());
    let n = match key.len() {
        16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(key, iv)
            .ok()?
            .decrypt_padded_mut::<Pkcs7>(&mut buf)
            .ok()?
            .len(),
        24 => cbc::Decryptor::<aes::Aes192>::new_from_slices(key, iv)
            .ok()?
            .decrypt_padded_mut::<Pkcs7>(&mut buf)
            .ok()?
            .len(),
        32 => cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv)
            .ok()?
            .decrypt_padded_mut::<Pkcs7>(&mut buf)
            .ok()?
            .len(),
        _ => return None,
    };
    buf.truncate(n);
    Some(buf)
}

/// AES-128-CBC with PKCS#7 padding under a fresh IV: IV ‖ ciphertext.
pub fn cbc_encrypt(key: &[u8; 16], plain: &[u8]) -> Vec<u8> {
    use aes::cipher::{BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
    let iv: [u8; 16] = rand::random();
    let sealed = cbc::Encryptor::<aes::Aes128>::new(key.into(), &iv.into())
        .encrypt_padded_vec_mut::<Pkcs7>(plain);
    [iv.as_slice(), &sealed].concat()
}
