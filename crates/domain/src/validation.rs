//! Field validation shared by every use case: what a violation is and the value rules (email, E.164 phone).

use std::fmt;

use crate::ids::ContactId;

/// One broken rule on one input field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The input field, as the client named it (`phone_number`, `base_contact_id`).
    pub field: String,
    /// A stable snake_case machine code (`invalid_format`, `too_long`, `taken`).
    pub code: String,
    /// A sentence for people.
    pub message: String,
    /// With code `taken`: the contact that holds the value, when it is known.
    pub holder: Option<ContactId>,
}

/// The rule a single value broke, before it is attached to a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueViolation {
    pub code: &'static str,
    pub message: String,
}

/// All the violations found in one input; empty means valid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    /// Records that `field` broke the rule `code`.
    pub fn push(&mut self, field: &str, code: &str, message: impl Into<String>) {
        self.0.push(FieldViolation {
            field: field.to_owned(),
            code: code.to_owned(),
            message: message.into(),
            holder: None,
        });
    }

    /// Records that another contact, `holder`, already holds the value of `field`.
    pub fn push_taken(&mut self, field: &str, holder: ContactId) {
        self.0.push(FieldViolation {
            field: field.to_owned(),
            code: "taken".to_owned(),
            message: format!("has already been taken by contact {holder}"),
            holder: Some(holder),
        });
    }

    /// Records a value rule's violation against `field`.
    pub fn push_violation(&mut self, field: &str, violation: ValueViolation) {
        self.push(field, violation.code, violation.message);
    }

    /// A single violation.
    #[must_use]
    pub fn one(field: &str, code: &str, message: impl Into<String>) -> Self {
        let mut v = Self::default();
        v.push(field, code, message);
        v
    }

    /// `Ok` when nothing was recorded.
    ///
    /// # Errors
    /// `self` when it holds at least one violation.
    pub fn into_result(self) -> Result<(), Self> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_slice(&self) -> &[FieldViolation] {
        &self.0
    }

    pub fn into_vec(self) -> Vec<FieldViolation> {
        self.0
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|v| format!("{} {}", v.field, v.message)).collect();
        f.write_str(&parts.join("; "))
    }
}

/// Longest accepted email address (RFC 5321 path limit).
pub const MAX_EMAIL_LEN: usize = 254;

/// A pragmatic email check: one `@`, a non-empty local part, a dotted domain of letters, digits and hyphens,
/// no whitespace. It accepts what mail systems accept in practice and rejects obvious garbage.
///
/// # Errors
/// `invalid_format` or `too_long`.
pub fn validate_email(email: &str) -> Result<(), ValueViolation> {
    if email.chars().count() > MAX_EMAIL_LEN {
        return Err(ValueViolation {
            code: "too_long",
            message: format!("must be at most {MAX_EMAIL_LEN} characters"),
        });
    }
    let invalid = || ValueViolation { code: "invalid_format", message: "is not a valid email address".to_owned() };
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    let local_ok = !local.is_empty() && local.len() <= 64 && !local.chars().any(|c| c.is_whitespace() || c == '@');
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if local_ok && domain_ok {
        Ok(())
    } else {
        Err(invalid())
    }
}

/// Characters people put between the digits of a phone number; they carry no meaning.
fn is_phone_formatting(c: char) -> bool {
    c.is_whitespace() || matches!(c, '-' | '.' | '(' | ')' | '/')
}

/// Whether `digits` (after the `+`) is E.164-shaped: `[1-9]\d{1,14}`.
fn is_e164_digits(digits: &str) -> bool {
    (2..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) && !digits.starts_with('0')
}

