-- Idempotent retries and signed webhooks.

-- A request's Idempotency-Key, written in the transaction of the work it guards: the work and the stored
-- response commit together or not at all, and a concurrent request with the same key waits on the primary key
-- until the first one has committed, then replays it.
CREATE TABLE idempotency_keys (
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    idempotency_key TEXT NOT NULL,
    -- SHA-256 of method, path and body: the same key with another request is refused
    request_fingerprint BYTEA NOT NULL,
    response_status SMALLINT NOT NULL,
    response_body TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, idempotency_key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

CREATE TABLE webhooks (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    url TEXT NOT NULL,
    -- the HMAC-SHA256 key deliveries are signed with
    secret TEXT NOT NULL,
    subscriptions TEXT[] NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT webhooks_account_id_id_key UNIQUE (account_id, id),
    CONSTRAINT webhooks_url_key UNIQUE (account_id, url)
);

-- One delivery of one event to one webhook. Workers claim due rows with FOR UPDATE SKIP LOCKED, so several
-- processes share the work and none delivers a row another is delivering.
CREATE TABLE webhook_deliveries (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    webhook_id BIGINT NOT NULL,
    event_id BIGINT NOT NULL,
    event_type TEXT NOT NULL,
    payload JSONB NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts INT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_error TEXT,
    last_response_status INT,
    delivered_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- deleting a webhook deletes its deliveries explicitly, in the same transaction
    CONSTRAINT webhook_deliveries_webhook_fkey FOREIGN KEY (account_id, webhook_id) REFERENCES webhooks (account_id, id),
    CONSTRAINT webhook_deliveries_event_fkey FOREIGN KEY (event_id) REFERENCES outbox_events (id),
    CONSTRAINT webhook_deliveries_once_key UNIQUE (account_id, webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id);
