#include "internal.h"

/* The whole HTTP surface, in one table. A GET route answers HEAD too. */
const struct srv_route srv_routes[] = {
    {"GET", "/healthz", h_healthz, "healthz"},
    {"GET", "/metrics", h_metrics, "metrics"},
    {"POST", "/api/v1/session", h_session_create, "session_create"},
    {"DELETE", "/api/v1/session", h_session_delete, "session_delete"},
    {"GET", "/api/v1/me", h_me, "me"},
    {"GET", "/api/v1/me/notifications", h_notifications, "notifications"},
    {"POST", "/api/v1/me/notifications/read", h_notifications_read, "notifications_read"},
    {"GET", "/api/v1/admin/libraries", h_admin_libraries, "admin_libraries"},
    {"PATCH", "/api/v1/admin/libraries/{code}", h_admin_library_update, "admin_library_update"},
    {"GET", "/api/v1/admin/patrons", h_admin_patrons, "admin_patrons"},
    {"GET", "/api/v1/admin/patrons/{id}", h_admin_patron, "admin_patron"},
    {"GET", "/api/v1/titles", h_titles, "titles"},
    {"GET", "/api/v1/titles/{id}", h_title, "title"},
    {"GET", "/api/v1/titles/{id}/cover", h_title_cover, "title_cover"},
    {"POST", "/api/v1/admin/titles", h_admin_title_upload, "admin_title_upload", SRV_ROUTE_UPLOAD},
    {"POST", "/api/v1/loans", h_loan_create, "loan_create"},
    {"GET", "/api/v1/loans", h_loans, "loans"},
    {"GET", "/api/v1/loans/{id}", h_loan, "loan"},
    {"POST", "/api/v1/loans/{id}/return", h_loan_return, "loan_return"},
    {"POST", "/api/v1/loans/{id}/renew", h_loan_renew, "loan_renew"},
    {"POST", "/api/v1/loans/{id}/token", h_loan_token, "loan_token"},
    {"GET", "/.well-known/pretnum/keys", h_keys, "keys"},
    {"GET", "/content/{token}/{*path}", h_content, "content"},
    {"GET", "/stream/{token}/{*path}", h_stream, "stream"},
    {"POST", "/api/v1/holds", h_hold_create, "hold_create"},
    {"GET", "/api/v1/holds", h_holds, "holds"},
    {"DELETE", "/api/v1/holds/{id}", h_hold_delete, "hold_delete"},
    {"POST", "/api/v1/admin/licences", h_admin_licence_create, "admin_licence_create"},
    {"GET", "/api/v1/admin/licences", h_admin_licences, "admin_licences"},
    {"PATCH", "/api/v1/admin/licences/{id}", h_admin_licence_update, "admin_licence_update"},
    {"GET", "/api/v1/admin/reports/usage", h_admin_report_usage, "admin_report_usage"},
    {NULL, NULL, NULL, NULL, 0},
};

const int srv_route_count = sizeof srv_routes / sizeof *srv_routes - 1;
