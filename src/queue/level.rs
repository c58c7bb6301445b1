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
