/* Tests of the data directory and config.json: where the directory is, creating it 0700,
 * defaults, the DESIGN.md example, every bad value named by its key, sizes, backends and peers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ik_test.h"
#include "ipfskit/config.h"

/* A fresh directory under the run's scratch directory, with config.json = `json` (none when
 * json is NULL). */
static const char *config_dir(const char *name, const char *json)
{
    static char dir[512];
    char path[600];
    FILE *f;
    snprintf(dir, sizeof dir, "%s/config-%s", ik_test_tmpdir(), name);
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/config.json", dir);
    remove(path);
    if (json != NULL && (f = fopen(path, "w")) != NULL) {
        fputs(json, f);
        fclose(f);
    }
    return dir;
}

static int load(const char *name, const char *json, struct ik_config *c, struct ik_error *err)
{
    return ik_config_load(config_dir(name, json), c, err);
}

/* ---- data directory ------------------------------------------------------------------- */

TEST(test_config_data_dir_prefers_ipfs_kit_path_then_home)
{
    struct ik_error err;
    char out[256];
    char *old_path = getenv("IPFS_KIT_PATH") ? strdup(getenv("IPFS_KIT_PATH")) : NULL;
    char *old_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    int rc1, rc2, rc3, rc4;
    char got1[256] = "", got2[256] = "";
    setenv("IPFS_KIT_PATH", "/srv/kit", 1);
    setenv("HOME", "/home/someone", 1);
    rc1 = ik_data_dir(out, sizeof out, &err);
    strcpy(got1, out);
    setenv("IPFS_KIT_PATH", "", 1);
    rc2 = ik_data_dir(out, sizeof out, &err);
    strcpy(got2, out);
    unsetenv("IPFS_KIT_PATH");
    rc3 = ik_data_dir(out, 10, &err);
    unsetenv("HOME");
    rc4 = ik_data_dir(out, sizeof out, &err);
    if (old_path)
        setenv("IPFS_KIT_PATH", old_path, 1);
    if (old_home)
        setenv("HOME", old_home, 1);
    free(old_path);
    free(old_home);
    ASSERT_EQ(rc1, 0);
    ASSERT_STR_EQ(got1, "/srv/kit");
    ASSERT_EQ(rc2, 0);
    ASSERT_STR_EQ(got2, "/home/someone/.ipfs_kit");
    ASSERT_EQ(rc3, ENAMETOOLONG);
    ASSERT_EQ(rc4, ENOENT);
}

TEST(test_config_data_dir_ensure_creates_parents_0700)
{
    struct ik_error err;
    char dir[512], file[600];
    struct stat st;
    FILE *f;
    snprintf(dir, sizeof dir, "%s/ensure/a/b/", ik_test_tmpdir());
    ASSERT_OK(ik_data_dir_ensure(dir, &err), &err);
    ASSERT_EQ(stat(dir, &st), 0);
    ASSERT_TRUE(S_ISDIR(st.st_mode));
    ASSERT_EQ(st.st_mode & 0777, 0700);
    snprintf(dir, sizeof dir, "%s/ensure/a", ik_test_tmpdir());
    ASSERT_EQ(stat(dir, &st), 0);
    ASSERT_EQ(st.st_mode & 0777, 0700);
    ASSERT_OK(ik_data_dir_ensure(dir, &err), &err); /* again: already there */
    snprintf(file, sizeof file, "%s/ensure/file", ik_test_tmpdir());
    f = fopen(file, "w");
    ASSERT_TRUE(f != NULL);
    fclose(f);
    ASSERT_FAILS(ik_data_dir_ensure(file, &err), ENOTDIR, &err, "exists and is not a directory");
    strcat(file, "/below");
    ASSERT_FAILS(ik_data_dir_ensure(file, &err), ENOTDIR, &err, "file exists and is not");
}

/* ---- config.json ---------------------------------------------------------------------- */

TEST(test_config_missing_file_gives_defaults)
{
    struct ik_config c;
    struct ik_error err;
    ASSERT_OK(load("missing", NULL, &c, &err), &err);
    ASSERT_TRUE(c.arrow_ipc_enabled);
    ASSERT_TRUE(c.zero_copy);
    ASSERT_EQ(c.timeout_s, 30);
    ASSERT_EQ(c.max_table_size, 100000000);
    ASSERT_EQ(c.n_backends, 0);
    ASSERT_TRUE(c.backends == NULL);
    ASSERT_EQ(c.health_interval_s, 10);
    ik_config_reset(&c);
}

