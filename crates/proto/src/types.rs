//! Protocol numbers and secrets as types.
//!
//! Owns the newtypes that the IMAP and POP3 layers hand to the engine and the store: [`Uid`],
//! [`UidValidity`], [`ModSeq`], [`SeqNum`], [`Uidl`], and [`Secret`], which wraps a password or token so
//! that `Debug` and `Display` never show it.
//!
//! Must never: convert a protocol number with `as` (values go through `try_from` so that 0 or an
//! out-of-range number from a server is an error, not a wrapped value).
//!
//! RFC 3501 section 2.3.1.1 (UID: non-zero 32-bit), 2.3.1.2 (sequence numbers: non-zero 32-bit);
//! RFC 7162 section 3.1.1 (mod-sequence: non-zero 63-bit); RFC 1939 section 7 (UIDL: 1 to 70 printable
//! characters, 0x21 to 0x7E).

use std::fmt;
use std::num::{NonZeroU32, NonZeroU64};

/// A number that does not fit the protocol's range (zero, or too large), with the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} out of range: {value}")]
pub struct RangeError {
    /// The kind of number, e.g. "uid".
    pub what: &'static str,
    /// The offending value, as given.
    pub value: i128,
}

macro_rules! nz32 {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(NonZeroU32);

        impl $name {
            /// The number as the protocol writes it.
            pub fn get(self) -> u32 {
                self.0.get()
            }
            /// The number as the store keeps it (SQLite integers are i64).
            pub fn to_i64(self) -> i64 {
                i64::from(self.0.get())
            }
        }
        impl TryFrom<u32> for $name {
            type Error = RangeError;
            fn try_from(v: u32) -> Result<Self, RangeError> {
                NonZeroU32::new(v).map($name).ok_or(RangeError { what: $what, value: i128::from(v) })
            }
        }
        impl TryFrom<i64> for $name {
            type Error = RangeError;
            fn try_from(v: i64) -> Result<Self, RangeError> {
                u32::try_from(v)
                    .ok()
                    .and_then(NonZeroU32::new)
                    .map($name)
                    .ok_or(RangeError { what: $what, value: i128::from(v) })
            }
        }
        impl From<$name> for u32 {
            fn from(v: $name) -> u32 {
                v.get()
            }
        }
        impl From<$name> for i64 {
            fn from(v: $name) -> i64 {
                v.to_i64()
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

nz32!(
    /// An IMAP unique identifier (RFC 3501 section 2.3.1.1): non-zero, 32-bit, strictly ascending in a mailbox.
    Uid,
    "uid"
);
nz32!(
    /// The UIDVALIDITY of a mailbox (RFC 3501 section 2.3.1.1): when it changes, every cached UID is void.
    UidValidity,
    "uidvalidity"
);
nz32!(
    /// A message sequence number (RFC 3501 section 2.3.1.2): position in the selected mailbox, 1-based.
    SeqNum,
    "sequence number"
);

/// A CONDSTORE mod-sequence (RFC 7162 section 3.1.1): a positive 63-bit number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModSeq(NonZeroU64);

impl ModSeq {
    /// The largest value RFC 7162 allows (2^63 - 1).
    pub const MAX: u64 = i64::MAX as u64;

    /// The number as the protocol writes it.
    pub fn get(self) -> u64 {
        self.0.get()
    }
    /// The number as the store keeps it; always fits, since the range is 63-bit.
    pub fn to_i64(self) -> i64 {
        i64::try_from(self.0.get()).unwrap_or(i64::MAX)
    }
}
impl TryFrom<u64> for ModSeq {
    type Error = RangeError;
    fn try_from(v: u64) -> Result<Self, RangeError> {
        if v > Self::MAX {
            return Err(RangeError { what: "mod-sequence", value: i128::from(v) });
        }
        NonZeroU64::new(v).map(ModSeq).ok_or(RangeError { what: "mod-sequence", value: 0 })
    }
}
impl TryFrom<i64> for ModSeq {
    type Error = RangeError;
    fn try_from(v: i64) -> Result<Self, RangeError> {
        u64::try_from(v)
            .map_err(|_| RangeError { what: "mod-sequence", value: i128::from(v) })
            .and_then(ModSeq::try_from)
    }
}
impl fmt::Display for ModSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A POP3 unique-id listing value (RFC 1939 section 7): 1 to 70 characters in 0x21..=0x7E.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Uidl(String);

/// A UIDL that breaks RFC 1939's character or length rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid UIDL ({} bytes): must be 1 to 70 printable ASCII characters", .0.len())]
pub struct UidlError(pub String);

impl Uidl {
    /// The longest UIDL RFC 1939 allows.
    pub const MAX_LEN: usize = 70;

    /// Validates `s` against RFC 1939 section 7.
    pub fn new(s: impl Into<String>) -> Result<Self, UidlError> {
        let s = s.into();
        let ok = !s.is_empty() && s.len() <= Self::MAX_LEN && s.bytes().all(|b| (0x21..=0x7e).contains(&b));
        if ok {
            Ok(Uidl(s))
        } else {
            Err(UidlError(s))
        }
    }
    /// The UIDL as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl fmt::Display for Uidl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password, token or other credential. `Debug` and `Display` print `<redacted>`; the value is only
/// reachable through [`Secret::expose`], which makes every use easy to find in review.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a credential.
    pub fn new(value: T) -> Self {
        Secret(value)
    }
    /// The credential itself. Call this only where the value goes onto the wire.
    pub fn expose(&self) -> &T {
        &self.0
    }
}
impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}
impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}
impl From<String> for Secret<String> {
    fn from(s: String) -> Self {
        Secret(s)
    }
}
impl From<&str> for Secret<String> {
    fn from(s: &str) -> Self {
        Secret(s.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_rejects_zero_and_negative() {
        assert!(Uid::try_from(0u32).is_err());
        assert!(Uid::try_from(-1i64).is_err());
        assert!(Uid::try_from(i64::from(u32::MAX) + 1).is_err());
        assert_eq!(Uid::try_from(7u32).map(Uid::to_i64), Ok(7));
    }

    #[test]
    fn modseq_is_63_bit() {
        assert!(ModSeq::try_from(ModSeq::MAX).is_ok());
        assert!(ModSeq::try_from(ModSeq::MAX + 1).is_err());
        assert!(ModSeq::try_from(0u64).is_err());
        assert_eq!(ModSeq::try_from(ModSeq::MAX).map(ModSeq::to_i64), Ok(i64::MAX));
    }

    #[test]
    fn uidl_follows_rfc1939() {
        assert!(Uidl::new("00000001a5b3c2d1").is_ok());
        assert!(Uidl::new("").is_err());
        assert!(Uidl::new("has space").is_err());
        assert!(Uidl::new("x".repeat(71)).is_err());
        assert!(Uidl::new("x".repeat(70)).is_ok());
    }

    #[test]
    fn secret_never_prints() {
        let s = Secret::from("hunter2");
        assert_eq!(format!("{s:?} {s}"), "Secret(<redacted>) <redacted>");
        assert_eq!(s.expose(), "hunter2");
    }
}
