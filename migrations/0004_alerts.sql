-- Alerts to patrons: a hold is ready, a ready hold is about to lapse, a loan ends soon.
-- Each is written in the same transaction as what causes it (or, for the time-driven
-- ones, by the housekeeping that notices the time), listed in the portal, and delivered
-- by e-mail from this table, which is the outbox: nothing is lost if SMTP is down.

CREATE TABLE notification (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    patron_id     uuid NOT NULL REFERENCES patron ON DELETE CASCADE,
    kind          text NOT NULL CHECK (kind IN ('hold_ready', 'hold_expiring', 'loan_ending')),
    title_id      uuid NOT NULL REFERENCES title ON DELETE CASCADE,
    subject_id    uuid NOT NULL,   -- the hold or the loan
    due           timestamptz,     -- the hold's deadline or the loan's due time
    created_at    timestamptz NOT NULL DEFAULT now(),
    read_at       timestamptz,
    email_to      text,
    email_state   text NOT NULL DEFAULT 'pending' CHECK (email_state IN ('pending', 'sent', 'failed', 'none')),
    attempts      int NOT NULL DEFAULT 0,
    next_attempt  timestamptz NOT NULL DEFAULT now(),
    last_error    text,
    sent_at       timestamptz,
    UNIQUE (kind, subject_id, due)
);
CREATE INDEX notification_outbox_idx ON notification (next_attempt) WHERE email_state = 'pending';
COMMENT ON INDEX notification_outbox_idx IS 'outbox_take';
CREATE INDEX notification_patron_idx ON notification (patron_id, created_at DESC);
COMMENT ON INDEX notification_patron_idx IS 'notifications_list';
