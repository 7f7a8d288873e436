// @generated automatically by Diesel CLI.

diesel::table! {
    access_tokens (id) {
        id -> Int8,
        token_digest -> Bytea,
        user_id -> Nullable<Int8>,
        platform_app_id -> Nullable<Int8>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    account_contact_counts (account_id) {
        account_id -> Int8,
        contacts -> Int8,
    }
}

diesel::table! {
    account_users (id) {
        id -> Int8,
        account_id -> Int8,
        user_id -> Int8,
        role -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    accounts (id) {
        id -> Int8,
        name -> Text,
        status -> Text,
        last_conversation_display_id -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    contact_count_changes (id) {
        id -> Int8,
        account_id -> Int8,
        delta -> Int8,
    }
}

diesel::table! {
    contact_dedupe_keys (account_id, kind, key, contact_id) {
        account_id -> Int8,
        contact_id -> Int8,
        kind -> Text,
        key -> Text,
    }
}

diesel::table! {
    contact_duplicate_dismissals (account_id, low_id, high_id) {
        account_id -> Int8,
        low_id -> Int8,
        high_id -> Int8,
        dismissed_by -> Nullable<Int8>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    contact_duplicate_pairs (account_id, low_id, high_id) {
        account_id -> Int8,
        low_id -> Int8,
        high_id -> Int8,
        confidence -> Float4,
        reasons -> Jsonb,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    contact_duplicate_refreshes (id) {
        id -> Int8,
        account_id -> Int8,
        contact_id -> Int8,
        queued_at -> Timestamptz,
        queued_by -> Nullable<Int8>,
    }
}

diesel::table! {
    contact_identities (id) {
        id -> Int8,
        account_id -> Int8,
        holder_id -> Int8,
        kind -> Text,
        value -> Text,
        normalized -> Text,
        is_primary -> Bool,
        source -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    contact_identity_holders (account_id, id) {
        account_id -> Int8,
        id -> Int8,
        contact_id -> Int8,
    }
}

diesel::table! {
    contact_inboxes (id) {
        id -> Int8,
        account_id -> Int8,
        contact_id -> Int8,
        inbox_id -> Int8,
        source_id -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    contact_labels (id) {
        id -> Int8,
        account_id -> Int8,
        contact_id -> Int8,
        label -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    contact_merge_ledgers (merge_id) {
        merge_id -> Int8,
        moved_conversation_ids -> Array<Nullable<Int8>>,
        moved_message_ids -> Array<Nullable<Int8>>,
        moved_contact_inbox_ids -> Array<Nullable<Int8>>,
        moved_note_ids -> Array<Nullable<Int8>>,
        labels_added -> Array<Nullable<Text>>,
        mergee_labels -> Array<Nullable<Text>>,
        base_snapshot -> Jsonb,
        written -> Jsonb,
        moved_identity_ids -> Array<Nullable<Int8>>,
        moved_identity_sources -> Array<Nullable<Text>>,
        moved_holder_ids -> Array<Nullable<Int8>>,
    }
}

diesel::table! {
    contact_merges (id) {
        id -> Int8,
        account_id -> Int8,
        actor_user_id -> Nullable<Int8>,
        base_contact_id -> Int8,
        mergee_contact_id -> Int8,
        mergee_snapshot -> Jsonb,
        moved_conversations -> Int8,
        moved_messages -> Int8,
        moved_contact_inboxes -> Int8,
        moved_notes -> Int8,
        moved_labels -> Int8,
        created_at -> Timestamptz,
        undone_at -> Nullable<Timestamptz>,
        undone_by -> Nullable<Int8>,
        undo_counts -> Nullable<Jsonb>,
    }
}

diesel::table! {
    contacts (id) {
        id -> Int8,
        account_id -> Int8,
        name -> Text,
        email -> Nullable<Text>,
        phone_number -> Nullable<Text>,
        identifier -> Nullable<Text>,
        blocked -> Bool,
        thumbnail -> Text,
        additional_attributes -> Jsonb,
        custom_attributes -> Jsonb,
        last_activity_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        merged_identities -> Nullable<Text>,
    }
}

diesel::table! {
    conversations (id) {
        id -> Int8,
        account_id -> Int8,
        display_id -> Int8,
        inbox_id -> Int8,
        contact_id -> Int8,
        contact_inbox_id -> Nullable<Int8>,
        status -> Text,
        last_activity_at -> Timestamptz,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    idempotency_keys (account_id, idempotency_key) {
        account_id -> Int8,
        idempotency_key -> Text,
        request_fingerprint -> Bytea,
        response_status -> Int2,
        response_body -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    inboxes (id) {
        id -> Int8,
        account_id -> Int8,
        name -> Text,
        channel_type -> Text,
        avatar_url -> Text,
        provider -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    messages (id) {
        id -> Int8,
        account_id -> Int8,
        conversation_id -> Int8,
        message_type -> Text,
        content -> Text,
        sender_contact_id -> Nullable<Int8>,
        sender_user_id -> Nullable<Int8>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    notes (id) {
        id -> Int8,
        account_id -> Int8,
        contact_id -> Int8,
        user_id -> Nullable<Int8>,
        content -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    outbox_events (id) {
        id -> Int8,
        account_id -> Int8,
        event_type -> Text,
        payload -> Jsonb,
        created_at -> Timestamptz,
        processed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    platform_app_accounts (platform_app_id, account_id) {
        platform_app_id -> Int8,
        account_id -> Int8,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    platform_app_users (platform_app_id, user_id) {
        platform_app_id -> Int8,
        user_id -> Int8,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    platform_apps (id) {
        id -> Int8,
        name -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    users (id) {
        id -> Int8,
        name -> Text,
        email -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Int8,
        account_id -> Int8,
        webhook_id -> Int8,
        event_id -> Int8,
        event_type -> Text,
        payload -> Jsonb,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        last_error -> Nullable<Text>,
        last_response_status -> Nullable<Int4>,
        delivered_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    webhooks (id) {
        id -> Int8,
        account_id -> Int8,
        url -> Text,
        secret -> Text,
        subscriptions -> Array<Nullable<Text>>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(access_tokens -> platform_apps (platform_app_id));
diesel::joinable!(access_tokens -> users (user_id));
diesel::joinable!(account_contact_counts -> accounts (account_id));
diesel::joinable!(account_users -> accounts (account_id));
diesel::joinable!(account_users -> users (user_id));
diesel::joinable!(contact_duplicate_dismissals -> accounts (account_id));
diesel::joinable!(contact_duplicate_dismissals -> users (dismissed_by));
diesel::joinable!(contact_duplicate_pairs -> accounts (account_id));
diesel::joinable!(contact_identities -> accounts (account_id));
diesel::joinable!(contact_inboxes -> accounts (account_id));
diesel::joinable!(contact_labels -> accounts (account_id));
diesel::joinable!(contact_merge_ledgers -> contact_merges (merge_id));
diesel::joinable!(contact_merges -> accounts (account_id));
diesel::joinable!(contacts -> accounts (account_id));
diesel::joinable!(conversations -> accounts (account_id));
diesel::joinable!(idempotency_keys -> accounts (account_id));
diesel::joinable!(inboxes -> accounts (account_id));
diesel::joinable!(messages -> accounts (account_id));
diesel::joinable!(messages -> users (sender_user_id));
diesel::joinable!(notes -> accounts (account_id));
diesel::joinable!(notes -> users (user_id));
diesel::joinable!(outbox_events -> accounts (account_id));
diesel::joinable!(platform_app_accounts -> accounts (account_id));
diesel::joinable!(platform_app_accounts -> platform_apps (platform_app_id));
diesel::joinable!(platform_app_users -> platform_apps (platform_app_id));
diesel::joinable!(platform_app_users -> users (user_id));
diesel::joinable!(webhook_deliveries -> accounts (account_id));
diesel::joinable!(webhook_deliveries -> outbox_events (event_id));
diesel::joinable!(webhooks -> accounts (account_id));

diesel::allow_tables_to_appear_in_same_query!(
    access_tokens,
    account_contact_counts,
    account_users,
    accounts,
    contact_count_changes,
    contact_dedupe_keys,
    contact_duplicate_dismissals,
    contact_duplicate_pairs,
    contact_duplicate_refreshes,
    contact_identities,
    contact_identity_holders,
    contact_inboxes,
    contact_labels,
    contact_merge_ledgers,
    contact_merges,
    contacts,
    conversations,
    idempotency_keys,
    inboxes,
    messages,
    notes,
    outbox_events,
    platform_app_accounts,
    platform_app_users,
    platform_apps,
    users,
    webhook_deliveries,
    webhooks,
);
