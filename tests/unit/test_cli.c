/*
 * bin/pretnum as people run it: migrate (twice, concurrently, after tampering), the
 * account verbs with their errors, and serve stopping gracefully on SIGTERM.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testdb.h"

static const char *bin(void)
{
    const char *b = getenv("PRETNUM_BIN");
    return b ? b : "bin/pretnum";
}

/* Runs `pretnum ARGS` against a database; stdout+stderr captured. */
static int run(const char *ci, const char *args, const char *stdin_text, char **out)
{
    char *cmd;
    if (asprintf(&cmd, "%s%s%s PRETNUM_DATABASE_URL='%s' %s %s 2>&1", stdin_text ? "printf '%s\\n' '" : "",
                 stdin_text ? stdin_text : "", stdin_text ? "' |" : "", ci, bin(), args) < 0)
        abort();
    int st = t_cmd(cmd, out);
    free(cmd);
    return st;
}

static char *empty_db(void)
{
    /* Not from the template: a database that has never been migrated. */
    static int seq;
    char name[64], sql[128], admin[512], *ci;
    snprintf(name, sizeof name, "e_%d_%d", (int)getpid(), ++seq);
    snprintf(admin, sizeof admin, "%s dbname=postgres", getenv("PRETNUM_TEST_PG"));
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    t_sql(admin, sql);
    if (asprintf(&ci, "%s dbname=%s", getenv("PRETNUM_TEST_PG"), name) < 0)
        abort();
    return ci;
}

static void test_migrate_twice(void **state)
{
    (void)state;
    char *ci = empty_db(), *out;
    assert_int_equal(run(ci, "migrate", NULL, &out), 0);
    assert_non_null(strstr(out, "applied 0001_accounts.sql"));
    free(out);
    assert_int_equal(run(ci, "migrate", NULL, &out), 0);
    assert_string_equal(out, "database is up to date\n");
    free(out);
    t_db_drop(ci);
}

static void test_migrate_concurrently(void **state)
{
    (void)state;
    char *ci = empty_db(), *cmd, *out;
    if (asprintf(&cmd, "export PRETNUM_DATABASE_URL='%s'; (%s migrate >/dev/null 2>&1; echo a=$?) & "
                       "(%s migrate >/dev/null 2>&1; echo b=$?) & wait", ci, bin(), bin()) < 0)
        abort();
    assert_int_equal(t_cmd(cmd, &out), 0);
    assert_non_null(strstr(out, "a=0"));
    assert_non_null(strstr(out, "b=0"));
    free(out);
    free(cmd);
    char *n = t_sql_value(ci, "SELECT count(*) FROM schema_migration");
    char *files = NULL;
    t_cmd("ls migrations/*.sql | wc -l | tr -d ' \\n'", &files);
    assert_string_equal(n, files);
    free(n);
    free(files);
    t_db_drop(ci);
}

static void test_migration_tampered(void **state)
{
    (void)state;
    char *ci = t_db_create(), *out;
    t_sql(ci, "UPDATE schema_migration SET checksum = 'tampered' WHERE name = '0001_accounts.sql'");
    assert_int_equal(run(ci, "migrate", NULL, &out), 1);
    assert_string_equal(out, "pretnum: migration \"0001_accounts.sql\" was changed after it was applied\n");
    free(out);
    assert_int_equal(run(ci, "serve", NULL, &out), 1);
    assert_non_null(strstr(out, "was changed"));
    free(out);
    t_db_drop(ci);
}

static void test_serve_refuses_unmigrated(void **state)
{
    (void)state;
    char *ci = empty_db(), *out;
    assert_int_equal(run(ci, "serve", NULL, &out), 1);
    assert_non_null(strstr(out, "run \"pretnum migrate\""));
    free(out);
    t_db_drop(ci);
}

static int is_uuid_line(const char *s)
{
    return strlen(s) == 37 && s[8] == '-' && s[36] == '\n';
}

