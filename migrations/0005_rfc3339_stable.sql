-- rfc3339() was declared IMMUTABLE, but to_char() is only STABLE, so PostgreSQL could
-- not inline it and re-read its body at every call (about 5% of the database's CPU in
-- bench/lending.sh). Declared STABLE, it is inlined into the queries that use it.
CREATE OR REPLACE FUNCTION rfc3339(t timestamptz) RETURNS text
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    RETURN to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"');
