//! Warm restart: [`Cache::snapshot`] and [`Cache::restore`].
//!
//! A rolling deploy starts every replica cold, and the database takes the
//! whole miss storm at once. A [`Snapshot`] taken at shutdown holds each
//! live entry with its remaining time to live and its estimated frequency;
//! restored into the new process's cache (built with the same settings, or
//! others), it makes the new cache about as good as the old one at once.
//!
//! - **Time:** a snapshot records the wall-clock time it was taken; a
//!   restore subtracts the time since (the downtime) from each entry's
//!   remaining time to live, so an entry whose TTL ran out while the
//!   process was down does not come back. (The cache's own clock is
//!   monotonic and per process; only the wall clock spans two processes.
//!   A wall clock that stepped back counts as no downtime.)
//! - **Frequency:** the sketch's counters are indexed by hashes of a hasher
//!   that is usually seeded per process, so they cannot be copied; each
//!   entry carries its own estimate instead (0-15), replayed into the new
//!   sketch, so the entries that were hot keep winning admission.
//! - **Order:** entries are restored coldest first, so where the new cache
//!   is smaller the hottest are the ones held.
//! - **Format:** `serde` (feature `serde`), with a format name, a version
//!   and an entry count checked by [`Cache::restore`]: a foreign value, an
//!   older or newer version, or a count that does not match the entries is
//!   a [`SnapshotError`], never a partial or silent restore.
//!   [`Snapshot::to_json`] and [`Snapshot::from_json`] are the ready-made
//!   encoding; any serde format works.
use super::engine::Cache;
use super::expiry::NEVER;
use crate::clock::Clock;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The format name every snapshot carries.
pub const SNAPSHOT_FORMAT: &str = "latchwork.cache.snapshot";
/// The snapshot version this build writes and reads.
pub const SNAPSHOT_VERSION: u32 = 1;

/// One saved entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedEntry<K, V> {
    /// The key.
    pub key: K,
    /// The value.
    pub value: V,
    /// Nanoseconds of time to live left when the snapshot was taken;
    /// `None` for an entry that never expires.
    pub ttl_left_nanos: Option<u64>,
    /// The sketch's estimate of the entry's recent uses, 0 to 15.
    pub frequency: u8,
}

/// The live entries of a cache at one moment; see the module doc.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot<K, V> {
    /// [`SNAPSHOT_FORMAT`].
    pub format: String,
    /// [`SNAPSHOT_VERSION`] of the build that wrote it.
    pub version: u32,
    /// Wall-clock time of the snapshot, nanoseconds since the Unix epoch.
    pub taken_at_unix_nanos: u64,
    /// The adaptive window's share of the capacity (TinyLFU with a bound),
    /// resumed on restore: the window the old process had learnt.
    pub window_share: Option<f64>,
    /// The number of entries; checked against `entries` on restore.
    pub len: u64,
    /// The entries, coldest first.
    pub entries: Vec<SavedEntry<K, V>>,
}

/// Why a snapshot was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The bytes are not a snapshot at all (or are cut short): the
    /// decoder's message.
    Malformed(String),
    /// A value of another format.
    Foreign {
        /// The format name found.
        format: String,
    },
    /// Written by a build with another snapshot version.
    Version {
        /// The version found.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// The entry count claimed does not match the entries present.
    Length {
        /// The count the snapshot claims.
        claimed: u64,
        /// The entries it holds.
        found: u64,
    },
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotError::Malformed(why) => write!(f, "not a readable cache snapshot: {why}"),
            SnapshotError::Foreign { format } => write!(
                f,
                "not a cache snapshot: format {format:?}, expected {SNAPSHOT_FORMAT:?}"
            ),
            SnapshotError::Version { found, supported } => write!(
                f,
                "cache snapshot version {found} is not supported (this build reads version {supported})"
            ),
            SnapshotError::Length { claimed, found } => write!(
                f,
                "cache snapshot claims {claimed} entries but holds {found} (truncated or altered)"
            ),
        }
    }
}

impl std::error::Error for SnapshotError {}

/// What a restore did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Restored {
    /// Entries stored.
    pub restored: u64,
    /// Entries whose time to live ran out during the downtime.
    pub expired: u64,
}

fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

impl<K, V> Snapshot<K, V> {
    /// Checks the format name, the version and the entry count.
    ///
    /// # Errors
    /// [`SnapshotError::Foreign`], [`SnapshotError::Version`] or
    /// [`SnapshotError::Length`].
    pub fn validate(&self) -> Result<(), SnapshotError> {
        if self.format != SNAPSHOT_FORMAT {
            return Err(SnapshotError::Foreign {
                format: self.format.chars().take(64).collect(),
            });
        }
        if self.version != SNAPSHOT_VERSION {
            return Err(SnapshotError::Version {
                found: self.version,
                supported: SNAPSHOT_VERSION,
            });
        }
        let found = self.entries.len() as u64;
        if self.len != found {
            return Err(SnapshotError::Length {
                claimed: self.len,
                found,
            });
        }
        Ok(())
    }

