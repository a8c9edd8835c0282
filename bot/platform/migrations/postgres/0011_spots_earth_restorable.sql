-- 0011_spots_earth_restorable: the GiST index of spot positions survives pg_dump and pg_restore.
-- contrib earthdistance's ll_to_earth() (1.1, PostgreSQL 15) names the types it uses without their schema, and
-- pg_restore builds indexes with an empty search_path, so restoring an index on ll_to_earth(lat, lon) fails
-- ("type earth does not exist") and the backup comes back without it. The index is now on spot_earth(), which runs
-- ll_to_earth() with the search_path the migrations ran with, kept in the function itself (and so in the dump).
CREATE FUNCTION spot_earth(lat DOUBLE PRECISION, lon DOUBLE PRECISION) RETURNS earth
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path FROM CURRENT
AS $$ SELECT ll_to_earth(lat, lon) $$;

DROP INDEX spots_earth;
CREATE INDEX spots_earth ON spots USING gist (spot_earth(lat, lon));
