-- 0010_spots_index: filled in by the change that needs it.
SELECT 1;
