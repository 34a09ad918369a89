-- Licences, loans, holds, usage events and idempotency keys.
--
-- A loan is active while it has not ended and its due time is in the future: the copy is
-- free again at the very instant of `due`, with no sweeper needed for that. Every change
-- to the loans and holds of one title in one consortium first locks that title's licence
-- rows of the consortium (FOR UPDATE), so counting and inserting cannot race.

CREATE TABLE licence (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    title_id        uuid NOT NULL REFERENCES title ON DELETE RESTRICT,
    consortium_id   uuid NOT NULL REFERENCES consortium ON DELETE RESTRICT,
    library_id      uuid,             -- NULL: for every library of the consortium
    concurrency     int CHECK (concurrency > 0),           -- NULL: unlimited
    checkouts       int CHECK (checkouts > 0),             -- total loans; NULL: unlimited
    checkouts_used  int NOT NULL DEFAULT 0 CHECK (checkouts_used >= 0),
    expires         timestamptz,                           -- NULL: perpetual
    loan_days       int CHECK (loan_days BETWEEN 1 AND 366), -- longest loan; NULL: library policy
    suspended       boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (library_id, consortium_id) REFERENCES library (id, consortium_id),
    -- The second guard: no code path can spend more loans than were bought.
    CHECK (checkouts IS NULL OR checkouts_used <= checkouts)
);
CREATE INDEX licence_title_idx ON licence (title_id, consortium_id);
COMMENT ON INDEX licence_title_idx IS 'licence_lock, licence_usable, availability';
CREATE INDEX licence_consortium_idx ON licence (consortium_id, expires);
COMMENT ON INDEX licence_consortium_idx IS 'admin_licences (expiring_before)';

CREATE TABLE loan (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    patron_id   uuid NOT NULL REFERENCES patron ON DELETE RESTRICT,
    title_id    uuid NOT NULL REFERENCES title ON DELETE RESTRICT,
    licence_id  uuid NOT NULL REFERENCES licence ON DELETE RESTRICT,
    library_id  uuid NOT NULL REFERENCES library ON DELETE RESTRICT,
    started     timestamptz NOT NULL DEFAULT now(),
    due         timestamptz NOT NULL,
    ended       timestamptz,
    end_reason  text CHECK (end_reason IN ('returned', 'expired', 'revoked')),
    renewals    int NOT NULL DEFAULT 0 CHECK (renewals >= 0),
    CHECK (due > started),
    CHECK ((ended IS NULL) = (end_reason IS NULL))
);
-- One open loan per patron and title; loans past due are closed before a new checkout.
CREATE UNIQUE INDEX loan_one_open_idx ON loan (patron_id, title_id) WHERE ended IS NULL;
COMMENT ON INDEX loan_one_open_idx IS 'loan_checkout (already_borrowed guard), loans_of_patron';
CREATE INDEX loan_licence_open_idx ON loan (licence_id, due) WHERE ended IS NULL;
COMMENT ON INDEX loan_licence_open_idx IS 'licence in_use counts';
CREATE INDEX loan_patron_idx ON loan (patron_id, started DESC);
COMMENT ON INDEX loan_patron_idx IS 'loans_list';
CREATE INDEX loan_due_open_idx ON loan (due) WHERE ended IS NULL;
COMMENT ON INDEX loan_due_open_idx IS 'sweep_expired';

-- Second guard for concurrency: a loan that would put its licence over its copies fails.
CREATE FUNCTION loan_check_concurrency() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    cap int;
    used int;
BEGIN
    SELECT concurrency INTO cap FROM licence WHERE id = NEW.licence_id;
    IF cap IS NOT NULL THEN
        SELECT count(*) INTO used FROM loan
         WHERE licence_id = NEW.licence_id AND ended IS NULL AND due > now();
        IF used > cap THEN
            RAISE EXCEPTION 'licence % would have % loans for % copies', NEW.licence_id, used, cap
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER loan_concurrency AFTER INSERT ON loan
    FOR EACH ROW EXECUTE FUNCTION loan_check_concurrency();

CREATE TABLE hold (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    patron_id     uuid NOT NULL REFERENCES patron ON DELETE RESTRICT,
    title_id      uuid NOT NULL REFERENCES title ON DELETE RESTRICT,
    consortium_id uuid NOT NULL REFERENCES consortium ON DELETE RESTRICT,
    library_id    uuid NOT NULL REFERENCES library ON DELETE RESTRICT,
    state         text NOT NULL DEFAULT 'waiting'
                  CHECK (state IN ('waiting', 'ready', 'fulfilled', 'cancelled', 'expired')),
    placed        timestamptz NOT NULL DEFAULT now(),
    ready_at      timestamptz,
    ready_until   timestamptz,
    licence_id    uuid REFERENCES licence, -- the copy kept for this patron while ready
    ended         timestamptz,
    CHECK (state <> 'ready' OR (licence_id IS NOT NULL AND ready_until IS NOT NULL)),
    CHECK ((state IN ('waiting', 'ready')) = (ended IS NULL))
);
CREATE UNIQUE INDEX hold_one_open_idx ON hold (patron_id, title_id) WHERE state IN ('waiting', 'ready');
COMMENT ON INDEX hold_one_open_idx IS 'hold_place (already_on_hold guard)';
CREATE INDEX hold_queue_idx ON hold (title_id, consortium_id, placed, id) WHERE state IN ('waiting', 'ready');
COMMENT ON INDEX hold_queue_idx IS 'holds_queue, promote, availability';
CREATE INDEX hold_patron_idx ON hold (patron_id, placed DESC);
COMMENT ON INDEX hold_patron_idx IS 'holds_list';

-- Usage, COUNTER-style: who is a pseudonym, never a card number.
CREATE TABLE usage_event (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT now(),
    type          text NOT NULL CHECK (type IN ('checkout', 'return', 'renew', 'expire', 'revoke',
                      'hold_placed', 'hold_ready', 'hold_lapsed', 'hold_cancelled', 'stream_start',
                      'turnaway_no_copy', 'turnaway_no_licence', 'turnaway_limit')),
    title_id      uuid NOT NULL REFERENCES title ON DELETE CASCADE,
    consortium_id uuid NOT NULL REFERENCES consortium ON DELETE CASCADE,
    library_id    uuid REFERENCES library ON DELETE CASCADE,
    patron_key    uuid,
    loan_id       uuid
);
CREATE INDEX usage_event_report_idx ON usage_event (consortium_id, at);
COMMENT ON INDEX usage_event_report_idx IS 'report_usage';

-- Idempotency-Key: the first answer, kept for a day, replayed to a retry.
CREATE TABLE idempotency (
    patron_id     uuid NOT NULL REFERENCES patron ON DELETE CASCADE,
    key           text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash  text NOT NULL,
    status        int,
    response      text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (patron_id, key)
);
