//! [`KeyedLimiterBuilder`](super::KeyedLimiterBuilder)'s settings and
//! `build`, which checks them and sizes the shards; the limiter itself is
//! in `keyed.rs`.

use super::*;

impl<K: Hash + Eq, S: BuildHasher, C: Clock> KeyedLimiterBuilder<K, S, C> {
    /// Refill rate of each key's bucket, tokens per second (required).
    pub fn rate(mut self, tokens_per_second: f64) -> Self {
        self.rate = Some(tokens_per_second);
        self
    }

    /// The limit: the most tokens each key's bucket holds, its largest
    /// burst. Default: one second's worth (`ceil(rate)`, at least 1).
    pub fn limit(mut self, tokens: u64) -> Self {
        self.burst = Some(tokens);
        self
    }

    /// The same as [`limit`](Self::limit), under its older name.
    pub fn burst(self, tokens: u64) -> Self {
        self.limit(tokens)
    }

    /// Most keys held at once (default 1,048,576); see the type's docs.
    pub fn max_keys(mut self, max_keys: usize) -> Self {
        self.max_keys = max_keys;
        self
    }

    /// Number of shards, rounded up to a power of two, then halved until
    /// each shard holds at least 32 keys. Default: shards of about 512
    /// keys, at most 64 (the cache's rule: the count follows `max_keys`,
    /// never the machine).
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = Some(shards);
        self
    }

    /// The hasher, for example `RandomState` for hostile keys.
    pub fn hasher<S2: BuildHasher>(self, hasher: S2) -> KeyedLimiterBuilder<K, S2, C> {
        KeyedLimiterBuilder {
            rate: self.rate,
            burst: self.burst,
            max_keys: self.max_keys,
            shards: self.shards,
            hasher,
            clock: self.clock,
            key: PhantomData,
        }
    }

    /// The clock.
    pub fn clock<C2: Clock>(self, clock: C2) -> KeyedLimiterBuilder<K, S, C2> {
        KeyedLimiterBuilder {
            rate: self.rate,
            burst: self.burst,
            max_keys: self.max_keys,
            shards: self.shards,
            hasher: self.hasher,
            clock,
            key: PhantomData,
        }
    }

    /// Builds the limiter.
    ///
    /// # Errors
    /// As [`TokenBucketBuilder::build`](crate::ratelimit::TokenBucketBuilder::build),
    /// and [`Error::ZeroCapacity`] for zero `max_keys` or `shards`.
    pub fn build(self) -> Result<KeyedLimiter<K, S, C>, Error> {
        let gcra = super::super::gcra::Gcra::from_builder(self.rate, self.burst)?;
        if self.max_keys == 0 {
            return Err(Error::ZeroCapacity {
                parameter: "max_keys",
            });
        }
        // The crate's one shard rule (`shard.rs`): the count follows the
        // capacity, never the machine, and no shard is sized below its
        // minimum (a limiter of 100 keys is one shard, not 64 of two keys
        // each). A request above the most shards is capped, as before.
        let requested = self.shards.map(|n| n.min(crate::sync::shard::MAX));
        let max_keys = u64::try_from(self.max_keys).unwrap_or(u64::MAX);
        let n = crate::sync::shard::count(requested, Some(max_keys)).map_err(|_| {
            Error::ZeroCapacity {
                parameter: "shards",
            }
        })?;
        let shard_cap = self.max_keys.div_ceil(n);
        let shards = (0..n)
            .map(|_| {
                CachePadded::new(RwLock::new(Shard {
                    map: HashTable::new(),
                    gcra,
                    next_sweep: MIN_SWEEP.min(shard_cap),
                    evictions: 0,
                }))
            })
            .collect();
        Ok(KeyedLimiter {
            shards,
            shard_mask: n - 1,
            shard_cap,
            quota: Mutex::new(gcra),
            hasher: self.hasher,
            clock: self.clock,
        })
    }
}
