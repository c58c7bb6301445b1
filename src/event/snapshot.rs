//! A copy-on-write snapshot cell: readers take the current immutable value
//! without locking, writers replace it whole.
//!
//! With `std` this is [`arc_swap::ArcSwap`]: `load` is lock-free and does
//! not allocate (a thread-local debt slot, or a reference-count increment
//! on the fallback path). arc-swap is not loom-aware, so under `--cfg loom`
//! the cell is a shim `RwLock<Arc<T>>` instead: the models then check the
//! protocol built on top of the cell (readers see one whole snapshot,
//! writers serialise and publish a new one, what a reader holds stays
//! valid while it is replaced), not arc-swap's own internals, which arc-swap
//! tests itself.

#[cfg(not(loom))]
mod imp {
    use crate::sync::Arc;
    use std::ops::Deref;

    pub(crate) struct Snapshot<T>(arc_swap::ArcSwap<T>);

    /// A loaded snapshot (arc-swap's guard, dereferencing to `T`).
    pub(crate) struct Loaded<T>(arc_swap::Guard<Arc<T>>);

    impl<T> Deref for Loaded<T> {
        type Target = T;
        #[inline]
        fn deref(&self) -> &T {
            &self.0
        }
    }

    impl<T> Snapshot<T> {
        pub(crate) fn new(value: T) -> Self {
            Snapshot(arc_swap::ArcSwap::from_pointee(value))
        }

        /// The current snapshot, held for a short while (one emit).
        #[inline]
        pub(crate) fn load(&self) -> Loaded<T> {
            Loaded(self.0.load())
        }

        /// Publishes `value` and hands back the previous snapshot, so the
        /// caller can drop it outside its own locks.
        pub(crate) fn swap(&self, value: Arc<T>) -> Arc<T> {
            self.0.swap(value)
        }
    }
}

#[cfg(loom)]
mod imp {
    use crate::sync::{Arc, RwLock};

    pub(crate) struct Snapshot<T>(RwLock<Arc<T>>);

    impl<T> Snapshot<T> {
        pub(crate) fn new(value: T) -> Self {
            Snapshot(RwLock::new(Arc::new(value)))
        }

        pub(crate) fn load(&self) -> Arc<T> {
            self.load_full()
        }

        pub(crate) fn load_full(&self) -> Arc<T> {
            Arc::clone(&self.0.read())
        }

        pub(crate) fn swap(&self, value: Arc<T>) -> Arc<T> {
            std::mem::replace(&mut *self.0.write(), value)
        }
    }
}

pub(crate) use imp::Snapshot;

impl<T> std::fmt::Debug for Snapshot<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot").finish_non_exhaustive()
    }
}
