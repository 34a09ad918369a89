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

#define TITLE_FILTERS                                                                              \
    "($2::text IS NULL OR t.kind = $2)"                                                           \
    " AND ($3::text IS NULL OR lower(t.language) = lower($3) OR lower(t.language) LIKE lower($3) || '-%')"

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
     "       p.pseudonym"
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
     * $1 query, $2 kind, $3 language ("fr" matches "fr" and "fr-CA"), $4 limit, $5 offset. */
    {"titles_text",
     "WITH q AS (SELECT websearch_to_tsquery('pretnum_fr', $1) || websearch_to_tsquery('pretnum_en', $1)"
     "                  || websearch_to_tsquery('pretnum_simple', $1) AS tsq),"
     " m AS (SELECT t.id, ts_rank_cd(t.search, q.tsq) AS rank FROM title t, q"
     "       WHERE t.search @@ q.tsq AND " TITLE_FILTERS ")"
     " SELECT c.total, p.* FROM (SELECT count(*) AS total FROM m) c LEFT JOIN LATERAL"
     " (SELECT " TITLE_COLS " FROM m JOIN title t USING (id) ORDER BY m.rank DESC, t.id"
     "  LIMIT $4 OFFSET $5) p ON true",
     5},
    {"titles_similar",
     "WITH q AS (SELECT lower(pretnum_unaccent($1)) AS raw),"
     " m AS (SELECT t.id, word_similarity(q.raw, t.search_text) AS rank FROM title t, q"
     "       WHERE q.raw <% t.search_text AND " TITLE_FILTERS ")"
     " SELECT c.total, p.* FROM (SELECT count(*) AS total FROM m) c LEFT JOIN LATERAL"
     " (SELECT " TITLE_COLS " FROM m JOIN title t USING (id) ORDER BY m.rank DESC, t.id"
     "  LIMIT $4 OFFSET $5) p ON true",
     5},
    {"titles_all",
     "WITH m AS (SELECT t.id, t.created_at FROM title t WHERE $1::text IS NULL AND " TITLE_FILTERS ")"
     " SELECT c.total, p.* FROM (SELECT count(*) AS total FROM m) c LEFT JOIN LATERAL"
     " (SELECT " TITLE_COLS " FROM m JOIN title t USING (id) ORDER BY t.created_at DESC, t.id"
     "  LIMIT $4 OFFSET $5) p ON true",
     5},

    {NULL, NULL, 0},
};
