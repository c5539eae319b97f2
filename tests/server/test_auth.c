/* test_auth.c - the token check and the loading of token and TLS files:
 * which routes need the token, the Bearer parsing, the constant-time
 * comparison's answers, and every way a file can be unusable. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/auth.h"

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static int load_token(bgs_auth *a, const char *text)
{
    bgs_config cfg;
    bgs_config_defaults(&cfg);
    snprintf(cfg.token_file, sizeof cfg.token_file, "/tmp/bgt-auth-%d",
             (int)getpid());
    write_file(cfg.token_file, text);
    FILE *err = fopen("/dev/null", "w");
    int rc = bgs_auth_load(a, &cfg, err);
    fclose(err);
    unlink(cfg.token_file);
    return rc;
}

static bool allows(const bgs_auth *a, const char *path, const char *hdr)
{
    bgapi_route r;
    bgapi_route_match("GET", path, &r);
    return bgs_auth_allows(a, &r, path, hdr);
}

Test(auth, token_file_forms)
{
    bgs_auth a;
    cr_assert_eq(load_token(&a, "abc\r\n\n"), 0);
    cr_assert_eq(a.token_len, 3);
    cr_assert(bgs_auth_token_equals(&a, "abc", 3));
    cr_assert_not(bgs_auth_token_equals(&a, "abd", 3));
    cr_assert_not(bgs_auth_token_equals(&a, "ab", 2));
    cr_assert_not(bgs_auth_token_equals(&a, "abcd", 4));
    cr_assert_not(bgs_auth_token_equals(&a, "", 0));
    bgs_auth_free(&a);
    cr_assert_eq(load_token(&a, ""), -1, "empty");
    cr_assert_eq(load_token(&a, "\n"), -1, "only a newline");
    cr_assert_eq(load_token(&a, "two words\n"), -1, "a space inside");
    cr_assert_eq(load_token(&a, "a\nb\n"), -1, "two lines");
    cr_assert_eq(load_token(&a, "t\xc3\xa9st\n"), -1, "not ASCII");
    cr_assert_null(a.token);
}

Test(auth, routes_and_headers)
{
    bgs_auth a;
    cr_assert_eq(load_token(&a, "T0k3n\n"), 0);
    cr_assert(allows(&a, "/healthz", NULL));
    cr_assert(allows(&a, "/readyz", NULL));
    cr_assert(allows(&a, "/openapi.yaml", NULL));
    cr_assert(allows(&a, "/metrics", NULL));
    cr_assert(allows(&a, "/elsewhere", NULL));
    cr_assert(allows(&a, "/v1x", NULL));
    cr_assert_not(allows(&a, "/v1", NULL));
    cr_assert_not(allows(&a, "/v1/", NULL));
    cr_assert_not(allows(&a, "/v1/sources", NULL));
    cr_assert_not(allows(&a, "/v1/sources", "Bearer"));
    cr_assert_not(allows(&a, "/v1/sources", "Bearer "));
    cr_assert_not(allows(&a, "/v1/sources", "Basic T0k3n"));
    cr_assert_not(allows(&a, "/v1/sources", "BearerT0k3n"));
    cr_assert_not(allows(&a, "/v1/sources", "Bearer T0k3n2"));
    cr_assert_not(allows(&a, "/v1/sources", "Bearer T0k3"));
    cr_assert(allows(&a, "/v1/sources", "Bearer T0k3n"));
    cr_assert(allows(&a, "/v1/sources", "bearer   T0k3n  "));
    a.metrics_auth = true;
    cr_assert_not(allows(&a, "/metrics", NULL));
    cr_assert(allows(&a, "/metrics", "Bearer T0k3n"));
    bgs_auth_free(&a);
    bgs_auth open;
    memset(&open, 0, sizeof open);
    cr_assert(allows(&open, "/v1/sources", NULL), "no token: open");
}

Test(auth, tls_files)
{
    bgs_config cfg;
    bgs_auth a;
    FILE *err = fopen("/dev/null", "w");
    bgs_config_defaults(&cfg);
    snprintf(cfg.tls_cert, sizeof cfg.tls_cert, "/tmp/bgt-cert-%d",
             (int)getpid());
    snprintf(cfg.tls_key, sizeof cfg.tls_key, "/tmp/bgt-key-%d", (int)getpid());
    cr_assert_eq(bgs_auth_load(&a, &cfg, err), -1, "missing");
    write_file(cfg.tls_cert, "-----BEGIN CERTIFICATE-----\n");
    write_file(cfg.tls_key, "");
    cr_assert_eq(bgs_auth_load(&a, &cfg, err), -1, "empty key");
    write_file(cfg.tls_key, "-----BEGIN PRIVATE KEY-----\n");
    cr_assert_eq(bgs_auth_load(&a, &cfg, err), 0);
    cr_assert_not_null(strstr(a.tls_cert, "CERTIFICATE"));
    cr_assert_not_null(strstr(a.tls_key, "PRIVATE KEY"));
    bgs_auth_free(&a);
    cr_assert_null(a.tls_key);
    unlink(cfg.tls_cert);
    unlink(cfg.tls_key);
    fclose(err);
}
