-- Servers keep the sessions they looked up for a few seconds (server/server.c). Whatever
-- ends or changes a session (sign-out, expiry set by hand, a deleted account) tells every
-- server listening on channel pretnum_session, at commit, which session it was: the hex
-- of its id_hash. A server that is not listening asks the database every time.
CREATE FUNCTION session_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('pretnum_session', encode(OLD.id_hash, 'hex'));
    RETURN NULL;
END $$;
CREATE TRIGGER session_changed AFTER UPDATE OR DELETE ON session
    FOR EACH ROW EXECUTE FUNCTION session_changed();