TEST(test_config_design_example_loads)
{
    struct ik_config c;
    struct ik_error err;
    ASSERT_OK(load("design",
                   "{\"capabilities\":{\"arrow_ipc\":true,\"zero_copy\":true},"
                   "\"arrow_ipc\":{\"enabled\":true,\"timeout\":30,\"max_table_size\":\"100MB\"}}",
                   &c, &err),
              &err);
    ASSERT_TRUE(c.arrow_ipc_enabled);
    ASSERT_TRUE(c.zero_copy);
    ASSERT_EQ(c.timeout_s, 30);
    ASSERT_EQ(c.max_table_size, 100000000);
    ik_config_reset(&c);
}

TEST(test_config_values_and_unknown_keys)
{
    struct ik_config c;
    struct ik_error err;
    ASSERT_OK(load("values",
                   "{\"capabilities\":{\"zero_copy\":false,\"future\":[1,2]},\n"
                   " \"arrow_ipc\":{\"timeout\":5,\"max_table_size\":\"1GiB\",\"extra\":{}},\n"
                   " \"health_interval\":3, \"something_else\":\"kept\"}",
                   &c, &err),
              &err);
    ASSERT_TRUE(c.arrow_ipc_enabled);
    ASSERT_TRUE(!c.zero_copy);
    ASSERT_EQ(c.timeout_s, 5);
    ASSERT_EQ(c.max_table_size, 1073741824);
    ASSERT_EQ(c.health_interval_s, 3);
    ik_config_reset(&c);
    ASSERT_OK(load("values", "{\"arrow_ipc\":{\"max_table_size\":4096}}", &c, &err), &err);
    ASSERT_EQ(c.max_table_size, 4096);
    ik_config_reset(&c);
}

TEST(test_config_daemon_limits_defaults_and_values)
{
    struct ik_config c;
    struct ik_error err;
    ASSERT_OK(load("limits", "{}", &c, &err), &err);
    ASSERT_EQ(c.max_connections, 1024);
    ASSERT_EQ(c.idle_timeout_s, 300);
    ASSERT_EQ(c.header_timeout_s, 10);
    ASSERT_EQ(c.send_timeout_s, 60);
    ASSERT_EQ(c.visible_timeout_s, 60);
    ASSERT_EQ(c.max_import_size, (int64_t)16 * 1024 * 1024 * 1024);
    ik_config_reset(&c);
    ASSERT_OK(load("limits",
                   "{\"daemon\":{\"max_connections\":8,\"idle_timeout\":2,\"header_timeout\":3,"
                   "\"send_timeout\":4,\"visible_timeout\":5,\"max_import_size\":\"1KiB\"}}",
                   &c, &err),
              &err);
    ASSERT_EQ(c.max_connections, 8);
    ASSERT_EQ(c.idle_timeout_s, 2);
    ASSERT_EQ(c.header_timeout_s, 3);
    ASSERT_EQ(c.send_timeout_s, 4);
    ASSERT_EQ(c.visible_timeout_s, 5);
    ASSERT_EQ(c.max_import_size, 1024);
    ik_config_reset(&c);
}

TEST(test_config_arrow_off_by_either_switch)
{
    struct ik_config c;
    struct ik_error err;
    ASSERT_OK(load("off1", "{\"capabilities\":{\"arrow_ipc\":false}}", &c, &err), &err);
    ASSERT_TRUE(!c.arrow_ipc_enabled);
    ASSERT_TRUE(c.zero_copy);
    ik_config_reset(&c);
    ASSERT_OK(load("off2", "{\"arrow_ipc\":{\"enabled\":false}}", &c, &err), &err);
    ASSERT_TRUE(!c.arrow_ipc_enabled);
    ik_config_reset(&c);
    ASSERT_OK(load("off3", "{\"capabilities\":{\"arrow_ipc\":true},\"arrow_ipc\":{}}", &c, &err),
              &err);
    ASSERT_TRUE(c.arrow_ipc_enabled);
    ik_config_reset(&c);
}

