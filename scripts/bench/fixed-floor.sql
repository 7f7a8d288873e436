-- The fixed floor of a merge (issue: "Performance against the physical floor"): the least round trips that do a
-- merge's database work is one, so the bench creates this function in its own database (never in the product's
-- migrations) and the floor calls it once per merge. It does what the service's merge does in PostgreSQL —
-- authenticate the token, lock both contacts in id order, move every child and the mergee's identities (the
-- phone number and identifier the base lacks and takes as its primaries, the email as a secondary; returning
-- the moved ids for the ledger), delete the mergee, write the base, the audit record with its ledger and the outbox event, read the
-- base's contact inboxes for the response — but with no round trip between the steps. It does not change when the
-- service changes: it is the reference the service's own statements are measured against.
--
-- The merged attribute values are computed here from the pair's ids, as the same-statements floor does; the
-- snapshots, the event and what the merge wrote are constants of the same shape and size as the service's.
CREATE OR REPLACE FUNCTION bench_fixed_merge(
    p_account bigint, p_digest bytea, p_base bigint, p_mergee bigint, p_snapshot jsonb, p_payload jsonb,
    p_merged_additional jsonb, p_merged_custom jsonb, p_base_snapshot jsonb, p_written jsonb
) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_user bigint;
    v_role text;
    v_locked int;
    v_moved record;
    v_inboxes jsonb;
BEGIN
    SELECT t.user_id, au.role INTO v_user, v_role
    FROM access_tokens t JOIN accounts a ON a.id = p_account AND a.status = 'active'
    LEFT JOIN account_users au ON au.account_id = a.id AND au.user_id = t.user_id
    WHERE t.token_digest = p_digest;
    IF v_role IS NULL THEN
        RAISE EXCEPTION 'not a member of account %', p_account;
    END IF;
    SELECT count(*) INTO v_locked FROM (
        SELECT id FROM contacts WHERE account_id = p_account AND id IN (p_base, p_mergee) ORDER BY id FOR UPDATE
    ) AS locked;
    IF v_locked <> 2 THEN
        RAISE EXCEPTION 'pair % % not found', p_base, p_mergee;
    END IF;
    WITH conversations_moved AS (
        UPDATE conversations SET contact_id = p_base WHERE account_id = p_account AND contact_id = p_mergee RETURNING id),
    messages_moved AS (
        UPDATE messages SET sender_contact_id = p_base WHERE account_id = p_account AND sender_contact_id = p_mergee
        RETURNING id),
    contact_inboxes_moved AS (
        UPDATE contact_inboxes SET contact_id = p_base WHERE account_id = p_account AND contact_id = p_mergee
        RETURNING id),
    notes_moved AS (
        UPDATE notes SET contact_id = p_base WHERE account_id = p_account AND contact_id = p_mergee RETURNING id),
    labels_taken AS (
        DELETE FROM contact_labels WHERE account_id = p_account AND contact_id = p_mergee RETURNING label),
    labels_added AS (
        INSERT INTO contact_labels (account_id, contact_id, label) SELECT p_account, p_base, label FROM labels_taken
        ON CONFLICT ON CONSTRAINT contact_labels_contact_label_key DO NOTHING RETURNING label),
    holders_moved AS (
        UPDATE contact_identity_holders h SET contact_id = p_base
        WHERE h.account_id = p_account AND h.contact_id = p_mergee RETURNING h.id)
    SELECT (SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM conversations_moved) AS conversation_ids,
           (SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM messages_moved) AS message_ids,
           (SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM contact_inboxes_moved) AS contact_inbox_ids,
           (SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM notes_moved) AS note_ids,
           (SELECT coalesce(array_agg(label ORDER BY label), '{}') FROM labels_added) AS labels_added,
           (SELECT coalesce(array_agg(label ORDER BY label), '{}') FROM labels_taken) AS mergee_labels,
           (SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM holders_moved) AS holder_ids
    INTO v_moved;
    DELETE FROM contacts WHERE account_id = p_account AND id = p_mergee;
    UPDATE contacts SET name = 'Pair Base ' || p_base, email = 'pb' || p_base || '@bench.invalid',
        phone_number = '+1666' || lpad(p_mergee::text, 8, '0'), identifier = 'pm-' || p_mergee,
        additional_attributes = p_merged_additional, custom_attributes = p_merged_custom, updated_at = now(),
        merged_identities = NULLIF(concat_ws(E'\x1f', merged_identities, (
            SELECT string_agg(lower(i.value), E'\x1f' ORDER BY i.id) FROM contact_identities i
            WHERE i.account_id = p_account AND i.holder_id = ANY (v_moved.holder_ids))), '')
    WHERE account_id = p_account AND id = p_base;
    WITH record AS (
        INSERT INTO contact_merges (account_id, actor_user_id, base_contact_id, mergee_contact_id, mergee_snapshot,
            moved_conversations, moved_messages, moved_contact_inboxes, moved_notes, moved_labels)
        VALUES (p_account, v_user, p_base, p_mergee, p_snapshot, cardinality(v_moved.conversation_ids),
            cardinality(v_moved.message_ids), cardinality(v_moved.contact_inbox_ids), cardinality(v_moved.note_ids),
            cardinality(v_moved.mergee_labels))
        RETURNING id)
    INSERT INTO contact_merge_ledgers (merge_id, moved_conversation_ids, moved_message_ids, moved_contact_inbox_ids,
        moved_note_ids, labels_added, mergee_labels, base_snapshot, written, moved_holder_ids)
    SELECT record.id, v_moved.conversation_ids, v_moved.message_ids, v_moved.contact_inbox_ids, v_moved.note_ids,
        v_moved.labels_added, v_moved.mergee_labels, p_base_snapshot, p_written, v_moved.holder_ids
    FROM record;
    INSERT INTO outbox_events (account_id, event_type, payload) VALUES (p_account, 'contact.merged', p_payload);
    SELECT coalesce(jsonb_agg(jsonb_build_object('source_id', ci.source_id, 'inbox_id', i.id, 'name', i.name,
               'channel_type', i.channel_type, 'avatar_url', i.avatar_url, 'provider', i.provider) ORDER BY ci.id), '[]')
    INTO v_inboxes
    FROM contact_inboxes ci JOIN inboxes i ON i.id = ci.inbox_id AND i.account_id = ci.account_id
    WHERE ci.account_id = p_account AND ci.contact_id = p_base;
    RETURN v_inboxes;
END
$$;
