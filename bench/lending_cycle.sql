-- pgbench reference for bench/lending.sh: the minimal SQL of one borrow+return cycle,
-- run with -M prepared (the server prepares its statements too). Each client is one
-- patron (client_id + 1); the title is random. Ids are built from numbers the way
-- bench/lending.sh made them: patron n 00000000-0000-0000-0001-<n on 12 digits>,
-- title n ...-0002-..., the patron's pseudonym ...-0004-...; @CONSORTIUM@, @LIBRARY@ and
-- @TITLES@ are filled in by the script.
--
-- Checkout, one transaction: lock the title's licence rows, count the active loans, and
-- either take a copy (insert the loan, spend a checkout, record the event) or record a
-- turnaway. Return, a second transaction: lock, end the loan, record the event.
--
-- The server does more in the same statements than this reference: it reads the
-- patron's library policy, closes the patron's loans of the title past due, checks the
-- loan limit and an open loan of the same title, counts the holds waiting and the
-- copies ready holds keep, and orders the usable licences; its return counts the holds
-- waiting. So the comparison leans against the server, never for it.
\set t random(1, @TITLES@)
\set p :client_id + 1
BEGIN;
SELECT id AS lic, concurrency AS cap FROM licence WHERE title_id = ('00000000-0000-0000-0002-' || lpad(:t::text, 12, '0'))::uuid AND consortium_id = '@CONSORTIUM@' ORDER BY id FOR UPDATE \gset
SELECT (count(*) < :cap)::int AS ok FROM loan WHERE licence_id = :lic AND ended IS NULL AND due > now() \gset
\if :ok
INSERT INTO loan (patron_id, title_id, licence_id, library_id, due) VALUES (('00000000-0000-0000-0001-' || lpad(:p::text, 12, '0'))::uuid, ('00000000-0000-0000-0002-' || lpad(:t::text, 12, '0'))::uuid, :lic, '@LIBRARY@', now() + make_interval(days => 14)) RETURNING id AS loan \gset
UPDATE licence SET checkouts_used = checkouts_used + 1 WHERE id = :lic AND (checkouts IS NULL OR checkouts_used < checkouts);
INSERT INTO usage_event (type, title_id, consortium_id, library_id, patron_key, loan_id) VALUES ('checkout', ('00000000-0000-0000-0002-' || lpad(:t::text, 12, '0'))::uuid, '@CONSORTIUM@', '@LIBRARY@', ('00000000-0000-0000-0004-' || lpad(:p::text, 12, '0'))::uuid, :loan);
COMMIT;
BEGIN;
SELECT id FROM licence WHERE title_id = ('00000000-0000-0000-0002-' || lpad(:t::text, 12, '0'))::uuid AND consortium_id = '@CONSORTIUM@' ORDER BY id FOR UPDATE;
UPDATE loan SET ended = now(), end_reason = 'returned' WHERE id = :loan AND ended IS NULL AND due > now();
INSERT INTO usage_event (type, title_id, consortium_id, library_id, patron_key, loan_id) VALUES ('return', ('00000000-0000-0000-0002-' || lpad(:t::text, 12, '0'))::uuid, '@CONSORTIUM@', '@LIBRARY@', ('00000000-0000-0000-0004-' || lpad(:p::text, 12, '0'))::uuid, :loan);
COMMIT;
\else
INSERT INTO usage_event (type, title_id, consortium_id, library_id, patron_key) VALUES ('turnaway_no_copy', ('00000000-0000-0000-0002-' || lpad(:t::text, 12, '0'))::uuid, '@CONSORTIUM@', '@LIBRARY@', ('00000000-0000-0000-0004-' || lpad(:p::text, 12, '0'))::uuid);
COMMIT;
\endif
