-- SQLite's JSON and text functions that the bot's queries use, so the same SQL runs on both engines: json_set with
-- a '$.key' path, json_each over a JSON array (the conversation keys), json_array, json_group_array, group_concat.
CREATE FUNCTION json_set(doc text, path text, value text) RETURNS text LANGUAGE sql IMMUTABLE
    AS $$ SELECT jsonb_set(doc::jsonb, ARRAY[substr(path, 3)], to_jsonb(value))::text $$;
CREATE FUNCTION json_each(doc text) RETURNS TABLE (value text) LANGUAGE sql IMMUTABLE
    AS $$ SELECT jsonb_array_elements_text(doc::jsonb) $$;
CREATE FUNCTION json_array(VARIADIC items text[]) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$ SELECT to_jsonb(items) $$;
CREATE FUNCTION json_group_array_step(items jsonb, item jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE
    AS $$ SELECT items || jsonb_build_array(item) $$;
CREATE AGGREGATE json_group_array(jsonb) (SFUNC = json_group_array_step, STYPE = jsonb, INITCOND = '[]');
CREATE FUNCTION group_concat_step(joined text, item text) RETURNS text LANGUAGE sql IMMUTABLE
    AS $$ SELECT CASE WHEN item IS NULL THEN joined WHEN joined IS NULL THEN item ELSE joined || ',' || item END $$;
CREATE AGGREGATE group_concat(text) (SFUNC = group_concat_step, STYPE = text);

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
