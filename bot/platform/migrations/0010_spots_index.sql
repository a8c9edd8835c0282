-- 0010_spots_index: the log that keeps an in-process spot index (bot.vending.spot_index) in step with the table.
-- Every insert, update or delete of a spot or of its date exceptions, by any process, appends the spot's id, so
-- an index catches up by reading only the spots changed since the last number it saw. The log keeps the last
-- 10,000 changes; an index further behind than that reloads every spot.
CREATE TABLE spot_changes (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    spot_id  INTEGER NOT NULL
);

CREATE TRIGGER spot_changes_spot_insert AFTER INSERT ON spots BEGIN
    INSERT INTO spot_changes (spot_id) VALUES (new.id);
END;

CREATE TRIGGER spot_changes_spot_update AFTER UPDATE ON spots BEGIN
    INSERT INTO spot_changes (spot_id) SELECT old.id WHERE old.id <> new.id;
    INSERT INTO spot_changes (spot_id) VALUES (new.id);
END;

CREATE TRIGGER spot_changes_spot_delete AFTER DELETE ON spots BEGIN
    INSERT INTO spot_changes (spot_id) VALUES (old.id);
END;

CREATE TRIGGER spot_changes_exception_insert AFTER INSERT ON spot_exceptions BEGIN
    INSERT INTO spot_changes (spot_id) VALUES (new.spot_id);
END;

CREATE TRIGGER spot_changes_exception_update AFTER UPDATE ON spot_exceptions BEGIN
    INSERT INTO spot_changes (spot_id) SELECT old.spot_id WHERE old.spot_id <> new.spot_id;
    INSERT INTO spot_changes (spot_id) VALUES (new.spot_id);
END;

CREATE TRIGGER spot_changes_exception_delete AFTER DELETE ON spot_exceptions BEGIN
    INSERT INTO spot_changes (spot_id) VALUES (old.spot_id);
END;

CREATE TRIGGER spot_changes_trim AFTER INSERT ON spot_changes BEGIN
    DELETE FROM spot_changes WHERE seq <= new.seq - 10000;
END;
