/*
 * Every SQL statement of Pretnum, by name (GNU Taler's style). Prepared once per
 * connection by db_open(); the indexes they use say so in the migrations.
 */
#include "sql.h"

#define LIBRARY_POLICY                                                                             \
    "l.loan_days::text AS loan_days, l.default_loan_days, l.max_loans, l.max_holds, "             \
    "l.max_renewals, l.hold_days"

#define TITLE_COLS                                                                                 \
    "t.id, t.kind, t.title, t.creators::text AS creators, t.language, t.publisher, t.published,"  \
    " t.description, to_jsonb(t.subjects)::text AS subjects, t.isbn,"                             \
    " t.identifiers::text AS identifiers, t.duration_s, t.accessibility::text AS accessibility,"  \
    " t.details::text AS details, t.cover_path IS NOT NULL AS has_cover, t.media_type,"           \
    " t.file_size, rfc3339(t.created_at) AS created"

/*
 * A search ranks at most this many matches: a word found in 100,000 titles would
 * otherwise cost a second to rank and count in full (bench/search.sh). Past it, the
 * answer says its total is capped and people refine their search.
 */
#define SEARCH_CAP DB_STR(DB_SEARCH_CAP)

#define TITLE_FILTERS                                                                              \
    "($2::text IS NULL OR t.kind = $2)"                                                           \
    " AND ($3::text IS NULL OR lower(t.language) = lower($3) OR lower(t.language) LIKE lower($3) || '-%')" \
    " AND ($6::bool IS NOT TRUE OR EXISTS (SELECT 1 FROM licence c WHERE c.title_id = t.id"       \
    "   AND ($7::uuid IS NULL OR c.consortium_id = $7) AND (c.library_id IS NULL OR c.library_id = $8)" \
    "   AND NOT c.suspended AND (c.expires IS NULL OR c.expires > now())"                        \
    "   AND (c.checkouts IS NULL OR c.checkouts_used < c.checkouts)"                             \
    "   AND (c.concurrency IS NULL OR c.concurrency > (SELECT count(*) FROM loan l"              \
    "        WHERE l.licence_id = c.id AND l.ended IS NULL AND l.due > now())"                   \
    "      + (SELECT count(*) FROM hold h WHERE h.licence_id = c.id AND h.state = 'ready'))))"

#define LOAN_COLS                                                                                  \
    "l.id, l.title_id, t.kind, t.title, l.licence_id, rfc3339(l.started) AS started,"              \
    " rfc3339(l.due) AS due, rfc3339(l.ended) AS ended, l.renewals,"                              \
    " CASE WHEN l.ended IS NOT NULL THEN l.end_reason WHEN l.due <= now() THEN 'expired'"         \
    "      ELSE 'active' END AS state"

#define HOLD_COLS                                                                                  \
    "h.id, h.title_id, t.kind, t.title, h.state, rfc3339(h.placed) AS placed,"                     \
    " rfc3339(h.ready_until) AS ready_until, lb.default_loan_days, lb.hold_days,"                  \
    " CASE WHEN h.state = 'waiting' THEN (SELECT count(*) FROM hold h2"                           \
    "   WHERE h2.title_id = h.title_id AND h2.consortium_id = h.consortium_id"                    \
    "     AND h2.state = 'waiting' AND (h2.placed, h2.id) <= (h.placed, h.id)) END AS position,"  \
    " (SELECT sum(c.concurrency) FROM licence c WHERE c.title_id = h.title_id"                    \
    "   AND c.consortium_id = h.consortium_id AND (c.library_id IS NULL OR c.library_id = h.library_id)" \
    "   AND NOT c.suspended AND (c.expires IS NULL OR c.expires > now())) AS copies"

/* A licence as staff see it, with live counts. */
#define LICENCE_COLS                                                                               \
    "c.id, c.title_id, t.title, lb.code AS library, c.concurrency, c.checkouts, c.checkouts_used," \
    " rfc3339(c.expires) AS expires, c.loan_days, c.suspended, rfc3339(c.created_at) AS created,"  \
    " (SELECT count(*) FROM loan l WHERE l.licence_id = c.id AND l.ended IS NULL AND l.due > now()) AS in_use," \
    " CASE WHEN c.suspended THEN 'suspended' WHEN c.expires <= now() THEN 'expired'"              \
    "      WHEN c.checkouts_used >= c.checkouts THEN 'exhausted' ELSE 'active' END AS state"

