//! Duplicate suggestions: the pure rules that say whether two contacts look like one person, why, and how sure.
//!
//! Emails, phone numbers and identifiers are unique per account, so two contacts never share one: a duplicate
//! shows in what is *almost* the same. Each rule that fires is a [`Reason`] with a stable code and a weight; the
//! confidence combines the weights as independent pieces of evidence (a "noisy OR": `1 − Π(1 − weight)`), so
//! several agreeing signals approach 1 while one weak signal stays low. The weights:
//!
//! | code | fires when | weight |
//! |---|---|---|
//! | `similar_name` | trigram similarity of the names ≥ 0.5 | identical: 0.5; else 0.15 + 0.6 × (similarity − 0.5); halved for a one-word name; divided by 2.5 for a common name (3 or more other contacts carry it) |
//! | `same_email_local_part` | the email local parts are the same (ignoring case, dots, `+tags`), e.g. at another domain | 0.7 (0.35 for a local part under 4 characters; none for role addresses such as `info`) |
//! | `name_matches_email` | one name spells the other's email local part (`Jo Doe` ↔ `jo.doe@…`, `jdoe@…`, `doe.jo@…`) and the other's own name does not (namesakes write their emails alike) | 0.7 (0.35 under 5 characters) |
//! | `source_id_matches_phone` | a channel address (contact inbox source id) of one is the other's phone number | 0.9 |
//! | `source_id_matches_email` | a channel address of one is the other's email | 0.9 |
//! | `same_company_domain` | both have an email at the same domain, not a free-mail one, and the names are similar | 0.6 |
//!
//! The confidence is capped at 0.99 (never certain) and rounded to two decimals. A pair under
//! [`MIN_CONFIDENCE`] is not suggested: a similar one-word name alone is too common to mean anything.
//!
//! The key functions ([`email_local_key`], [`name_keys`], [`source_key`]) have SQL twins (`dedupe_*` in the
//! duplicates migration) that find the candidates through indexes; the two must agree.

use std::collections::BTreeSet;

/// Pairs below this confidence are not suggested.
pub const MIN_CONFIDENCE: f64 = 0.3;
/// Names less similar than this (trigram similarity, 0–1) are not a reason.
pub const MIN_NAME_SIMILARITY: f64 = 0.5;
/// From this many other contacts with the very same name, a name is common (see [`assess_among`]).
pub const COMMON_NAME_NAMESAKES: usize = 3;
/// The highest confidence a suggestion can have.
pub const MAX_CONFIDENCE: f64 = 0.99;

/// What the rules compare of a contact: its name and identities (primary and, later, secondary ones).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Profile {
    pub name: String,
    /// Lower-cased emails.
    pub emails: Vec<String>,
    /// Phone numbers in E.164 (`+4915112345678`).
    pub phones: Vec<String>,
    pub identifiers: Vec<String>,
    /// The contact's addresses in its inboxes (contact inbox source ids).
    pub source_ids: Vec<String>,
}

/// Why two contacts may be one person. The codes are part of the API and never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReasonCode {
    SimilarName,
    SameEmailLocalPart,
    NameMatchesEmail,
    SourceIdMatchesPhone,
    SourceIdMatchesEmail,
    SameCompanyDomain,
}

impl ReasonCode {
    /// Every code, in the order reasons are listed.
    pub const ALL: [Self; 6] = [
        Self::SourceIdMatchesPhone,
        Self::SourceIdMatchesEmail,
        Self::SameEmailLocalPart,
        Self::NameMatchesEmail,
        Self::SameCompanyDomain,
        Self::SimilarName,
    ];

    /// The stable code.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::SimilarName => "similar_name",
            Self::SameEmailLocalPart => "same_email_local_part",
            Self::NameMatchesEmail => "name_matches_email",
            Self::SourceIdMatchesPhone => "source_id_matches_phone",
            Self::SourceIdMatchesEmail => "source_id_matches_email",
            Self::SameCompanyDomain => "same_company_domain",
        }
    }

    /// The contact field the reason is about.
    #[must_use]
    pub const fn field(self) -> &'static str {
        match self {
            Self::SimilarName => "name",
            Self::SourceIdMatchesPhone => "phone_number",
            Self::SameEmailLocalPart
            | Self::NameMatchesEmail
            | Self::SourceIdMatchesEmail
            | Self::SameCompanyDomain => "email",
        }
    }
}

/// One rule that fired, with what it saw.
#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    pub code: ReasonCode,
    /// For people: which values matched (`jo.doe@acme.example and jo.doe@gmail.com`, `similarity 0.83`).
    pub detail: String,
    pub weight: f64,
}

/// Why two contacts look like one person, and how sure that is.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// 0–1, two decimals.
    pub confidence: f64,
    /// Strongest first.
    pub reasons: Vec<Reason>,
}

