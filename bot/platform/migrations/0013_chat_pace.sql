-- Several instances sharing one database (PostgreSQL): one token bucket per chat, so the replies and pushes the
-- instances send into one chat together keep Telegram's per-chat limits. On SQLite the table stays empty.
CREATE TABLE chat_pace (
    chat_id  INTEGER PRIMARY KEY,
    tokens   REAL NOT NULL,   -- messages the chat can take now; below zero: slots already promised ahead
    at       TEXT NOT NULL    -- when tokens was counted
);