const struct db_statement db_statements[] = {
    {"ping", "SELECT 1", 0},

    /* ---- accounts ---- */
    {"consortium_add", "INSERT INTO consortium (name) VALUES ($1) RETURNING id", 1},
    {"consortium_exists", "SELECT 1 FROM consortium WHERE id = $1", 1},
    {"library_add",
     "INSERT INTO library (consortium_id, code, name) VALUES ($1, $2, $3) RETURNING id", 3},
    {"library_by_code", "SELECT id, consortium_id FROM library WHERE lower(code) = lower($1)", 1},
    {"patron_add",
     "INSERT INTO patron (library_id, card, name, email, password_hash)"
     " VALUES ($1, $2, $3, $4, $5) RETURNING id",
     5},
    {"staff_add",
     "INSERT INTO staff (consortium_id, library_id, email, role, password_hash)"
     " VALUES ($1, $2, $3, $4, $5) RETURNING id",
     5},

    /* ---- sessions ---- */
    {"session_patron_lookup",
     "SELECT p.id, p.password_hash FROM patron p JOIN library l ON l.id = p.library_id"
     " WHERE lower(l.code) = lower($1) AND p.card = $2",
     2},
    {"session_staff_lookup", "SELECT id, password_hash FROM staff WHERE lower(email) = lower($1)",
     1},
    {"patron_rehash", "UPDATE patron SET password_hash = $2 WHERE id = $1", 2},
    {"staff_rehash", "UPDATE staff SET password_hash = $2 WHERE id = $1", 2},
    {"throttle_check",
     "SELECT ceil(extract(epoch FROM max(blocked_until) - now()))::int AS wait"
     " FROM login_throttle WHERE key IN ($1, $2) AND blocked_until > now()",
     2},
    /* $1 key, $2 failures allowed, $3 window and lock-out in seconds. A failure outside
     * the window starts a new one; reaching the limit blocks the key for one window. */
    {"throttle_fail",
     "INSERT INTO login_throttle AS t (key, failures, window_start)"
     " VALUES ($1, 1, now())"
     " ON CONFLICT (key) DO UPDATE SET"
     "  failures = CASE WHEN t.window_start < now() - make_interval(secs => $3::int)"
     "                  THEN 1 ELSE t.failures + 1 END,"
     "  window_start = CASE WHEN t.window_start < now() - make_interval(secs => $3::int)"
     "                      THEN now() ELSE t.window_start END,"
     "  blocked_until = CASE WHEN t.window_start >= now() - make_interval(secs => $3::int)"
     "                        AND t.failures + 1 >= $2::int"
     "                       THEN now() + make_interval(secs => $3::int)"
     "                       ELSE t.blocked_until END"
     " RETURNING failures",
     3},
    {"throttle_clear", "DELETE FROM login_throttle WHERE key = $1", 1},
    {"session_create",
     "INSERT INTO session (id_hash, patron_id, staff_id, expires_at, address)"
     " VALUES (decode($1, 'hex'), $2, $3, now() + make_interval(secs => $4::int), $5)",
     5},
    {"session_lookup",
     "SELECT s.patron_id, s.staff_id, coalesce(p.library_id, st.library_id) AS library_id,"
     "       coalesce(l.consortium_id, st.consortium_id) AS consortium_id, st.role,"
     "       p.pseudonym, ceil(extract(epoch FROM s.expires_at - now()))::int AS left_s"
     " FROM session s"
     " LEFT JOIN patron p ON p.id = s.patron_id"
     " LEFT JOIN library l ON l.id = p.library_id"
     " LEFT JOIN staff st ON st.id = s.staff_id"
     " WHERE s.id_hash = decode($1, 'hex') AND s.expires_at > now()",
     1},
    {"session_end", "DELETE FROM session WHERE id_hash = decode($1, 'hex')", 1},
    {"session_purge", "DELETE FROM session WHERE expires_at < now() - interval '1 day'", 0},
    {"me_patron",
     "SELECT p.id, p.card, p.name, p.email, l.id AS library_id, l.code, l.name AS library_name,"
     "       c.id AS consortium_id, c.name AS consortium_name, " LIBRARY_POLICY
     " FROM patron p JOIN library l ON l.id = p.library_id"
     " JOIN consortium c ON c.id = l.consortium_id WHERE p.id = $1",
     1},
    {"me_staff",
     "SELECT st.id, st.email, st.role, l.id AS library_id, l.code, l.name AS library_name,"
     "       c.id AS consortium_id, c.name AS consortium_name"
     " FROM staff st JOIN consortium c ON c.id = st.consortium_id"
     " LEFT JOIN library l ON l.id = st.library_id WHERE st.id = $1",
     1},

    /* ---- staff administration: $1 is always the caller's consortium, $2 the caller's
     * library (NULL for a consortium admin), so scoping is in every WHERE. ---- */
    {"admin_libraries",
     "SELECT l.id, l.code, l.name, " LIBRARY_POLICY ","
     "       (SELECT count(*) FROM patron p WHERE p.library_id = l.id) AS patrons"
     " FROM library l WHERE l.consortium_id = $1 AND ($2::uuid IS NULL OR l.id = $2)"
     " ORDER BY l.code",
     2},
    {"admin_library_update",
     "UPDATE library l SET"
     "  loan_days = coalesce($4::int[], loan_days),"
     "  default_loan_days = coalesce($5::int, default_loan_days),"
     "  max_loans = coalesce($6::int, max_loans),"
     "  max_holds = coalesce($7::int, max_holds),"
     "  max_renewals = coalesce($8::int, max_renewals),"
     "  hold_days = coalesce($9::int, hold_days)"
     " WHERE l.consortium_id = $1 AND ($2::uuid IS NULL OR l.id = $2) AND lower(l.code) = lower($3)"
     " RETURNING l.id, l.code, l.name, " LIBRARY_POLICY ","
     "       (SELECT count(*) FROM patron p WHERE p.library_id = l.id) AS patrons",
     9},
    {"admin_patrons",
     "SELECT p.id, p.card, p.name, p.email, l.code AS library, rfc3339(p.created_at) AS created"
     " FROM patron p JOIN library l ON l.id = p.library_id"
     " WHERE l.consortium_id = $1 AND ($2::uuid IS NULL OR l.id = $2)"
     "   AND ($3::text IS NULL OR lower(l.code) = lower($3))"
     "   AND ($4::text IS NULL OR p.card = $4 OR p.name ILIKE '%' || "
     "replace(replace(replace($4, '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%' ESCAPE '\\')"
     " ORDER BY l.code, p.card LIMIT $5 OFFSET $6",
     6},
    {"admin_patrons_count",
     "SELECT count(*) FROM patron p JOIN library l ON l.id = p.library_id"
     " WHERE l.consortium_id = $1 AND ($2::uuid IS NULL OR l.id = $2)"
     "   AND ($3::text IS NULL OR lower(l.code) = lower($3))"
     "   AND ($4::text IS NULL OR p.card = $4 OR p.name ILIKE '%' || "
     "replace(replace(replace($4, '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%' ESCAPE '\\')",
     4},
    {"admin_patron",
     "SELECT p.id, p.card, p.name, p.email, l.code AS library, rfc3339(p.created_at) AS created"
     " FROM patron p JOIN library l ON l.id = p.library_id"
     " WHERE p.id = $3 AND l.consortium_id = $1 AND ($2::uuid IS NULL OR l.id = $2)",
     3},

    /* ---- catalogue ---- */
    {"title_by_sha", "SELECT id FROM title WHERE file_sha256 = $1", 1},
    {"title_insert",
     "INSERT INTO title (kind, title, creators, creator_names, language, publisher, published,"
     "  description, subjects, isbn, identifiers, duration_s, accessibility, details,"
     "  file_sha256, file_path, file_size, media_type, cover_path, cover_type)"
     " VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8,"
     "  ARRAY(SELECT jsonb_array_elements_text($9::jsonb)), $10, $11::jsonb, $12::float8,"
     "  $13::jsonb, $14::jsonb, $15, $16, $17::bigint, $18, $19, $20)"
     " RETURNING id",
     20},
    {"title_get", "SELECT " TITLE_COLS " FROM title t WHERE t.id = $1", 1},
    {"title_cover", "SELECT cover_path, cover_type FROM title WHERE id = $1", 1},
    /* Searches answer one row even past the last page, so the total is always known:
     * $1 query, $2 kind, $3 language ("fr" matches "fr" and "fr-CA"), $4 limit, $5 offset,
     * $6 available only, $7 the caller's consortium, $8 its library. The page is chosen
     * among ids and ranks first; only its rows are read from the table. */
    {"titles_text",
     "WITH q0 AS (SELECT websearch_to_tsquery('pretnum_fr', $1) AS f, websearch_to_tsquery('pretnum_en', $1) AS e,"
     "                   websearch_to_tsquery('pretnum_simple', $1) AS s),"
     /* the same words three times would triple the planner's estimate */
     " q AS (SELECT CASE WHEN f = e AND e = s THEN f WHEN f = e THEN f || s WHEN e = s OR f = s THEN f || e"
     "                   ELSE f || e || s END AS tsq FROM q0),"
     " m AS (SELECT t.id, ts_rank_cd(t.search, q.tsq) AS rank FROM title t, q"
     "       WHERE t.search @@ q.tsq AND " TITLE_FILTERS " LIMIT " SEARCH_CAP "),"
     " top AS (SELECT id, rank FROM m ORDER BY rank DESC, id LIMIT $4 OFFSET $5)"
     " SELECT c.total, p.* FROM (SELECT count(*) AS total FROM m) c LEFT JOIN LATERAL"
     " (SELECT " TITLE_COLS " FROM top JOIN title t USING (id) ORDER BY top.rank DESC, t.id) p ON true",
     8, true},
    /* $1 is a tsquery made by lend_titles_search from the typed words, the last one a
     * prefix ("'petit' & 'pri':*"): what people are still typing. */
    {"titles_prefix",
     "WITH q AS (SELECT to_tsquery('pretnum_simple', $1) AS tsq),"
     " m AS (SELECT t.id, ts_rank_cd(t.search, q.tsq) AS rank FROM title t, q"
     "       WHERE t.search @@ q.tsq AND " TITLE_FILTERS " LIMIT " SEARCH_CAP "),"
     " top AS (SELECT id, rank FROM m ORDER BY rank DESC, id LIMIT $4 OFFSET $5)"
     " SELECT c.total, p.* FROM (SELECT count(*) AS total FROM m) c LEFT JOIN LATERAL"
     " (SELECT " TITLE_COLS " FROM top JOIN title t USING (id) ORDER BY top.rank DESC, t.id) p ON true",
     8, true},
    {"titles_similar",
     "WITH q AS (SELECT lower(pretnum_unaccent($1)) AS raw),"
     " m AS (SELECT t.id, word_similarity(q.raw, t.search_text) AS rank FROM title t, q"
     "       WHERE q.raw <% t.search_text AND " TITLE_FILTERS " LIMIT " SEARCH_CAP "),"
     " top AS (SELECT id, rank FROM m ORDER BY rank DESC, id LIMIT $4 OFFSET $5)"
     " SELECT c.total, p.* FROM (SELECT count(*) AS total FROM m) c LEFT JOIN LATERAL"
     " (SELECT " TITLE_COLS " FROM top JOIN title t USING (id) ORDER BY top.rank DESC, t.id) p ON true",
     8, true},
    /* Browsing: the count and the page each use their own index. */
    {"titles_all",
     "SELECT c.total, p.* FROM (SELECT count(*) AS total FROM title t WHERE $1::text IS NULL AND " TITLE_FILTERS ") c"
     " LEFT JOIN LATERAL (SELECT " TITLE_COLS " FROM title t WHERE $1::text IS NULL AND " TITLE_FILTERS
     "  ORDER BY t.created_at DESC, t.id LIMIT $4 OFFSET $5) p ON true",
     8, true},

    /* ---- lending: every change first takes licence_lock for its title and consortium ---- */
    {"licence_lock",
     "SELECT id, library_id FROM licence WHERE title_id = $1 AND consortium_id = $2 ORDER BY id FOR UPDATE", 2},
    /* The patron's library policy, and the kind of title $2 (NULL when there is none). */
    {"patron_policy",
     "SELECT l.id AS library_id, l.consortium_id, l.loan_days::text AS loan_days, l.default_loan_days,"
     "       l.max_loans, l.max_holds, l.max_renewals, l.hold_days, p.pseudonym,"
     "       (SELECT kind FROM title WHERE id = $2::uuid) AS kind"
     " FROM patron p JOIN library l ON l.id = p.library_id WHERE p.id = $1",
     2},
    /* patron_policy and licence_lock in one round trip: $1 patron, $2 title. The lock
     * takes every licence row of the title in the patron's consortium (the count's FILTER,
     * unlike a WHERE, is not pushed under the lock); owned counts those the patron's
     * library may draw on. */
    {"policy_lock",
     "SELECT l.id AS library_id, l.consortium_id, l.loan_days::text AS loan_days, l.default_loan_days,"
     "       l.max_loans, l.max_holds, l.max_renewals, l.hold_days, p.pseudonym,"
     "       (SELECT kind FROM title WHERE id = $2::uuid) AS kind,"
     "       (SELECT count(*) FILTER (WHERE k.library_id IS NULL OR k.library_id = l.id)"
     "          FROM (SELECT c.library_id FROM licence c WHERE c.title_id = $2::uuid"
     "                   AND c.consortium_id = l.consortium_id ORDER BY c.id FOR UPDATE) k) AS owned"
     " FROM patron p JOIN library l ON l.id = p.library_id WHERE p.id = $1",
     2},
    /* Checkout, one round trip after the lock: $1 patron, $2 title, $3 consortium,
     * $4 pseudonym, $5 library. Closes this patron's loans of the title past due (with
     * their events), and says what the rules need: the counts, this patron's ready hold,
     * and the usable licences in the order of licences_usable (one row each; one row of
     * NULLs when there is none). The CTE's update is not seen by the subqueries, which
     * count only loans before due anyway. */
    {"checkout_state",
     "WITH closed AS (UPDATE loan SET ended = due, end_reason = 'expired'"
     "   WHERE patron_id = $1 AND title_id = $2 AND ended IS NULL AND due <= now() RETURNING id, library_id),"
     " ev AS (INSERT INTO usage_event (type, title_id, consortium_id, library_id, patron_key, loan_id)"
     "   SELECT 'expire', $2, $3, library_id, $4, id FROM closed),"
     " s AS (SELECT (SELECT count(*) FROM loan WHERE patron_id = $1 AND title_id = $2 AND ended IS NULL AND due > now()) AS open_same,"
     "        (SELECT count(*) FROM loan WHERE patron_id = $1 AND ended IS NULL AND due > now()) AS patron_active,"
     "        (SELECT count(*) FROM hold WHERE title_id = $2 AND consortium_id = $3 AND state = 'waiting') AS waiting,"
     "        h.id AS ready_hold, h.licence_id AS ready_licence"
     "   FROM (SELECT 1) one LEFT JOIN hold h ON h.patron_id = $1 AND h.title_id = $2 AND h.state = 'ready')"
     " SELECT s.*, u.* FROM s LEFT JOIN LATERAL"
     " (SELECT c.id, c.concurrency, c.checkouts, c.checkouts_used, c.loan_days, rfc3339(c.expires) AS expires,"
     "         (SELECT count(*) FROM loan l WHERE l.licence_id = c.id AND l.ended IS NULL AND l.due > now()) AS active,"
     "         (SELECT count(*) FROM hold h WHERE h.licence_id = c.id AND h.state = 'ready') AS reserved,"
     "         row_number() OVER (ORDER BY c.library_id IS NULL, c.expires IS NULL, c.expires, c.checkouts IS NOT NULL,"
     "                                     c.checkouts - c.checkouts_used DESC, c.created_at, c.id) AS rank"
     "    FROM licence c"
     "   WHERE c.title_id = $2 AND c.consortium_id = $3 AND (c.library_id IS NULL OR c.library_id = $5)"
     "     AND NOT c.suspended AND (c.expires IS NULL OR c.expires > now())"
     "     AND (c.checkouts IS NULL OR c.checkouts_used < c.checkouts)) u ON true"
     " ORDER BY u.rank",
     5},
    /* $1 patron, $2 title, $3 licence, $4 library, $5 days, $6 licence end, $7 consortium,
     * $8 pseudonym: the licence's spent checkout, the loan and the event, in one
     * statement. The loan is made only if the checkout could be spent (no row otherwise). */
    {"checkout_commit",
     "WITH s AS (UPDATE licence SET checkouts_used = checkouts_used + 1 WHERE id = $3::uuid"
     "   AND (checkouts IS NULL OR checkouts_used < checkouts) RETURNING id),"
     " l AS (INSERT INTO loan (patron_id, title_id, licence_id, library_id, due)"
     "   SELECT $1::uuid, $2::uuid, s.id, $4::uuid, least(now() + make_interval(days => $5::int), $6::timestamptz)"
     "   FROM s RETURNING *),"
     " e AS (INSERT INTO usage_event (type, title_id, consortium_id, library_id, patron_key, loan_id)"
     "   SELECT 'checkout', l.title_id, $7, l.library_id, $8, l.id FROM l)"
     " SELECT l.id, l.title_id, t.kind, t.title, l.licence_id,"
     "        rfc3339(l.started) AS started, rfc3339(l.due) AS due, rfc3339(l.ended) AS ended, l.renewals,"
     "        'active' AS state"
     " FROM l JOIN title t ON t.id = l.title_id",
     8},
    /* $1 loan, $2 consortium, $3 pseudonym: ends an active loan, records it, answers the
     * loan and whether holds wait for the title. */
    {"return_commit",
     "WITH r AS (UPDATE loan SET ended = now(), end_reason = 'returned'"
     "   WHERE id = $1 AND ended IS NULL AND due > now() RETURNING *),"
     " e AS (INSERT INTO usage_event (type, title_id, consortium_id, library_id, patron_key, loan_id)"
     "   SELECT 'return', r.title_id, $2, r.library_id, $3, r.id FROM r)"
     " SELECT r.id, r.title_id, t.kind, t.title, r.licence_id, rfc3339(r.started) AS started,"
     "        rfc3339(r.due) AS due, rfc3339(r.ended) AS ended, r.renewals, 'returned' AS state,"
     "        (SELECT count(*) FROM hold WHERE title_id = r.title_id AND consortium_id = $2"
     "           AND state = 'waiting') AS waiting"
     " FROM r JOIN title t ON t.id = r.title_id",
     3},
    /* Usable licences for a patron's library, in the order they are drawn on (Palace):
     * the library's own before the consortium's; time-limited ending soonest, then
     * perpetual, then loan-limited with most loans left. */
    {"licences_usable",
     "SELECT c.id, c.concurrency, c.checkouts, c.checkouts_used, c.loan_days,"
     "       rfc3339(c.expires) AS expires,"
     "       (SELECT count(*) FROM loan l WHERE l.licence_id = c.id AND l.ended IS NULL AND l.due > now()) AS active,"
     "       (SELECT count(*) FROM hold h WHERE h.licence_id = c.id AND h.state = 'ready') AS reserved"
     " FROM licence c"
     " WHERE c.title_id = $1 AND c.consortium_id = $2 AND (c.library_id IS NULL OR c.library_id = $3)"
     "   AND NOT c.suspended AND (c.expires IS NULL OR c.expires > now())"
     "   AND (c.checkouts IS NULL OR c.checkouts_used < c.checkouts)"
     " ORDER BY c.library_id IS NULL, c.expires IS NULL, c.expires, c.checkouts IS NOT NULL,"
     "          c.checkouts - c.checkouts_used DESC, c.created_at, c.id",
     3},
    {"loans_close_expired_of",
     "UPDATE loan SET ended = due, end_reason = 'expired'"
     " WHERE patron_id = $1 AND title_id = $2 AND ended IS NULL AND due <= now()"
     " RETURNING id, library_id",
     2},
    {"loan_open_of",
     "SELECT id FROM loan WHERE patron_id = $1 AND title_id = $2 AND ended IS NULL AND due > now()", 2},
    {"patron_holds_open", "SELECT count(*) FROM hold WHERE patron_id = $1 AND state IN ('waiting', 'ready')", 1},
    {"hold_ready_of",
     "SELECT id, licence_id FROM hold WHERE patron_id = $1 AND title_id = $2 AND state = 'ready'", 2},
    {"hold_open_of",
     "SELECT id FROM hold WHERE patron_id = $1 AND title_id = $2 AND state IN ('waiting', 'ready')", 2},
    {"hold_fulfil", "UPDATE hold SET state = 'fulfilled', ended = now() WHERE id = $1", 1},
    {"holds_waiting",
     "SELECT h.id, h.patron_id, h.library_id, p.pseudonym, lb.hold_days"
     " FROM hold h JOIN patron p ON p.id = h.patron_id JOIN library lb ON lb.id = h.library_id"
     " WHERE h.title_id = $1 AND h.consortium_id = $2 AND h.state = 'waiting'"
     " ORDER BY h.placed, h.id LIMIT 200",
     2},
    {"holds_others_open",
     "SELECT count(*) FROM hold WHERE title_id = $1 AND consortium_id = $2"
     " AND state IN ('waiting', 'ready') AND patron_id <> $3",
     3},
    {"hold_make_ready",
     "UPDATE hold SET state = 'ready', licence_id = $2, ready_at = now(),"
     " ready_until = now() + make_interval(days => $3::int) WHERE id = $1 AND state = 'waiting'",
     3},
    {"hold_insert",
     "INSERT INTO hold (patron_id, title_id, consortium_id, library_id) VALUES ($1, $2, $3, $4) RETURNING id",
     4},
    {"hold_get",
     "SELECT " HOLD_COLS " FROM hold h JOIN title t ON t.id = h.title_id JOIN library lb ON lb.id = h.library_id"
     " WHERE h.id = $1 AND h.patron_id = $2",
     2},
    {"holds_list",
     "SELECT " HOLD_COLS " FROM hold h JOIN title t ON t.id = h.title_id JOIN library lb ON lb.id = h.library_id"
     " WHERE h.patron_id = $1 AND ($2::bool OR h.state IN ('waiting', 'ready'))"
     " ORDER BY h.placed DESC, h.id LIMIT $3 OFFSET $4",
     4},
    {"holds_count",
     "SELECT count(*) FROM hold h WHERE h.patron_id = $1 AND ($2::bool OR h.state IN ('waiting', 'ready'))", 2},
    {"hold_for_cancel",
     "SELECT h.title_id, h.consortium_id, h.state FROM hold h WHERE h.id = $1 AND h.patron_id = $2", 2},
    {"hold_cancel",
     "UPDATE hold SET state = 'cancelled', ended = now(), licence_id = NULL, ready_until = NULL"
     " WHERE id = $1 AND state IN ('waiting', 'ready')",
     1},
    {"event_add",
     "INSERT INTO usage_event (type, title_id, consortium_id, library_id, patron_key, loan_id)"
     " VALUES ($1, $2, $3, $4, $5, $6)",
     6},
    {"idem_claim",
     "INSERT INTO idempotency (patron_id, key, request_hash) VALUES ($1, $2, $3)"
     " ON CONFLICT DO NOTHING RETURNING 1",
     3},
    {"idem_get", "SELECT request_hash, status, response FROM idempotency WHERE patron_id = $1 AND key = $2", 2},
    {"idem_store", "UPDATE idempotency SET status = $3, response = $4 WHERE patron_id = $1 AND key = $2", 4},
    {"loan_get",
     "SELECT " LOAN_COLS " FROM loan l JOIN title t ON t.id = l.title_id WHERE l.id = $1 AND l.patron_id = $2", 2},
    {"loans_list",
     "SELECT " LOAN_COLS " FROM loan l JOIN title t ON t.id = l.title_id"
     " WHERE l.patron_id = $1 AND ($2::bool OR (l.ended IS NULL AND l.due > now()))"
     " ORDER BY l.started DESC, l.id LIMIT $3 OFFSET $4",
     4},
    {"loans_count",
     "SELECT count(*) FROM loan l WHERE l.patron_id = $1 AND ($2::bool OR (l.ended IS NULL AND l.due > now()))", 2},
    /* loan_for_change, then licence_lock of the loan's title in consortium $3, in one
     * round trip. */
    {"loan_for_change_lock",
     "SELECT l.title_id, l.licence_id, l.library_id, l.renewals, l.ended IS NULL AND l.due > now() AS active,"
     "       rfc3339(c.expires) AS licence_expires, c.loan_days AS licence_loan_days,"
     "       (SELECT count(*) FROM (SELECT 1 FROM licence k WHERE k.title_id = l.title_id AND k.consortium_id = $3"
     "          ORDER BY k.id FOR UPDATE) x) AS locked"
     " FROM loan l JOIN licence c ON c.id = l.licence_id WHERE l.id = $1 AND l.patron_id = $2",
     3},
    /* $2 days from the current due, refused (no row) when the licence ends first. */
    {"loan_renew",
     "UPDATE loan l SET due = l.due + make_interval(days => $2::int), renewals = l.renewals + 1"
     " FROM licence c WHERE l.id = $1 AND c.id = l.licence_id"
     "   AND (c.expires IS NULL OR c.expires >= l.due + make_interval(days => $2::int))",
     2},
    {"sweep_loans",
     "UPDATE loan SET ended = due, end_reason = 'expired' WHERE id IN"
     " (SELECT id FROM loan WHERE ended IS NULL AND due <= now() ORDER BY due LIMIT 500 FOR UPDATE SKIP LOCKED)"
     " RETURNING id, title_id, library_id,"
     "  (SELECT consortium_id FROM library WHERE id = loan.library_id) AS consortium_id,"
     "  (SELECT pseudonym FROM patron WHERE id = loan.patron_id) AS pseudonym",
     0},
    {"sweep_holds",
     "UPDATE hold SET state = 'expired', ended = now(), licence_id = NULL WHERE id IN"
     " (SELECT id FROM hold WHERE state = 'ready' AND ready_until <= now() LIMIT 500 FOR UPDATE SKIP LOCKED)"
     " RETURNING id, title_id, consortium_id, library_id,"
     "  (SELECT pseudonym FROM patron WHERE id = hold.patron_id) AS pseudonym",
     0},
    {"sweep_queues",
     "SELECT DISTINCT title_id, consortium_id FROM hold WHERE state = 'waiting' LIMIT 1000", 0},
    {"availability",
     "SELECT coalesce(sum(c.concurrency), 0) AS copies, bool_or(c.concurrency IS NULL) AS unlimited,"
     "  coalesce(sum(c.concurrency - (SELECT count(*) FROM loan l WHERE l.licence_id = c.id AND l.ended IS NULL"
     "    AND l.due > now()) - (SELECT count(*) FROM hold h WHERE h.licence_id = c.id AND h.state = 'ready')), 0) AS free,"
     "  (SELECT count(*) FROM hold h WHERE h.title_id = $1 AND h.consortium_id = $2 AND h.state = 'waiting') AS holds"
     " FROM licence c WHERE c.title_id = $1 AND c.consortium_id = $2"
     "   AND (c.library_id IS NULL OR c.library_id = $3::uuid OR $3::uuid IS NULL)"
     "   AND NOT c.suspended AND (c.expires IS NULL OR c.expires > now())"
     "   AND (c.checkouts IS NULL OR c.checkouts_used < c.checkouts)",
     3},

    /* ---- alerts: the notification table is also the e-mail outbox ---- */
    {"notify_hold_ready",
     "INSERT INTO notification (patron_id, kind, title_id, subject_id, due, email_to, email_state)"
     " SELECT h.patron_id, 'hold_ready', h.title_id, h.id, h.ready_until, p.email,"
     "        CASE WHEN p.email IS NULL THEN 'none' ELSE 'pending' END"
     " FROM hold h JOIN patron p ON p.id = h.patron_id WHERE h.id = $1"
     " ON CONFLICT DO NOTHING",
     1},
    /* Time-driven alerts: a ready hold with less than a day left, a loan due within 3 days. */
    {"notify_due_soon",
     "INSERT INTO notification (patron_id, kind, title_id, subject_id, due, email_to, email_state)"
     " SELECT h.patron_id, 'hold_expiring', h.title_id, h.id, h.ready_until, p.email,"
     "        CASE WHEN p.email IS NULL THEN 'none' ELSE 'pending' END"
     " FROM hold h JOIN patron p ON p.id = h.patron_id"
     " WHERE h.state = 'ready' AND h.ready_until <= now() + interval '1 day'"
     " UNION ALL"
     " SELECT l.patron_id, 'loan_ending', l.title_id, l.id, l.due, p.email,"
     "        CASE WHEN p.email IS NULL THEN 'none' ELSE 'pending' END"
     " FROM loan l JOIN patron p ON p.id = l.patron_id"
     " WHERE l.ended IS NULL AND l.due > now() AND l.due <= now() + interval '3 days'"
     "   AND l.started < l.due - interval '3 days'"
     " ON CONFLICT DO NOTHING",
     0},
    {"outbox_take",
     "SELECT n.id, n.kind, n.email_to, t.title, rfc3339(n.due) AS due, n.attempts, lb.name AS library"
     " FROM notification n JOIN title t ON t.id = n.title_id JOIN patron p ON p.id = n.patron_id"
     " JOIN library lb ON lb.id = p.library_id"
     " WHERE n.email_state = 'pending' AND n.next_attempt <= now()"
     " ORDER BY n.next_attempt LIMIT 20 FOR UPDATE OF n SKIP LOCKED",
     0},
    {"outbox_sent", "UPDATE notification SET email_state = 'sent', sent_at = now(), attempts = attempts + 1 WHERE id = $1", 1},
    /* Retries back off: 1, 2, 4... minutes; after 8 attempts the e-mail is given up. */
    {"outbox_failed",
     "UPDATE notification SET attempts = attempts + 1, last_error = left($2, 500),"
     "  email_state = CASE WHEN attempts + 1 >= 8 THEN 'failed' ELSE 'pending' END,"
     "  next_attempt = now() + make_interval(mins => power(2, attempts)::int)"
     " WHERE id = $1",
     2},
    {"notifications_list",
     "SELECT n.id, n.kind, n.title_id, t.title, rfc3339(n.due) AS due, rfc3339(n.created_at) AS created,"
     "       n.read_at IS NOT NULL AS read, n.email_state"
     " FROM notification n JOIN title t ON t.id = n.title_id"
     " WHERE n.patron_id = $1 ORDER BY n.created_at DESC, n.id LIMIT $2 OFFSET $3",
     3},
    {"notifications_count",
     "SELECT count(*), count(*) FILTER (WHERE read_at IS NULL) FROM notification WHERE patron_id = $1", 1},
    {"notifications_read",
     "UPDATE notification SET read_at = now() WHERE patron_id = $1 AND read_at IS NULL", 1},
    {"me_counts",
     "SELECT (SELECT count(*) FROM loan WHERE patron_id = $1 AND ended IS NULL AND due > now()) AS loans,"
     "       (SELECT count(*) FROM hold WHERE patron_id = $1 AND state IN ('waiting', 'ready')) AS holds,"
     "       (SELECT count(*) FROM hold WHERE patron_id = $1 AND state = 'ready') AS holds_ready,"
     "       (SELECT count(*) FROM notification WHERE patron_id = $1 AND read_at IS NULL) AS unread",
     1},

    /* $1 loan: a stream starts on an active loan; no row when the loan has ended. */
    {"stream_start",
     "INSERT INTO usage_event (type, title_id, consortium_id, library_id, patron_key, loan_id)"
     " SELECT 'stream_start', l.title_id, lib.consortium_id, l.library_id, p.pseudonym, l.id"
     " FROM loan l JOIN library lib ON lib.id = l.library_id JOIN patron p ON p.id = l.patron_id"
     " WHERE l.id = $1 AND l.ended IS NULL AND l.due > now() RETURNING 1",
     1},
    {"content_loan",
     "SELECT l.ended IS NULL AND l.due > now() AS active, t.file_path, t.file_sha256, t.kind"
     " FROM loan l JOIN title t ON t.id = l.title_id WHERE l.id = $1 AND l.title_id = $2",
     2},
    /* Dates in UTC: the mark must read the same whatever server writes it. */
    {"download_loan",
     "SELECT l.ended IS NULL AND l.due > now() AS active, t.file_path, t.file_sha256, t.kind, t.title,"
     "       lib.name AS library, to_char(l.started AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS borrowed,"
     "       to_char(l.due AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS due,"
     "       floor(extract(epoch FROM l.started))::bigint AS started_epoch"
     " FROM loan l JOIN title t ON t.id = l.title_id JOIN library lib ON lib.id = l.library_id"
     " WHERE l.id = $1 AND l.title_id = $2",
     2},

    /* ---- staff: licences and the usage report ---- */
    {"licence_add",
     "INSERT INTO licence (title_id, consortium_id, library_id, concurrency, checkouts, expires, loan_days)"
     " VALUES ($1, $2, $3, $4, $5, $6::timestamptz, $7) RETURNING id",
     7},
    {"admin_licence",
     "SELECT " LICENCE_COLS " FROM licence c JOIN title t ON t.id = c.title_id"
     " LEFT JOIN library lb ON lb.id = c.library_id"
     " WHERE c.id = $3 AND c.consortium_id = $1 AND ($2::uuid IS NULL OR c.library_id = $2)",
     3},
    {"admin_licences",
     "SELECT " LICENCE_COLS ", count(*) OVER () AS total FROM licence c JOIN title t ON t.id = c.title_id"
     " LEFT JOIN library lb ON lb.id = c.library_id"
     " WHERE c.consortium_id = $1 AND ($2::uuid IS NULL OR c.library_id = $2)"
     "   AND ($3::uuid IS NULL OR c.title_id = $3)"
     "   AND ($4::timestamptz IS NULL OR c.expires < $4::timestamptz)"
     " ORDER BY t.title, c.created_at, c.id LIMIT $5 OFFSET $6",
     6},
    {"admin_licence_update",
     "UPDATE licence c SET"
     "  concurrency = CASE WHEN $4::bool THEN $5::int ELSE concurrency END,"
     "  checkouts = CASE WHEN $6::bool THEN $7::int ELSE checkouts END,"
     "  expires = CASE WHEN $8::bool THEN $9::timestamptz ELSE expires END,"
     "  loan_days = CASE WHEN $10::bool THEN $11::int ELSE loan_days END,"
     "  suspended = coalesce($12::bool, suspended)"
     " WHERE c.id = $3 AND c.consortium_id = $1 AND ($2::uuid IS NULL OR c.library_id = $2)",
     12},
    {"report_usage",
     "SELECT e.title_id, t.title, to_char(date_trunc('month', e.at AT TIME ZONE 'UTC'), 'YYYY-MM') AS month,"
     "  count(*) FILTER (WHERE e.type = 'checkout') AS loans,"
     "  count(*) FILTER (WHERE e.type = 'renew') AS renewals,"
     "  count(*) FILTER (WHERE e.type = 'stream_start') AS streams,"
     "  count(DISTINCT e.patron_key) FILTER (WHERE e.type IN ('checkout', 'stream_start')) AS unique_patrons,"
     "  count(*) FILTER (WHERE e.type LIKE 'turnaway%') AS turnaways,"
     "  count(*) FILTER (WHERE e.type = 'turnaway_no_copy') AS turnaways_no_copy,"
     "  count(*) FILTER (WHERE e.type = 'turnaway_no_licence') AS turnaways_no_licence,"
     "  count(*) FILTER (WHERE e.type = 'turnaway_limit') AS turnaways_limit,"
     "  count(*) FILTER (WHERE e.type = 'hold_placed') AS holds_placed"
     " FROM usage_event e JOIN title t ON t.id = e.title_id"
     " WHERE e.consortium_id = $1 AND ($2::uuid IS NULL OR e.library_id = $2)"
     "   AND e.at >= $3::date AND e.at < $4::date"
     " GROUP BY e.title_id, t.title, 3 ORDER BY 3, t.title, e.title_id",
     4},

    {NULL, NULL, 0},
};
