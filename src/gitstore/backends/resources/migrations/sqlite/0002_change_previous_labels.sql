-- the labels before a change that altered them (NULL: unchanged, or no object before):
-- selector watches send DELETED / ADDED when an object stops / starts matching
ALTER TABLE resource_changes ADD COLUMN previous_labels TEXT;
