/* Tests of config.json's "http" section (lib/store/config_http.c): defaults, listen forms,
 * null turning HTTP off, loopback detection, the read token, CORS origins and limits, and a
 * non-loopback address refused without a token. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ik_test.h"
#include "ipfskit/config.h"

static int load_http(const char *json, struct ik_config *c, struct ik_error *err)
{
    char dir[512], path[600];
    FILE *f;
    snprintf(dir, sizeof dir, "%s/config-http", ik_test_tmpdir());
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/config.json", dir);
    if ((f = fopen(path, "w")) == NULL)
        return -1;
    fputs(json, f);
    fclose(f);
    return ik_config_load(dir, c, err);
}

TEST(test_config_http_defaults_to_loopback_8774)
{
    struct ik_config c;
    struct ik_error err;
    ASSERT_OK(load_http("{}", &c, &err), &err);
    ASSERT_TRUE(c.http.enabled);
    ASSERT_STR_EQ(c.http.host, "127.0.0.1");
    ASSERT_EQ(c.http.port, 8774);
    ASSERT_TRUE(c.http.loopback);
    ASSERT_EQ(c.http.read_token[0], 0);
    ASSERT_EQ(c.http.n_cors, 0);
    ASSERT_EQ(c.http.max_connections, 64);
    ik_config_reset(&c);
}

TEST(test_config_http_listen_forms)
{
    struct ik_config c;
    struct ik_error err;
    ASSERT_OK(load_http("{\"http\":{\"listen\":null}}", &c, &err), &err);
    ASSERT_TRUE(!c.http.enabled);
    ik_config_reset(&c);
    ASSERT_OK(load_http("{\"http\":{\"listen\":\"[::1]:0\",\"idle_timeout\":3}}", &c, &err), &err);
    ASSERT_STR_EQ(c.http.host, "::1");
    ASSERT_EQ(c.http.port, 0);
    ASSERT_TRUE(c.http.loopback);
    ASSERT_EQ(c.http.timeout_s, 3);
    ik_config_reset(&c);
    ASSERT_OK(load_http("{\"http\":{\"listen\":\"localhost:9000\",\"cors_origins\":"
                        "[\"http://a.test\"]}}",
                        &c, &err),
              &err);
    ASSERT_TRUE(c.http.loopback);
    ASSERT_EQ(c.http.n_cors, 1);
    ASSERT_STR_EQ(c.http.cors[0], "http://a.test");
    ik_config_reset(&c);
    ASSERT_OK(load_http("{\"http\":{\"listen\":\"10.1.2.3:80\",\"read_token\":"
                        "\"0123456789abcdefXYZ\"}}",
                        &c, &err),
              &err);
    ASSERT_TRUE(!c.http.loopback);
    ASSERT_STR_EQ(c.http.read_token, "0123456789abcdefXYZ");
    ik_config_reset(&c);
}

TEST(test_config_http_bad_values_are_named)
{
    static const struct {
        const char *json, *why;
    } v[] = {
        {"{\"http\":[]}", "http: expected an object"},
        {"{\"http\":{\"listen\":5}}", "http.listen: expected"},
        {"{\"http\":{\"listen\":\"8774\"}}", "http.listen: expected \"host:port\""},
        {"{\"http\":{\"listen\":\"127.0.0.1:65536\"}}", "http.listen: expected"},
        {"{\"http\":{\"listen\":\"127.0.0.1:\"}}", "http.listen: expected"},
        {"{\"http\":{\"listen\":\"example.com:80\"}}", "must be an IP address"},
        {"{\"http\":{\"listen\":\"[::1:80\"}}", "http.listen: expected"},
        {"{\"http\":{\"listen\":\"0.0.0.0:8774\"}}", "not a loopback address; set http.read_token"},
        {"{\"http\":{\"listen\":\"[::]:8774\"}}", "not a loopback address"},
        {"{\"http\":{\"read_token\":\"short\"}}", "http.read_token"},
        {"{\"http\":{\"read_token\":\"0123456789abcdef\\nX\"}}", "http.read_token"},
        {"{\"http\":{\"cors_origins\":[\"\"]}}", "http.cors_origins[0]"},
        {"{\"http\":{\"cors_origins\":[1,2,3,4,5,6,7,8,9]}}", "at most 8"},
        {"{\"http\":{\"max_connections\":0}}", "http.max_connections"},
        {"{\"http\":{\"idle_timeout\":\"1\"}}", "http.idle_timeout"},
        {"{\"http\":{\"max_header_bytes\":10}}", "http.max_header_bytes"},
    };
    struct ik_config c;
    struct ik_error err;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        err.message[0] = 0;
        int rc = load_http(v[i].json, &c, &err);
        if (rc != EINVAL || strstr(err.message, v[i].why) == NULL)
            ik_test_fail(__FILE__, __LINE__, "%s: returned %d \"%s\", wanted \"%s\"", v[i].json, rc,
                         err.message, v[i].why);
        ASSERT_TRUE(c.http.enabled && c.http.port == 8774); /* defaults on error */
    }
}
