-- IP address allow-lists per group (comma-separated CIDRs; empty = any address): one for
-- everyone in the group, and one that also applies to its administrators.
ALTER TABLE groups ADD COLUMN allowed_ips TEXT NOT NULL DEFAULT '';
ALTER TABLE groups ADD COLUMN admin_allowed_ips TEXT NOT NULL DEFAULT '';
