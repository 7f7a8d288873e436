//! The conversation and message use cases against the in-memory ports.

use domain::{AccountId, ContactAttributes, InboxId, UserId};

use super::*;
use crate::memory::MemoryDb;
use crate::ports::{Account, AccountStatus, Role};

const ACCOUNT: AccountId = AccountId::new(1);

struct World {
    db: MemoryDb,
    member: Member,
    inbox: InboxId,
    contact: ContactId,
}

fn world() -> World {
    let db = MemoryDb::default();
    let (inbox, contact, user) = {
        let mut s = db.lock();
        s.accounts.push(Account { id: ACCOUNT, name: "Acme".into(), status: AccountStatus::Active });
        s.next_id = 100;
        let user = User { id: UserId::new(7), name: "Agent".into(), email: "agent@example.com".into() };
        s.users.push(user.clone());
        let inbox = s.add_inbox(ACCOUNT, "API").id;
        let contact =
            s.add_contact(ACCOUNT, ContactAttributes { name: "Carol".into(), ..ContactAttributes::default() });
        (inbox, contact, user)
    };
    World { db, member: Member { user_id: user.id, account_id: ACCOUNT, role: Role::Agent }, inbox, contact }
}

fn message(content: &str, message_type: MessageType) -> NewMessage {
    NewMessage { content: content.into(), message_type }
}

#[test]
fn conversations_get_consecutive_numbers_and_reuse_the_contact_inbox() {
    let w = world();
    let cmd = CreateConversation { inbox_id: w.inbox, contact_id: Some(w.contact), source_id: None, message: None };
    let first = create_conversation(&w.db, w.member, cmd.clone()).unwrap();
    let second = create_conversation(&w.db, w.member, cmd).unwrap();
    assert_eq!((first.conversation.display_id, second.conversation.display_id), (1, 2));
    assert_eq!(first.contact.id, w.contact);
    let s = w.db.snapshot();
    assert_eq!(s.contact_inboxes.len(), 1, "the contact's address in the inbox is created once, then reused");
    assert_eq!(first.conversation.contact_inbox_id, Some(s.contact_inboxes[0].1.id));
    assert_eq!(second.conversation.contact_inbox_id, first.conversation.contact_inbox_id);

    // the address's source id finds the same contact
    let source_id = s.contact_inboxes[0].1.contact_inbox.source_id.clone();
    let by_source =
        CreateConversation { inbox_id: w.inbox, contact_id: None, source_id: Some(source_id), message: None };
    assert_eq!(create_conversation(&w.db, w.member, by_source).unwrap().contact.id, w.contact);
}

#[test]
fn refusals_change_nothing() {
    let w = world();
    let other = w.db.lock().add_contact(ACCOUNT, ContactAttributes::default());
    let ci = w.db.lock().contact_inboxes.len();
    assert_eq!(ci, 0);
    let with_ci = CreateConversation { inbox_id: w.inbox, contact_id: Some(w.contact), source_id: None, message: None };
    create_conversation(&w.db, w.member, with_ci).unwrap();
    let source_id = w.db.snapshot().contact_inboxes[0].1.contact_inbox.source_id.clone();
    let before = w.db.snapshot();
    let cases = [
        (
            CreateConversation {
                inbox_id: InboxId::new(999),
                contact_id: Some(w.contact),
                source_id: None,
                message: None,
            },
            ConversationsError::NotFound { field: "inbox_id", entity: "inbox" },
        ),
        (
            CreateConversation {
                inbox_id: w.inbox,
                contact_id: Some(ContactId::new(999)),
                source_id: None,
                message: None,
            },
            ConversationsError::NotFound { field: "contact_id", entity: "contact" },
        ),
        (
            CreateConversation { inbox_id: w.inbox, contact_id: None, source_id: Some("nope".into()), message: None },
            ConversationsError::NotFound { field: "source_id", entity: "contact_inbox" },
        ),
        (
            CreateConversation {
                inbox_id: w.inbox,
                contact_id: Some(other),
                source_id: Some(source_id),
                message: None,
            },
            ConversationsError::Invalid(Violations::one(
                "contact_id",
                "mismatch",
                "does not own the given source_id in this inbox",
            )),
        ),
        (
            CreateConversation { inbox_id: w.inbox, contact_id: None, source_id: None, message: None },
            ConversationsError::Invalid(Violations::one(
                "contact_id",
                "required",
                "contact_id or source_id is required",
            )),
        ),
        (
            CreateConversation {
                inbox_id: w.inbox,
                contact_id: Some(w.contact),
                source_id: None,
                message: Some(message("  ", MessageType::Incoming)),
            },
            ConversationsError::Invalid(Violations::one("content", "blank", "can't be blank")),
        ),
    ];
    for (cmd, expected) in cases {
        assert_eq!(create_conversation(&w.db, w.member, cmd.clone()), Err(expected), "{cmd:?}");
    }
    assert_eq!(w.db.snapshot(), before);
}

