//! The one place where the crate names its synchronisation primitives.
//!
//! Under `--cfg loom` every atomic, cell, lock and thread comes from
//! [`loom`](https://docs.rs/loom) so the models in `tests/loom_*.rs` explore
//! every interleaving of the real code; otherwise they come from `std`. No
//! other file imports `std::sync::atomic` directly.
//!
//! The locks are thin wrappers that ignore poisoning: a panic inside a
//! critical section of this crate never leaves a structure half-updated in a
//! way that matters for memory safety, and callers should not have to
//! `unwrap` a `LockResult`.
#![allow(dead_code, unused_imports)]

#[cfg(not(loom))]
mod imp {
    pub(crate) use std::sync::atomic;
    pub(crate) use std::sync::Arc;
    pub(crate) use std::thread;

    /// `std`'s `UnsafeCell` with loom's `with`/`with_mut` API, so one code
    /// path serves both builds.
    #[derive(Debug, Default)]
    pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(value: T) -> Self {
            UnsafeCell(std::cell::UnsafeCell::new(value))
        }
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }

    pub(crate) use std::sync::{
        Condvar, Mutex as RawMutex, MutexGuard, RwLock as RawRwLock, RwLockReadGuard,
        RwLockWriteGuard, TryLockError,
    };

    /// Spin-loop hint (loom turns it into a yield so models make progress).
    #[inline]
    pub(crate) fn spin_loop() {
        std::hint::spin_loop();
    }
}

#[cfg(loom)]
mod imp {
    pub(crate) use loom::cell::UnsafeCell;
    pub(crate) use loom::sync::atomic;
    pub(crate) use loom::sync::Arc;
    pub(crate) use loom::thread;

    pub(crate) use loom::sync::{
        Condvar, Mutex as RawMutex, MutexGuard, RwLock as RawRwLock, RwLockReadGuard,
        RwLockWriteGuard,
    };
    pub(crate) use std::sync::TryLockError;

    #[inline]
    pub(crate) fn spin_loop() {
        loom::thread::yield_now();
    }
}

pub(crate) use imp::*;

/// A mutex whose `lock` never reports poisoning.
pub(crate) struct Mutex<T>(RawMutex<T>);

impl<T> Mutex<T> {
    pub(crate) fn new(value: T) -> Self {
        Mutex(RawMutex::new(value))
    }

    #[inline]
    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[inline]
    pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        match self.0.try_lock() {
            Ok(g) => Some(g),
            Err(TryLockError::Poisoned(e)) => Some(e.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }
}

/// A reader-writer lock whose guards never report poisoning.
pub(crate) struct RwLock<T>(RawRwLock<T>);

impl<T> RwLock<T> {
    pub(crate) fn new(value: T) -> Self {
        RwLock(RawRwLock::new(value))
    }

    #[inline]
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, T> {
        self.0.read().unwrap_or_else(|e| e.into_inner())
    }

    #[inline]
    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, T> {
        self.0.write().unwrap_or_else(|e| e.into_inner())
    }

    #[inline]
    pub(crate) fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        match self.0.try_write() {
            Ok(g) => Some(g),
            Err(TryLockError::Poisoned(e)) => Some(e.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }
}

impl<T> std::fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mutex").finish_non_exhaustive()
    }
}

impl<T> std::fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RwLock").finish_non_exhaustive()
    }
}

/// A small number identifying the calling thread among the live threads of
/// the process: ids are handed out lowest-first and returned when a thread
/// exits, so no two live threads share one. Striped counters use it to give
/// each thread a stripe of its own. Under loom every thread reports
/// `usize::MAX` (the models then exercise the shared-stripe path).
///
/// During thread-local teardown (a thread-local's `Drop` that bumps a
/// counter after this thread's id was returned) the thread also reports
/// [`SHARED_STRIPE`]: it then counts on the shared stripe with an RMW,
/// instead of panicking in `LocalKey::with` (which would abort the process,
/// as a panic in a TLS destructor cannot unwind).
#[cfg(not(loom))]
#[inline]
pub(crate) fn thread_stripe() -> usize {
    STRIPE.try_with(|s| s.0).unwrap_or(SHARED_STRIPE)
}

/// The id every thread without a stripe of its own reports: larger than
/// any stripe count, so callers clamp it to their shared stripe.
pub(crate) const SHARED_STRIPE: usize = usize::MAX;

