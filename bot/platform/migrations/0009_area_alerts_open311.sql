-- 0009_area_alerts_open311: area alerts (/alerts) and cases filed by other channels over Open311.

-- A person's subscription to new public reports in an area: around a place (near), a district or a grid.
CREATE TABLE alert_subscriptions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    telegram_id  INTEGER NOT NULL,
    kind         TEXT NOT NULL,                   -- near / district / grid
    lat          REAL,                            -- near: the place shared and the radius around it
    lon          REAL,
    radius_m     REAL,
    area_code    TEXT,                            -- district: its code; grid: its external id
    cadence      TEXT NOT NULL DEFAULT 'instant', -- instant (at most one message a minute) / daily (a digest)
    created_at   TEXT NOT NULL
);
CREATE INDEX alert_subscriptions_person ON alert_subscriptions (telegram_id, id);
CREATE INDEX alert_subscriptions_place ON alert_subscriptions (kind, lat, lon);
CREATE INDEX alert_subscriptions_area ON alert_subscriptions (kind, area_code);

-- Reports matched for a person but not told yet: held by the one-a-minute cap, or waiting for the daily digest.
CREATE TABLE alert_pending (
    telegram_id  INTEGER NOT NULL,
    report_id    INTEGER NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    cadence      TEXT NOT NULL,                   -- instant / daily
    distance_m   REAL,                            -- from the person's place; NULL for a district or grid match
    created_at   TEXT NOT NULL,
    PRIMARY KEY (telegram_id, report_id)
);
CREATE INDEX alert_pending_person ON alert_pending (telegram_id, cadence, created_at);

-- When each person was last sent an instant alert (the one-a-minute cap reads it).
CREATE TABLE alert_pace (
    telegram_id   INTEGER PRIMARY KEY,
    last_sent_at  TEXT NOT NULL
);

-- Where a case came from when not from Telegram (Open311), with the contact its sender gave: staff only.
CREATE TABLE report_origins (
    report_id    INTEGER PRIMARY KEY REFERENCES reports (id) ON DELETE CASCADE,
    channel      TEXT NOT NULL,                   -- open311
    client       TEXT NOT NULL,                   -- a fingerprint of the API key used (never the key itself)
    first_name   TEXT,
    last_name    TEXT,
    email        TEXT,
    phone        TEXT,
    media_url    TEXT,
    created_at   TEXT NOT NULL
);
