//! Contacts: list and search (paged), create (optionally with a first channel address), show, partial update,
//! delete with everything the contact owns, channel addresses (contact inboxes) and labels.
//!
//! Locking rule shared with the merge: a write that changes a contact or hangs rows off it locks the contact
//! row first (`lock_contacts`). Writes therefore serialize with merges and deletions of the same contact: a
//! merge can never move rows away under an update, and a deletion can never leave a row behind.

use std::collections::{BTreeSet, HashMap};

use domain::validation::normalize_label;
use domain::{
    AccountId, Contact, ContactAttributes, ContactId, ContactInbox, IdentityKind, InboxId, JsonObject, Violations,
};
use rand::RngCore;
use serde_json::json;

use crate::auth::{member_from, sent_token_digest, AuthError, Member};
use crate::ports::{
    in_transaction, on_connection, ContactQuery, ContactRead, ContactSort, CredentialsAndContact, Database,
    DeletedCounts, NewContact, Role, Session, StoreError, StoredContactInbox,
};
use crate::snapshot::contact_snapshot;

/// Contacts per page, as the reference pages them.
pub const PAGE_SIZE: u64 = 15;
/// Longest accepted `source_id`, in characters.
pub const MAX_SOURCE_ID_LEN: usize = 255;

/// Why a contact operation did not happen. In every case nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContactsError {
    /// `field` is the input (`id`, `inbox_id`) that names no `entity` in the account.
    #[error("{entity} not found")]
    NotFound { field: &'static str, entity: &'static str },
    /// The contact was merged away; it lives on in `into` (chains followed).
    #[error("contact merged into {into}")]
    Merged { into: ContactId },
    /// The `Idempotency-Key` was used before for another request.
    #[error("the idempotency key was used for another request")]
    IdempotencyKeyReused,
    /// The input breaks a contact rule (format, length or uniqueness).
    #[error("invalid input: {0}")]
    Invalid(Violations),
    /// The identity is one of the contact's primaries (its email, phone number or identifier field), which
    /// change through the contact itself.
    #[error("the identity is the contact's primary {kind}")]
    PrimaryIdentity { kind: domain::IdentityKind },
    /// Only administrators of the account may do this.
    #[error("only administrators may do this")]
    AdministratorRequired,
    #[error("database unavailable")]
    Unavailable,
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for ContactsError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Taken { field } => {
                Self::Invalid(Violations::one(field, "taken", "has already been taken by another contact"))
            }
            // A referenced row vanished under us (e.g. a concurrent merge deleted the contact).
            StoreError::MissingReference { entity: "inbox" } => Self::NotFound { field: "inbox_id", entity: "inbox" },
            StoreError::MissingReference { entity } => Self::NotFound { field: "id", entity },
            StoreError::Unavailable(_) => Self::Unavailable,
            StoreError::Other(m) => Self::Internal(m),
        }
    }
}

fn contact_not_found() -> ContactsError {
    ContactsError::NotFound { field: "id", entity: "contact" }
}

impl From<crate::idempotency::KeyReused> for ContactsError {
    fn from(_: crate::idempotency::KeyReused) -> Self {
        Self::IdempotencyKeyReused
    }
}

/// The error for a contact id that names no contact: `Merged` when it was merged away, `NotFound` otherwise.
pub(crate) fn missing_contact(session: &mut dyn Session, account: AccountId, id: ContactId) -> ContactsError {
    match session.merged_into(account, id) {
        Ok(Some(into)) => ContactsError::Merged { into },
        Ok(None) => contact_not_found(),
        Err(e) => e.into(),
    }
}

/// Records a contact event for webhooks, in the transaction of the change.
fn record_contact_event(
    tx: &mut dyn Session,
    account: AccountId,
    event: &str,
    contact: &Contact,
) -> Result<(), StoreError> {
    let payload = json!({
        "event": event.replace('.', "_"),
        "account_id": account.get(),
        "contact": contact_snapshot(contact),
    });
    tx.enqueue_event(account, event, &payload)
}

