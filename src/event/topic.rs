//! Topic patterns and their matching rules.
//!
//! - An exact pattern (`order.created`) matches that topic only, compared
//!   byte for byte.
//! - A prefix wildcard (`order.*`) matches every topic that starts with
//!   `order.` and has at least one byte after the dot: `order.created`,
//!   `order.line.added`, but not `order` or `orders.x`. The `*` stands for
//!   the rest of the topic, however many segments it has.
//! - The lone `*` matches every topic.
//!
//! Any other `*` in a pattern is refused with
//! [`Error::InvalidTopic`](super::Error::InvalidTopic), as is an empty
//! pattern. Topics given to `emit` are plain strings: a `*` there has no
//! special meaning.
//!
//! Exact patterns are found by one hash lookup; wildcard patterns are kept
//! in one short list that each emit scans with a prefix comparison, so emit
//! cost grows with the number of wildcard subscriptions, not with topics.
use super::Error;

/// A parsed subscription pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Pattern {
    /// Matches one topic exactly.
    Exact(Box<str>),
    /// Matches topics starting with this prefix (which ends with `.`) and
    /// longer than it; the empty prefix (from `*`) matches every topic.
    Prefix(Box<str>),
}

impl Pattern {
    /// Parses `pattern` by the rules of the module doc.
    pub(crate) fn parse(pattern: &str) -> Result<Pattern, Error> {
        let invalid = || Error::InvalidTopic {
            topic: pattern.to_owned(),
        };
        if pattern.is_empty() {
            return Err(invalid());
        }
        if pattern == "*" {
            return Ok(Pattern::Prefix("".into()));
        }
        match pattern.strip_suffix('*') {
            Some(prefix) if prefix.ends_with('.') && !prefix.contains('*') => {
                Ok(Pattern::Prefix(prefix.into()))
            }
            Some(_) => Err(invalid()),
            None if pattern.contains('*') => Err(invalid()),
            None => Ok(Pattern::Exact(pattern.into())),
        }
    }

    /// Whether a topic given to `emit` matches this pattern.
    #[inline]
    pub(crate) fn matches(&self, topic: &str) -> bool {
        match self {
            Pattern::Exact(t) => **t == *topic,
            Pattern::Prefix(p) if p.is_empty() => true,
            Pattern::Prefix(p) => topic.len() > p.len() && topic.starts_with(&**p),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_match_rules() {
        let p = Pattern::parse("order.*").unwrap();
        assert!(p.matches("order.created"));
        assert!(p.matches("order.line.added"));
        assert!(!p.matches("order."));
        assert!(!p.matches("order"));
        assert!(!p.matches("orders.x"));
        assert!(Pattern::parse("*").unwrap().matches(""));
        assert!(Pattern::parse("a.b").unwrap().matches("a.b"));
        assert!(!Pattern::parse("a.b").unwrap().matches("a.bc"));
        for bad in ["", "order*", "*.created", "a.*.b", "a.**", ".*x", "a*b"] {
            assert!(Pattern::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert_eq!(Pattern::parse(".*").unwrap(), Pattern::Prefix(".".into()));
    }
}