/// Compares two contacts. `name_similarity` is the trigram similarity of their names (pg_trgm's
/// `similarity(lower(a), lower(b))`, or [`trigram_similarity`]). `None` when they do not look alike enough to
/// suggest (under [`MIN_CONFIDENCE`]). Symmetric: swapping the two gives the same confidence.
#[must_use]
pub fn assess(this: &Profile, other: &Profile, name_similarity: f64) -> Option<Assessment> {
    assess_among(this, other, name_similarity, 0)
}

/// [`assess`] in an account where `namesakes` other contacts carry this contact's very name: from
/// [`COMMON_NAME_NAMESAKES`] on, the name is common and weighs 2.5 times less (an identical common name alone
/// is then 0.2, under [`MIN_CONFIDENCE`]: the fourth John Smith is not everybody's duplicate).
#[must_use]
pub fn assess_among(this: &Profile, other: &Profile, name_similarity: f64, namesakes: usize) -> Option<Assessment> {
    let mut reasons = Vec::new();
    if let Some(r) = source_id_reason(this, other, ReasonCode::SourceIdMatchesPhone) {
        reasons.push(r);
    }
    if let Some(r) = source_id_reason(this, other, ReasonCode::SourceIdMatchesEmail) {
        reasons.push(r);
    }
    reasons.extend(same_local_part(this, other));
    reasons.extend(name_matches_email(this, other).or_else(|| name_matches_email(other, this)));
    let names_alike = name_similarity >= MIN_NAME_SIMILARITY && !name_keys(&this.name).is_empty();
    if names_alike {
        reasons.extend(same_company_domain(this, other));
        let words = words(&this.name).len().min(words(&other.name).len());
        let identical = name_similarity >= 0.999;
        let mut weight = if identical { 0.5 } else { 0.15 + 0.6 * (name_similarity - MIN_NAME_SIMILARITY) };
        if words < 2 {
            weight /= 2.0;
        }
        if namesakes >= COMMON_NAME_NAMESAKES {
            weight /= 2.5;
        }
        reasons.push(Reason {
            code: ReasonCode::SimilarName,
            detail: format!("similarity {:.2}", name_similarity.min(1.0)),
            weight,
        });
    }
    let confidence = combine(reasons.iter().map(|r| r.weight));
    if confidence < MIN_CONFIDENCE {
        return None;
    }
    reasons.sort_by(|a, b| b.weight.total_cmp(&a.weight).then(a.code.cmp(&b.code)));
    Some(Assessment { confidence, reasons })
}

/// `1 − Π(1 − w)`, capped at [`MAX_CONFIDENCE`], rounded to two decimals.
#[must_use]
pub fn combine(weights: impl IntoIterator<Item = f64>) -> f64 {
    let doubt: f64 = weights.into_iter().map(|w| 1.0 - w.clamp(0.0, 1.0)).product();
    ((1.0 - doubt).min(MAX_CONFIDENCE) * 100.0).round() / 100.0
}

fn source_id_reason(this: &Profile, other: &Profile, code: ReasonCode) -> Option<Reason> {
    let matches = |a: &Profile, b: &Profile| {
        let targets = if code == ReasonCode::SourceIdMatchesPhone { &b.phones } else { &b.emails };
        a.source_ids.iter().find_map(|s| {
            let key = source_key(s)?;
            targets.iter().find(|t| t.to_lowercase() == key).map(|t| format!("channel address {s} is {t}"))
        })
    };
    let detail = matches(this, other).or_else(|| matches(other, this))?;
    Some(Reason { code, detail, weight: 0.9 })
}

fn same_local_part(this: &Profile, other: &Profile) -> Option<Reason> {
    for a in &this.emails {
        for b in &other.emails {
            let Some(key) = email_local_key(a) else { continue };
            if a != b && email_local_key(b).as_deref() == Some(key.as_str()) && !is_role_local_part(&key) {
                let weight = if key.len() < 4 { 0.35 } else { 0.7 };
                let detail = format!("{a} and {b}");
                return Some(Reason { code: ReasonCode::SameEmailLocalPart, detail, weight });
            }
        }
    }
    None
}

/// `named`'s name spells one of `mailed`'s emails, which `mailed`'s own name does not spell: when it does, the
/// two merely have the same name (namesakes write their emails alike), which `similar_name` already weighs.
fn name_matches_email(named: &Profile, mailed: &Profile) -> Option<Reason> {
    let keys = name_keys(&named.name);
    let own = name_keys(&mailed.name);
    mailed.emails.iter().find_map(|email| {
        let key = email_local_key(email)?;
        if key.len() < 4 || !keys.contains(&key) || own.contains(&key) || is_role_local_part(&key) {
            return None;
        }
        let weight = if key.len() < 5 { 0.35 } else { 0.7 };
        let detail = format!("{} spells {email}", named.name);
        Some(Reason { code: ReasonCode::NameMatchesEmail, detail, weight })
    })
}

fn same_company_domain(this: &Profile, other: &Profile) -> Option<Reason> {
    let domains = |p: &Profile| -> BTreeSet<String> {
        p.emails.iter().filter_map(|e| email_domain(e)).filter(|d| !is_free_mail(d)).map(str::to_owned).collect()
    };
    let domain = domains(this).intersection(&domains(other)).next().cloned()?;
    Some(Reason { code: ReasonCode::SameCompanyDomain, detail: format!("both at {domain}"), weight: 0.6 })
}