#[test]
fn messages_have_the_right_sender_and_mark_activity() {
    let w = world();
    let cmd = CreateConversation {
        inbox_id: w.inbox,
        contact_id: Some(w.contact),
        source_id: None,
        message: Some(message("first", MessageType::Outgoing)),
    };
    let display_id = create_conversation(&w.db, w.member, cmd).unwrap().conversation.display_id;
    let incoming = create_message(&w.db, w.member, display_id, message("hi", MessageType::Incoming)).unwrap();
    assert!(matches!(&incoming.sender, MessageSender::Contact(c) if c.id == w.contact));
    assert_eq!(incoming.display_id, display_id);
    let contact = w.db.snapshot().contacts.into_iter().find(|c| c.id == w.contact).unwrap();
    assert_eq!(contact.last_activity_at, Some(incoming.message.created_at));

    let listed = list_messages(&w.db, ACCOUNT, display_id).unwrap();
    let contents: Vec<&str> = listed.iter().map(|m| m.message.content.as_str()).collect();
    assert_eq!(contents, ["first", "hi"]);
    assert!(matches!(&listed[0].sender, MessageSender::User(u) if u.id == UserId::new(7)));
    assert!(matches!(&listed[1].sender, MessageSender::Contact(c) if c.id == w.contact));
    assert_eq!(
        create_message(&w.db, w.member, 999, message("x", MessageType::Incoming)),
        Err(ConversationsError::NotFound { field: "conversation_id", entity: "conversation" })
    );
}

#[test]
fn a_message_follows_a_conversation_merged_to_another_contact() {
    let w = world();
    let cmd = CreateConversation { inbox_id: w.inbox, contact_id: Some(w.contact), source_id: None, message: None };
    let display_id = create_conversation(&w.db, w.member, cmd).unwrap().conversation.display_id;
    let base =
        w.db.lock().add_contact(ACCOUNT, ContactAttributes { name: "Base".into(), ..ContactAttributes::default() });
    crate::merge_contacts::merge_contacts(
        &w.db,
        crate::merge_contacts::MergeContacts {
            account_id: ACCOUNT,
            actor: w.member.user_id,
            base_contact_id: base,
            mergee_contact_id: w.contact,
            choices: Default::default(),
        },
    )
    .unwrap();
    let m = create_message(&w.db, w.member, display_id, message("after the merge", MessageType::Incoming)).unwrap();
    assert!(matches!(&m.sender, MessageSender::Contact(c) if c.id == base));
    assert_eq!(show_conversation(&w.db, ACCOUNT, display_id).unwrap().contact.id, base);
    assert_eq!(contact_conversations(&w.db, ACCOUNT, base).unwrap().len(), 1);
}

#[test]
fn message_content_is_required_and_at_most_150000_characters() {
    let w = world();
    let cmd = CreateConversation { inbox_id: w.inbox, contact_id: Some(w.contact), source_id: None, message: None };
    let display_id = create_conversation(&w.db, w.member, cmd).unwrap().conversation.display_id;
    let at_limit = "é".repeat(MAX_MESSAGE_LEN);
    let posted = create_message(&w.db, w.member, display_id, message(&at_limit, MessageType::Outgoing)).unwrap();
    assert_eq!(posted.message.content.chars().count(), MAX_MESSAGE_LEN);
    let before = w.db.snapshot();
    let over = "x".repeat(MAX_MESSAGE_LEN + 1);
    assert_eq!(
        create_message(&w.db, w.member, display_id, message(&over, MessageType::Outgoing)),
        Err(ConversationsError::Invalid(Violations::one("content", "too_long", "must be at most 150000 characters")))
    );
    assert_eq!(
        create_message(&w.db, w.member, display_id, message(" \n ", MessageType::Incoming)),
        Err(ConversationsError::Invalid(Violations::one("content", "blank", "can't be blank")))
    );
    assert_eq!(w.db.snapshot(), before);
}

/// `lock_owner` with a `find` whose answers are scripted, as a concurrent merge would change them between reads.
fn lock_with_owners(w: &World, owners: &[ContactId]) -> Result<Option<(Contact, &'static str)>, ConversationsError> {
    let mut tx = w.db.begin().unwrap();
    let mut reads = owners.iter().copied().chain(std::iter::repeat(*owners.last().unwrap()));
    lock_owner(tx.as_mut(), ACCOUNT, |_| Ok(reads.next().map(|owner| (owner, "the item"))))
}

#[test]
fn a_write_follows_its_row_to_the_contact_a_concurrent_merge_moved_it_to() {
    let w = world();
    let base =
        w.db.lock().add_contact(ACCOUNT, ContactAttributes { name: "Base".into(), ..ContactAttributes::default() });
    // read: owned by the contact; locked it; read again: a merge moved it to the base meanwhile
    let (locked, item) = lock_with_owners(&w, &[w.contact, base]).unwrap().unwrap();
    assert_eq!((locked.id, item), (base, "the item"), "the lock is taken on the new owner");
    // a row that stays put is returned with its owner at once
    let (locked, _) = lock_with_owners(&w, &[w.contact]).unwrap().unwrap();
    assert_eq!(locked.id, w.contact);
}

#[test]
fn a_write_gives_up_when_its_row_keeps_moving() {
    let w = world();
    let other = w.db.lock().add_contact(ACCOUNT, ContactAttributes::default());
    let moving: Vec<ContactId> = [w.contact, other].into_iter().cycle().take(12).collect();
    assert_eq!(
        lock_with_owners(&w, &moving),
        Err(ConversationsError::Internal("the owning contact kept changing under concurrent merges".into()))
    );
}