/// A phone number in its stored form: E.164 as libphonenumber formats it (`+49 151 1234-5678`,
/// `+49 (0)151 12345678` and `+4915112345678` are all `+4915112345678`). A number that is E.164-shaped once its
/// formatting is removed but that libphonenumber's metadata cannot confirm (the reference's own example
/// `+12212345`) is kept as given, without its formatting: the reference accepts any such number.
///
/// # Errors
/// `invalid_format` when the number has no country code (`+`) or is not E.164-shaped even without formatting.
pub fn normalize_phone_number(phone: &str) -> Result<String, ValueViolation> {
    let invalid = || ValueViolation {
        code: "invalid_format",
        message: "should be in e164 format (a + and the country code, then the number)".to_owned(),
    };
    // "(0)" is the national trunk prefix written after the country code; it is never dialled internationally.
    let stripped: String = phone.trim().replace("(0)", "").chars().filter(|c| !is_phone_formatting(*c)).collect();
    let digits = stripped.strip_prefix('+').ok_or_else(invalid)?;
    if !is_e164_digits(digits) {
        return Err(invalid());
    }
    match phonenumber::parse(None, &stripped) {
        // a number libphonenumber confirms is at most fifteen digits: its E.164 form is E.164-shaped
        Ok(number) if phonenumber::is_valid(&number) => Ok(number.format().mode(phonenumber::Mode::E164).to_string()),
        _ => Ok(stripped),
    }
}

/// A phone number the API accepts: one [`normalize_phone_number`] can bring to its stored form.
///
/// # Errors
/// `invalid_format` as [`normalize_phone_number`].
pub fn validate_phone_number(phone: &str) -> Result<(), ValueViolation> {
    normalize_phone_number(phone).map(|_| ())
}

/// Longest accepted label, in characters.
pub const MAX_LABEL_LEN: usize = 255;

