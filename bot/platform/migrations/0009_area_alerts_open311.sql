-- 0009_area_alerts_open311: filled in by the change that needs it.
SELECT 1;