TEST(test_config_sizes)
{
    int64_t v = 0;
    ASSERT_EQ(ik_config_parse_size("100MB", &v), 0);
    ASSERT_EQ(v, 100000000);
    ASSERT_EQ(ik_config_parse_size("1GiB", &v), 0);
    ASSERT_EQ(v, 1073741824);
    ASSERT_EQ(ik_config_parse_size("512 kib", &v), 0);
    ASSERT_EQ(v, 524288);
    ASSERT_EQ(ik_config_parse_size("2TB", &v), 0);
    ASSERT_EQ(v, 2000000000000);
    ASSERT_EQ(ik_config_parse_size("12345", &v), 0);
    ASSERT_EQ(v, 12345);
    ASSERT_EQ(ik_config_parse_size("7B", &v), 0);
    ASSERT_EQ(v, 7);
    ASSERT_EQ(ik_config_parse_size("", &v), EINVAL);
    ASSERT_EQ(ik_config_parse_size("MB", &v), EINVAL);
    ASSERT_EQ(ik_config_parse_size("0MB", &v), EINVAL);
    ASSERT_EQ(ik_config_parse_size("-1", &v), EINVAL);
    ASSERT_EQ(ik_config_parse_size("1.5GB", &v), EINVAL);
    ASSERT_EQ(ik_config_parse_size("10 XB", &v), EINVAL);
    ASSERT_EQ(ik_config_parse_size("10  MB", &v), EINVAL);
    ASSERT_EQ(ik_config_parse_size("9223372036854775807", &v), 0);
    ASSERT_EQ(ik_config_parse_size("9223372036854775808", &v), EINVAL);
    ASSERT_EQ(ik_config_parse_size("9223372036854776KB", &v), EINVAL);
}

struct bad_config {
    const char *json;
    int code;
    const char *why;
};

