//! The handles of a subscription: its [`SubscriptionId`] and the RAII
//! [`Subscription`] that unsubscribes when dropped, without carrying the
//! event type.
use super::table::Shared;
use crate::event::topic::Pattern;
use crate::sync::Arc;
use std::fmt;

/// Removes one subscription from whichever emitter it belongs to, so that
/// [`Subscription`] need not carry the event type.
trait Remove: Send + Sync {
    fn remove(&self, id: u64, pattern: &Pattern) -> bool;
}

struct Owner<E>(Arc<Shared<E>>);

impl<E> Remove for Owner<E> {
    fn remove(&self, id: u64, pattern: &Pattern) -> bool {
        self.0.update(|t, _| t.remove(id, pattern))
    }
}

/// Identifies one subscription in [`EmitReport`](super::EmitReport)
/// failures and in [`Emitter::off`](super::Emitter::off). Ids grow in
/// subscription order. With feature `serde` it serialises as its number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SubscriptionId(pub(super) u64);

impl SubscriptionId {
    /// The raw id.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for SubscriptionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "subscription #{}", self.0)
    }
}

/// An RAII subscription: dropping it unsubscribes, as does [`off`](Self::off);
/// [`detach`](Self::detach) keeps the listener registered for good.
///
/// Unsubscribing affects the next `emit`; an emit already running on
/// another thread may still call the listener once (it holds the snapshot
/// it started with). A listener that captures its own `Subscription` (or
/// the emitter) forms a reference cycle that is freed only by `off_all` or
/// [`Emitter::off`](super::Emitter::off).
#[must_use = "dropping a Subscription unsubscribes at once; call .detach() to keep the listener"]
pub struct Subscription {
    owner: Option<Box<dyn Remove>>,
    id: u64,
    pattern: Pattern,
}

impl Subscription {
    /// The handle of subscription `id` with `pattern` on `shared`.
    pub(super) fn new<E: 'static>(shared: &Arc<Shared<E>>, id: u64, pattern: Pattern) -> Self {
        Subscription {
            owner: Some(Box::new(Owner(Arc::clone(shared)))),
            id,
            pattern,
        }
    }

    /// This subscription's id.
    pub fn id(&self) -> SubscriptionId {
        SubscriptionId(self.id)
    }

    /// Unsubscribes now. Returns `true` if the listener was still
    /// registered and could still fire (`false` after `off_all`, or for a
    /// once-listener that has already fired).
    pub fn off(mut self) -> bool {
        self.owner
            .take()
            .is_some_and(|o| o.remove(self.id, &self.pattern))
    }

    /// Lets the listener stay registered after this handle is gone; remove
    /// it later with [`Emitter::off`](super::Emitter::off) (keep
    /// [`id`](Self::id)) or [`Emitter::off_all`](super::Emitter::off_all).
    pub fn detach(mut self) -> SubscriptionId {
        self.owner = None;
        SubscriptionId(self.id)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(o) = self.owner.take() {
            o.remove(self.id, &self.pattern);
        }
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("id", &self.id)
            .field("pattern", &self.pattern)
            .field("attached", &self.owner.is_some())
            .finish()
    }
}
