-- Reports, photos, followers and the audit trail (issue: residents report a city problem).

-- One case. States and their moves are in bot/reports.py (ReportState, TRANSITIONS).
CREATE TABLE reports (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    public_no       TEXT NOT NULL UNIQUE,            -- R20261123-0007: local date + daily sequence
    category        TEXT NOT NULL,                   -- a code of bot.reports.CATEGORIES
    lat             REAL,                            -- NULL when the resident typed an address
    lon             REAL,
    address_text    TEXT,                            -- as typed by the resident
    district        TEXT,                            -- a district code of the service area
    description     TEXT NOT NULL DEFAULT '',        -- empty when a voice note describes it
    voice_file_id   TEXT,                            -- Telegram file id of the voice description
    anonymous       INTEGER NOT NULL DEFAULT 1,      -- 1: staff do not see the reporter's name
    reporter_id     INTEGER NOT NULL,                -- Telegram user id
    state           TEXT NOT NULL DEFAULT 'submitted',
    assignee        INTEGER,                         -- Telegram user id of the officer it is dispatched to
    due_at          TEXT NOT NULL,                   -- UTC handling deadline from the category's time limit
    duplicate_of    INTEGER REFERENCES reports (id),
    follower_count  INTEGER NOT NULL DEFAULT 1,      -- residents following it, the reporter included
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
-- The duplicate check: open cases of one category inside a bounding box.
CREATE INDEX reports_category_place ON reports (category, state, lat, lon);
-- "My reports" and the per-user limits.
CREATE INDEX reports_reporter ON reports (reporter_id, created_at);
CREATE INDEX reports_state_due ON reports (state, due_at);

-- Photos are kept as Telegram file ids only; `kind` says which step they belong to.
CREATE TABLE report_photos (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    report_id       INTEGER NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    file_id         TEXT NOT NULL,
    kind            TEXT NOT NULL DEFAULT 'report',  -- report / info (added later) / after (staff, resolved)
    event_id        INTEGER REFERENCES report_events (id),
    created_at      TEXT NOT NULL
);
CREATE INDEX report_photos_report ON report_photos (report_id, id);

-- The audit trail: every change of state, every note, every "mine too".
CREATE TABLE report_events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    report_id       INTEGER NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,                   -- transition / info / follow
    actor_id        INTEGER,                         -- Telegram user id; NULL for the system
    actor_role      TEXT NOT NULL,                   -- resident / officer / dispatcher / supervisor / admin / system
    from_state      TEXT,
    to_state        TEXT,
    note            TEXT NOT NULL DEFAULT '',
    public          INTEGER NOT NULL DEFAULT 0,      -- 1: the resident sees the note in "my reports"
    at              TEXT NOT NULL
);
CREATE INDEX report_events_report ON report_events (report_id, id);

-- 并单: residents who said "this is mine too", and the reporter; all hear about each public step.
CREATE TABLE report_followers (
    report_id       INTEGER NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    telegram_id     INTEGER NOT NULL,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (report_id, telegram_id)
);
CREATE INDEX report_followers_user ON report_followers (telegram_id, report_id);

-- The report wizard's unfinished draft, one per user; the reminders nudge abandoned ones (updated_at).
CREATE TABLE report_drafts (
    telegram_id     INTEGER PRIMARY KEY,
    step            TEXT NOT NULL,                   -- the wizard step it waits at: category, location, …
    data            TEXT NOT NULL,                   -- JSON of bot.reports.Draft
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX report_drafts_updated ON report_drafts (updated_at);
