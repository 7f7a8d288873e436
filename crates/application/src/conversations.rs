//! Conversations and their messages: start a conversation (with an optional first message), show it, list a
//! contact's conversations, post and list messages.
//!
//! Clients know a conversation by its per-account `display_id`, handed out from a counter on the account row.
//! A write that hangs rows off a contact locks that contact first, as merges and deletions do, and then
//! re-reads what it is about to change: a merge that committed while we waited may have moved the
//! conversation (or contact inbox) to the base contact, and we follow it there instead of failing or, worse,
//! writing a row that points at a deleted contact.

use std::collections::HashMap;

use domain::{AccountId, Contact, ContactId, InboxId, InboxSummary, UserId, Violations};

use crate::auth::Member;
use crate::contacts::{check_source_id, generate_source_id};
use crate::ports::{
    in_transaction, on_connection, Conversation, Database, Message, MessageType, NewConversation, Sender, Session,
    StoreError, User,
};

/// Longest accepted message, in characters (the reference's limit).
pub const MAX_MESSAGE_LEN: usize = 150_000;

/// How often a write follows a contact that a concurrent merge replaced before giving up.
const MAX_FOLLOW: usize = 3;

/// Why a conversation or message operation did not happen. In every case nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConversationsError {
    /// `field` is the input (`conversation_id`, `inbox_id`, `contact_id`, `source_id`, `id`) that names no
    /// `entity` in the account.
    #[error("{entity} not found")]
    NotFound { field: &'static str, entity: &'static str },
    #[error("invalid input: {0}")]
    Invalid(Violations),
    /// The `Idempotency-Key` was used before for another request.
    #[error("the idempotency key was used for another request")]
    IdempotencyKeyReused,
    #[error("database unavailable")]
    Unavailable,
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<crate::idempotency::KeyReused> for ConversationsError {
    fn from(_: crate::idempotency::KeyReused) -> Self {
        Self::IdempotencyKeyReused
    }
}

impl From<StoreError> for ConversationsError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Taken { field } => Self::Invalid(Violations::one(field, "taken", "has already been taken")),
            StoreError::MissingReference { entity: "inbox" } => Self::NotFound { field: "inbox_id", entity: "inbox" },
            StoreError::MissingReference { entity: "conversation" } => conversation_not_found(),
            StoreError::MissingReference { entity } => Self::NotFound { field: "contact_id", entity },
            StoreError::Unavailable(_) => Self::Unavailable,
            StoreError::Other(m) => Self::Internal(m),
        }
    }
}

fn conversation_not_found() -> ConversationsError {
    ConversationsError::NotFound { field: "conversation_id", entity: "conversation" }
}

/// A conversation with what its JSON shows: the contact and the inbox.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationView {
    pub conversation: Conversation,
    pub contact: Contact,
    pub inbox: InboxSummary,
}

/// Who sent a message, resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum MessageSender {
    Contact(Box<Contact>),
    User(User),
    Nobody,
}

/// A message with what its JSON shows.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageView {
    pub message: Message,
    /// The conversation's number as clients know it.
    pub display_id: i64,
    pub inbox_id: InboxId,
    pub sender: MessageSender,
}

/// A message to post. Incoming messages are sent by the conversation's contact, outgoing ones by the member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub content: String,
    pub message_type: MessageType,
}

/// A conversation to start: in `inbox_id`, with the contact that owns `source_id` there, or else with
/// `contact_id` (whose address in the inbox is found or created).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateConversation {
    pub inbox_id: InboxId,
    pub contact_id: Option<ContactId>,
    pub source_id: Option<String>,
    pub message: Option<NewMessage>,
}

fn check_message(message: &NewMessage) -> Result<(), ConversationsError> {
    let mut v = Violations::default();
    if message.content.trim().is_empty() {
        v.push("content", "blank", "can't be blank");
    } else if message.content.chars().count() > MAX_MESSAGE_LEN {
        v.push("content", "too_long", format!("must be at most {MAX_MESSAGE_LEN} characters"));
    }
    if !matches!(message.message_type, MessageType::Incoming | MessageType::Outgoing) {
        v.push("message_type", "invalid_value", "must be incoming or outgoing");
    }
    v.into_result().map_err(ConversationsError::Invalid)
}

/// Locks the contact that owns what `find` finds, then finds it again: when a merge moved it meanwhile, the
/// lock is taken on the new owner instead. `None` when `find` finds nothing (or the row was deleted).
fn lock_owner<T>(
    tx: &mut dyn Session,
    account: AccountId,
    mut find: impl FnMut(&mut dyn Session) -> Result<Option<(ContactId, T)>, StoreError>,
) -> Result<Option<(Contact, T)>, ConversationsError> {
    for _ in 0..MAX_FOLLOW {
        let Some((owner, _)) = find(tx)? else { return Ok(None) };
        let locked = tx.lock_contacts(account, &[owner])?.into_iter().next();
        match (locked, find(tx)?) {
            (_, None) => return Ok(None),
            (Some(contact), Some((now, item))) if now == contact.id => return Ok(Some((contact, item))),
            // moved to another contact (or the owner was merged away): lock the new owner
            _ => {}
        }
    }
    Err(ConversationsError::Internal("the owning contact kept changing under concurrent merges".to_owned()))
}

