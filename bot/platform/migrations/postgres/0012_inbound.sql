-- Several instances sharing one database (webhook mode; see bot/edge/inbound.py). Times here are the server's
-- (now()), not the bot's clock: leases must agree across machines whose clocks may differ.
CREATE TABLE inbound_updates (
    update_id    BIGINT PRIMARY KEY,           -- Telegram's: a re-delivered update is inserted once
    chat_key     BIGINT NOT NULL,              -- the chat whose updates go in order (0: updates without a chat)
    payload      TEXT NOT NULL,                -- the update as Telegram sent it (JSON)
    state        TEXT NOT NULL DEFAULT 'pending',  -- pending / done
    claimed_by   TEXT,                         -- the instance that handled it (or last took it)
    received_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    done_at      TIMESTAMPTZ
);
CREATE INDEX inbound_updates_pending ON inbound_updates (chat_key, update_id) WHERE state = 'pending';
CREATE INDEX inbound_updates_done ON inbound_updates (done_at) WHERE state = 'done';

-- Who handles a chat's updates now; an instance renews its leases with its heartbeat, so a dead one's run out.
CREATE TABLE chat_leases (
    chat_key     BIGINT PRIMARY KEY,
    owner        TEXT NOT NULL,
    lease_until  TIMESTAMPTZ NOT NULL
);
CREATE INDEX chat_leases_owner ON chat_leases (owner);

-- The live instances: each takes 1/N of Telegram's overall budget, N counted from recent heartbeats.
CREATE TABLE instances (
    id           TEXT PRIMARY KEY,
    last_seen    TIMESTAMPTZ NOT NULL
);
