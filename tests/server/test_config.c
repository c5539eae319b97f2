/* test_config.c - settings from flags and BEAMGRID_* variables: defaults,
 * both flag forms, environment twins, flag-over-environment precedence,
 * and every kind of invalid value. Each Criterion test runs in its own
 * process, so setenv does not leak between tests. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/config.h"

typedef struct {
    char *out_buf, *err_buf;
    size_t out_len, err_len;
    FILE *out, *err;
} streams;

static bgs_config_result load(bgs_config *cfg, streams *s, int argc,
                              const char **argv)
{
    s->out = open_memstream(&s->out_buf, &s->out_len);
    s->err = open_memstream(&s->err_buf, &s->err_len);
    bgs_config_result r =
        bgs_config_load(cfg, argc, (char **)argv, s->out, s->err);
    fclose(s->out);
    fclose(s->err);
    return r;
}

static void done(streams *s)
{
    free(s->out_buf);
    free(s->err_buf);
}

#define ARGV(...) ((const char *[]){"beamgrid", __VA_ARGS__})
#define ARGC(...)                                                              \
    ((int)(sizeof((const char *[]){"beamgrid", __VA_ARGS__}) / sizeof(char *)))
#define LOAD(cfg, s, ...) load(cfg, s, ARGC(__VA_ARGS__), ARGV(__VA_ARGS__))

Test(config, defaults)
{
    bgs_config c;
    streams s;
    const char *argv[] = {"beamgrid"};
    cr_assert_eq(load(&c, &s, 1, argv), BGS_CONFIG_RUN);
    cr_assert_str_eq(c.bind, "127.0.0.1");
    cr_assert_eq(c.port, 8080);
    cr_assert_eq(c.threads, 0);
    cr_assert_eq(c.compute_threads, 0);
    cr_assert_eq(c.cache_mb, 256);
    cr_assert_eq(c.max_memory_mb, 4096);
    cr_assert_eq(c.max_sources, 20000000);
    cr_assert_eq(c.max_body_kb, 1024); /* a 10,000-entry spectrum table */
    cr_assert_eq(c.max_text_mb, 256);
    cr_assert_eq(c.max_header_kb, 64);
    cr_assert_eq(c.max_pending, 16);
    cr_assert_eq(c.drain_s, 10);
    cr_assert_eq(c.max_connections, 1024);
    cr_assert_eq(c.per_ip_connections, 256);
    cr_assert_eq(c.timeout_s, 30);
    cr_assert_str_eq(c.log_file, "");
    cr_assert_eq(c.log_level, BGS_LOG_INFO);
    done(&s);
}

Test(config, flags_both_forms)
{
    bgs_config c;
    streams s;
    cr_assert_eq(LOAD(&c, &s, "--port", "0", "--bind=::1", "--threads=3",
                      "--cache-mb", "0", "--log-level", "warn", "--log-file",
                      "/tmp/x.log", "--max-sources=5"),
                 BGS_CONFIG_RUN, "%s", s.err_buf);
    cr_assert_eq(c.port, 0);
    cr_assert_str_eq(c.bind, "::1");
    cr_assert_eq(c.threads, 3);
    cr_assert_eq(c.cache_mb, 0);
    cr_assert_eq(c.log_level, BGS_LOG_WARN);
    cr_assert_str_eq(c.log_file, "/tmp/x.log");
    cr_assert_eq(c.max_sources, 5);
    done(&s);
}

Test(config, environment_twins)
{
    bgs_config c;
    streams s;
    setenv("BEAMGRID_PORT", "9000", 1);
    setenv("BEAMGRID_COMPUTE_THREADS", "2", 1);
    setenv("BEAMGRID_DRAIN_S", "0", 1);
    setenv("BEAMGRID_LOG_LEVEL", "off", 1);
    const char *argv[] = {"beamgrid"};
    cr_assert_eq(load(&c, &s, 1, argv), BGS_CONFIG_RUN);
    cr_assert_eq(c.port, 9000);
    cr_assert_eq(c.compute_threads, 2);
    cr_assert_eq(c.drain_s, 0);
    cr_assert_eq(c.log_level, BGS_LOG_OFF);
    done(&s);
}

Test(config, flag_wins_over_environment)
{
    bgs_config c;
    streams s;
    setenv("BEAMGRID_PORT", "9000", 1);
    setenv("BEAMGRID_MAX_PENDING", "3", 1);
    cr_assert_eq(LOAD(&c, &s, "--port", "9001"), BGS_CONFIG_RUN);
    cr_assert_eq(c.port, 9001);
    cr_assert_eq(c.max_pending, 3, "the variable still applies");
    done(&s);
}