/// A contact with its channel addresses, the shape every contacts endpoint answers with.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactWithInboxes {
    pub contact: Contact,
    pub contact_inboxes: Vec<ContactInbox>,
}

/// One page of a contact list or search.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactList {
    /// Matching contacts in all pages together.
    pub total: u64,
    pub page: u64,
    pub contacts: Vec<ContactWithInboxes>,
}

/// A partial change of a contact: `None` leaves a field alone; for email, phone number and identifier
/// `Some(None)` clears it. The two attribute objects are merged key by key into the stored ones (shallow: a
/// key sent replaces the stored key's whole value).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ContactChanges {
    pub name: Option<String>,
    pub email: Option<Option<String>>,
    pub phone_number: Option<Option<String>>,
    pub identifier: Option<Option<String>>,
    pub additional_attributes: Option<JsonObject>,
    pub custom_attributes: Option<JsonObject>,
    pub blocked: Option<bool>,
}

impl ContactChanges {
    /// Applies the changes; returns the normalized, validated attributes and the new `blocked`.
    fn apply(self, mut attributes: ContactAttributes, blocked: bool) -> Result<(ContactAttributes, bool), Violations> {
        if let Some(name) = self.name {
            attributes.name = name;
        }
        if let Some(email) = self.email {
            attributes.email = email;
        }
        if let Some(phone) = self.phone_number {
            attributes.phone_number = phone;
        }
        if let Some(identifier) = self.identifier {
            attributes.identifier = identifier;
        }
        if let Some(additional) = self.additional_attributes {
            attributes.additional_attributes.extend(additional);
        }
        if let Some(custom) = self.custom_attributes {
            attributes.custom_attributes.extend(custom);
        }
        let attributes = attributes.normalized();
        attributes.validate()?;
        Ok((attributes, self.blocked.unwrap_or(blocked)))
    }
}

/// A contact to create, optionally reachable in an inbox from the start.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CreateContact {
    pub fields: ContactChanges,
    pub inbox_id: Option<InboxId>,
    /// The contact's address in that inbox; generated when absent. Ignored without `inbox_id`, as the
    /// reference ignores it.
    pub source_id: Option<String>,
}

/// The created contact and, when an inbox was given, its address there.
#[derive(Debug, Clone, PartialEq)]
pub struct CreatedContact {
    pub contact: ContactWithInboxes,
    pub contact_inbox: Option<ContactInbox>,
}

/// A source id as the reference generates one for API inboxes: a random (version 4) UUID.
pub fn generate_source_id() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// A client-chosen source id, trimmed.
///
/// # Errors
/// `blank` or `too_long`, against the field `source_id`.
pub fn check_source_id(source_id: &str) -> Result<String, Violations> {
    let trimmed = source_id.trim();
    if trimmed.is_empty() {
        Err(Violations::one("source_id", "blank", "can't be blank"))
    } else if trimmed.chars().count() > MAX_SOURCE_ID_LEN {
        Err(Violations::one("source_id", "too_long", format!("must be at most {MAX_SOURCE_ID_LEN} characters")))
    } else {
        Ok(trimmed.to_owned())
    }
}

/// Page `page` (from 1) of the account's contacts.
///
/// # Errors
/// `Invalid` for page 0 (or one so far out that its offset overflows).
pub fn list_contacts(
    db: &dyn Database,
    account: AccountId,
    sort: ContactSort,
    page: u64,
) -> Result<ContactList, ContactsError> {
    contacts_page(db, account, None, sort, page)
}

/// Page `page` of the contacts whose name, email, phone number or identifier contains `term`, ignoring case.
/// Every character of the term stands for itself (`%` and `_` are not wildcards).
///
/// # Errors
/// `Invalid` for a blank term or page 0.
pub fn search_contacts(
    db: &dyn Database,
    account: AccountId,
    term: &str,
    sort: ContactSort,
    page: u64,
) -> Result<ContactList, ContactsError> {
    let term = term.trim();
    if term.is_empty() {
        return Err(ContactsError::Invalid(Violations::one("q", "blank", "can't be blank")));
    }
    contacts_page(db, account, Some(term.to_owned()), sort, page)
}

