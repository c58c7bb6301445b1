//! Opaque, versioned cursor tokens.
//!
//! Layout before base64url (no padding):
//!
//! ```text
//! byte 0        version (1)
//! byte 1        flags: bit 0 = signed; other bits must be 0
//! bytes 2..10   query fingerprint, u64 little-endian (FNV-1a of order + filter)
//! bytes 10..n   the key, as CursorKey::encode_key wrote it
//! bytes n..n+16 (signed only) HMAC-SHA256, first 16 bytes, over
//!               n as u64 LE || bytes 0..n || order byte || filter text
//! ```
//!
//! The fingerprint binds an unsigned token to its query up to a 64-bit hash
//! collision (unsigned tokens are forgeable anyway); the signed tag covers
//! the query's full text, so a signed token verifies for no other query.
use super::error::Error;
use super::query::Query;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

type HmacSha256 = Hmac<Sha256>;

const VERSION: u8 = 1;
const FLAG_SIGNED: u8 = 1;
const HEADER: usize = 10;
/// Tag bytes kept from the 32-byte HMAC: 128 bits is far beyond what an
/// online forger can guess.
const TAG_LEN: usize = 16;
/// Longest token accepted, in characters; refuses giant inputs before
/// decoding them.
pub const MAX_CURSOR_LEN: usize = 4_096;

/// A key type that can travel inside a cursor token.
///
/// `decode_key` must accept exactly what `encode_key` writes and return
/// `None` for anything else (never panic): tokens come from clients.
pub trait CursorKey: Sized {
    /// Appends this key's bytes to `out`.
    fn encode_key(&self, out: &mut Vec<u8>);
    /// The key `bytes` encode, or `None` when they are not a valid encoding.
    fn decode_key(bytes: &[u8]) -> Option<Self>;
}

macro_rules! int_cursor_key {
    ($($t:ty),*) => {$(
        impl CursorKey for $t {
            fn encode_key(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_be_bytes());
            }
            fn decode_key(bytes: &[u8]) -> Option<Self> {
                Some(<$t>::from_be_bytes(bytes.try_into().ok()?))
            }
        }
    )*};
}
int_cursor_key!(u8, u16, u32, u64, u128, i8, i16, i32, i64, i128);

impl CursorKey for String {
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
    fn decode_key(bytes: &[u8]) -> Option<Self> {
        String::from_utf8(bytes.to_vec()).ok()
    }
}

impl CursorKey for Vec<u8> {
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
    fn decode_key(bytes: &[u8]) -> Option<Self> {
        Some(bytes.to_vec())
    }
}

/// A composite key such as `(created_at, id)`: the first part is
/// length-prefixed (u32, big-endian), the second takes the rest.
impl<A: CursorKey, B: CursorKey> CursorKey for (A, B) {
    fn encode_key(&self, out: &mut Vec<u8>) {
        let at = out.len();
        out.extend_from_slice(&[0; 4]);
        self.0.encode_key(out);
        let len = u32::try_from(out.len() - at - 4).unwrap_or(u32::MAX);
        out[at..at + 4].copy_from_slice(&len.to_be_bytes());
        self.1.encode_key(out);
    }
    fn decode_key(bytes: &[u8]) -> Option<Self> {
        let len = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
        let first = bytes.get(4..4usize.checked_add(len)?)?;
        let rest = bytes.get(4 + len..)?;
        Some((A::decode_key(first)?, B::decode_key(rest)?))
    }
}

/// Writes and reads cursor tokens, optionally signing them.
///
/// Without a key a token is opaque but forgeable (its format is public);
/// with a key every token carries a truncated HMAC-SHA256 tag, checked in
/// constant time, so any altered byte is refused.
#[derive(Clone)]
pub struct CursorCodec {
    mac: Option<HmacSha256>,
}

impl fmt::Debug for CursorCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        f.debug_struct("CursorCodec")
            .field("signed", &self.mac.is_some())
            .finish()
    }
}

impl CursorCodec {
    /// A codec that writes unsigned tokens and refuses signed ones.
    pub fn unsigned() -> Self {
        CursorCodec { mac: None }
    }

