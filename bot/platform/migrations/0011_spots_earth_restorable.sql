-- 0011_spots_earth_restorable: PostgreSQL's spot index is rebuilt so that pg_restore can restore it (see
-- migrations/postgres/0011_spots_earth_restorable.sql); SQLite's R*Tree needs nothing: the number keeps the two
-- engines' versions equal.
SELECT 1;
