-- Consortia, their libraries (each with its loan policy), patrons, staff and sessions.
-- Ids are UUIDs: strings in the API, never guessable or countable from outside.

CREATE TABLE consortium (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE library (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    consortium_id  uuid NOT NULL REFERENCES consortium ON DELETE RESTRICT,
    code           text NOT NULL CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$'),
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- Loan policy. Patrons choose a length among loan_days; the licence may cap it.
    loan_days      int[] NOT NULL DEFAULT '{7,14,21}'
                   CHECK (cardinality(loan_days) BETWEEN 1 AND 10
                          AND 1 <= ALL (loan_days) AND 366 >= ALL (loan_days)),
    default_loan_days int NOT NULL DEFAULT 14 CHECK (default_loan_days BETWEEN 1 AND 366),
    max_loans      int NOT NULL DEFAULT 5 CHECK (max_loans BETWEEN 0 AND 1000),
    max_holds      int NOT NULL DEFAULT 5 CHECK (max_holds BETWEEN 0 AND 1000),
    max_renewals   int NOT NULL DEFAULT 2 CHECK (max_renewals BETWEEN 0 AND 100),
    hold_days      int NOT NULL DEFAULT 3 CHECK (hold_days BETWEEN 1 AND 30),
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (id, consortium_id),
    CHECK (default_loan_days = ANY (loan_days))
);
-- Patrons sign in with their library's code: it is unique across the installation.
CREATE UNIQUE INDEX library_code_key ON library (lower(code));
COMMENT ON INDEX library_code_key IS 'session_patron_lookup, library_by_code';
CREATE INDEX library_consortium_idx ON library (consortium_id);
COMMENT ON INDEX library_consortium_idx IS 'admin_libraries_list';

CREATE TABLE patron (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    library_id     uuid NOT NULL REFERENCES library ON DELETE RESTRICT,
    card           text NOT NULL CHECK (length(card) BETWEEN 1 AND 64),
    name           text CHECK (length(name) <= 200),
    email          text CHECK (length(email) <= 254),
    password_hash  text NOT NULL,
    -- The only patron identifier that leaves the database in tokens and usage events.
    pseudonym      uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (library_id, card)
);
COMMENT ON INDEX patron_library_id_card_key IS 'session_patron_lookup, admin_patrons_list';

CREATE TABLE staff (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    consortium_id  uuid NOT NULL REFERENCES consortium ON DELETE RESTRICT,
    library_id     uuid,
    email          text NOT NULL CHECK (email ~ '^[^@\s]+@[^@\s]+$' AND length(email) <= 254),
    role           text NOT NULL CHECK (role IN ('consortium_admin', 'library_admin')),
    password_hash  text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    -- A library admin belongs to a library of its own consortium; a consortium admin to none.
    FOREIGN KEY (library_id, consortium_id) REFERENCES library (id, consortium_id),
    CHECK ((role = 'library_admin') = (library_id IS NOT NULL))
);
CREATE UNIQUE INDEX staff_email_key ON staff (lower(email));
COMMENT ON INDEX staff_email_key IS 'session_staff_lookup';

-- A session is known by the BLAKE2b hash of its secret: a database dump signs nobody in.
CREATE TABLE session (
    id_hash     bytea PRIMARY KEY CHECK (length(id_hash) = 32),
    patron_id   uuid REFERENCES patron ON DELETE CASCADE,
    staff_id    uuid REFERENCES staff ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    address     text,
    CHECK (num_nonnulls(patron_id, staff_id) = 1),
    CHECK (expires_at > created_at)
);
CREATE INDEX session_expires_idx ON session (expires_at);
COMMENT ON INDEX session_expires_idx IS 'session_purge';

-- Failed sign-ins per account and per address, so that every server process throttles alike.
CREATE TABLE login_throttle (
    key            text PRIMARY KEY,
    failures       int NOT NULL CHECK (failures >= 0),
    window_start   timestamptz NOT NULL,
    blocked_until  timestamptz
);

-- Times leave the database as RFC 3339 in UTC, the API's one time format.
CREATE FUNCTION rfc3339(t timestamptz) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"');