    /// The snapshot as JSON bytes.
    pub fn to_json(&self) -> Vec<u8>
    where
        K: Serialize,
        V: Serialize,
    {
        // A derived `Serialize` of plain fields into a `Vec` cannot fail
        // unless `K` or `V`'s own impl fails; then the snapshot is empty
        // JSON, which `from_json` refuses as malformed.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// A snapshot read from [`to_json`](Self::to_json)'s bytes, validated.
    ///
    /// # Errors
    /// [`SnapshotError::Malformed`] for bytes that are not a snapshot (or
    /// are cut short), and what [`validate`](Self::validate) refuses.
    pub fn from_json<'de>(bytes: &'de [u8]) -> Result<Self, SnapshotError>
    where
        K: Deserialize<'de>,
        V: Deserialize<'de>,
    {
        let snapshot: Snapshot<K, V> =
            serde_json::from_slice(bytes).map_err(|e| SnapshotError::Malformed(e.to_string()))?;
        snapshot.validate()?;
        Ok(snapshot)
    }
}

impl<K: Hash + Eq, V, S: BuildHasher, C: Clock> Cache<K, V, S, C> {
    /// The live entries now, each with its remaining time to live and its
    /// frequency estimate (see the module doc of `snapshot.rs`). Shard by
    /// shard under each read lock; the cache goes on serving meanwhile.
    pub fn snapshot(&self) -> Snapshot<K, V>
    where
        K: Clone,
        V: Clone,
    {
        let taken_at_unix_nanos = unix_nanos(SystemTime::now());
        let mut entries = Vec::new();
        for shard in self.shards.iter() {
            let seg = shard.seg.read();
            let now = seg.floored(|| self.clock.now_nanos());
            for (i, n) in seg.entries() {
                let times = seg.times(i);
                let deadline = times.map_or(NEVER, |t| {
                    // Relaxed: see `Times::deadline`.
                    t.deadline.load(crate::sync::atomic::Ordering::Relaxed)
                });
                if deadline != NEVER && deadline <= now {
                    continue;
                }
                let hard = times.map_or(NEVER, |t| t.hard);
                entries.push(SavedEntry {
                    key: n.key.clone(),
                    value: n.value.clone(),
                    ttl_left_nanos: (hard != NEVER).then(|| hard - now.min(hard)),
                    frequency: seg.sketch.as_ref().map_or(0, |s| s.frequency(n.hash32)),
                });
            }
        }
        entries.sort_by_key(|e| e.frequency);
        Snapshot {
            format: SNAPSHOT_FORMAT.to_string(),
            version: SNAPSHOT_VERSION,
            taken_at_unix_nanos,
            window_share: self.window_share(),
            len: entries.len() as u64,
            entries,
        }
    }

    /// Stores a snapshot's entries, as if the process that took it had
    /// kept running: the downtime (the wall-clock time since the snapshot)
    /// is taken off every time to live. Best called on a cache just built;
    /// on one in use, restored entries replace live ones.
    ///
    /// # Errors
    /// What [`Snapshot::validate`] refuses; nothing is stored then.
    pub fn restore(&self, snapshot: Snapshot<K, V>) -> Result<Restored, SnapshotError> {
        let now = unix_nanos(SystemTime::now());
        let downtime = Duration::from_nanos(now.saturating_sub(snapshot.taken_at_unix_nanos));
        self.restore_after(snapshot, downtime)
    }

    /// As [`restore`](Self::restore), with the downtime given rather than
    /// read from the wall clock (for a caller that knows it, and tests).
    ///
    /// # Errors
    /// What [`Snapshot::validate`] refuses; nothing is stored then.
    pub fn restore_after(
        &self,
        snapshot: Snapshot<K, V>,
        downtime: Duration,
    ) -> Result<Restored, SnapshotError> {
        snapshot.validate()?;
        if let Some(share) = snapshot.window_share {
            self.resume_window(share);
        }
        let down = u64::try_from(downtime.as_nanos()).unwrap_or(u64::MAX);
        let mut done = Restored::default();
        for e in snapshot.entries {
            let hash = self.hasher.hash_one(&e.key);
            match e.ttl_left_nanos {
                Some(left) if left <= down => {
                    done.expired += 1;
                    continue;
                }
                Some(left) => {
                    self.insert_with_ttl(e.key, e.value, Duration::from_nanos(left - down));
                }
                None => {
                    self.insert(e.key, e.value);
                }
            }
            let mut seg = self.shards[self.shard_index(hash)].write();
            if let Some(sketch) = seg.sketch.as_mut() {
                for _ in 0..e.frequency.min(15) {
                    sketch.increment(hash as u32);
                }
            }
            done.restored += 1;
        }
        Ok(done)
    }
}