Test(config, invalid_values)
{
    static const char *const cases[][2] = {
        {"--port", "65536"},
        {"--port", "-1"},
        {"--port", "80x"},
        {"--port", ""},
        {"--port", "+80"},
        {"--port", " 80"},
        {"--threads", "99999"},
        {"--max-sources", "0"},
        {"--max-body-kb", "0"},
        {"--max-text-mb", "-1"},
        {"--max-text-mb", "1048577"},
        {"--max-pending", "0"},
        {"--bind", "localhost"},
        {"--bind", "1.2.3.4.5"},
        {"--log-level", "debug"},
        {"--cache-mb", "1e3"},
        {"--port", "99999999999999999999999"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bgs_config c;
        streams s;
        cr_assert_eq(LOAD(&c, &s, cases[i][0], cases[i][1]), BGS_CONFIG_ERROR,
                     "%s '%s' accepted", cases[i][0], cases[i][1]);
        cr_assert_not_null(strstr(s.err_buf, cases[i][0]), "%s", s.err_buf);
        done(&s);
    }
}

Test(config, invalid_environment_names_the_variable)
{
    bgs_config c;
    streams s;
    setenv("BEAMGRID_TIMEOUT_S", "soon", 1);
    const char *argv[] = {"beamgrid"};
    cr_assert_eq(load(&c, &s, 1, argv), BGS_CONFIG_ERROR);
    cr_assert_not_null(strstr(s.err_buf, "BEAMGRID_TIMEOUT_S"), "%s",
                       s.err_buf);
    done(&s);
}

Test(config, unknown_flag_and_missing_value)
{
    bgs_config c;
    streams s;
    cr_assert_eq(LOAD(&c, &s, "--portt", "1"), BGS_CONFIG_ERROR);
    cr_assert_not_null(strstr(s.err_buf, "--portt"));
    done(&s);
    cr_assert_eq(LOAD(&c, &s, "--port"), BGS_CONFIG_ERROR);
    cr_assert_not_null(strstr(s.err_buf, "needs a value"));
    done(&s);
    cr_assert_eq(LOAD(&c, &s, "stray"), BGS_CONFIG_ERROR);
    done(&s);
}

Test(config, help_and_version)
{
    bgs_config c;
    streams s;
    setenv("BEAMGRID_PORT", "bad", 1); /* help answers anyway */
    cr_assert_eq(LOAD(&c, &s, "--help"), BGS_CONFIG_EXIT);
    const char *rows[] = {"--bind",
                          "--port",
                          "--threads",
                          "--compute-threads",
                          "--cache-mb",
                          "--max-memory-mb",
                          "--max-sources",
                          "--max-body-kb",
                          "--max-pending",
                          "--drain-s",
                          "--max-connections",
                          "--per-ip-connections",
                          "--timeout-s",
                          "--log-file",
                          "--log-level",
                          "BEAMGRID_PER_IP_CONNECTIONS"};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        cr_assert_not_null(strstr(s.out_buf, rows[i]), "%s in --help", rows[i]);
    done(&s);
    cr_assert_eq(LOAD(&c, &s, "--version"), BGS_CONFIG_EXIT);
    cr_assert_not_null(strstr(s.out_buf, BGS_VERSION));
    done(&s);
}

Test(config, thread_counts)
{
    cr_assert_geq(bgs_config_threads(0), 1);
    cr_assert_eq(bgs_config_threads(7), 7);
    cr_assert_str_eq(bgs_log_level_name(BGS_LOG_ERROR), "error");
}

Test(config, access_and_deadline_settings)
{
    bgs_config c;
    streams s;
    cr_assert_eq(LOAD(&c, &s, "--port", "1"), BGS_CONFIG_RUN);
    cr_assert_eq(c.request_timeout_s, 30);
    cr_assert_str_eq(c.token_file, "");
    cr_assert_eq(c.metrics_auth, 0);
    cr_assert_str_eq(c.tls_cert, "");
    done(&s);
    /* A boolean flag alone means 1; with a value, it takes it. */
    cr_assert_eq(LOAD(&c, &s, "--token-file", "/t", "--metrics-auth",
                      "--request-timeout-s", "5"),
                 BGS_CONFIG_RUN);
    cr_assert_eq(c.metrics_auth, 1);
    cr_assert_eq(c.request_timeout_s, 5);
    cr_assert_str_eq(c.token_file, "/t");
    done(&s);
    cr_assert_eq(LOAD(&c, &s, "--token-file=/t", "--metrics-auth=false"),
                 BGS_CONFIG_RUN);
    cr_assert_eq(c.metrics_auth, 0);
    done(&s);
    cr_assert_eq(LOAD(&c, &s, "--token-file=/t", "--metrics-auth=yes"),
                 BGS_CONFIG_ERROR);
    done(&s);
    setenv("BEAMGRID_METRICS_AUTH", "1", 1);
    cr_assert_eq(LOAD(&c, &s, "--token-file", "/t"), BGS_CONFIG_RUN);
    cr_assert_eq(c.metrics_auth, 1);
    done(&s);
    /* Settings that go together. */
    cr_assert_eq(LOAD(&c, &s, "--port", "1"), BGS_CONFIG_ERROR,
                 "--metrics-auth needs a token");
    cr_assert_not_null(strstr(s.err_buf, "--token-file"));
    done(&s);
    unsetenv("BEAMGRID_METRICS_AUTH");
    cr_assert_eq(LOAD(&c, &s, "--tls-cert", "/c"), BGS_CONFIG_ERROR);
    cr_assert_not_null(strstr(s.err_buf, "--tls-key"));
    done(&s);
    cr_assert_eq(LOAD(&c, &s, "--tls-key", "/k"), BGS_CONFIG_ERROR);
    done(&s);
    cr_assert_eq(LOAD(&c, &s, "--tls-cert", "/c", "--tls-key", "/k"),
                 BGS_CONFIG_RUN);
    done(&s);
}
