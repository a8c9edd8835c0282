-- Placeholder: the outbox and reminder claims (branch postgres) fill this number.
SELECT 1;