TEST(test_config_rejects_bad_values_naming_the_key)
{
    static const struct bad_config v[] = {
        {"{\"arrow_ipc\":{\"timeout\":\"x\"}}", EINVAL,
         "config.json: arrow_ipc.timeout: expected a positive integer, got \"x\""},
        {"{\"arrow_ipc\":{\"timeout\":0}}", EINVAL, "arrow_ipc.timeout: expected a positive"},
        {"{\"arrow_ipc\":{\"timeout\":-5}}", EINVAL, "arrow_ipc.timeout: expected a positive"},
        {"{\"arrow_ipc\":{\"timeout\":2.5}}", EINVAL, "got 2.5"},
        {"{\"arrow_ipc\":{\"timeout\":4294967296}}", EINVAL, "got 4294967296"},
        {"{\"arrow_ipc\":{\"enabled\":\"yes\"}}", EINVAL,
         "config.json: arrow_ipc.enabled: expected true or false, got \"yes\""},
        {"{\"capabilities\":{\"arrow_ipc\":1}}", EINVAL,
         "capabilities.arrow_ipc: expected true or false, got 1"},
        {"{\"capabilities\":{\"zero_copy\":null}}", EINVAL,
         "capabilities.zero_copy: expected true or false, got null"},
        {"{\"arrow_ipc\":{\"max_table_size\":\"lots\"}}", EINVAL,
         "arrow_ipc.max_table_size: expected a positive size such as \"100MB\""},
        {"{\"arrow_ipc\":{\"max_table_size\":0}}", EINVAL, "arrow_ipc.max_table_size: expected"},
        {"{\"arrow_ipc\":[]}", EINVAL, "config.json: arrow_ipc: expected an object, got []"},
        {"{\"capabilities\":true}", EINVAL, "capabilities: expected an object, got true"},
        {"{\"health_interval\":\"10s\"}", EINVAL,
         "health_interval: expected a positive integer, got \"10s\""},
        {"[1]", EINVAL, "config.json: (top level): expected an object, got [1]"},
        {"{\"daemon\":5}", EINVAL, "config.json: daemon: expected an object, got 5"},
        {"{\"daemon\":{\"max_connections\":0}}", EINVAL,
         "config.json: daemon.max_connections: expected a positive integer, got 0"},
        {"{\"daemon\":{\"idle_timeout\":\"5m\"}}", EINVAL,
         "daemon.idle_timeout: expected a positive integer, got \"5m\""},
        {"{\"daemon\":{\"header_timeout\":-1}}", EINVAL, "daemon.header_timeout: expected"},
        {"{\"daemon\":{\"send_timeout\":1.5}}", EINVAL, "daemon.send_timeout: expected"},
        {"{\"daemon\":{\"visible_timeout\":null}}", EINVAL, "daemon.visible_timeout: expected"},
        {"{\"daemon\":{\"max_import_size\":\"big\"}}", EINVAL,
         "daemon.max_import_size: expected a positive size"},
        {"{\"backends\":[]}", EINVAL, "backends: expected an object, got []"},
        {"{\"backends\":{\"ipfs\":\"http://x\"}}", EINVAL,
         "backends.ipfs: expected an object with \"url\" or \"tcp\""},
        {"{\"backends\":{\"ipfs\":{}}}", EINVAL,
         "backends.ipfs: expected exactly one of \"url\" or \"tcp\""},
        {"{\"backends\":{\"ipfs\":{\"url\":\"http://a:1/\",\"tcp\":\"a:1\"}}}", EINVAL,
         "backends.ipfs: expected exactly one"},
        {"{\"backends\":{\"ipfs\":{\"url\":\"https://a/\"}}}", EINVAL,
         "backends.ipfs.url: only http:// URLs are supported in \"https://a/\""},
        {"{\"backends\":{\"ipfs\":{\"url\":\"http://a:99999/\"}}}", EINVAL,
         "backends.ipfs.url: port out of range 1-65535"},
        {"{\"backends\":{\"ipfs\":{\"url\":\"http://a:x/\"}}}", EINVAL,
         "backends.ipfs.url: bad port"},
        {"{\"backends\":{\"ipfs\":{\"url\":\"http:///v\"}}}", EINVAL,
         "backends.ipfs.url: empty host"},
        {"{\"backends\":{\"ipfs\":{\"url\":5}}}", EINVAL,
         "backends.ipfs.url: expected an http:// URL, got 5"},
        {"{\"backends\":{\"swarm\":{\"tcp\":\"127.0.0.1\"}}}", EINVAL,
         "backends.swarm.tcp: missing port in \"127.0.0.1\""},
        {"{\"backends\":{\"swarm\":{\"tcp\":\"[::1:4001\"}}}", EINVAL,
         "backends.swarm.tcp: unclosed '[' in host"},
        {"{\"backends\":{\"swarm\":{\"tcp\":\"h:1\",\"timeout_ms\":-1}}}", EINVAL,
         "backends.swarm.timeout_ms: expected a positive integer, got -1"},
        {"{\"backends\":{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":"
         "{\"tcp\":\"h:1\"}}}",
         EINVAL, "name must be 1 to 63 bytes"},
        /* malformed JSON: line and column */
        {"{\"arrow_ipc\": {\n  \"timeout\": 30,\n}}", IK_EFORMAT, "config.json: line 3, column"},
        {"{\"a\":1, \"a\":2}", IK_EFORMAT, "duplicate object key"},
        {"", IK_EFORMAT, "config.json: line 1"},
    };
    struct ik_config c;
    struct ik_error err;
    size_t i;
    for (i = 0; i < sizeof v / sizeof v[0]; i++) {
        int rc;
        err.message[0] = 0;
        rc = load("bad", v[i].json, &c, &err);
        if (rc != v[i].code || strstr(err.message, v[i].why) == NULL) {
            ik_test_fail(__FILE__, __LINE__, "%s: returned %d \"%s\", wanted %d \"%s\"", v[i].json,
                         rc, err.message, v[i].code, v[i].why);
            return;
        }
        /* a failed load leaves the defaults and nothing to free */
        ASSERT_TRUE(c.backends == NULL);
        ASSERT_EQ(c.timeout_s, 30);
        ASSERT_TRUE(c.arrow_ipc_enabled);
    }
}

static const struct ik_backend_conf *find(const struct ik_config *c, const char *name)
{
    size_t i;
    for (i = 0; i < c->n_backends; i++)
        if (strcmp(c->backends[i].name, name) == 0)
            return &c->backends[i];
    return NULL;
}

