-- Login sessions: a user's login tokens carry the session epoch they were issued under; a
-- password reset or a disable increments it, which ends every older session.
ALTER TABLE users ADD COLUMN session_epoch INTEGER NOT NULL DEFAULT 0 CHECK (session_epoch >= 0);
