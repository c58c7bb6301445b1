//! The rate-limit response headers (feature `http`): a [`RateLimitInfo`]
//! and its limiter's [`RateLimitPolicy`] written into an `http::HeaderMap`.
//!
//! | style | headers |
//! |---|---|
//! | [`HeaderStyle::Ietf`] | `RateLimit: "default";r=<remaining>;t=<reset>` and `RateLimit-Policy: "default";q=<limit>;w=<window>` (draft-ietf-httpapi-ratelimit-headers, Structured Fields) |
//! | [`HeaderStyle::Legacy`] | `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (the de-facto trio) |
//! | [`HeaderStyle::Both`] (default) | all five |
//!
//! and `Retry-After: <seconds>` on every denial. Durations are whole
//! seconds rounded up; on a denial neither `Retry-After` nor the reset is
//! ever 0 (a client told "0" retries at once, into the same denial).
//! Structured Field integers have at most 15 digits, so `r`, `t`, `q` and
//! `w` saturate at 999,999,999,999,999; no value, however large, panics.
use super::{Error, RateLimitInfo, RateLimitPolicy};
use http::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};

/// The largest Structured Field integer (RFC 8941: at most 15 digits).
const SF_INTEGER_MAX: u64 = 999_999_999_999_999;

/// Longest policy name accepted, in bytes.
const MAX_NAME_LEN: usize = 256;

/// Which rate-limit headers [`RateLimitInfo::write_headers`] writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HeaderStyle {
    /// The IETF draft's Structured Fields `RateLimit` and
    /// `RateLimit-Policy`.
    Ietf,
    /// The de-facto trio `RateLimit-Limit`, `RateLimit-Remaining` and
    /// `RateLimit-Reset`, as most clients read today.
    Legacy,
    /// Both sets (the default): clients of either kind understand the
    /// response.
    #[default]
    Both,
}

/// How [`RateLimitInfo::write_headers`] writes: the [`HeaderStyle`] and the
/// policy name of the IETF fields (`"default"` unless set).
///
/// ```
/// use latchwork::ratelimit::{HeaderOptions, HeaderStyle};
///
/// let options = HeaderOptions::new(HeaderStyle::Ietf).policy_name("per-client")?;
/// assert_eq!(options.name(), "per-client");
/// assert!(HeaderOptions::default().policy_name("caf\u{e9}").is_err()); // not ASCII
/// # Ok::<(), latchwork::ratelimit::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HeaderOptions {
    style: HeaderStyle,
    name: String,
    /// `name` as a Structured Field String (quoted, escaped), made once.
    sf_name: String,
}

impl Default for HeaderOptions {
    fn default() -> Self {
        HeaderOptions::new(HeaderStyle::default())
    }
}

impl HeaderOptions {
    /// Writes `style`, naming the policy `"default"`.
    pub fn new(style: HeaderStyle) -> Self {
        HeaderOptions {
            style,
            name: "default".to_owned(),
            sf_name: "\"default\"".to_owned(),
        }
    }

    /// Names the quota policy in the IETF fields (the String item of
    /// `RateLimit` and `RateLimit-Policy`), for example the limiter's role.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] (parameter `policy_name`) for an empty name,
    /// one over 256 bytes, or one with a character a Structured Field
    /// String cannot hold (outside printable ASCII).
    pub fn policy_name(mut self, name: &str) -> Result<Self, Error> {
        let reason = if name.is_empty() {
            "empty"
        } else if name.len() > MAX_NAME_LEN {
            "longer than 256 bytes"
        } else if !name.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
            "holds a character outside printable ASCII"
        } else {
            name.clone_into(&mut self.name);
            self.sf_name = sf_string(name);
            return Ok(self);
        };
        Err(Error::InvalidKey {
            parameter: "policy_name",
            reason,
        })
    }

    /// The style written.
    pub fn style(&self) -> HeaderStyle {
        self.style
    }

    /// The policy name of the IETF fields.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// `name` as a Structured Field String: quoted, `"` and `\\` escaped.
fn sf_string(name: &str) -> String {
    let mut s = String::with_capacity(name.len() + 2);
    s.push('"');
    for c in name.chars() {
        if c == '"' || c == '\\' {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('"');
    s
}

/// Below this, an integer header value is a slice of one static string, so
/// writing it allocates nothing (most limits, counts and seconds are).
const SMALL: u64 = 1000;

/// `n` as a header value; below [`SMALL`] without allocating.
fn int_value(n: u64) -> HeaderValue {
    static DIGITS: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();
    if n >= SMALL {
        return HeaderValue::from(n);
    }
    // "0123...999" without separators, made once and kept for the process
    // (2,890 bytes): the slice of `n` starts after the digits of 0..n.
    let digits: &'static str = DIGITS.get_or_init(|| {
        let all: String = (0..SMALL).map(|i| i.to_string()).collect();
        Box::leak(all.into_boxed_str())
    });
    let n = n as usize; // below SMALL
    let (start, width) = match n {
        0..=9 => (n, 1),
        10..=99 => (10 + 2 * (n - 10), 2),
        _ => (190 + 3 * (n - 100), 3),
    };
    match digits.get(start..start + width) {
        Some(s) => HeaderValue::from_static(s),
        None => HeaderValue::from(n as u64),
    }
}

