#include "internal.h"

#include <stdlib.h>

/* 200 when the database answers now, 503 otherwise: what a load balancer polls. */
void h_healthz(struct srv_req *r)
{
    struct db *db = db_pool_get(r->srv->pool, 1000);
    bool up = db && db_ping(db);
    if (db)
        db_pool_put(r->srv->pool, db);
    srv_reply_json(r, up ? 200 : 503,
                   json_pack("{s:s, s:s}", "status", up ? "ok" : "unavailable", "database", up ? "up" : "down"));
}

void h_metrics(struct srv_req *r)
{
    size_t len;
    char *text = srv_metrics_text(r->srv, &len);
    if (!text) {
        srv_reply_error(r, 500, "internal_error", "could not write the metrics");
        return;
    }
    srv_reply_buffer(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}
