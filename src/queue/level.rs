//! Priority levels: a `u8` newtype checked at construction, and the named
//! [`Priority`] shorthands.
use super::Error;
use std::fmt;

/// Number of priority levels: `0` is the most urgent, `LEVELS - 1` the least.
/// One bit per level fits the queue's 64-bit occupancy word.
pub const LEVELS: usize = 64;

/// A priority level in `0..LEVELS`; lower is more urgent.
///
/// Built with [`Level::new`] (or `TryFrom<u8>`), which rejects out-of-range
/// numbers with a typed [`Error`], or from a [`Priority`], which is always
/// valid.
///
/// ```
/// use latchwork::queue::{Error, Level, Priority};
///
/// assert_eq!(Level::new(5)?.get(), 5);
/// assert_eq!(Level::from(Priority::Critical), Level::MOST_URGENT);
/// assert!(matches!(Level::new(64), Err(Error::LevelOutOfRange { level: 64, .. })));
/// # Ok::<(), Error>(())
/// ```
///
/// With the `serde` feature a level serializes as its number and
/// deserializes from a number below [`LEVELS`] (an integer or a string of
/// digits) or from a [`Priority`]'s name (`"high"` is level 16; any case),
/// so a configuration file may say either.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Level(u8);

impl Level {
    /// Level 0, served before every other.
    pub const MOST_URGENT: Level = Level(0);
    /// Level `LEVELS - 1`, served last.
    pub const LEAST_URGENT: Level = Level(LEVELS as u8 - 1);

    /// The level `level`, or [`Error::LevelOutOfRange`] unless
    /// `level < LEVELS`.
    pub const fn new(level: u8) -> Result<Level, Error> {
        if (level as usize) < LEVELS {
            Ok(Level(level))
        } else {
            Err(Error::LevelOutOfRange {
                level,
                levels: LEVELS,
            })
        }
    }

    /// The level's number (0 = most urgent).
    #[inline]
    pub const fn get(self) -> u8 {
        self.0
    }

    /// `index` must be below `LEVELS` (callers take it from a 64-bit word).
    #[inline]
    pub(crate) const fn from_index(index: usize) -> Level {
        debug_assert!(index < LEVELS);
        Level((index % LEVELS) as u8)
    }

    #[inline]
    pub(crate) const fn index(self) -> usize {
        self.0 as usize
    }
}

impl TryFrom<u8> for Level {
    type Error = Error;
    fn try_from(level: u8) -> Result<Level, Error> {
        Level::new(level)
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "level {}", self.0)
    }
}

/// Named priorities, spread over the levels so that numeric levels can sit
/// between them: `Critical` = 0, `High` = 16, `Medium` = 32, `Low` = 48.
///
/// With the `serde` feature a priority serializes as its lowercase name
/// (`"high"`) and deserializes from its name in any case or from its level's
/// number (`16`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Level 0: served before everything else (alerts, cancellations).
    Critical,
    /// Level 16: user-facing work.
    High,
    /// Level 32: ordinary work.
    Medium,
    /// Level 48: background work (reports, compaction).
    Low,
}

impl From<Priority> for Level {
    fn from(p: Priority) -> Level {
        Level(match p {
            Priority::Critical => 0,
            Priority::High => 16,
            Priority::Medium => 32,
            Priority::Low => 48,
        })
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(feature = "serde")]
impl Priority {
    const ALL: [Priority; 4] = [
        Priority::Critical,
        Priority::High,
        Priority::Medium,
        Priority::Low,
    ];

    /// The lowercase name: `"critical"`, `"high"`, `"medium"`, `"low"`.
    const fn name(self) -> &'static str {
        match self {
            Priority::Critical => "critical",
            Priority::High => "high",
            Priority::Medium => "medium",
            Priority::Low => "low",
        }
    }

