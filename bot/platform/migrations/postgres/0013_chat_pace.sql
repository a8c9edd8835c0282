-- Several instances sharing one database: one token bucket per chat, so the replies and pushes the instances send
-- into one chat together keep Telegram's per-chat limits (bot/edge/chat_pace.py). Times are the server's.
CREATE TABLE chat_pace (
    chat_id  BIGINT PRIMARY KEY,
    tokens   DOUBLE PRECISION NOT NULL,  -- messages the chat can take now; below zero: slots already promised ahead
    at       TIMESTAMPTZ NOT NULL        -- when tokens was counted
);