/// Starts a conversation, optionally with a first message; all or nothing.
///
/// # Errors
/// `NotFound` for an inbox, contact or source id that is not in the account; `Invalid` when neither a contact
/// nor a source id is given, when both are given and disagree, or for a bad first message.
pub fn create_conversation(
    db: &dyn Database,
    member: Member,
    cmd: CreateConversation,
) -> Result<ConversationView, ConversationsError> {
    in_transaction(db, |tx| create_conversation_in(tx, member, cmd.clone()))
}

/// [`create_conversation`] inside the caller's transaction (committed with an idempotency key).
///
/// # Errors
/// As [`create_conversation`].
pub fn create_conversation_in(
    tx: &mut dyn Session,
    member: Member,
    cmd: CreateConversation,
) -> Result<ConversationView, ConversationsError> {
    let account = member.account_id;
    if let Some(message) = &cmd.message {
        check_message(message)?;
    }
    let source_id = cmd.source_id.as_deref().map(check_source_id).transpose().map_err(ConversationsError::Invalid)?;
    let inbox = tx
        .find_inbox(account, cmd.inbox_id)?
        .ok_or(ConversationsError::NotFound { field: "inbox_id", entity: "inbox" })?;
    let (contact, contact_inbox_id) = match (&source_id, cmd.contact_id) {
        (Some(source_id), wanted) => {
            let (contact, ci) = lock_owner(tx, account, |s| {
                Ok(s.find_contact_inbox_by_source(account, inbox.id, source_id)?.map(|ci| (ci.contact_id, ci)))
            })?
            .ok_or(ConversationsError::NotFound { field: "source_id", entity: "contact_inbox" })?;
            if wanted.is_some_and(|w| w != contact.id) {
                return Err(ConversationsError::Invalid(Violations::one(
                    "contact_id",
                    "mismatch",
                    "does not own the given source_id in this inbox",
                )));
            }
            (contact, ci.id)
        }
        (None, Some(contact_id)) => {
            let contact = tx
                .lock_contacts(account, &[contact_id])?
                .into_iter()
                .next()
                .ok_or(ConversationsError::NotFound { field: "contact_id", entity: "contact" })?;
            let ci = match tx.find_contact_inbox_of(account, contact.id, inbox.id)? {
                Some(ci) => ci,
                // a generated (UUID) address says nothing about the owner: the duplicate suggestions stay as they are
                None => tx.insert_contact_inbox(account, contact.id, inbox.id, &generate_source_id())?,
            };
            (contact, ci.id)
        }
        (None, None) => {
            return Err(ConversationsError::Invalid(Violations::one(
                "contact_id",
                "required",
                "contact_id or source_id is required",
            )))
        }
    };
    let display_id = tx.next_display_id(account)?;
    let mut conversation = tx.insert_conversation(
        account,
        &NewConversation {
            display_id,
            inbox_id: inbox.id,
            contact_id: contact.id,
            contact_inbox_id: Some(contact_inbox_id),
        },
    )?;
    let mut contact = contact;
    if let Some(message) = cmd.message {
        let sender = sender_of(message.message_type, contact.id, member.user_id);
        let stored = tx.insert_message(account, conversation.id, message.message_type, &message.content, sender)?;
        tx.touch_conversation(account, conversation.id, stored.created_at)?;
        tx.touch_contact(account, contact.id, stored.created_at)?;
        conversation.last_activity_at = stored.created_at;
        contact.last_activity_at = Some(stored.created_at);
    }
    Ok(ConversationView { conversation, contact, inbox })
}

fn sender_of(message_type: MessageType, contact: ContactId, user: UserId) -> Sender {
    match message_type {
        MessageType::Incoming => Sender::Contact(contact),
        MessageType::Outgoing => Sender::User(user),
        MessageType::Activity | MessageType::Template => Sender::Nobody,
    }
}

/// The conversation numbered `display_id`.
///
/// # Errors
/// `NotFound` when no conversation of the account has that number.
pub fn show_conversation(
    db: &dyn Database,
    account: AccountId,
    display_id: i64,
) -> Result<ConversationView, ConversationsError> {
    on_connection(db, |s| {
        // Two reads: a merge committing between them moves the conversation to the base and deletes its old
        // contact, so read again rather than answer with a contact that no longer exists.
        for _ in 0..MAX_FOLLOW {
            let conversation = s.find_conversation(account, display_id)?.ok_or_else(conversation_not_found)?;
            let Some(contact) = s.find_contact(account, conversation.contact_id)? else { continue };
            let inbox = s
                .find_inbox(account, conversation.inbox_id)?
                .ok_or_else(|| ConversationsError::Internal("a conversation's inbox is missing".to_owned()))?;
            return Ok(ConversationView { conversation, contact, inbox });
        }
        Err(ConversationsError::Internal("the conversation's contact kept changing under concurrent merges".to_owned()))
    })
}

