DROP INDEX contacts_account_name_idx;
