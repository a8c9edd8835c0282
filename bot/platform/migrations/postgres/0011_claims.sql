-- 0011_claims: which running instance is sending an outbox row or firing a reminder, and until when its claim
-- holds. Several instances on one PostgreSQL database claim rows with SELECT … FOR UPDATE SKIP LOCKED and a lease
-- (bot/platform/claims.py); a claim whose lease has run out (its instance died) is taken over. On SQLite, one
-- process owns the file and nothing is claimed: the columns stay empty.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN lease_until TEXT;   -- UTC
ALTER TABLE reminders ADD COLUMN claimed_by TEXT;
ALTER TABLE reminders ADD COLUMN lease_until TEXT;   -- UTC
-- The claimed reminders still pending (few: those being fired), for the timer's "when next" (claims.next_unclaimed).
CREATE INDEX reminders_claimed ON reminders (lease_until) WHERE state = 'pending' AND claimed_by IS NOT NULL;
-- The outbox rows an instance holds, for its heartbeat that renews their lease (claims.renew_all).
CREATE INDEX outbox_claimed ON outbox (claimed_by) WHERE state = 'pending' AND claimed_by IS NOT NULL;