/// The contact's conversations, most recently active first.
///
/// # Errors
/// `NotFound` when the contact is not in the account.
pub fn contact_conversations(
    db: &dyn Database,
    account: AccountId,
    contact: ContactId,
) -> Result<Vec<ConversationView>, ConversationsError> {
    on_connection(db, |s| {
        let contact =
            s.find_contact(account, contact)?.ok_or(ConversationsError::NotFound { field: "id", entity: "contact" })?;
        let conversations = s.conversations_of_contact(account, contact.id)?;
        let inboxes: HashMap<InboxId, InboxSummary> = s.list_inboxes(account)?.into_iter().map(|i| (i.id, i)).collect();
        conversations
            .into_iter()
            .map(|conversation| {
                let inbox = inboxes
                    .get(&conversation.inbox_id)
                    .cloned()
                    .ok_or_else(|| ConversationsError::Internal("a conversation's inbox is missing".to_owned()))?;
                Ok(ConversationView { conversation, contact: contact.clone(), inbox })
            })
            .collect()
    })
}

/// Posts a message in the conversation numbered `display_id` and marks the conversation and its contact as
/// active now.
///
/// # Errors
/// `NotFound` for an unknown conversation; `Invalid` for blank or too long content or a message type other
/// than incoming or outgoing.
pub fn create_message(
    db: &dyn Database,
    member: Member,
    display_id: i64,
    message: NewMessage,
) -> Result<MessageView, ConversationsError> {
    in_transaction(db, |tx| create_message_in(tx, member, display_id, message.clone()))
}

/// [`create_message`] inside the caller's transaction (committed with an idempotency key).
///
/// # Errors
/// As [`create_message`].
pub fn create_message_in(
    tx: &mut dyn Session,
    member: Member,
    display_id: i64,
    message: NewMessage,
) -> Result<MessageView, ConversationsError> {
    check_message(&message)?;
    let account = member.account_id;
    let (mut contact, conversation) =
        lock_owner(tx, account, |s| Ok(s.find_conversation(account, display_id)?.map(|c| (c.contact_id, c))))?
            .ok_or_else(conversation_not_found)?;
    let sender = sender_of(message.message_type, contact.id, member.user_id);
    let stored = tx.insert_message(account, conversation.id, message.message_type, &message.content, sender)?;
    tx.touch_conversation(account, conversation.id, stored.created_at)?;
    tx.touch_contact(account, contact.id, stored.created_at)?;
    contact.last_activity_at = Some(stored.created_at);
    let sender = match sender {
        Sender::Contact(_) => MessageSender::Contact(Box::new(contact)),
        Sender::User(id) => tx.find_users(&[id])?.into_iter().next().map_or(MessageSender::Nobody, MessageSender::User),
        Sender::Nobody => MessageSender::Nobody,
    };
    Ok(MessageView { message: stored, display_id, inbox_id: conversation.inbox_id, sender })
}

/// The messages of the conversation numbered `display_id`, oldest first, with their senders.
///
/// # Errors
/// `NotFound` for an unknown conversation.
pub fn list_messages(
    db: &dyn Database,
    account: AccountId,
    display_id: i64,
) -> Result<Vec<MessageView>, ConversationsError> {
    on_connection(db, |s| {
        let conversation = s.find_conversation(account, display_id)?.ok_or_else(conversation_not_found)?;
        let messages = s.messages(account, conversation.id)?;
        // senders fetched once per kind for the whole list, not once per message
        let mut contact_ids: Vec<ContactId> = Vec::new();
        let mut user_ids: Vec<UserId> = Vec::new();
        for m in &messages {
            match m.sender {
                Sender::Contact(c) if !contact_ids.contains(&c) => contact_ids.push(c),
                Sender::User(u) if !user_ids.contains(&u) => user_ids.push(u),
                _ => {}
            }
        }
        let contacts: HashMap<ContactId, Contact> =
            s.find_contacts(account, &contact_ids)?.into_iter().map(|c| (c.id, c)).collect();
        let users: HashMap<UserId, User> = s.find_users(&user_ids)?.into_iter().map(|u| (u.id, u)).collect();
        Ok(messages
            .into_iter()
            .map(|message| {
                let sender = match message.sender {
                    Sender::Contact(c) => {
                        contacts.get(&c).cloned().map_or(MessageSender::Nobody, |c| MessageSender::Contact(Box::new(c)))
                    }
                    Sender::User(u) => users.get(&u).cloned().map_or(MessageSender::Nobody, MessageSender::User),
                    Sender::Nobody => MessageSender::Nobody,
                };
                MessageView { message, display_id, inbox_id: conversation.inbox_id, sender }
            })
            .collect())
    })
}

#[cfg(test)]
mod tests;
