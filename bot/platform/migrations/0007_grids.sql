-- 0007_grids: 单元网格 / 责任网格 — the grids cases are routed by, their officers, and the grid of each case.

-- One grid: an area of a district with the officer(s) responsible for it (python -m bot grids import).
CREATE TABLE grids (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    external_id  TEXT NOT NULL UNIQUE,            -- the file's stable id: a re-import updates the grid with it
    name         TEXT NOT NULL,
    district     TEXT NOT NULL,                   -- a district code of the service area
    geometry     TEXT NOT NULL,                   -- GeoJSON Polygon or MultiPolygon, [longitude, latitude]
    min_lat      REAL NOT NULL,                   -- the outline's bounding box, to find candidates quickly
    max_lat      REAL NOT NULL,
    min_lon      REAL NOT NULL,
    max_lon      REAL NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX grids_box ON grids (min_lat, max_lat, min_lon, max_lon);

-- The grid's responsible officers, in the file's order (the first one still a field officer gets the cases).
CREATE TABLE grid_officers (
    grid_id      INTEGER NOT NULL REFERENCES grids (id) ON DELETE CASCADE,
    telegram_id  INTEGER NOT NULL,
    position     INTEGER NOT NULL,
    PRIMARY KEY (grid_id, telegram_id)
);
CREATE INDEX grid_officers_person ON grid_officers (telegram_id);

-- The grid a case was filed in (its external id, as districts are kept by code); NULL outside every grid.
ALTER TABLE reports ADD COLUMN grid TEXT;
CREATE INDEX reports_grid ON reports (grid, created_at);

-- A staff member's Telegram @username as they last wrote, so a grids file can name officers by it (residents'
-- are never kept).
ALTER TABLE users ADD COLUMN username TEXT;
CREATE INDEX users_username ON users (lower(username));