static void test_account_verbs(void **state)
{
    (void)state;
    char *ci = t_db_create(), *out, args[256], cons[37];
    assert_int_equal(run(ci, "consortium add 'Réseau des médiathèques'", NULL, &out), 0);
    assert_true(is_uuid_line(out));
    snprintf(cons, sizeof cons, "%.36s", out);
    free(out);
    assert_int_equal(run(ci, "consortium add 'Réseau des médiathèques'", NULL, &out), 1);
    assert_non_null(strstr(out, "already exists"));
    assert_int_equal((int)(strchr(out, '\n') - out + 1), (int)strlen(out)); /* one line */
    free(out);

    snprintf(args, sizeof args, "library add --consortium %s --code ANGERS 'Bibliothèque d''Angers'", cons);
    assert_int_equal(run(ci, args, NULL, &out), 0);
    assert_true(is_uuid_line(out));
    free(out);
    assert_int_equal(run(ci, "library add --consortium 00000000-0000-0000-0000-000000000000 --code X Y", NULL, &out), 1);
    assert_non_null(strstr(out, "no consortium"));
    free(out);
    snprintf(args, sizeof args, "library add --consortium %s --code 'bad code!' Name", cons);
    assert_int_equal(run(ci, args, NULL, &out), 1);
    assert_non_null(strstr(out, "not acceptable"));
    free(out);

    assert_int_equal(run(ci, "patron add --library ANGERS --card 42 --name 'Léa'", "s3cret-pw", &out), 0);
    assert_true(is_uuid_line(out));
    free(out);
    char *hash = t_sql_value(ci, "SELECT password_hash FROM patron WHERE card = '42'");
    assert_non_null(strstr(hash, "$argon2id$"));
    assert_null(strstr(hash, "s3cret-pw"));
    free(hash);
    assert_int_equal(run(ci, "patron add --library ANGERS --card 42", "another", &out), 1);
    assert_non_null(strstr(out, "already exists"));
    free(out);
    assert_int_equal(run(ci, "patron add --library NOWHERE --card 43", "pw-pw-pw", &out), 1);
    assert_non_null(strstr(out, "no library"));
    free(out);
    assert_int_equal(t_cmd("PRETNUM_DATABASE_URL=x \"$PRETNUM_BIN\" patron add --library A --card 1 </dev/null 2>&1", &out), 1);
    assert_non_null(strstr(out, "stdin"));
    free(out);

    snprintf(args, sizeof args, "staff add --consortium %s --email lib@angers.example --role library_admin", cons);
    assert_int_equal(run(ci, args, "pw-staff", &out), 1);
    assert_non_null(strstr(out, "--library"));
    free(out);
    snprintf(args, sizeof args,
             "staff add --consortium %s --library ANGERS --email lib@angers.example --role library_admin", cons);
    assert_int_equal(run(ci, args, "pw-staff", &out), 0);
    assert_true(is_uuid_line(out));
    free(out);
    snprintf(args, sizeof args, "staff add --consortium %s --email boss@x.example --role king", cons);
    assert_int_equal(run(ci, args, "pw-staff", &out), 1);
    assert_non_null(strstr(out, "role"));
    free(out);
    /* Licences from the command line, for a title in the catalogue. */
    t_sql(ci, "INSERT INTO title (id, kind, title, file_sha256, file_path, file_size, media_type) VALUES"
              " ('00000000-0000-0000-0000-0000000000aa', 'ebook', 'T', repeat('a', 64), 'x', 1, 'application/epub+zip')");
    snprintf(args, sizeof args,
             "licence add --title 00000000-0000-0000-0000-0000000000aa --consortium %s --library ANGERS"
             " --concurrency 3 --checkouts 20 --expires 2030-01-01 --loan-days 21", cons);
    assert_int_equal(run(ci, args, NULL, &out), 0);
    assert_true(is_uuid_line(out));
    free(out);
    char *v = t_sql_value(ci, "SELECT concurrency || '/' || checkouts || '/' || loan_days || '/' || (expires IS NOT NULL)"
                              " FROM licence");
    assert_string_equal(v, "3/20/21/true");
    free(v);
    snprintf(args, sizeof args, "licence add --title 00000000-0000-0000-0000-0000000000aa --consortium %s", cons);
    assert_int_equal(run(ci, args, NULL, &out), 1);
    assert_non_null(strstr(out, "--concurrency"));
    free(out);
    snprintf(args, sizeof args,
             "licence add --title 00000000-0000-0000-0000-0000000000ab --consortium %s --concurrency 1", cons);
    assert_int_equal(run(ci, args, NULL, &out), 1);
    assert_non_null(strstr(out, "no such title"));
    free(out);
    assert_int_equal(run(ci, "frobnicate", NULL, &out), 1);
    assert_non_null(strstr(out, "unknown command"));
    free(out);
    t_db_drop(ci);
}

static void test_serve_sigterm_finishes_in_flight(void **state)
{
    (void)state;
    char *ci = t_db_create();
    int port, errfd;
    pid_t pid = t_serve_start(ci, &port, &errfd);
    assert_true(port > 0);
    struct t_resp r;
    assert_int_equal(t_http(&r, port, "GET", "/healthz", NULL, NULL), 200);
    t_resp_free(&r);

    /* A request whose body is still arriving when SIGTERM comes is answered. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    const char head[] = "POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        "Content-Length: 13\r\n\r\n{\"card\":";
    assert_true(send(fd, head, sizeof head - 1, 0) > 0);
    usleep(200000);
    kill(pid, SIGTERM);
    usleep(300000);
    assert_true(send(fd, " 1}  ", 5, MSG_NOSIGNAL) > 0);
    char resp[4096] = "";
    size_t n = 0;
    ssize_t k;
    while (n < sizeof resp - 1 && (k = recv(fd, resp + n, sizeof resp - 1 - n, 0)) > 0)
        n += (size_t)k;
    resp[n] = 0;
    close(fd);
    assert_non_null(strstr(resp, "HTTP/1.1 400"));
    assert_non_null(strstr(resp, "invalid_request"));

    int status = -1;
    for (int i = 0; i < 100 && waitpid(pid, &status, WNOHANG) == 0; i++)
        usleep(100000);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* And nobody is listening any more. */
    assert_int_equal(t_http(&r, port, "GET", "/healthz", NULL, NULL), 0);
    t_resp_free(&r);
    close(errfd);
    t_db_drop(ci);
}

int main(void)
{
    t_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrate_twice),
        cmocka_unit_test(test_migrate_concurrently),
        cmocka_unit_test(test_migration_tampered),
        cmocka_unit_test(test_serve_refuses_unmigrated),
        cmocka_unit_test(test_account_verbs),
        cmocka_unit_test(test_serve_sigterm_finishes_in_flight),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