fn contacts_page(
    db: &dyn Database,
    account: AccountId,
    search: Option<String>,
    sort: ContactSort,
    page: u64,
) -> Result<ContactList, ContactsError> {
    let offset =
        page.checked_sub(1).and_then(|p| p.checked_mul(PAGE_SIZE)).filter(|o| i64::try_from(*o).is_ok()).ok_or_else(
            || ContactsError::Invalid(Violations::one("page", "invalid_value", "must be a positive integer")),
        )?;
    on_connection(db, |s| {
        let found =
            s.contacts_page(account, &ContactQuery { search: search.clone(), sort, offset, limit: PAGE_SIZE })?;
        let contacts = with_inboxes(s, account, found.contacts)?;
        Ok(ContactList { total: found.total, page, contacts })
    })
}

/// Attaches every contact's channel addresses, fetched in one query for the whole list.
pub(crate) fn with_inboxes(
    s: &mut dyn Session,
    account: AccountId,
    contacts: Vec<Contact>,
) -> Result<Vec<ContactWithInboxes>, StoreError> {
    let ids: Vec<ContactId> = contacts.iter().map(|c| c.id).collect();
    let mut by_contact: HashMap<ContactId, Vec<ContactInbox>> = HashMap::new();
    for (owner, ci) in s.contact_inboxes_of(account, &ids)? {
        by_contact.entry(owner).or_default().push(ci);
    }
    Ok(contacts
        .into_iter()
        .map(|contact| {
            let contact_inboxes = by_contact.remove(&contact.id).unwrap_or_default();
            ContactWithInboxes { contact, contact_inboxes }
        })
        .collect())
}

/// Creates a contact and, when `inbox_id` is given, its address in that inbox; all or nothing.
///
/// # Errors
/// `Invalid` for a broken rule or a taken email, phone number, identifier or source id; `NotFound` for an
/// inbox that is not in the account.
pub fn create_contact(
    db: &dyn Database,
    account: AccountId,
    cmd: CreateContact,
) -> Result<CreatedContact, ContactsError> {
    in_transaction(db, |tx| create_contact_in(tx, account, cmd.clone()))
}

/// [`create_contact`] inside the caller's transaction (committed with an idempotency key).
///
/// # Errors
/// As [`create_contact`].
pub fn create_contact_in(
    tx: &mut dyn Session,
    account: AccountId,
    cmd: CreateContact,
) -> Result<CreatedContact, ContactsError> {
    let (attributes, blocked) =
        cmd.fields.apply(ContactAttributes::default(), false).map_err(ContactsError::Invalid)?;
    let source_id = match (cmd.inbox_id, cmd.source_id) {
        (Some(_), Some(s)) => check_source_id(&s).map_err(ContactsError::Invalid)?,
        _ => generate_source_id(),
    };
    if let Some(inbox) = cmd.inbox_id {
        tx.find_inbox(account, inbox)?.ok_or(ContactsError::NotFound { field: "inbox_id", entity: "inbox" })?;
    }
    check_holders(tx, account, &attributes, None)?;
    let contact = tx.insert_contact(account, &NewContact { attributes, blocked })?;
    let contact_inbox = match cmd.inbox_id {
        Some(inbox) => Some(tx.insert_contact_inbox(account, contact.id, inbox, &source_id)?.contact_inbox),
        None => None,
    };
    record_contact_event(tx, account, "contact.created", &contact)?;
    let contact_inboxes = contact_inbox.iter().cloned().collect();
    Ok(CreatedContact { contact: ContactWithInboxes { contact, contact_inboxes }, contact_inbox })
}