impl RateLimitInfo {
    /// Writes this answer's rate-limit headers into `headers` (replacing
    /// any of the same names): the set `options` chooses (see
    /// [`HeaderStyle`]), with `policy` (the limiter's
    /// [`Requota::policy`](super::Requota::policy)) for `RateLimit-Policy`,
    /// and `Retry-After` when the request was denied.
    ///
    /// Seconds are rounded up; on a denial `Retry-After` and the reset are
    /// at least 1. Structured Field integers saturate at 15 digits. Never
    /// panics, whatever the values.
    ///
    /// ```
    /// use http::HeaderMap;
    /// use latchwork::clock::ManualClock;
    /// use latchwork::ratelimit::{HeaderOptions, HeaderStyle, Limiter, Requota, TokenBucket};
    ///
    /// let bucket = TokenBucket::builder().rate(0.5).limit(10).clock(ManualClock::new()).build()?;
    /// let info = bucket.throttle(&(), 10)?;
    /// let mut headers = HeaderMap::new();
    /// info.write_headers(&bucket.policy(), &HeaderOptions::default(), &mut headers);
    /// assert_eq!(headers["ratelimit"], r#""default";r=0;t=20"#);
    /// assert_eq!(headers["ratelimit-policy"], r#""default";q=10;w=20"#);
    /// assert_eq!(headers["ratelimit-remaining"], "0");
    /// assert!(headers.get("retry-after").is_none());
    ///
    /// let denied = bucket.throttle(&(), 1)?; // the next token in 2 s
    /// let options = HeaderOptions::new(HeaderStyle::Legacy);
    /// denied.write_headers(&bucket.policy(), &options, &mut headers);
    /// assert_eq!(headers["retry-after"], "2");
    /// # Ok::<(), latchwork::ratelimit::Error>(())
    /// ```
    pub fn write_headers(
        &self,
        policy: &RateLimitPolicy,
        options: &HeaderOptions,
        headers: &mut HeaderMap,
    ) {
        let denied = !self.allowed;
        // Never 0 on a denial: the request does not fit now.
        let floor = u64::from(denied);
        let reset = self.reset_after_secs().max(floor);
        let ietf = matches!(options.style, HeaderStyle::Ietf | HeaderStyle::Both);
        let legacy = matches!(options.style, HeaderStyle::Legacy | HeaderStyle::Both);
        if ietf {
            let name = &options.sf_name;
            let sf = |n: u64| n.min(SF_INTEGER_MAX);
            put(
                headers,
                HeaderName::from_static("ratelimit"),
                format!("{name};r={};t={}", sf(self.remaining), sf(reset)),
            );
            put(
                headers,
                HeaderName::from_static("ratelimit-policy"),
                format!(
                    "{name};q={};w={}",
                    sf(policy.limit()),
                    sf(policy.window_secs())
                ),
            );
        }
        if legacy {
            let names = [
                ("ratelimit-limit", self.limit),
                ("ratelimit-remaining", self.remaining),
                ("ratelimit-reset", reset),
            ];
            for (name, value) in names {
                headers.insert(HeaderName::from_static(name), int_value(value));
            }
        }
        if denied {
            // A denial without a wait (not one of this crate's) waits for
            // the reset.
            let retry = self
                .retry_after
                .map_or(reset, |d| super::info::ceil_secs(d).max(1));
            headers.insert(RETRY_AFTER, int_value(retry));
        }
    }
}

/// Inserts `value`; it is printable ASCII by construction, so the check
/// never fails, but a failure would skip the header rather than panic.
fn put(headers: &mut HeaderMap, name: HeaderName, value: String) {
    if let Ok(value) = HeaderValue::try_from(value) {
        headers.insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::{int_value, SMALL};

    #[test]
    fn small_integers_come_from_the_static_table_and_match_their_text() {
        for n in (0..SMALL + 5).chain([u64::MAX, 123_456]) {
            assert_eq!(
                int_value(n).to_str().ok(),
                Some(n.to_string().as_str()),
                "{n}"
            );
        }
    }
}