#[cfg(not(loom))]
struct StripeId(usize);

#[cfg(not(loom))]
static FREE_STRIPES: std::sync::Mutex<(usize, Vec<usize>)> = std::sync::Mutex::new((0, Vec::new()));

#[cfg(not(loom))]
std::thread_local! {
    static STRIPE: StripeId = {
        let mut ids = FREE_STRIPES.lock().unwrap_or_else(|e| e.into_inner());
        let id = match ids.1.pop() {
            Some(id) => id,
            None => {
                ids.0 += 1;
                ids.0 - 1
            }
        };
        StripeId(id)
    };
}

#[cfg(not(loom))]
impl Drop for StripeId {
    fn drop(&mut self) {
        // The mutex orders this thread's last counter writes before the next
        // owner of the id reads them.
        let mut ids = FREE_STRIPES.lock().unwrap_or_else(|e| e.into_inner());
        ids.1.push(self.0);
        // Keep handing out the smallest ids first.
        ids.1.sort_unstable_by(|a, b| b.cmp(a));
    }
}

#[cfg(loom)]
#[inline]
pub(crate) fn thread_stripe() -> usize {
    SHARED_STRIPE
}

#[cfg(any(feature = "config", feature = "event"))]
pub(crate) use arc_cell::{ArcCell, Loaded};

/// The copy-on-write cell of the modules that publish snapshots (config,
/// the emitter); arc-swap is a dependency of those features only.
#[cfg(any(feature = "config", feature = "event"))]
mod arc_cell {
    use super::*;

    /// A cell holding an `Arc<T>` that readers load without taking a lock and a
    /// writer replaces whole (copy-on-write snapshots): a reader gets either the
    /// old or the new value, never a mix, and what it holds stays valid while
    /// the cell moves on.
    ///
    /// Normally `arc_swap::ArcSwap`: `load` is lock-free and does not allocate
    /// (a thread-local debt slot, or a reference-count increment on the
    /// fallback path). arc-swap is not loom-aware, so under `--cfg loom` the cell
    /// is a `RwLock<Arc<T>>` with the same all-or-nothing semantics: the models
    /// then check the protocols built on the cell, not arc-swap's internals,
    /// which arc-swap tests itself.
    pub(crate) struct ArcCell<T>(imp_cell::Inner<T>);

    #[cfg(not(loom))]
    mod imp_cell {
        pub(crate) type Inner<T> = arc_swap::ArcSwap<T>;
        /// A short-lived loaded value (arc-swap's guard).
        pub(crate) type Loaded<T> = arc_swap::Guard<super::Arc<T>>;
    }

    #[cfg(loom)]
    mod imp_cell {
        pub(crate) type Inner<T> = super::RwLock<super::Arc<T>>;
        pub(crate) type Loaded<T> = super::Arc<T>;
    }

    pub(crate) use self::imp_cell::Loaded;

    impl<T> ArcCell<T> {
        pub(crate) fn new(value: Arc<T>) -> Self {
            #[cfg(not(loom))]
            return ArcCell(arc_swap::ArcSwap::new(value));
            #[cfg(loom)]
            return ArcCell(RwLock::new(value));
        }

        /// The current value, for a short while (for example one emit).
        #[inline]
        pub(crate) fn load(&self) -> Loaded<T> {
            #[cfg(not(loom))]
            return self.0.load();
            #[cfg(loom)]
            return self.load_full();
        }

        /// The current value, to keep.
        #[inline]
        pub(crate) fn load_full(&self) -> Arc<T> {
            #[cfg(not(loom))]
            return self.0.load_full();
            #[cfg(loom)]
            return Arc::clone(&self.0.read());
        }

        /// Replaces the value; readers that loaded the old one keep it.
        pub(crate) fn store(&self, value: Arc<T>) {
            drop(self.swap(value));
        }

        /// Replaces the value and hands back the previous one, so the caller
        /// can drop it outside its own locks.
        pub(crate) fn swap(&self, value: Arc<T>) -> Arc<T> {
            #[cfg(not(loom))]
            return self.0.swap(value);
            #[cfg(loom)]
            return std::mem::replace(&mut *self.0.write(), value);
        }
    }

    impl<T> std::fmt::Debug for ArcCell<T> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("ArcCell").finish_non_exhaustive()
        }
    }
}
