-- 0008_notes_moderation: internal notes and public replies (report_events kinds 'note' and 'reply'), hiding a
-- report's description or a photo from public outputs, and blocking a person from filing reports and messages.

-- 1: the description is kept for staff but left out of Open311, the public CSV and what followers see.
ALTER TABLE reports ADD COLUMN description_hidden INTEGER NOT NULL DEFAULT 0;
-- 1: the photo is kept for staff but counted and shown nowhere public.
ALTER TABLE report_photos ADD COLUMN hidden INTEGER NOT NULL DEFAULT 0;

-- What a question asked with ForceReply is about beyond its case: 'description', 'photo:<photo id>', 'reporter'.
ALTER TABLE staff_prompts ADD COLUMN target TEXT NOT NULL DEFAULT '';

-- People who may not file reports or send messages to staff (until `until`, or until unblocked). Their existing
-- cases stay; who blocked them, when and why is kept here and, when blocked from a case, in its events.
CREATE TABLE blocked_people (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,  -- the number /blocked shows and /unblock takes
    telegram_id  INTEGER NOT NULL UNIQUE,
    report_id    INTEGER REFERENCES reports (id) ON DELETE SET NULL,  -- the case they were blocked from, if any
    reason       TEXT NOT NULL,
    until        TEXT,                               -- UTC; NULL: until unblocked
    blocked_by   INTEGER NOT NULL,
    blocked_at   TEXT NOT NULL
);