/// A label in its stored form: trimmed and lower-cased, so that `VIP` and `vip ` are one label (labels of two
/// contacts are united on merge, and case variants would otherwise survive as duplicates).
///
/// # Errors
/// `blank`, `too_long`, or `invalid_format` for commas (the reference keeps labels as a comma-separated list,
/// so a comma would split one label into two there) and control characters.
pub fn normalize_label(label: &str) -> Result<String, ValueViolation> {
    let label = label.trim().to_lowercase();
    if label.is_empty() {
        return Err(ValueViolation { code: "blank", message: "can't be blank".to_owned() });
    }
    if label.chars().count() > MAX_LABEL_LEN {
        return Err(ValueViolation {
            code: "too_long",
            message: format!("must be at most {MAX_LABEL_LEN} characters"),
        });
    }
    if label.chars().any(|c| c == ',' || c.is_control()) {
        return Err(ValueViolation {
            code: "invalid_format",
            message: "must not contain commas or control characters".to_owned(),
        });
    }
    Ok(label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn violations_collect_in_order_and_read_back() {
        let one = Violations::one("email", "taken", "has already been taken");
        assert!(!one.is_empty());
        assert_eq!(
            one.as_slice(),
            [FieldViolation {
                field: "email".into(),
                code: "taken".into(),
                message: "has already been taken".into(),
                holder: None
            }]
        );
        assert_eq!(one.clone().into_result(), Err(one.clone()));

        let none = Violations::default();
        assert!(none.is_empty());
        assert_eq!(none.into_result(), Ok(()));

        let mut two = Violations::default();
        two.push("name", "too_long", "must be at most 255 characters");
        two.push_violation("phone_number", ValueViolation { code: "invalid_format", message: "is odd".into() });
        let fields: Vec<(String, String)> = two.clone().into_vec().into_iter().map(|v| (v.field, v.code)).collect();
        assert_eq!(fields, [("name".into(), "too_long".into()), ("phone_number".into(), "invalid_format".into())]);
        // what the logs and error messages show: field and message of each, in order
        assert_eq!(two.to_string(), "name must be at most 255 characters; phone_number is odd");
        assert_eq!(Violations::default().to_string(), "");

        let mut taken = Violations::default();
        taken.push_taken("email", ContactId::new(7));
        let v = &taken.as_slice()[0];
        assert_eq!(
            (v.code.as_str(), v.holder, v.message.as_str()),
            ("taken", Some(ContactId::new(7)), "has already been taken by contact 7")
        );
    }

    #[test]
    fn emails() {
        for ok in ["a@b.co", "first.last+tag@sub.example.org", "ünï@exämple.de"] {
            assert_eq!(validate_email(ok), Ok(()), "{ok}");
        }
        for bad in ["", "plain", "@x.com", "a@", "a@b", "a b@c.com", "a@b..com", "a@-b.com", "a@b.com@c.com"] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
        assert_eq!(validate_email(&format!("{}@x.com", "a".repeat(300))).map_err(|v| v.code), Err("too_long"));
    }

    #[test]
    fn email_length_limit_is_inclusive() {
        // a 64-character local part (its own limit) and a domain that brings the address to the limit
        let at_limit = format!("{}@{}.com", "a".repeat(64), "b".repeat(MAX_EMAIL_LEN - 64 - 1 - 4));
        assert_eq!(at_limit.chars().count(), MAX_EMAIL_LEN);
        assert_eq!(validate_email(&at_limit), Ok(()));
        let one_over = format!("{}@{}.com", "a".repeat(64), "b".repeat(MAX_EMAIL_LEN - 64 - 4));
        let err = validate_email(&one_over).unwrap_err();
        assert_eq!((err.code, err.message.as_str()), ("too_long", "must be at most 254 characters"));
        // characters, not bytes: 254 two-byte characters are still within the limit
        let wide = format!("{}@{}.de", "a".repeat(64), "ä".repeat(MAX_EMAIL_LEN - 64 - 1 - 3));
        assert_eq!(validate_email(&wide), Ok(()));
        // the local part on its own: 64 characters at most
        assert_eq!(validate_email(&format!("{}@x.com", "a".repeat(65))).map_err(|v| v.code), Err("invalid_format"));
    }

    #[test]
    fn phone_formats_are_one_number() {
        for given in ["+49 151 1234-5678", "+49 (0)151 12345678", "+4915112345678", " +49.151.1234.5678 "] {
            assert_eq!(normalize_phone_number(given), Ok("+4915112345678".to_owned()), "{given}");
        }
        assert_eq!(normalize_phone_number("+1 (202) 555-0143"), Ok("+12025550143".to_owned()));
        assert_eq!(normalize_phone_number("+49/151/12345678"), Ok("+4915112345678".to_owned()));
        // libphonenumber's part: a trunk prefix written without parentheses is no digit of the number
        assert_eq!(normalize_phone_number("+49 0151 12345678"), Ok("+4915112345678".to_owned()));
    }

    #[test]
    fn unconfirmed_e164_numbers_are_kept_as_given() {
        // the reference's worked example: E.164-shaped, unknown to libphonenumber's metadata
        assert_eq!(normalize_phone_number("+12212345"), Ok("+12212345".to_owned()));
        assert_eq!(normalize_phone_number("+4930111"), Ok("+4930111".to_owned()));
        assert_eq!(normalize_phone_number("+12"), Ok("+12".to_owned()));
        assert_eq!(normalize_phone_number("+1 221 2345"), Ok("+12212345".to_owned()));
        // libphonenumber would drop the trunk 0 of this one too, but cannot confirm what remains: kept as given
        assert_eq!(normalize_phone_number("+49 01 234"), Ok("+4901234".to_owned()));
    }

    #[test]
    fn numbers_without_a_country_code_or_shape_are_refused() {
        for bad in
            ["", "030123456", "0151 12345678", "+", "+1", "+0123", "+1234567890123456", "+12a", "++12", "49 151 1234"]
        {
            let err = normalize_phone_number(bad).map_err(|v| v.code);
            assert_eq!(err, Err("invalid_format"), "{bad}");
        }
    }

    #[test]
    fn labels() {
        assert_eq!(normalize_label("  VIP "), Ok("vip".to_owned()));
        assert_eq!(normalize_label("Früh-Kunde_2"), Ok("früh-kunde_2".to_owned()));
        assert_eq!(normalize_label(" ").map_err(|v| v.code), Err("blank"));
        assert_eq!(normalize_label("a,b").map_err(|v| v.code), Err("invalid_format"));
        assert_eq!(normalize_label("a\nb").map_err(|v| v.code), Err("invalid_format"));
        assert_eq!(normalize_label(&"x".repeat(256)).map_err(|v| v.code), Err("too_long"));
        // the limit is inclusive, counts characters, and applies after trimming
        assert_eq!(normalize_label(&"x".repeat(MAX_LABEL_LEN)), Ok("x".repeat(MAX_LABEL_LEN)));
        assert_eq!(normalize_label(&"é".repeat(MAX_LABEL_LEN)), Ok("é".repeat(MAX_LABEL_LEN)));
        assert_eq!(normalize_label(&format!("  {}  ", "x".repeat(MAX_LABEL_LEN))), Ok("x".repeat(MAX_LABEL_LEN)));
    }
}
