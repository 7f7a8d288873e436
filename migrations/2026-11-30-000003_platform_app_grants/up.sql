-- What each platform app may provision: the accounts and users it created. A platform app may make a user a
-- member of an account only when it created both, so one integrator cannot reach another's accounts or users
-- (as the reference's platform_app_permissibles). Accounts and users made by `coalesce admin` belong to no app.
CREATE TABLE platform_app_accounts (
    platform_app_id BIGINT NOT NULL,
    account_id BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT platform_app_accounts_pkey PRIMARY KEY (platform_app_id, account_id),
    CONSTRAINT platform_app_accounts_platform_app_id_fkey FOREIGN KEY (platform_app_id) REFERENCES platform_apps (id),
    CONSTRAINT platform_app_accounts_account_id_fkey FOREIGN KEY (account_id) REFERENCES accounts (id)
);
CREATE INDEX platform_app_accounts_account_idx ON platform_app_accounts (account_id);

CREATE TABLE platform_app_users (
    platform_app_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT platform_app_users_pkey PRIMARY KEY (platform_app_id, user_id),
    CONSTRAINT platform_app_users_platform_app_id_fkey FOREIGN KEY (platform_app_id) REFERENCES platform_apps (id),
    CONSTRAINT platform_app_users_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id)
);
CREATE INDEX platform_app_users_user_idx ON platform_app_users (user_id);