    /// The priority named `name`, in any case.
    fn from_name(name: &str) -> Option<Priority> {
        Self::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name))
    }

    /// The priority whose level is `level`.
    fn from_level(level: u64) -> Option<Priority> {
        Self::ALL
            .into_iter()
            .find(|&p| u64::from(Level::from(p).get()) == level)
    }
}

#[cfg(feature = "serde")]
mod serde_impls {
    //! `Level` as a number, `Priority` as a name; each reads either.
    use super::{Level, Priority, LEVELS};
    use serde::de::{self, Deserializer, Unexpected, Visitor};
    use serde::{Deserialize, Serialize, Serializer};
    use std::fmt;

    impl Serialize for Level {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_u8(self.get())
        }
    }

    impl Serialize for Priority {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(self.name())
        }
    }

    /// Reads a level number or a priority name; `T` is what is built.
    struct NumberOrName<T>(std::marker::PhantomData<T>);

    /// What a `NumberOrName` builds from a number and from a name.
    trait FromNumberOrName: Sized {
        const EXPECTING: &'static str;
        fn from_number<E: de::Error>(n: u64, unexpected: Unexpected<'_>) -> Result<Self, E>;
        fn from_name(name: &str) -> Option<Self>;
    }

    impl FromNumberOrName for Level {
        const EXPECTING: &'static str =
            "a priority level below 64 or a priority name (critical, high, medium, low)";
        fn from_number<E: de::Error>(n: u64, unexpected: Unexpected<'_>) -> Result<Self, E> {
            u8::try_from(n)
                .ok()
                .and_then(|n| Level::new(n).ok())
                .ok_or_else(|| E::invalid_value(unexpected, &Self::EXPECTING))
        }
        fn from_name(name: &str) -> Option<Self> {
            Priority::from_name(name).map(Level::from)
        }
    }

    impl FromNumberOrName for Priority {
        const EXPECTING: &'static str =
            "a priority name (critical, high, medium, low) or its level (0, 16, 32, 48)";
        fn from_number<E: de::Error>(n: u64, unexpected: Unexpected<'_>) -> Result<Self, E> {
            Priority::from_level(n).ok_or_else(|| E::invalid_value(unexpected, &Self::EXPECTING))
        }
        fn from_name(name: &str) -> Option<Self> {
            Priority::from_name(name)
        }
    }

    impl<T: FromNumberOrName> Visitor<'_> for NumberOrName<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(T::EXPECTING)
        }

        fn visit_u64<E: de::Error>(self, n: u64) -> Result<T, E> {
            T::from_number(n, Unexpected::Unsigned(n))
        }

        fn visit_i64<E: de::Error>(self, n: i64) -> Result<T, E> {
            match u64::try_from(n) {
                Ok(u) => T::from_number(u, Unexpected::Signed(n)),
                Err(_) => Err(E::invalid_value(Unexpected::Signed(n), &self)),
            }
        }

        fn visit_str<E: de::Error>(self, s: &str) -> Result<T, E> {
            if let Some(t) = T::from_name(s) {
                return Ok(t);
            }
            match s.parse::<u64>() {
                Ok(n) => T::from_number(n, Unexpected::Str(s)),
                Err(_) => Err(E::invalid_value(Unexpected::Str(s), &self)),
            }
        }
    }

    // A binary format cannot say which it holds: it reads back what
    // `Serialize` wrote.
    impl<'de> Deserialize<'de> for Level {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Level, D::Error> {
            let v = NumberOrName(std::marker::PhantomData);
            if d.is_human_readable() {
                d.deserialize_any(v)
            } else {
                d.deserialize_u8(v)
            }
        }
    }

    impl<'de> Deserialize<'de> for Priority {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Priority, D::Error> {
            let v = NumberOrName(std::marker::PhantomData);
            if d.is_human_readable() {
                d.deserialize_any(v)
            } else {
                d.deserialize_str(v)
            }
        }
    }

    // `LEVELS` is 64: the messages above name it.
    const _: () = assert!(LEVELS == 64);
}
