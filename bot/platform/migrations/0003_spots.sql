-- Vending spots and no-vending zones (issue: street vendors). See bot/spots.py.
-- Opening windows are kept as minutes of the week (Monday 00:00 = 0) in the city's time zone; a window that
-- crosses midnight simply ends past its day (Friday 22:00-04:00 = 7080..7440), and one that crosses Sunday
-- midnight ends past 10080.
CREATE TABLE spots (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    external_id     TEXT NOT NULL UNIQUE,          -- the stable id of the import file, so re-imports update
    name            TEXT NOT NULL,
    name_en         TEXT,
    district        TEXT NOT NULL,                 -- service-area district code
    lat             REAL NOT NULL,
    lon             REAL NOT NULL,
    address         TEXT NOT NULL DEFAULT '',
    address_en      TEXT,
    goods           TEXT NOT NULL DEFAULT '',      -- comma-separated goods codes (fruit,vegetables,…)
    fee_cents       INTEGER NOT NULL DEFAULT 0,    -- per day, in fen; 0 = free
    capacity        INTEGER,                       -- stalls
    free_stalls     INTEGER,                       -- when known
    status          TEXT NOT NULL DEFAULT 'open'
                    CHECK (status IN ('open', 'closed_temporarily', 'relocated')),
    closed_until    TEXT,                          -- UTC; a temporary closure without it lasts until reopened
    relocated_to    INTEGER REFERENCES spots (id) ON DELETE SET NULL,
    status_reason   TEXT,
    note            TEXT NOT NULL DEFAULT '',
    -- Copies of spot_hours kept in the row by bot.spots.store_hours, so the nearest-spot search needs no join:
    week            TEXT NOT NULL DEFAULT '',      -- "start_m-end_m,…" in order
    week_mask0      INTEGER NOT NULL DEFAULT 0,    -- bit h set: open at some time in hour h of the week (0-55)
    week_mask1      INTEGER NOT NULL DEFAULT 0,    -- hours 56-111
    week_mask2      INTEGER NOT NULL DEFAULT 0,    -- hours 112-167
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    CHECK (status <> 'relocated' OR relocated_to IS NOT NULL)
);
CREATE INDEX spots_district ON spots (district, name);

-- The truth of the opening hours (written only through bot.spots.store_hours), clustered by spot.
CREATE TABLE spot_hours (
    spot_id   INTEGER NOT NULL REFERENCES spots (id) ON DELETE CASCADE,
    start_m   INTEGER NOT NULL CHECK (start_m >= 0 AND start_m < 10080),
    end_m     INTEGER NOT NULL CHECK (end_m > start_m AND end_m <= start_m + 1440),
    PRIMARY KEY (spot_id, start_m)
) WITHOUT ROWID;

-- Closed on these local dates (inclusive); a window belongs to the date it opens on.
CREATE TABLE spot_exceptions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    spot_id    INTEGER NOT NULL REFERENCES spots (id) ON DELETE CASCADE,
    first_day  TEXT NOT NULL,                      -- YYYY-MM-DD
    last_day   TEXT NOT NULL CHECK (last_day >= first_day),
    reason     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX spot_exceptions_spot ON spot_exceptions (spot_id, last_day);

-- SQLite's R*Tree: the spatial index of spot positions, kept in step by triggers.
CREATE VIRTUAL TABLE spots_rtree USING rtree (id, min_lat, max_lat, min_lon, max_lon);

CREATE TRIGGER spots_rtree_insert AFTER INSERT ON spots BEGIN
    INSERT INTO spots_rtree (id, min_lat, max_lat, min_lon, max_lon) VALUES (new.id, new.lat, new.lat, new.lon, new.lon);
END;

CREATE TRIGGER spots_rtree_move AFTER UPDATE OF lat, lon ON spots BEGIN
    UPDATE spots_rtree SET min_lat = new.lat, max_lat = new.lat, min_lon = new.lon, max_lon = new.lon WHERE id = new.id;
END;

CREATE TRIGGER spots_rtree_delete AFTER DELETE ON spots BEGIN
    DELETE FROM spots_rtree WHERE id = old.id;
END;

-- No-vending zones: a polygon (GeoJSON geometry) with its bounding box, optionally in force only at some hours.
CREATE TABLE zones (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    external_id  TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    name_en      TEXT,
    kind         TEXT NOT NULL,                     -- main_road, fire_lane, school_gate, hospital_entrance, …
    geometry     TEXT NOT NULL,                     -- GeoJSON Polygon or MultiPolygon
    min_lat      REAL NOT NULL,
    max_lat      REAL NOT NULL,
    min_lon      REAL NOT NULL,
    max_lon      REAL NOT NULL,
    note         TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

-- When a zone's ban is in force; a zone without rows is in force at all times.
CREATE TABLE zone_hours (
    zone_id  INTEGER NOT NULL REFERENCES zones (id) ON DELETE CASCADE,
    start_m  INTEGER NOT NULL CHECK (start_m >= 0 AND start_m < 10080),
    end_m    INTEGER NOT NULL CHECK (end_m > start_m AND end_m <= start_m + 1440),
    PRIMARY KEY (zone_id, start_m)
) WITHOUT ROWID;

CREATE VIRTUAL TABLE zones_rtree USING rtree (id, min_lat, max_lat, min_lon, max_lon);

CREATE TRIGGER zones_rtree_insert AFTER INSERT ON zones BEGIN
    INSERT INTO zones_rtree (id, min_lat, max_lat, min_lon, max_lon)
    VALUES (new.id, new.min_lat, new.max_lat, new.min_lon, new.max_lon);
END;

CREATE TRIGGER zones_rtree_move AFTER UPDATE OF min_lat, max_lat, min_lon, max_lon ON zones BEGIN
    UPDATE zones_rtree SET min_lat = new.min_lat, max_lat = new.max_lat, min_lon = new.min_lon, max_lon = new.max_lon
    WHERE id = new.id;
END;

CREATE TRIGGER zones_rtree_delete AFTER DELETE ON zones BEGIN
    DELETE FROM zones_rtree WHERE id = old.id;
END;

-- Vendors who want reminders before their spot opens and news of closures and relocations.
CREATE TABLE subscriptions (
    user_id     INTEGER NOT NULL,                  -- Telegram user id
    spot_id     INTEGER NOT NULL REFERENCES spots (id) ON DELETE CASCADE,
    language    TEXT NOT NULL,                     -- the language they used when subscribing
    created_at  TEXT NOT NULL,
    PRIMARY KEY (user_id, spot_id)
);
CREATE INDEX subscriptions_spot ON subscriptions (spot_id);
