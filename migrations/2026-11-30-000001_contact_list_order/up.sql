-- Contact lists are read most recently active first by default (as the reference lists them). This index hands
-- out each page in that order, contacts that were never active last, instead of sorting the whole account
-- for every page.
CREATE INDEX contacts_account_last_activity_idx ON contacts (account_id, last_activity_at DESC NULLS LAST, id DESC);
