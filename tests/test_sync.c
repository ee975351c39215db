/* Tests of the sync layer's pure parts: config.json "sources" (defaults, every bad value named
 * by its key), kubo's API address from a repo's `api` file (multiaddrs and URLs), and which
 * sources a data directory syncs when the key is absent. Syncs against real servers are in
 * python/tests/test_sync_*.py. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ik_test.h"
#include "ipfskit/sync.h"

static const char *dir_with(const char *name, const char *file, const char *text)
{
    static char dir[512];
    char path[600];
    FILE *f;
    snprintf(dir, sizeof dir, "%s/sync-%s", ik_test_tmpdir(), name);
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    remove(path);
    if (text != NULL && (f = fopen(path, "w")) != NULL) {
        fputs(text, f);
        fclose(f);
    }
    return dir;
}

TEST(test_sync_sources_parse_with_defaults)
{
    struct ik_config c;
    struct ik_error err = {{0}};
    int rc = ik_config_load(
        dir_with("ok", "config.json",
                 "{\"sources\":[{\"name\":\"kubo\",\"kind\":\"kubo\",\"api\":"
                 "\"http://127.0.0.1:5001/\",\"sizes\":true},{\"name\":\"cluster\",\"kind\":"
                 "\"ipfs_cluster\",\"api\":\"http://127.0.0.1:9094\",\"interval_s\":30,"
                 "\"auth\":\"Basic dTpw\",\"stall_ms\":5000}]}"),
        &c, &err);
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(c.n_sources, 2);
    ASSERT_TRUE(c.sources_given);
    ASSERT_STR_EQ(c.sources[0].api, "http://127.0.0.1:5001"); /* trailing '/' dropped */
    ASSERT_EQ(c.sources[0].kind, IK_SOURCE_KUBO);
    ASSERT_TRUE(c.sources[0].sizes);
    ASSERT_EQ(c.sources[0].interval_s, 10);
    ASSERT_EQ(c.sources[0].timeout_ms, 10000);
    ASSERT_EQ(c.sources[0].stall_ms, 120000);
    ASSERT_EQ(c.sources[1].stall_ms, 5000);
    ASSERT_EQ(c.sources[1].kind, IK_SOURCE_CLUSTER);
    ASSERT_EQ(c.sources[1].interval_s, 30);
    ASSERT_STR_EQ(c.sources[1].auth, "Basic dTpw");
    ik_config_reset(&c);
}

static void expect_bad(const char *json, const char *key)
{
    struct ik_config c;
    struct ik_error err = {{0}};
    int rc = ik_config_load(dir_with("bad", "config.json", json), &c, &err);
    ASSERT_EQ(rc, EINVAL);
    ASSERT_TRUE(strstr(err.message, key) != NULL);
    ASSERT_EQ(c.n_sources, 0); /* defaults on error */
}

TEST(test_sync_sources_bad_values_name_their_key)
{
    expect_bad("{\"sources\":{}}", "sources: expected an array");
    expect_bad("{\"sources\":[1]}", "sources[0]: expected an object");
    expect_bad("{\"sources\":[{\"kind\":\"kubo\",\"api\":\"http://x:1\"}]}",
               "sources[0].name: missing");
    expect_bad("{\"sources\":[{\"name\":\"k\",\"kind\":\"ipfs\",\"api\":\"http://x:1\"}]}",
               "sources[0].kind: expected \"kubo\" or \"ipfs_cluster\"");
    expect_bad("{\"sources\":[{\"name\":\"k\",\"kind\":\"kubo\",\"api\":\"ftp://x\"}]}",
               "sources[0].api: expected an http:// or https:// URL");
    expect_bad("{\"sources\":[{\"name\":\"k\",\"kind\":\"kubo\",\"api\":\"http://x :1\"}]}",
               "sources[0].api: a URL cannot hold spaces");
    expect_bad("{\"sources\":[{\"name\":\"k\",\"kind\":\"kubo\",\"api\":\"http://x:1\","
               "\"interval_s\":0}]}",
               "sources[0].interval_s: expected an integer from 1 to 86400");
    expect_bad("{\"sources\":[{\"name\":\"k\",\"kind\":\"kubo\",\"api\":\"http://x:1\","
               "\"sizes\":\"yes\"}]}",
               "sources[0].sizes: expected true or false");
    expect_bad("{\"sources\":[{\"name\":\"k\",\"kind\":\"kubo\",\"api\":\"http://x:1\","
               "\"intervl_s\":3}]}",
               "sources[0]: unknown key \"intervl_s\"");
    expect_bad("{\"sources\":[{\"name\":\"k\",\"kind\":\"kubo\",\"api\":\"http://x:1\"},"
               "{\"name\":\"k\",\"kind\":\"kubo\",\"api\":\"http://y:1\"}]}",
               "sources[1].name: \"k\" names two sources");
}

