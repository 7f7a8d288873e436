-- The whole Coalesce data model.
--
-- Rules kept by every table below:
-- * every tenant table carries account_id, and every unique index starts with it, so accounts stay isolated and
--   the schema can later be distributed by account. users, platform_apps and access_tokens are global identities
--   (a user may belong to several accounts), so they have no account_id.
-- * children reference their parent with (account_id, parent_id), so a row can never point into another account.
-- * every foreign key has an index, and none cascades: deleting a contact that still owns rows fails instead of
--   silently losing them (the reference's merge loses rows exactly that way).

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE accounts (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    -- per-account conversation numbers (display_id) are handed out from this counter
    last_conversation_display_id BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE account_users (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    role TEXT NOT NULL CHECK (role IN ('agent', 'administrator')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT account_users_account_user_key UNIQUE (account_id, user_id)
);
CREATE INDEX account_users_user_id_idx ON account_users (user_id);

CREATE TABLE platform_apps (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Only the SHA-256 digest of a token is stored; the token itself is shown once, when it is created.
CREATE TABLE access_tokens (
    id BIGSERIAL PRIMARY KEY,
    token_digest BYTEA NOT NULL,
    user_id BIGINT REFERENCES users (id),
    platform_app_id BIGINT REFERENCES platform_apps (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT access_tokens_one_owner CHECK ((user_id IS NULL) <> (platform_app_id IS NULL)),
    CONSTRAINT access_tokens_digest_key UNIQUE (token_digest)
);
CREATE INDEX access_tokens_user_id_idx ON access_tokens (user_id);
CREATE INDEX access_tokens_platform_app_id_idx ON access_tokens (platform_app_id);

CREATE TABLE inboxes (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    name TEXT NOT NULL,
    channel_type TEXT NOT NULL DEFAULT 'Channel::Api',
    avatar_url TEXT NOT NULL DEFAULT '',
    provider TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT inboxes_account_id_id_key UNIQUE (account_id, id)
);

CREATE TABLE contacts (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    name TEXT NOT NULL DEFAULT '',
    -- always stored lower-cased by the application; NULL when blank
    email TEXT,
    phone_number TEXT,
    identifier TEXT,
    blocked BOOLEAN NOT NULL DEFAULT FALSE,
    thumbnail TEXT NOT NULL DEFAULT '',
    additional_attributes JSONB NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(additional_attributes) = 'object'),
    custom_attributes JSONB NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(custom_attributes) = 'object'),
    last_activity_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT contacts_account_id_id_key UNIQUE (account_id, id),
    CONSTRAINT contacts_email_key UNIQUE (account_id, email),
    CONSTRAINT contacts_identifier_key UNIQUE (account_id, identifier),
    CONSTRAINT contacts_phone_number_key UNIQUE (account_id, phone_number)
);
-- Search is a case-insensitive substring match; trigram indexes keep it fast at millions of contacts.
CREATE INDEX contacts_name_trgm_idx ON contacts USING gin (lower(name) gin_trgm_ops);
CREATE INDEX contacts_email_trgm_idx ON contacts USING gin (email gin_trgm_ops);
CREATE INDEX contacts_phone_number_trgm_idx ON contacts USING gin (phone_number gin_trgm_ops);
CREATE INDEX contacts_identifier_trgm_idx ON contacts USING gin (lower(identifier) gin_trgm_ops);
CREATE INDEX contacts_account_created_idx ON contacts (account_id, created_at, id);

CREATE TABLE contact_inboxes (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    contact_id BIGINT NOT NULL,
    inbox_id BIGINT NOT NULL,
    source_id TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT contact_inboxes_contact_fkey FOREIGN KEY (account_id, contact_id) REFERENCES contacts (account_id, id),
    CONSTRAINT contact_inboxes_inbox_fkey FOREIGN KEY (account_id, inbox_id) REFERENCES inboxes (account_id, id),
    CONSTRAINT contact_inboxes_account_id_id_key UNIQUE (account_id, id),
    CONSTRAINT contact_inboxes_source_id_key UNIQUE (account_id, inbox_id, source_id)
);
CREATE INDEX contact_inboxes_contact_idx ON contact_inboxes (account_id, contact_id);

CREATE TABLE conversations (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    display_id BIGINT NOT NULL,
    inbox_id BIGINT NOT NULL,
    contact_id BIGINT NOT NULL,
    contact_inbox_id BIGINT,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved', 'pending', 'snoozed')),
    last_activity_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT conversations_contact_fkey FOREIGN KEY (account_id, contact_id) REFERENCES contacts (account_id, id),
    CONSTRAINT conversations_inbox_fkey FOREIGN KEY (account_id, inbox_id) REFERENCES inboxes (account_id, id),
    CONSTRAINT conversations_contact_inbox_fkey FOREIGN KEY (account_id, contact_inbox_id)
        REFERENCES contact_inboxes (account_id, id),
    CONSTRAINT conversations_account_id_id_key UNIQUE (account_id, id),
    CONSTRAINT conversations_display_id_key UNIQUE (account_id, display_id)
);
CREATE INDEX conversations_contact_idx ON conversations (account_id, contact_id);
CREATE INDEX conversations_inbox_idx ON conversations (account_id, inbox_id);
CREATE INDEX conversations_contact_inbox_idx ON conversations (account_id, contact_inbox_id);

CREATE TABLE messages (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    conversation_id BIGINT NOT NULL,
    message_type TEXT NOT NULL CHECK (message_type IN ('incoming', 'outgoing', 'activity', 'template')),
    content TEXT NOT NULL DEFAULT '',
    -- a message is sent by a contact, by a user, or (activity) by nobody
    sender_contact_id BIGINT,
    sender_user_id BIGINT REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT messages_conversation_fkey FOREIGN KEY (account_id, conversation_id)
        REFERENCES conversations (account_id, id),
    CONSTRAINT messages_sender_contact_fkey FOREIGN KEY (account_id, sender_contact_id)
        REFERENCES contacts (account_id, id),
    CONSTRAINT messages_one_sender CHECK (sender_contact_id IS NULL OR sender_user_id IS NULL)
);
CREATE INDEX messages_conversation_idx ON messages (account_id, conversation_id, id);
CREATE INDEX messages_sender_contact_idx ON messages (account_id, sender_contact_id);
CREATE INDEX messages_sender_user_idx ON messages (sender_user_id);

CREATE TABLE notes (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    contact_id BIGINT NOT NULL,
    user_id BIGINT REFERENCES users (id),
    content TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT notes_contact_fkey FOREIGN KEY (account_id, contact_id) REFERENCES contacts (account_id, id)
);
CREATE INDEX notes_contact_idx ON notes (account_id, contact_id);
CREATE INDEX notes_user_idx ON notes (user_id);

CREATE TABLE contact_labels (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    contact_id BIGINT NOT NULL,
    label TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT contact_labels_contact_fkey FOREIGN KEY (account_id, contact_id) REFERENCES contacts (account_id, id),
    -- also serves the contact foreign key
    CONSTRAINT contact_labels_contact_label_key UNIQUE (account_id, contact_id, label)
);

-- The audit trail of merges. Contact ids are kept as plain numbers on purpose: both contacts may be deleted
-- later (the mergee is gone at once), and the record must outlive them.
CREATE TABLE contact_merges (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    actor_user_id BIGINT REFERENCES users (id),
    base_contact_id BIGINT NOT NULL,
    mergee_contact_id BIGINT NOT NULL,
    mergee_snapshot JSONB NOT NULL,
    moved_conversations BIGINT NOT NULL,
    moved_messages BIGINT NOT NULL,
    moved_contact_inboxes BIGINT NOT NULL,
    moved_notes BIGINT NOT NULL,
    moved_labels BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX contact_merges_account_idx ON contact_merges (account_id, id);
CREATE INDEX contact_merges_base_idx ON contact_merges (account_id, base_contact_id);
CREATE INDEX contact_merges_mergee_idx ON contact_merges (account_id, mergee_contact_id);
CREATE INDEX contact_merges_actor_idx ON contact_merges (actor_user_id);

-- Events written in the same transaction as the change they describe, delivered after commit.
CREATE TABLE outbox_events (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    event_type TEXT NOT NULL,
    payload JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    processed_at TIMESTAMPTZ
);
CREATE INDEX outbox_events_account_idx ON outbox_events (account_id);
CREATE INDEX outbox_events_pending_idx ON outbox_events (id) WHERE processed_at IS NULL;
