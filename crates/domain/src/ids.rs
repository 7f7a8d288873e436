//! Typed identifiers, so that a contact id can never be passed where an account id is expected.

use std::fmt;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(i64);

        impl $name {
            /// Wraps a raw database id.
            pub const fn new(raw: i64) -> Self {
                Self(raw)
            }

            /// The raw database id.
            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// An account (tenant).
    AccountId
);
id_type!(
    /// A contact inside an account.
    ContactId
);
id_type!(
    /// A user (agent or administrator); users may belong to several accounts.
    UserId
);
id_type!(
    /// An inbox inside an account.
    InboxId
);
id_type!(
    /// A conversation inside an account (the internal id; clients see the per-account `display_id`).
    ConversationId
);
id_type!(
    /// A note about a contact.
    NoteId
);