static int api_of(const char *text, char *url, size_t cap, struct ik_error *err)
{
    return ik_kubo_api_url(dir_with("repo", "api", text), url, cap, err);
}

TEST(test_sync_kubo_api_file_multiaddrs)
{
    char url[256];
    struct ik_error err = {{0}};
    ASSERT_EQ(api_of("/ip4/127.0.0.1/tcp/5001\n", url, sizeof url, &err), 0);
    ASSERT_STR_EQ(url, "http://127.0.0.1:5001");
    ASSERT_EQ(api_of("/ip6/::1/tcp/45005", url, sizeof url, &err), 0);
    ASSERT_STR_EQ(url, "http://[::1]:45005");
    ASSERT_EQ(api_of("/dns4/localhost/tcp/5001/http", url, sizeof url, &err), 0);
    ASSERT_STR_EQ(url, "http://localhost:5001");
    ASSERT_EQ(api_of("http://127.0.0.1:5001/", url, sizeof url, &err), 0);
    ASSERT_STR_EQ(url, "http://127.0.0.1:5001");
    ASSERT_EQ(api_of("/unix/tmp/api.sock", url, sizeof url, &err), EINVAL);
    ASSERT_TRUE(strstr(err.message, "/unix/tmp/api.sock") != NULL);
    ASSERT_EQ(api_of("/ip4/127.0.0.1/tcp/99999", url, sizeof url, &err), EINVAL);
    ASSERT_EQ(api_of("/ip4/127.0.0.1/udp/5001/quic", url, sizeof url, &err), EINVAL);
    ASSERT_EQ(ik_kubo_api_url(dir_with("norepo", "x", NULL), url, sizeof url, &err), ENOENT);
}

TEST(test_sync_sources_key_absent_implies_the_local_kubo)
{
    struct ik_config c;
    struct ik_source *s = NULL;
    struct ik_error err = {{0}};
    size_t n = 9;
    const char *repo = dir_with("implied", "api", "/ip4/127.0.0.1/tcp/5123");
    char *old = getenv("IPFS_PATH") ? strdup(getenv("IPFS_PATH")) : NULL;
    ik_config_init(&c);
    setenv("IPFS_PATH", repo, 1);
    ASSERT_EQ(ik_sync_sources(&c, &s, &n, &err), 0);
    ASSERT_EQ(n, 1);
    ASSERT_STR_EQ(s[0].name, "kubo");
    ASSERT_STR_EQ(s[0].api, "http://127.0.0.1:5123");
    free(s);
    c.sources_given = true; /* "sources": [] means none, even with a local kubo */
    ASSERT_EQ(ik_sync_sources(&c, &s, &n, &err), 0);
    ASSERT_EQ(n, 0);
    c.sources_given = false;
    setenv("IPFS_PATH", dir_with("nokubo", "x", NULL), 1);
    ASSERT_EQ(ik_sync_sources(&c, &s, &n, &err), 0);
    ASSERT_EQ(n, 0);
    if (old)
        setenv("IPFS_PATH", old, 1);
    else
        unsetenv("IPFS_PATH");
    free(old);
}
