ALTER INDEX contacts_name_trgm_idx RESET (gin_pending_list_limit);
ALTER INDEX contacts_email_trgm_idx RESET (gin_pending_list_limit);
ALTER INDEX contacts_phone_number_trgm_idx RESET (gin_pending_list_limit);
ALTER INDEX contacts_identifier_trgm_idx RESET (gin_pending_list_limit);
