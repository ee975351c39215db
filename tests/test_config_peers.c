/* Tests of config.json's "peers", "peer_timeout_ms" and "node_name" (lib/store/config_peers.c):
 * defaults, the location forms a peer may take, and every bad value refused with its key. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ik_test.h"
#include "ipfskit/config.h"

static int load_peers(const char *json, struct ik_config *c, struct ik_error *err)
{
    char dir[512], path[600];
    FILE *f;
    snprintf(dir, sizeof dir, "%s/config-peers", ik_test_tmpdir());
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/config.json", dir);
    if ((f = fopen(path, "w")) == NULL)
        return -1;
    fputs(json, f);
    fclose(f);
    return ik_config_load(dir, c, err);
}

TEST(test_config_peers_default_none_and_node_name_is_hostname)
{
    struct ik_config c;
    struct ik_error err;
    char host[256] = "";
    ASSERT_OK(load_peers("{}", &c, &err), &err);
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
    ASSERT_OK(load_peers("{\"node_name\":\"node-1.a:b\",\"peer_timeout_ms\":250,\"peers\":["
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
    ASSERT_OK(load_peers("{\"peers\":null,\"node_name\":null}", &c, &err), &err);
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
        int rc = load_peers(v[i].json, &c, &err);
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
    ASSERT_FAILS(load_peers(json, &c, &err), EINVAL, &err, "at most 64");
}