/// The part of an email that names its owner: the local part, lower-cased, without a `+tag` and without
/// anything but `a-z0-9` (`Jo.Doe+news@x` → `jodoe`). `None` when nothing is left.
#[must_use]
pub fn email_local_key(email: &str) -> Option<String> {
    let lower = email.to_lowercase();
    let local = lower.split('@').next().unwrap_or_default();
    let local = local.split('+').next().unwrap_or_default();
    let key: String = local.chars().filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit()).collect();
    (!key.is_empty()).then_some(key)
}

/// The domain of an email, lower-case.
#[must_use]
pub fn email_domain(email: &str) -> Option<&str> {
    email.rsplit_once('@').map(|(_, d)| d).filter(|d| !d.is_empty())
}

/// A name's words: lower-cased runs of `a-z0-9`.
fn words(name: &str) -> Vec<String> {
    name.to_lowercase()
        .split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit()))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The ways a name is written as an email local part: all words joined, first+last, last+first and
/// initial+last (`Jo Q. Doe` → `joqdoe`, `jodoe`, `doejo`, `jdoe`); a one-word name is itself.
#[must_use]
pub fn name_keys(name: &str) -> Vec<String> {
    let w = words(name);
    let (Some(first), Some(last)) = (w.first(), w.last()) else { return Vec::new() };
    if w.len() == 1 {
        return vec![first.clone()];
    }
    let initial: String = first.chars().take(1).collect();
    let mut keys = vec![w.concat(), format!("{first}{last}"), format!("{last}{first}"), format!("{initial}{last}")];
    let mut seen = BTreeSet::new();
    keys.retain(|k| seen.insert(k.clone()));
    keys
}

/// What a channel address says about its owner: an email (lower-cased) or a phone number in E.164 (`+` and
/// 7–15 digits) for addresses like `4915112345678`, `+49 151 1234-5678` or `whatsapp:+4915112345678`;
/// `None` for anything else (a generated UUID, a user name).
#[must_use]
pub fn source_key(source_id: &str) -> Option<String> {
    let s = source_id.trim();
    if s.contains('@') {
        return Some(s.to_lowercase());
    }
    let start = s.find(|c: char| c.is_ascii_digit() || c == '+')?;
    let (prefix, rest) = s.split_at(start);
    let prefix_ok =
        prefix.len() <= 12 && prefix.chars().all(|c| c.is_ascii_alphabetic() || matches!(c, ':' | '_' | '-'));
    let rest_ok = rest.chars().all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '(' | ')' | '-' | '.'));
    let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    (prefix_ok && rest_ok && (7..=15).contains(&digits.len())).then(|| format!("+{digits}"))
}

/// Local parts that name a role, not a person: two contacts at `info@…` are not one person.
fn is_role_local_part(key: &str) -> bool {
    const ROLES: [&str; 14] = [
        "info", "admin", "contact", "sales", "support", "hello", "office", "mail", "team", "help", "billing",
        "noreply", "service", "hr",
    ];
    ROLES.contains(&key)
}

/// Whether anyone can have an address at the domain (so sharing it says nothing about working together).
#[must_use]
pub fn is_free_mail(domain: &str) -> bool {
    const EXACT: [&str; 20] = [
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "live.com",
        "msn.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "web.de",
        "mail.ru",
        "proton.me",
        "protonmail.com",
        "zoho.com",
        "qq.com",
        "163.com",
        "free.fr",
        "orange.fr",
        "t-online.de",
        "fastmail.com",
    ];
    const FAMILIES: [&str; 5] = ["yahoo.", "hotmail.", "gmx.", "yandex.", "ymail."];
    let d = domain.to_lowercase();
    EXACT.contains(&d.as_str()) || FAMILIES.iter().any(|f| d.starts_with(f))
}

/// pg_trgm's `similarity`: each word (run of letters and digits, lower-cased) padded with two spaces before and
/// one after, cut into trigrams; shared trigrams over all trigrams of both. 0 when either has none.
#[must_use]
pub fn trigram_similarity(a: &str, b: &str) -> f64 {
    let (ta, tb) = (trigrams(a), trigrams(b));
    let shared = ta.intersection(&tb).count();
    let all = ta.len() + tb.len() - shared;
    if all == 0 {
        return 0.0;
    }
    #[allow(clippy::cast_precision_loss)] // trigram counts are tiny
    let s = shared as f64 / all as f64;
    s
}

fn trigrams(s: &str) -> BTreeSet<[char; 3]> {
    let mut set = BTreeSet::new();
    for word in s.to_lowercase().split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        let padded: Vec<char> = "  ".chars().chain(word.chars()).chain(" ".chars()).collect();
        for t in padded.windows(3) {
            set.insert([t[0], t[1], t[2]]);
        }
    }
    set
}

#[cfg(test)]
mod tests;
