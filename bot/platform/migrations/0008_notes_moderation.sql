-- 0008_notes_moderation: filled in by the change that needs it.
SELECT 1;