TEST(test_config_backends_http_and_tcp)
{
    struct ik_config c;
    struct ik_error err;
    const struct ik_backend_conf *b;
    ASSERT_OK(load("backends",
                   "{\"backends\":{"
                   "\"ipfs\":{\"url\":\"http://127.0.0.1:5001/api/v0/version\"},"
                   "\"cluster\":{\"url\":\"http://cluster.local\",\"timeout_ms\":500},"
                   "\"swarm\":{\"tcp\":\"127.0.0.1:4001\"},"
                   "\"v6\":{\"tcp\":\"[::1]:4001\"},"
                   "\"v6http\":{\"url\":\"http://[fe80::1]:8080/x?y=1\"}}}",
                   &c, &err),
              &err);
    ASSERT_EQ(c.n_backends, 5);
    b = find(&c, "ipfs");
    ASSERT_TRUE(b != NULL);
    ASSERT_STR_EQ(b->kind, "http");
    ASSERT_STR_EQ(b->host, "127.0.0.1");
    ASSERT_EQ(b->port, 5001);
    ASSERT_STR_EQ(b->path, "/api/v0/version");
    ASSERT_EQ(b->timeout_ms, 2000);
    b = find(&c, "cluster");
    ASSERT_TRUE(b != NULL);
    ASSERT_STR_EQ(b->host, "cluster.local");
    ASSERT_EQ(b->port, 80);
    ASSERT_STR_EQ(b->path, "/");
    ASSERT_EQ(b->timeout_ms, 500);
    b = find(&c, "swarm");
    ASSERT_TRUE(b != NULL);
    ASSERT_STR_EQ(b->kind, "tcp");
    ASSERT_STR_EQ(b->host, "127.0.0.1");
    ASSERT_EQ(b->port, 4001);
    ASSERT_STR_EQ(b->path, "");
    b = find(&c, "v6");
    ASSERT_TRUE(b != NULL);
    ASSERT_STR_EQ(b->host, "::1");
    ASSERT_EQ(b->port, 4001);
    b = find(&c, "v6http");
    ASSERT_TRUE(b != NULL);
    ASSERT_STR_EQ(b->host, "fe80::1");
    ASSERT_EQ(b->port, 8080);
    ASSERT_STR_EQ(b->path, "/x?y=1");
    ik_config_reset(&c);
    ASSERT_TRUE(c.backends == NULL);
    ASSERT_EQ(c.n_backends, 0);
}

TEST(test_config_unreadable_file_is_an_error_not_defaults)
{
    struct ik_config c;
    struct ik_error err;
    char path[600];
    const char *dir = config_dir("unreadable", NULL);
    int rc;
    snprintf(path, sizeof path, "%s/config.json", dir);
    mkdir(path, 0700); /* a directory where the file should be */
    rc = ik_config_load(dir, &c, &err);
    rmdir(path);
    ASSERT_EQ(rc, EISDIR);
    ASSERT_TRUE(strstr(err.message, "config.json is not a regular file") != NULL);
    ik_config_reset(&c);
}

/* ---- "peers", "peer_timeout_ms" and "node_name" (config_peers.c) ---------------------- */

TEST(test_config_peers_default_none_and_node_name_is_hostname)
{
    struct ik_config c;
    struct ik_error err;
    char host[256] = "";
    ASSERT_OK(load("peers", "{}", &c, &err), &err);
    ASSERT_EQ(c.n_peers, 0);
    ASSERT_TRUE(c.peers == NULL);
    ASSERT_EQ(c.peer_timeout_ms, 2000);
    ASSERT_EQ(gethostname(host, sizeof host - 1), 0);
    host[sizeof c.node_name - 1] = 0;
    ASSERT_STR_EQ(c.node_name, host);
    ik_config_reset(&c);
}

TEST(test_config_peers_locations_are_normalised)
{
    struct ik_config c;
    struct ik_error err;
    ASSERT_OK(load("peers",
                   "{\"node_name\":\"node-1.a:b\",\"peer_timeout_ms\":250,\"peers\":["
                   "\"grpc+tcp://node2.example:8815\",\"grpc://127.0.0.1:1/\","
                   "\"grpc+tcp://[::1]:65535\",\"grpc+unix:///tmp/x/flight.sock\"]}",
                   &c, &err),
              &err);
    ASSERT_STR_EQ(c.node_name, "node-1.a:b");
    ASSERT_EQ(c.peer_timeout_ms, 250);
    ASSERT_EQ(c.n_peers, 4);
    ASSERT_STR_EQ(c.peers[0].location, "grpc+tcp://node2.example:8815");
    ASSERT_STR_EQ(c.peers[0].host, "node2.example");
    ASSERT_EQ(c.peers[0].port, 8815);
    ASSERT_STR_EQ(c.peers[1].location, "grpc+tcp://127.0.0.1:1");
    ASSERT_STR_EQ(c.peers[2].location, "grpc+tcp://[::1]:65535");
    ASSERT_STR_EQ(c.peers[2].host, "::1");
    ASSERT_STR_EQ(c.peers[3].unix_path, "/tmp/x/flight.sock");
    ASSERT_EQ(c.peers[3].host[0], 0);
    ik_config_reset(&c);
    ASSERT_OK(load("peers", "{\"peers\":null,\"node_name\":null}", &c, &err), &err);
    ASSERT_EQ(c.n_peers, 0);
    ik_config_reset(&c);
}

