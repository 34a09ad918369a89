-- The catalogue: e-books, music and films, each a single stored file, with the
-- metadata its publisher wrote, searchable the way people type (with or without
-- accents, French or English stems, typos).

CREATE EXTENSION IF NOT EXISTS unaccent;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- unaccent() is only STABLE (it reads its dictionary by name); pinned to the dictionary
-- it is immutable, so indexes and generated columns may use it.
CREATE FUNCTION pretnum_unaccent(t text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN public.unaccent('public.unaccent'::regdictionary, t);

-- array_to_string() is STABLE for any array type; for text[] it is immutable.
CREATE FUNCTION pretnum_join(a text[]) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN array_to_string(a, ' ');

CREATE TEXT SEARCH CONFIGURATION pretnum_fr (COPY = pg_catalog.french);
ALTER TEXT SEARCH CONFIGURATION pretnum_fr
    ALTER MAPPING FOR hword, hword_part, word WITH unaccent, french_stem;
CREATE TEXT SEARCH CONFIGURATION pretnum_en (COPY = pg_catalog.english);
ALTER TEXT SEARCH CONFIGURATION pretnum_en
    ALTER MAPPING FOR hword, hword_part, word WITH unaccent, english_stem;
-- Names are not stemmed: "Hugo" must not become "hug".
CREATE TEXT SEARCH CONFIGURATION pretnum_simple (COPY = pg_catalog.simple);
ALTER TEXT SEARCH CONFIGURATION pretnum_simple
    ALTER MAPPING FOR hword, hword_part, word WITH unaccent, simple;

CREATE TABLE title (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind          text NOT NULL CHECK (kind IN ('ebook', 'audio', 'video')),
    title         text NOT NULL CHECK (length(title) BETWEEN 1 AND 1000),
    -- [{"name": "Victor Hugo", "role": "aut", "file_as": "Hugo, Victor"}], in credit order
    creators      jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(creators) = 'array'),
    creator_names text NOT NULL DEFAULT '',
    language      text CHECK (length(language) <= 35),
    publisher     text,
    published     text,
    description   text,
    subjects      text[] NOT NULL DEFAULT '{}',
    isbn          text,
    identifiers   jsonb NOT NULL DEFAULT '[]',
    duration_s    double precision CHECK (duration_s > 0),
    -- {"summary": ..., "modes": [...], "sufficient": [...], "features": [...], "hazards": [...]}
    accessibility jsonb NOT NULL DEFAULT '{}',
    -- what delivery needs later: EPUB version, layout, toc, streams and codecs
    details       jsonb NOT NULL DEFAULT '{}',
    file_sha256   text NOT NULL UNIQUE CHECK (file_sha256 ~ '^[0-9a-f]{64}$'),
    file_path     text NOT NULL,
    file_size     bigint NOT NULL CHECK (file_size > 0),
    media_type    text NOT NULL,
    cover_path    text,
    cover_type    text CHECK (cover_type IN ('image/jpeg', 'image/png', 'image/gif', 'image/svg+xml', 'image/webp')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'ebook') = (duration_s IS NULL)),
    -- Weights: title A, creators B, subjects C, description D. Stemmed in the title's
    -- language and also unstemmed, so a query in either language or a name matches.
    search        tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector(CASE WHEN language ILIKE 'fr%' THEN 'pretnum_fr'::regconfig
                                   ELSE 'pretnum_en'::regconfig END, title), 'A') ||
        setweight(to_tsvector('pretnum_simple'::regconfig, title), 'A') ||
        setweight(to_tsvector('pretnum_simple'::regconfig, creator_names), 'B') ||
        setweight(to_tsvector(CASE WHEN language ILIKE 'fr%' THEN 'pretnum_fr'::regconfig
                                   ELSE 'pretnum_en'::regconfig END,
                              pretnum_join(subjects)), 'C') ||
        setweight(to_tsvector(CASE WHEN language ILIKE 'fr%' THEN 'pretnum_fr'::regconfig
                                   ELSE 'pretnum_en'::regconfig END,
                              coalesce(left(description, 20000), '')), 'D')
    ) STORED,
    -- For typos and prefixes: trigrams of the unaccented title and creators.
    search_text   text GENERATED ALWAYS AS (
        lower(pretnum_unaccent(title || ' ' || creator_names))
    ) STORED
);

CREATE INDEX title_search_idx ON title USING gin (search);
COMMENT ON INDEX title_search_idx IS 'titles_search (full text)';
CREATE INDEX title_search_text_idx ON title USING gin (search_text gin_trgm_ops);
COMMENT ON INDEX title_search_text_idx IS 'titles_search (typos and prefixes: %> and ILIKE)';
CREATE INDEX title_created_idx ON title (created_at DESC, id);
COMMENT ON INDEX title_created_idx IS 'titles_search without a query (newest first)';
CREATE INDEX title_kind_lang_idx ON title (kind, language);
COMMENT ON INDEX title_kind_lang_idx IS 'titles_search filters';
