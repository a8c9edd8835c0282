-- People who have written to the bot, with their language and whether pushes still reach them.
CREATE TABLE users (
    telegram_id   BIGINT PRIMARY KEY,
    first_name    TEXT NOT NULL DEFAULT '',
    language      TEXT,                       -- explicit choice; NULL = follow Telegram's language_code
    telegram_language TEXT,                   -- the client's language_code when last seen, for pushes
    role          TEXT NOT NULL DEFAULT 'resident',
    blocked_bot   BIGINT NOT NULL DEFAULT 0, -- 1 after Forbidden: no pushes until they write again
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

-- python-telegram-bot persistence, stored beside the domain tables.
CREATE TABLE ptb_conversations (
    name   TEXT NOT NULL,
    key    TEXT NOT NULL,                     -- JSON array of the conversation key
    state  TEXT NOT NULL,                     -- JSON value of the state
    PRIMARY KEY (name, key)
);

CREATE TABLE ptb_user_data (
    user_id  BIGINT PRIMARY KEY,
    data     TEXT NOT NULL
);

CREATE TABLE ptb_chat_data (
    chat_id  BIGINT PRIMARY KEY,
    data     TEXT NOT NULL
);

CREATE TABLE ptb_singletons (
    name  TEXT PRIMARY KEY,                   -- 'bot_data' or 'callback_data'
    data  TEXT NOT NULL
);
