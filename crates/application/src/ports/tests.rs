//! The stored names and codes of the ports' vocabularies. They are part of the database contract (the
//! `accounts.status`, `account_users.role` and `messages.message_type` columns hold exactly these strings) and
//! of the API (a message's `message_type` is the reference's integer code), so each one is pinned here.

use super::{AccountStatus, MessageType, Role};

#[test]
fn account_statuses_are_stored_by_name() {
    assert_eq!(AccountStatus::Active.as_str(), "active");
    assert_eq!(AccountStatus::Suspended.as_str(), "suspended");
}

#[test]
fn roles_are_stored_by_name_and_parse_back() {
    let all = [(Role::Agent, "agent"), (Role::Administrator, "administrator")];
    for (role, name) in all {
        assert_eq!(role.as_str(), name);
        assert_eq!(Role::parse(name), Some(role), "{name}");
    }
}

#[test]
fn unknown_roles_are_refused() {
    for unknown in ["", "admin", "Agent", "ADMINISTRATOR", " agent", "owner", "xyzzy"] {
        assert_eq!(Role::parse(unknown), None, "{unknown:?}");
    }
}

#[test]
fn message_types_are_stored_by_name_sent_by_code_and_parse_back() {
    let all = [
        (MessageType::Incoming, "incoming", 0),
        (MessageType::Outgoing, "outgoing", 1),
        (MessageType::Activity, "activity", 2),
        (MessageType::Template, "template", 3),
    ];
    for (message_type, name, code) in all {
        assert_eq!(message_type.as_str(), name);
        assert_eq!(message_type.code(), code, "{name}");
        assert_eq!(MessageType::parse(name), Some(message_type), "{name}");
    }
}

#[test]
fn unknown_message_types_are_refused() {
    for unknown in ["", "0", "Incoming", "OUTGOING", "note", "activity ", "xyzzy"] {
        assert_eq!(MessageType::parse(unknown), None, "{unknown:?}");
    }
}