TEST(test_config_peers_bad_values_are_named)
{
    static const struct {
        const char *json, *why;
    } v[] = {
        {"{\"peers\":\"grpc+tcp://a:1\"}", "peers: expected an array"},
        {"{\"peers\":[1]}", "peers[0]: expected a string"},
        {"{\"peers\":[\"http://a:1\"]}", "peers[0]: expected \"grpc+tcp://host:port\""},
        {"{\"peers\":[\"grpc+tcp://a\"]}", "peers[0]: expected"},
        {"{\"peers\":[\"grpc+tcp://:80\"]}", "peers[0]: expected"},
        {"{\"peers\":[\"grpc+tcp://a:0\"]}", "peers[0]: the port must be 1 to 65535"},
        {"{\"peers\":[\"grpc+tcp://a:65536\"]}", "peers[0]: the port"},
        {"{\"peers\":[\"grpc+tcp://a:8x\"]}", "peers[0]: the port"},
        {"{\"peers\":[\"grpc+tcp://a:1/path\"]}", "peers[0]: expected"},
        {"{\"peers\":[\"grpc+tcp://u@a:1\"]}", "peers[0]: expected"},
        {"{\"peers\":[\"grpc+tcp://::1:80\"]}", "peers[0]: expected"},
        {"{\"peers\":[\"grpc+tcp://[::1]80\"]}", "peers[0]: expected"},
        {"{\"peers\":[\"grpc+tcp://a b:1\"]}", "peers[0]: expected"},
        {"{\"peers\":[\"grpc+unix://rel/path\"]}", "peers[0]: grpc+unix:// takes an absolute"},
        {"{\"peers\":[\"grpc+tcp://a:1\",\"grpc://a:1\"]}", "peers[1]: grpc+tcp://a:1 is already "
                                                            "peers[0]"},
        {"{\"peers\":[\"grpc+tls://a\"]}", "peers[0]: expected"},
        {"{\"peers\":[\"grpc+tls://a:1\",\"grpc+tls://a:1/\"]}", "peers[1]: grpc+tls://a:1 is "
                                                                 "already peers[0]"},
        {"{\"peer_tls_ca\":\"\"}", "peer_tls_ca: expected the path of a PEM file"},
        {"{\"peer_tls_ca\":3}", "peer_tls_ca: expected"},
        {"{\"peer_timeout_ms\":5}", "peer_timeout_ms: expected an integer from 10"},
        {"{\"peer_timeout_ms\":\"1s\"}", "peer_timeout_ms"},
        {"{\"node_name\":\"\"}", "node_name: expected 1 to 63"},
        {"{\"node_name\":\"a b\"}", "node_name"},
        {"{\"node_name\":7}", "node_name"},
        {"{\"node_name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
         "node_name"},
    };
    struct ik_config c;
    struct ik_error err;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        err.message[0] = 0;
        int rc = load("peers", v[i].json, &c, &err);
        if (rc != EINVAL || strstr(err.message, v[i].why) == NULL)
            ik_test_fail(__FILE__, __LINE__, "%s: returned %d \"%s\", wanted \"%s\"", v[i].json, rc,
                         err.message, v[i].why);
        ASSERT_TRUE(c.peers == NULL && c.n_peers == 0); /* defaults on error */
    }
}