    /// A codec that signs its tokens with `key` and refuses any token
    /// whose tag does not verify (including unsigned ones).
    pub fn signed(key: &[u8]) -> Result<Self, Error> {
        if key.is_empty() {
            return Err(Error::EmptySigningKey);
        }
        let mac = HmacSha256::new_from_slice(key).map_err(|_| Error::EmptySigningKey)?;
        Ok(CursorCodec { mac: Some(mac) })
    }

    /// Whether this codec signs its tokens.
    pub fn is_signed(&self) -> bool {
        self.mac.is_some()
    }

    /// The token that continues `query` after `key`.
    ///
    /// # Errors
    /// [`Error::CursorTooLong`] when the token would exceed
    /// [`MAX_CURSOR_LEN`] (which `decode` refuses), so every token this
    /// codec writes is one it can read back.
    pub fn encode<K: CursorKey>(&self, query: &Query, key: &K) -> Result<String, Error> {
        let mut bytes = Vec::with_capacity(32);
        bytes.push(VERSION);
        bytes.push(if self.mac.is_some() { FLAG_SIGNED } else { 0 });
        bytes.extend_from_slice(&query.fingerprint().to_le_bytes());
        key.encode_key(&mut bytes);
        if let Some(mac) = &self.mac {
            let tag = tag_of(mac, &bytes, query).finalize().into_bytes();
            bytes.extend_from_slice(&tag[..TAG_LEN]);
        }
        let token = URL_SAFE_NO_PAD.encode(bytes);
        if token.len() > MAX_CURSOR_LEN {
            return Err(Error::CursorTooLong {
                len: token.len(),
                max: MAX_CURSOR_LEN,
            });
        }
        Ok(token)
    }

    /// The key in `token`, if it is a well-formed token of this codec
    /// (signature included) issued for `query`.
    pub fn decode<K: CursorKey>(&self, query: &Query, token: &str) -> Result<K, Error> {
        if token.len() > MAX_CURSOR_LEN {
            return Err(Error::MalformedCursor { reason: "too long" });
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| Error::MalformedCursor {
                reason: "not base64url",
            })?;
        if bytes.len() < HEADER {
            return Err(Error::MalformedCursor {
                reason: "too short",
            });
        }
        if bytes[0] != VERSION {
            return Err(Error::UnsupportedCursorVersion { version: bytes[0] });
        }
        let flags = bytes[1];
        if flags & !FLAG_SIGNED != 0 {
            return Err(Error::MalformedCursor {
                reason: "unknown flags",
            });
        }
        let body = match (&self.mac, flags & FLAG_SIGNED != 0) {
            (Some(mac), true) => {
                let split = bytes
                    .len()
                    .checked_sub(TAG_LEN)
                    .filter(|&s| s >= HEADER)
                    .ok_or(Error::MalformedCursor {
                        reason: "too short",
                    })?;
                let (body, tag) = bytes.split_at(split);
                check_fingerprint(body, query)?;
                // Constant-time comparison of the truncated tag.
                tag_of(mac, body, query)
                    .verify_truncated_left(tag)
                    .map_err(|_| Error::BadCursorSignature)?;
                body
            }
            (None, false) => &bytes[..],
            // Unsigned under a key, or signed with nothing to check it.
            _ => return Err(Error::BadCursorSignature),
        };
        check_fingerprint(body, query)?;
        K::decode_key(&body[HEADER..]).ok_or(Error::MalformedCursor {
            reason: "key bytes do not decode as the key type",
        })
    }
}

/// The MAC state after feeding a token body and the query it is for.
fn tag_of(mac: &HmacSha256, body: &[u8], query: &Query) -> HmacSha256 {
    let mut mac = mac.clone();
    // The length prefix keeps (body, query) pairs from running into each other.
    mac.update(&(body.len() as u64).to_le_bytes());
    mac.update(body);
    mac.update(&[query.order_byte()]);
    mac.update(query.filter().as_bytes());
    mac
}

fn check_fingerprint(body: &[u8], query: &Query) -> Result<(), Error> {
    let mut fp = [0u8; 8];
    fp.copy_from_slice(&body[2..HEADER]);
    if u64::from_le_bytes(fp) != query.fingerprint() {
        return Err(Error::CursorQueryMismatch);
    }
    Ok(())
}
