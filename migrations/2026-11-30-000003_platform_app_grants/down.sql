DROP TABLE platform_app_users;
DROP TABLE platform_app_accounts;