/// The contact with its channel addresses, for the holder of `token`: the token is checked and the contact read
/// in one round trip (as GET contact needs nothing else), then the token's credentials decide, in the order
/// of [`crate::auth::authenticate_member`], whether the contact is shown.
///
/// # Errors
/// The outer error when the token does not make a member of the account (or the database is unavailable);
/// the inner one `NotFound` (or `Merged`) when the contact is not in the account.
pub fn show_contact_to(
    db: &dyn Database,
    token: Option<&str>,
    account: AccountId,
    id: ContactId,
) -> Result<Result<ContactWithInboxes, ContactsError>, AuthError> {
    let digest = sent_token_digest(token)?;
    on_connection(db, |s| {
        let found = shown_to(s.credentials_and_contact(&digest, account, id)?, account)?;
        Ok(found.ok_or_else(|| missing_contact(s, account, id)))
    })
}

/// [`show_contact_to`] without waiting: the store reads the credentials and the contact
/// ([`Database::read_contact`]: PostgreSQL's may answer several requests in one round trip, on a thread of its
/// own) and `done` gets the outcome, possibly on that thread. `Ok(None)` when the contact is not in the
/// account: [`show_contact_to`] then tells a merged contact from one that never was.
pub fn read_contact_for(
    db: &dyn Database,
    token: Option<&str>,
    account: AccountId,
    id: ContactId,
    done: impl FnOnce(Result<Option<ContactWithInboxes>, AuthError>) + Send + 'static,
) {
    let token_digest = match sent_token_digest(token) {
        Ok(digest) => digest,
        Err(e) => return done(Err(e)),
    };
    let read = ContactRead { token_digest, account, id };
    db.read_contact(
        read,
        Box::new(move |outcome| done(outcome.map_err(AuthError::from).and_then(|o| shown_to(o, account)))),
    );
}

/// The contact a read found, if the credentials read with it make a member of `account`.
fn shown_to(
    (credentials, found): CredentialsAndContact,
    account: AccountId,
) -> Result<Option<ContactWithInboxes>, AuthError> {
    member_from(&credentials, account)?;
    Ok(found.map(|(contact, contact_inboxes)| ContactWithInboxes { contact, contact_inboxes }))
}

/// Applies a partial change to the locked contact.
///
/// # Errors
/// `NotFound`, or `Invalid` when the changed contact breaks a rule or takes another contact's unique value.
pub fn update_contact(
    db: &dyn Database,
    account: AccountId,
    id: ContactId,
    changes: ContactChanges,
) -> Result<ContactWithInboxes, ContactsError> {
    in_transaction(db, |tx| {
        let current = lock_contact(tx, account, id)?;
        let (attributes, blocked) =
            changes.clone().apply(current.attributes, current.blocked).map_err(ContactsError::Invalid)?;
        check_holders(tx, account, &attributes, Some(id))?;
        let contact = tx.update_contact(account, id, &attributes, blocked)?;
        record_contact_event(tx, account, "contact.updated", &contact)?;
        let contact_inboxes = tx.contact_inboxes(account, id)?;
        Ok(ContactWithInboxes { contact, contact_inboxes })
    })
}

/// Deletes the contact with its messages (those in its conversations and those it sent), conversations,
/// contact inboxes, notes and labels, in one transaction, and records a `contact.deleted` event.
///
/// # Errors
/// `AdministratorRequired` for agents (checked first, so agents learn nothing about which contacts exist),
/// `NotFound` when the contact is not in the account.
pub fn delete_contact(db: &dyn Database, member: Member, id: ContactId) -> Result<DeletedCounts, ContactsError> {
    if member.role != Role::Administrator {
        return Err(ContactsError::AdministratorRequired);
    }
    let account = member.account_id;
    in_transaction(db, |tx| {
        let contact = lock_contact(tx, account, id)?;
        let deleted = tx.delete_contact_children(account, id)?;
        tx.delete_contact_row(account, id)?;
        let event = json!({
            "event": "contact_deleted",
            "account_id": account.get(),
            "actor_user_id": member.user_id.get(),
            "contact": contact_snapshot(&contact),
            "deleted": {
                "messages": deleted.messages,
                "conversations": deleted.conversations,
                "contact_inboxes": deleted.contact_inboxes,
                "notes": deleted.notes,
                "labels": deleted.labels,
            },
        });
        tx.enqueue_event(account, "contact.deleted", &event)?;
        Ok(deleted)
    })
}

