-- Staff roles, invite codes and card prompts (issue: staff workflow). See bot/staff.py and bot/casework.py.
-- A person's staff role is users.role (officer / dispatcher / supervisor / admin; 'resident' for everybody else).
CREATE INDEX users_role ON users (role);

-- The districts a field officer covers (dispatching lists them first).
CREATE TABLE staff_districts (
    telegram_id  BIGINT NOT NULL,
    district     TEXT NOT NULL,                    -- a district code of the service area
    PRIMARY KEY (telegram_id, district)
);

-- One-time codes an admin hands out; /start <code> or /join <code> redeems one.
CREATE TABLE staff_invites (
    code        TEXT PRIMARY KEY,
    role        TEXT NOT NULL CHECK (role IN ('officer', 'dispatcher', 'supervisor', 'admin')),
    district    TEXT,
    created_by  BIGINT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_by     BIGINT,
    used_at     TEXT
);

-- A question the bot asked with ForceReply (a reason, a note, a case number): only the reply of the person who
-- pressed the button, to that very message, answers it.
CREATE TABLE staff_prompts (
    chat_id         BIGINT NOT NULL,
    message_id      BIGINT NOT NULL,              -- the question's message
    user_id         BIGINT NOT NULL,              -- who pressed the button
    report_id       BIGINT NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    action          TEXT NOT NULL,                 -- reject / return / duplicate / resolve
    expected_state  TEXT NOT NULL,                 -- the state the button was made for
    created_at      TEXT NOT NULL,
    PRIMARY KEY (chat_id, message_id)
);

-- News about a case for the staff group (a resident's added information, a withdrawal) goes in the thread of the
-- case's card when the card has been sent: the reply target is filled in as the row is queued.
CREATE FUNCTION outbox_case_news_in_card_thread() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    card_message BIGINT;
BEGIN
    IF (NEW.ref LIKE 'report_info:%' OR NEW.ref LIKE 'report_withdrawn:%')
        AND NEW.params::jsonb -> 'reply_parameters' IS NULL
        AND NEW.params::jsonb -> 'reply_to_message_id' IS NULL THEN
        SELECT card.result_message_id INTO card_message FROM outbox AS card
        WHERE card.ref = 'report_card:' || split_part(NEW.ref, ':', 2)  -- report_info:<case>:<event>
          AND card.chat_id = NEW.chat_id AND card.state = 'sent' AND card.result_message_id IS NOT NULL
        ORDER BY card.id DESC LIMIT 1;
        IF card_message IS NOT NULL THEN
            UPDATE outbox SET params = jsonb_set(params::jsonb, '{reply_parameters}', jsonb_build_object(
                    'message_id', card_message, 'allow_sending_without_reply', true))::text
            WHERE id = NEW.id;
        END IF;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER outbox_case_news_in_card_thread AFTER INSERT ON outbox
FOR EACH ROW EXECUTE FUNCTION outbox_case_news_in_card_thread();
