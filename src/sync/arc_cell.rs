//! The copy-on-write cell of the modules that publish snapshots (config,
//! the emitter); arc-swap is a dependency of those features only.

use super::Arc;
#[cfg(loom)]
use super::RwLock;

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
