//! What an emit tells its caller: how many listeners ran and which failed
//! ([`EmitReport`]), and how a listener's return value becomes a failure
//! ([`ListenerResult`]).
use super::subscription::SubscriptionId;
use super::table::Entry;
use std::fmt;

/// What a listener returns: `()` for listeners that cannot fail, or
/// `Result<(), E>` with any displayable error, which `emit` reports as a
/// [`FailureReason::Returned`].
pub trait ListenerResult {
    /// `Ok(())` on success, else the error's message.
    fn into_outcome(self) -> Result<(), String>;
}

impl ListenerResult for () {
    #[inline]
    fn into_outcome(self) -> Result<(), String> {
        Ok(())
    }
}

impl<Er: fmt::Display> ListenerResult for Result<(), Er> {
    #[inline]
    fn into_outcome(self) -> Result<(), String> {
        self.map_err(|e| e.to_string())
    }
}

/// Why a listener failed during an emit.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum FailureReason {
    /// The listener panicked; the panic was caught. Holds the panic message.
    Panicked(String),
    /// The listener returned an error; holds its `Display` text.
    Returned(String),
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureReason::Panicked(m) => write!(f, "panicked: {m}"),
            FailureReason::Returned(m) => write!(f, "returned an error: {m}"),
        }
    }
}

/// One listener that failed during an emit.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ListenerFailure {
    /// The failing listener's subscription.
    pub id: SubscriptionId,
    /// Its priority.
    pub priority: i32,
    /// What went wrong.
    pub reason: FailureReason,
}

impl fmt::Display for ListenerFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (priority {}) {}",
            self.id, self.priority, self.reason
        )
    }
}

/// What one [`Emitter::emit`](super::Emitter::emit) did. With feature
/// `serde` it serialises as `{"ran": 2, "failures": [{"id": 1,
/// "priority": -1, "reason": {"Returned": "audit log offline"}}]}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
pub struct EmitReport {
    pub(super) ran: usize,
    failures: Vec<ListenerFailure>,
}

impl EmitReport {
    /// Listeners called, failed ones included.
    pub fn ran(&self) -> usize {
        self.ran
    }

    /// The listeners that panicked or returned an error, in call order.
    pub fn failures(&self) -> &[ListenerFailure] {
        &self.failures
    }

    /// Whether every listener called succeeded.
    pub fn is_ok(&self) -> bool {
        self.failures.is_empty()
    }

    pub(super) fn fail<E>(&mut self, entry: &Entry<E>, reason: FailureReason) {
        self.failures.push(ListenerFailure {
            id: SubscriptionId(entry.id),
            priority: entry.priority,
            reason,
        });
    }
}