TEST(test_config_peers_more_than_the_limit_refused)
{
    char json[IK_PEERS_MAX * 40 + 64];
    size_t n = (size_t)snprintf(json, sizeof json, "{\"peers\":[");
    struct ik_config c;
    struct ik_error err;
    for (int i = 0; i <= IK_PEERS_MAX; i++)
        n += (size_t)snprintf(json + n, sizeof json - n, "%s\"grpc+tcp://h%d:1\"", i ? "," : "", i);
    snprintf(json + n, sizeof json - n, "]}");
    ASSERT_FAILS(load("peers", json, &c, &err), EINVAL, &err, "at most 64");
}

TEST(test_config_flight_tls_locations_and_files)
{
    struct ik_config c;
    struct ik_error err;
    ASSERT_OK(
        load("flight-tls",
             "{\"flight\":{\"listen\":[\"grpc+tls://127.0.0.1:0\",\"grpc+unix:///tmp/f.sock\"],"
             "\"tls_cert\":\"cert.pem\",\"tls_key\":\"/etc/k.pem\"}}",
             &c, &err),
        &err);
    ASSERT_EQ(c.flight.n_listen, 2);
    ASSERT_STR_EQ(c.flight.listen[0], "grpc+tls://127.0.0.1:0");
    ASSERT_STR_EQ(c.flight.tls_cert, "cert.pem");
    ASSERT_STR_EQ(c.flight.tls_key, "/etc/k.pem");
    ik_config_reset(&c);
    /* no files of its own: grpc+tls takes HTTP's (daemon/flight/tls.c) */
    ASSERT_OK(load("flight-tls", "{\"flight\":{\"tls_cert\":null,\"tls_key\":null}}", &c, &err),
              &err);
    ASSERT_EQ(c.flight.tls_cert[0], 0);
    ik_config_reset(&c);
    ASSERT_FAILS(load("flight-tls", "{\"flight\":{\"tls_cert\":\"c.pem\"}}", &c, &err), EINVAL,
                 &err, "flight.tls_cert: set together with flight.tls_key");
    ASSERT_FAILS(load("flight-tls", "{\"flight\":{\"tls_key\":\"k.pem\"}}", &c, &err), EINVAL, &err,
                 "flight.tls_key: set together with flight.tls_cert");
    ASSERT_FAILS(load("flight-tls", "{\"flight\":{\"tls_cert\":\"\",\"tls_key\":\"k\"}}", &c, &err),
                 EINVAL, &err, "flight.tls_cert: expected the path of a PEM file");
    ASSERT_FAILS(load("flight-tls", "{\"flight\":{\"tls_cert\":7,\"tls_key\":\"k\"}}", &c, &err),
                 EINVAL, &err, "flight.tls_cert");
    ASSERT_FAILS(load("flight-tls", "{\"flight\":{\"listen\":[\"grpcs://h:1\"]}}", &c, &err),
                 EINVAL, &err, "grpc+tls://host:port");
}

TEST(test_config_peers_over_tls_and_their_roots)
{
    struct ik_config c;
    struct ik_error err;
    const char *dir =
        config_dir("peers-tls", "{\"peers\":[\"grpc+tls://node2.example:8815\","
                                "\"grpc+tls://[::1]:9\",\"grpc+tcp://node2.example:8815\"],"
                                "\"peer_tls_ca\":\"fleet-ca.pem\"}");
    char want[4200];
    ASSERT_OK(ik_config_load(dir, &c, &err), &err);
    ASSERT_EQ(c.n_peers, 3);
    ASSERT_STR_EQ(c.peers[0].location, "grpc+tls://node2.example:8815");
    ASSERT_TRUE(c.peers[0].tls);
    ASSERT_STR_EQ(c.peers[1].location, "grpc+tls://[::1]:9");
    ASSERT_STR_EQ(c.peers[1].host, "::1");
    ASSERT_TRUE(!c.peers[2].tls); /* the same host and port in the clear is another peer */
    snprintf(want, sizeof want, "%s/fleet-ca.pem", dir); /* under the data directory */
    ASSERT_STR_EQ(c.peer_tls_ca, want);
    ik_config_reset(&c);
    ASSERT_OK(load("peers-tls", "{\"peer_tls_ca\":\"/etc/ssl/fleet.pem\"}", &c, &err), &err);
    ASSERT_STR_EQ(c.peer_tls_ca, "/etc/ssl/fleet.pem");
    ik_config_reset(&c);
    ASSERT_OK(load("peers-tls", "{}", &c, &err), &err);
    ASSERT_EQ(c.peer_tls_ca[0], 0);
}