/// Makes the contact reachable in an inbox under `source_id` (generated when absent), inside the caller's
/// transaction (committed with an idempotency key).
///
/// # Errors
/// `NotFound` for a contact (`id`) or inbox (`inbox_id`) not in the account; `Invalid` for a bad or taken
/// source id.
pub fn add_contact_inbox_in(
    tx: &mut dyn Session,
    account: AccountId,
    contact: ContactId,
    inbox: InboxId,
    source_id: Option<&str>,
) -> Result<StoredContactInbox, ContactsError> {
    let source_id = match source_id {
        Some(s) => check_source_id(s).map_err(ContactsError::Invalid)?,
        None => generate_source_id(),
    };
    lock_contact(tx, account, contact)?;
    tx.find_inbox(account, inbox)?.ok_or(ContactsError::NotFound { field: "inbox_id", entity: "inbox" })?;
    Ok(tx.insert_contact_inbox(account, contact, inbox, &source_id)?)
}

/// The contact's labels, sorted.
///
/// # Errors
/// `NotFound` when the contact is not in the account.
pub fn contact_labels(db: &dyn Database, account: AccountId, contact: ContactId) -> Result<Vec<String>, ContactsError> {
    on_connection(db, |s| {
        s.find_contact(account, contact)?.ok_or_else(contact_not_found)?;
        Ok(s.labels(account, contact)?)
    })
}

/// Replaces the contact's labels with `labels` (trimmed, lower-cased, duplicates dropped); returns the new
/// set, sorted.
///
/// # Errors
/// `Invalid` for a blank, too long or malformed label; `NotFound` when the contact is not in the account.
pub fn set_contact_labels(
    db: &dyn Database,
    account: AccountId,
    contact: ContactId,
    labels: &[String],
) -> Result<Vec<String>, ContactsError> {
    let mut violations = Violations::default();
    let mut wanted = BTreeSet::new();
    for label in labels {
        match normalize_label(label) {
            Ok(l) => {
                wanted.insert(l);
            }
            Err(v) => violations.push_violation("labels", v),
        }
    }
    violations.into_result().map_err(ContactsError::Invalid)?;
    let wanted: Vec<String> = wanted.into_iter().collect();
    in_transaction(db, |tx| {
        lock_contact(tx, account, contact)?;
        tx.replace_labels(account, contact, &wanted)?;
        let stored = tx.labels(account, contact)?;
        Ok(stored)
    })
}

/// Refuses, naming the holder, the email, phone number or identifier of `attributes` that another contact
/// than `writer` holds (as a primary or a secondary identity).
///
/// # Errors
/// `Invalid` with one `taken` violation per such field.
pub fn check_holders(
    tx: &mut dyn Session,
    account: AccountId,
    attributes: &ContactAttributes,
    writer: Option<ContactId>,
) -> Result<(), ContactsError> {
    let wanted: Vec<(IdentityKind, &str)> = [
        (IdentityKind::Email, &attributes.email),
        (IdentityKind::PhoneNumber, &attributes.phone_number),
        (IdentityKind::Identifier, &attributes.identifier),
    ]
    .into_iter()
    .filter_map(|(kind, value)| value.as_deref().map(|v| (kind, v)))
    .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let mut taken = Violations::default();
    let mut holders = tx.identity_holders(account, &wanted)?;
    holders.sort_by_key(|(kind, _)| *kind);
    for (kind, holder) in holders.into_iter().filter(|(_, h)| Some(*h) != writer) {
        taken.push_taken(kind.as_str(), holder);
    }
    taken.into_result().map_err(ContactsError::Invalid)
}

/// Locks one contact of the account.
/// Locks the contact for a change; a merged-away id says where the contact went.
pub(crate) fn lock_contact(tx: &mut dyn Session, account: AccountId, id: ContactId) -> Result<Contact, ContactsError> {
    match tx.lock_contacts(account, &[id])?.into_iter().next() {
        Some(contact) => Ok(contact),
        None => Err(missing_contact(tx, account, id)),
    }
}

#[cfg(test)]
mod tests;
