/*
 * bin/pretnum: one binary, subcommands. Every failure exits non-zero with one line on
 * stderr; every success prints what API.md says (an id) on stdout.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "pretnum/catalogue.h"
#include "pretnum/db.h"
#include "pretnum/epub.h"
#include "pretnum/keys.h"
#include "pretnum/media.h"
#include "pretnum/lending.h"
#include "pretnum/loans.h"
#include "pretnum/publication.h"
#include "pretnum/server.h"

static const char usage[] =
    "usage: pretnum COMMAND [ARGS]\n"
    "  serve                                   serve HTTP (PRETNUM_PORT, PRETNUM_DATA_DIR)\n"
    "  migrate                                 apply pending migrations\n"
    "  consortium add NAME                     prints the id\n"
    "  library add --consortium ID --code CODE NAME\n"
    "  patron add --library CODE --card CARD [--name N] [--email E]   (password on stdin)\n"
    "  import FILE [--kind ebook|audio|video] [--title T] [--author A] [--language L]\n"
    "                                          ingests a file, prints the title's id\n"
    "  licence add --title ID --consortium ID [--library CODE] --concurrency N [--checkouts M]\n"
    "              [--expires DATE] [--loan-days D]   prints the id\n"
    "  staff add --consortium ID [--library CODE] --email E --role consortium_admin|library_admin\n"
    "                                          (password on stdin)\n"
    "  manifest FILE.epub [BASE]               prints the book's Web Publication Manifest, hrefs\n"
    "                                          prefixed with BASE (default none)\n"
    "  keys rotate                             new signing key (the old ones keep verifying); prints its kid\n"
    "The database is PRETNUM_DATABASE_URL (a libpq conninfo or URI), by default the\n"
    "embedded cluster in ./var/pg.\n";

static int die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("pretnum: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

static char *conninfo(void)
{
    const char *url = getenv("PRETNUM_DATABASE_URL");
    if (url && *url)
        return strdup(url);
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd))
        return NULL;
    char *s;
    if (asprintf(&s, "host=%s/var/pg/sock user=pretnum dbname=pretnum", cwd) < 0)
        return NULL;
    return s;
}

static struct db *connect_db(void)
{
    char *ci = conninfo();
    char err[512];
    struct db *db = ci ? db_open(ci, err, sizeof err) : NULL;
    if (!db)
        die("%s", ci ? err : "out of memory");
    free(ci);
    return db;
}

static int lend_exit(enum lend_status st, const struct lend_err *err)
{
    if (st == LEND_OK)
        return 0;
    return die("%s", err->message[0] ? err->message : "failed");
}

/* Reads the password from stdin (never argv: ps would show it). */
static char *read_password(void)
{
    static char buf[1100];
    struct termios old, quiet;
    bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        fputs("password: ", stderr);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    char *p = fgets(buf, sizeof buf, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    if (!p)
        return NULL;
    buf[strcspn(buf, "\r\n")] = 0;
    return buf;
}

static void print_line(const char *line)
{
    puts(line);
}

static int cmd_migrate(void)
{
    char *ci = conninfo();
    char err[512];
    struct db *db = ci ? db_open_unprepared(ci, err, sizeof err) : NULL;
    free(ci);
    if (!db)
        return die("%s", err);
    int n = db_migrate(db, true, print_line, err, sizeof err);
    db_close(db);
    if (n < 0)
        return die("%s", err);
    if (n == 0)
        puts("database is up to date");
    return 0;
}

/* A whole-number setting from the environment; a malformed one stops the program. */
static int env_int(const char *name, int def, int lo, int hi)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return def;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (*end || errno || n < lo || n > hi) {
        fprintf(stderr, "pretnum: %s must be a whole number from %d to %d, not \"%s\"\n", name, lo, hi, v);
        exit(1);
    }
    return (int)n;
}

