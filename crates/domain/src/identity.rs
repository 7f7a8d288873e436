//! Identities: the email addresses, phone numbers and identifiers by which a contact is known, and the one rule
//! that makes two of them the same (their normalized form). A contact's primary identities are its `email`,
//! `phone_number` and `identifier`; any number of secondary ones hang off it (kept through merges), and each,
//! primary or secondary, belongs to one contact of an account at most.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::contact::{ContactAttributes, MAX_IDENTIFIER_LEN};
use crate::ids::ContactId;
use crate::validation::{normalize_phone_number, validate_email, ValueViolation};

/// What an identity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IdentityKind {
    Email,
    PhoneNumber,
    Identifier,
}

impl IdentityKind {
    /// Every kind, in the contact's field order.
    pub const ALL: [Self; 3] = [Self::Email, Self::PhoneNumber, Self::Identifier];

    /// The stored and serialized name, which is also the contact field that holds the primary one.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::PhoneNumber => "phone_number",
            Self::Identifier => "identifier",
        }
    }

    /// The kind with this name.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The value in its stored form: a trimmed identifier, a lower-cased email, an E.164 phone number.
    ///
    /// # Errors
    /// The rule the value breaks (`blank`, `invalid_format`, `too_long`).
    pub fn normalize(self, value: &str) -> Result<String, ValueViolation> {
        let value = value.trim();
        if value.is_empty() {
            return Err(ValueViolation { code: "blank", message: "can't be blank".to_owned() });
        }
        match self {
            Self::Email => {
                let email = value.to_lowercase();
                validate_email(&email)?;
                Ok(email)
            }
            Self::PhoneNumber => normalize_phone_number(value),
            Self::Identifier => {
                if value.chars().count() > MAX_IDENTIFIER_LEN {
                    return Err(ValueViolation {
                        code: "too_long",
                        message: format!("must be at most {MAX_IDENTIFIER_LEN} characters"),
                    });
                }
                Ok(value.to_owned())
            }
        }
    }

    /// The contact field of this kind: the primary identity of that kind, if any.
    #[must_use]
    pub fn of(self, attributes: &ContactAttributes) -> Option<&str> {
        match self {
            Self::Email => attributes.email.as_deref(),
            Self::PhoneNumber => attributes.phone_number.as_deref(),
            Self::Identifier => attributes.identifier.as_deref(),
        }
    }

    /// The kinds whose primary a merge takes from the mergee as the base's primary: the base had none of that
    /// kind and the merged attributes have one (which can only be the mergee's). The mergee's identity of such
    /// a kind moves to the base as its primary at once; every other one moves as a secondary.
    #[must_use]
    pub fn taken_by_merge(base: &ContactAttributes, merged: &ContactAttributes) -> Vec<Self> {
        Self::ALL.into_iter().filter(|k| k.of(base).is_none() && k.of(merged).is_some()).collect()
    }
}

impl fmt::Display for IdentityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an identity came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentitySource {
    /// Given through the API (a contact's field, or added as a secondary identity).
    Api,
    /// Taken over from a contact merged into this one.
    Merge,
}

impl IdentitySource {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Merge => "merge",
        }
    }

    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Api, Self::Merge].into_iter().find(|s| s.as_str() == name)
    }
}

/// A stored identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub id: i64,
    pub contact_id: ContactId,
    pub kind: IdentityKind,
    /// The value in its stored form ([`IdentityKind::normalize`]).
    pub value: String,
    /// Whether it is the contact's `email`, `phone_number` or `identifier` field.
    pub primary: bool,
    pub source: IdentitySource,
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attributes(email: Option<&str>, phone_number: Option<&str>, identifier: Option<&str>) -> ContactAttributes {
        ContactAttributes {
            email: email.map(str::to_owned),
            phone_number: phone_number.map(str::to_owned),
            identifier: identifier.map(str::to_owned),
            ..ContactAttributes::default()
        }
    }

    #[test]
    fn a_kind_reads_its_field() {
        let a = attributes(Some("ada@example.com"), Some("+4915112345678"), Some("ext-1"));
        assert_eq!(IdentityKind::Email.of(&a), Some("ada@example.com"));
        assert_eq!(IdentityKind::PhoneNumber.of(&a), Some("+4915112345678"));
        assert_eq!(IdentityKind::Identifier.of(&a), Some("ext-1"));
        assert_eq!(IdentityKind::Email.of(&ContactAttributes::default()), None);
    }

    #[test]
    fn a_merge_takes_as_primaries_only_the_kinds_the_base_lacked() {
        let base = attributes(Some("base@example.com"), None, None);
        // the base keeps its email, takes the mergee's phone number, and the caller chose no identifier
        let merged = attributes(Some("base@example.com"), Some("+4915112345678"), None);
        assert_eq!(IdentityKind::taken_by_merge(&base, &merged), [IdentityKind::PhoneNumber]);
        // a base that had every kind takes none, even when the caller chose the mergee's value
        let full = attributes(Some("base@example.com"), Some("+4915100000000"), Some("b"));
        let chose = attributes(Some("mergee@example.com"), Some("+4915112345678"), Some("m"));
        assert!(IdentityKind::taken_by_merge(&full, &chose).is_empty());
        let empty = ContactAttributes::default();
        assert_eq!(IdentityKind::taken_by_merge(&empty, &chose), IdentityKind::ALL);
        assert!(IdentityKind::taken_by_merge(&empty, &empty).is_empty());
    }

    #[test]
    fn kinds_normalize_their_values() {
        assert_eq!(IdentityKind::Email.normalize(" Ada@Example.COM "), Ok("ada@example.com".to_owned()));
        assert_eq!(IdentityKind::Email.normalize("nope").map_err(|v| v.code), Err("invalid_format"));
        assert_eq!(IdentityKind::PhoneNumber.normalize("+49 151 1234-5678"), Ok("+4915112345678".to_owned()));
        assert_eq!(IdentityKind::Identifier.normalize(" Ext-1 "), Ok("Ext-1".to_owned()));
        assert_eq!(IdentityKind::Identifier.normalize(&"x".repeat(256)).map_err(|v| v.code), Err("too_long"));
        assert_eq!(IdentityKind::Identifier.normalize(&"x".repeat(255)), Ok("x".repeat(255)));
        for kind in IdentityKind::ALL {
            assert_eq!(kind.normalize("  ").map_err(|v| v.code), Err("blank"), "{kind}");
            assert_eq!(IdentityKind::parse(kind.as_str()), Some(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!(IdentityKind::parse("fax"), None);
        assert_eq!(IdentitySource::parse("merge"), Some(IdentitySource::Merge));
        assert_eq!(IdentitySource::parse("api").map(IdentitySource::as_str), Some("api"));
        assert_eq!(IdentitySource::parse("import"), None);
    }
}
