-- Every outbound push, written in the same transaction as the change that causes it (see bot/outbox.py).
CREATE TABLE outbox (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id            INTEGER NOT NULL,
    method             TEXT NOT NULL,            -- Bot API method: sendMessage, sendPhoto, sendLocation, …
    params             TEXT NOT NULL,            -- JSON parameters, already rendered in the recipient's language
    dedupe_key         TEXT UNIQUE,              -- the same push is never queued twice
    ref                TEXT,                     -- what the message is for, e.g. 'report_card:42'
    state              TEXT NOT NULL DEFAULT 'pending',  -- pending / sent / failed / dropped
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at    TEXT NOT NULL,
    result_message_id  INTEGER,                  -- Telegram's id of the sent message, to edit it later
    error              TEXT,
    created_at         TEXT NOT NULL,
    sent_at            TEXT
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_ref ON outbox (ref);
CREATE INDEX outbox_chat_pending ON outbox (chat_id, id) WHERE state = 'pending';

-- Scheduled follow-ups; the JobQueue only mirrors this table (see bot/reminders.py).
CREATE TABLE reminders (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL,                   -- draft_nudge, ack_escalate, sla_half, sla_due, verify, …
    target      TEXT NOT NULL,                   -- what it is about, e.g. 'report:42', 'spot:7:user:1001'
    due_at      TEXT NOT NULL,                   -- UTC
    payload     TEXT NOT NULL DEFAULT '{}',
    state       TEXT NOT NULL DEFAULT 'pending', -- pending / done / cancelled
    created_at  TEXT NOT NULL,
    done_at     TEXT
);
CREATE INDEX reminders_due ON reminders (state, due_at);
-- The same reminder is never pending twice (a cancelled or done one does not block scheduling it again).
CREATE UNIQUE INDEX reminders_once ON reminders (kind, target, due_at) WHERE state = 'pending';
