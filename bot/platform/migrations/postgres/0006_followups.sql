-- 核查 / 回访: what residents answered when asked "is it fixed?" and how satisfied they are.
CREATE TABLE followup_answers (
    report_id     BIGINT NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    telegram_id   BIGINT NOT NULL,
    fixed         TEXT,                     -- fixed / partly / not_fixed
    satisfaction  BIGINT CHECK (satisfaction BETWEEN 1 AND 5),
    comment       TEXT,
    answered_at   TEXT NOT NULL,
    PRIMARY KEY (report_id, telegram_id)
);

-- Residents and vendors may mute reminders (/settings); staff escalations are never muted.
ALTER TABLE users ADD COLUMN reminders_muted BIGINT NOT NULL DEFAULT 0;