static int cmd_serve(void)
{
    char *ci = conninfo();
    if (!ci)
        return die("out of memory");
    const char *data = getenv("PRETNUM_DATA_DIR");
    struct srv_config cfg = {
        .bind = getenv("PRETNUM_BIND") ? getenv("PRETNUM_BIND") : "127.0.0.1",
        .port = env_int("PRETNUM_PORT", 8080, 0, 65535),
        .conninfo = ci,
        .data_dir = data && *data ? data : "var/data",
        .max_upload = (unsigned long long)env_int("PRETNUM_MAX_UPLOAD_MB", 2048, 1, 1 << 20) << 20,
        .smtp_url = getenv("PRETNUM_SMTP_URL") && *getenv("PRETNUM_SMTP_URL") ? getenv("PRETNUM_SMTP_URL") : NULL,
        .mail_from = getenv("PRETNUM_MAIL_FROM"),
        .public_url = getenv("PRETNUM_PUBLIC_URL"),
        .web_dir = getenv("PRETNUM_WEB_DIR") && *getenv("PRETNUM_WEB_DIR") ? getenv("PRETNUM_WEB_DIR") : NULL,
        .secure_cookies = env_int("PRETNUM_SECURE_COOKIES", 0, 0, 1) != 0,
        .threads = env_int("PRETNUM_THREADS", 0, 0, 256),
        .db_pool_size = env_int("PRETNUM_DB_POOL", 0, 0, 256),
    };
    /* Signals are taken by sigwait() below, not by the worker threads. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct srv *s;
    char err[512];
    if (srv_start(&cfg, &s, err, sizeof err) != 0) {
        free(ci);
        return die("%s", err);
    }
    fprintf(stderr, "level=info msg=\"serving on http://%s:%d\"\n", cfg.bind, srv_port(s));
    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "level=info msg=\"%s received: finishing requests in flight\"\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM");
    srv_stop(s, 10000);
    free(ci);
    fprintf(stderr, "level=info msg=\"stopped\"\n");
    return 0;
}

struct opts {
    const char *consortium, *library, *code, *card, *name, *email, *role;
    const char *kind, *title, *author, *language;
    const char *concurrency, *checkouts, *expires, *loan_days;
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option longopts[] = {
        {"consortium", required_argument, NULL, 'c'}, {"library", required_argument, NULL, 'l'},
        {"code", required_argument, NULL, 'C'},       {"card", required_argument, NULL, 'k'},
        {"name", required_argument, NULL, 'n'},       {"email", required_argument, NULL, 'e'},
        {"role", required_argument, NULL, 'r'},       {"kind", required_argument, NULL, 'K'},
        {"title", required_argument, NULL, 't'},      {"author", required_argument, NULL, 'a'},
        {"language", required_argument, NULL, 'L'},   {"concurrency", required_argument, NULL, 'N'},
        {"checkouts", required_argument, NULL, 'M'},  {"expires", required_argument, NULL, 'x'},
        {"loan-days", required_argument, NULL, 'D'},  {NULL, 0, NULL, 0},
    };
    int ch;
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c': o->consortium = optarg; break;
        case 'l': o->library = optarg; break;
        case 'C': o->code = optarg; break;
        case 'k': o->card = optarg; break;
        case 'n': o->name = optarg; break;
        case 'e': o->email = optarg; break;
        case 'r': o->role = optarg; break;
        case 'K': o->kind = optarg; break;
        case 't': o->title = optarg; break;
        case 'a': o->author = optarg; break;
        case 'L': o->language = optarg; break;
        case 'N': o->concurrency = optarg; break;
        case 'M': o->checkouts = optarg; break;
        case 'x': o->expires = optarg; break;
        case 'D': o->loan_days = optarg; break;
        default:
            return die("unknown or incomplete option \"%s\"", argv[optind - 1]);
        }
    }
    return 0;
}

static const char *data_dir(void)
{
    const char *d = getenv("PRETNUM_DATA_DIR");
    return d && *d ? d : "var/data";
}

static int cmd_import(int argc, char **argv)
{
    struct opts o = {0};
    if (parse_opts(argc, argv, &o) != 0)
        return 1;
    if (optind >= argc)
        return die("import needs a FILE");
    const char *file = argv[optind];
    struct db *db = connect_db();
    if (!db)
        return 1;
    struct lend_import_opts io = {.kind = o.kind, .title = o.title, .author = o.author, .language = o.language};
    char id[37];
    bool existed = false;
    struct lend_err err = {0};
    enum lend_status st = lend_import(db, data_dir(), file, &io, id, &existed, &err);
    db_close(db);
    if (st != LEND_OK)
        return die("could not import \"%s\": %s", file, err.message);
    if (existed)
        fprintf(stderr, "pretnum: \"%s\" is already in the catalogue\n", file);
    puts(id);
    return 0;
}

/* A positive whole number from the command line; 0 when absent, -1 when malformed. */
static int positive(const char *s)
{
    if (!s)
        return 0;
    char *end;
    long v = strtol(s, &end, 10);
    return *s && !*end && v > 0 && v <= 100000000 ? (int)v : -1;
}

static int cmd_licence_add(const struct opts *o)
{
    if (!o->title || !o->consortium || !o->concurrency)
        return die("licence add needs --title ID --consortium ID --concurrency N");
    struct lend_licence_terms t = {
        .title_id = o->title,
        .library_code = o->library,
        .concurrency = positive(o->concurrency),
        .checkouts = positive(o->checkouts),
        .expires = o->expires,
        .loan_days = positive(o->loan_days),
    };
    if (t.concurrency <= 0 || t.checkouts < 0 || t.loan_days < 0)
        return die("--concurrency, --checkouts and --loan-days take positive whole numbers");
    if (!lend_is_uuid(o->consortium))
        return die("no consortium \"%s\"", o->consortium);
    struct lend_principal who = {.role = LEND_CONSORTIUM_ADMIN};
    snprintf(who.consortium_id, sizeof who.consortium_id, "%s", o->consortium);
    struct db *db = connect_db();
    if (!db)
        return 1;
    json_t *out = NULL;
    struct lend_err err = {0};
    enum lend_status st = lend_licence_add(db, &who, &t, &out, &err);
    db_close(db);
    if (st != LEND_OK)
        return lend_exit(st, &err);
    puts(json_string_value(json_object_get(out, "id")));
    json_decref(out);
    return 0;
}

static int cmd_add(const char *what, int argc, char **argv)
{
    struct opts o = {0};
    if (parse_opts(argc, argv, &o) != 0)
        return 1;
    const char *positional = optind < argc ? argv[optind] : NULL;
    char id[37];
    struct lend_err err = {0};
    enum lend_status st;

    if (!strcmp(what, "licence"))
        return cmd_licence_add(&o);
    if (!strcmp(what, "consortium")) {
        if (!positional)
            return die("consortium add needs a NAME");
        struct db *db = connect_db();
        if (!db)
            return 1;
        st = lend_consortium_add(db, positional, id, &err);
        db_close(db);
    } else if (!strcmp(what, "library")) {
        if (!o.consortium || !o.code || !positional)
            return die("library add needs --consortium ID --code CODE NAME");
        struct db *db = connect_db();
        if (!db)
            return 1;
        st = lend_library_add(db, o.consortium, o.code, positional, id, &err);
        db_close(db);
    } else if (!strcmp(what, "patron")) {
        if (!o.library || !o.card)
            return die("patron add needs --library CODE --card CARD");
        char *pw = read_password();
        if (!pw)
            return die("patron add reads the password from stdin, and stdin was empty");
        struct db *db = connect_db();
        if (!db)
            return 1;
        st = lend_patron_add(db, o.library, o.card, o.name, o.email, pw, id, &err);
        sodium_memzero(pw, strlen(pw));
        db_close(db);
    } else if (!strcmp(what, "staff")) {
        if (!o.consortium || !o.email || !o.role)
            return die("staff add needs --consortium ID --email E --role ROLE");
        char *pw = read_password();
        if (!pw)
            return die("staff add reads the password from stdin, and stdin was empty");
        struct db *db = connect_db();
        if (!db)
            return 1;
        st = lend_staff_add(db, o.consortium, o.library, o.email, o.role, pw, id, &err);
        sodium_memzero(pw, strlen(pw));
        db_close(db);
    } else {
        return die("unknown command \"%s\"", what);
    }
    if (st != LEND_OK)
        return lend_exit(st, &err);
    puts(id);
    return 0;
}

/* The manifest a reader would get for a file, without a database: for checking a book
 * before import, and for validating manifests against the schema in the tests. */
static int cmd_manifest(int argc, char **argv)
{
    if (argc < 2 || argc > 3)
        return die("usage: pretnum manifest FILE.epub [BASE]");
    struct epub *e;
    struct epub_error ee;
    if (epub_open_file(argv[1], NULL, &e, &ee) != 0)
        return die("%s (%s)", ee.message, ee.code);
    const char *base = argc == 3 ? argv[2] : "";
    char *self;
    if (asprintf(&self, "%smanifest.json", base) < 0) {
        epub_close(e);
        return die("out of memory");
    }
    json_t *w = lend_webpub_manifest(epub_meta(e), base, self);
    free(self);
    epub_close(e);
    if (!w)
        return die("out of memory");
    int rc = json_dumpf(w, stdout, JSON_INDENT(2)) == 0 && putchar('\n') != EOF ? 0 : die("could not write");
    json_decref(w);
    return rc;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return die("could not initialise libsodium");
    media_init();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "serve") != 0)
        db_quiet(true);
    if (!strcmp(cmd, "serve"))
        return cmd_serve();
    if (!strcmp(cmd, "migrate"))
        return cmd_migrate();
    if (!strcmp(cmd, "import"))
        return cmd_import(argc - 1, argv + 1);
    if (!strcmp(cmd, "manifest"))
        return cmd_manifest(argc - 1, argv + 1);
    if (!strcmp(cmd, "keys")) {
        if (argc < 3 || strcmp(argv[2], "rotate") != 0)
            return die("usage: pretnum keys rotate");
        char kid[64], err[512];
        if (lend_keys_rotate(data_dir(), kid, err, sizeof err) != 0)
            return die("%s", err);
        puts(kid);
        return 0;
    }
    if (!strcmp(cmd, "consortium") || !strcmp(cmd, "library") || !strcmp(cmd, "patron") ||
        !strcmp(cmd, "staff") || !strcmp(cmd, "licence")) {
        if (argc < 3 || strcmp(argv[2], "add") != 0)
            return die("usage: pretnum %s add ...", cmd);
        return cmd_add(cmd, argc - 2, argv + 2);
    }
    return die("unknown command \"%s\" (see pretnum --help)", cmd);
}
