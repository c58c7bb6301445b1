//! The crate's default hasher, as a type of this crate.
//!
//! [`DefaultHashBuilder`] wraps foldhash's fast, per-process randomly seeded
//! `RandomState` (and [`DefaultHasher`] its hasher) in newtypes, so that
//! foldhash is an implementation detail: a later release can change the
//! algorithm without a breaking change to any signature that names
//! `DefaultHashBuilder`. Every `Hasher` method forwards to the inner hasher
//! and is `#[inline]`, so the wrapper costs nothing.
use std::fmt;
use std::hash::{BuildHasher, Hasher};

/// The default `BuildHasher` of every hash-indexed structure in the crate:
/// a fast, per-process randomly seeded hasher (foldhash today; the
/// algorithm is not part of the API).
///
/// Fast and seeded per process, which resists casual collision attacks but
/// is not a cryptographic guarantee. Where keys come from hostile clients
/// and that matters more than speed, pass
/// `std::collections::hash_map::RandomState` (SipHash-1-3) instead.
#[derive(Clone, Default)]
pub struct DefaultHashBuilder(foldhash::fast::RandomState);

impl fmt::Debug for DefaultHashBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The seed is a secret of the process: never print it.
        f.write_str("DefaultHashBuilder")
    }
}

impl BuildHasher for DefaultHashBuilder {
    type Hasher = DefaultHasher;

    #[inline]
    fn build_hasher(&self) -> DefaultHasher {
        DefaultHasher(self.0.build_hasher())
    }
}

/// The [`Hasher`] that [`DefaultHashBuilder`] builds.
#[derive(Clone)]
pub struct DefaultHasher(foldhash::fast::FoldHasher<'static>);

impl fmt::Debug for DefaultHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DefaultHasher")
    }
}

impl Hasher for DefaultHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0.finish()
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        self.0.write(bytes)
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.0.write_u8(i)
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.0.write_u16(i)
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.0.write_u32(i)
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0.write_u64(i)
    }
    #[inline]
    fn write_u128(&mut self, i: u128) {
        self.0.write_u128(i)
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.0.write_usize(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn hashes_like_the_inner_hasher_and_hides_the_seed() {
        let b = DefaultHashBuilder::default();
        assert_eq!(b.hash_one(42u64), b.clone().hash_one(42u64));
        assert_eq!(b.0.hash_one(42u64), b.hash_one(42u64));
        assert_eq!(format!("{b:?}"), "DefaultHashBuilder");
    }
}
