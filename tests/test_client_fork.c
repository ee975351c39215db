/* The client across fork(): a child must not send on the connections its parent pooled (both
 * would read each other's replies). A fake daemon on a unix socket answers every frame with
 * {"ok":true} and records, per request, which connection it came on and the pid that opened
 * that connection (SO_PEERCRED); the child's request must come on a connection of its own. */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ik_test.h"
#include "ipfskit/client.h"
#include "proto/proto.h"

#define MAX_CONNS 16
#define MAX_REQS 64

struct fake {
    int lfd, stop[2];
    pthread_t th;
    pthread_mutex_t mu;
    int conns[MAX_CONNS];
    pid_t conn_pid[MAX_CONNS];
    int n_conns;
    int req_conn[MAX_REQS]; /* the connection index of each request */
    int n_reqs;
};

static void serve_one(struct fake *f, int i)
{
    static const char reply[] = "{\"ok\":true}";
    struct ik_error err = {{0}};
    uint8_t *payload = NULL;
    size_t len = 0;
    if (ik_sock_recv_frame(f->conns[i], 65536, &payload, &len, NULL, 5000, &err) != 0) {
        close(f->conns[i]);
        f->conns[i] = -1;
        return;
    }
    free(payload);
    pthread_mutex_lock(&f->mu);
    if (f->n_reqs < MAX_REQS)
        f->req_conn[f->n_reqs++] = i;
    pthread_mutex_unlock(&f->mu);
    ik_sock_send_frame(f->conns[i], reply, sizeof reply - 1, -1, 5000, &err);
}

static void *fake_main(void *arg)
{
    struct fake *f = arg;
    for (;;) {
        struct pollfd p[MAX_CONNS + 2];
        int n = 0;
        p[n++] = (struct pollfd){.fd = f->stop[0], .events = POLLIN};
        p[n++] = (struct pollfd){.fd = f->lfd, .events = POLLIN};
        for (int i = 0; i < f->n_conns; i++)
            p[n++] = (struct pollfd){.fd = f->conns[i], .events = POLLIN};
        if (poll(p, (nfds_t)n, 10000) <= 0 || p[0].revents)
            return NULL;
        if ((p[1].revents & POLLIN) && f->n_conns < MAX_CONNS) {
            int c = accept(f->lfd, NULL, NULL);
            struct ucred cr;
            socklen_t sl = sizeof cr;
            if (c >= 0) {
                getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &sl);
                pthread_mutex_lock(&f->mu);
                f->conn_pid[f->n_conns] = cr.pid;
                f->conns[f->n_conns++] = c;
                pthread_mutex_unlock(&f->mu);
            }
        }
        for (int i = 2; i < n; i++)
            if (p[i].fd >= 0 && (p[i].revents & (POLLIN | POLLHUP)))
                serve_one(f, i - 2);
    }
}

static int fake_start(struct fake *f, const char *dir)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    if ((size_t)snprintf(a.sun_path, sizeof a.sun_path, "%s/daemon.sock", dir) >= sizeof a.sun_path)
        return -1;
    unlink(a.sun_path);
    f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(f->lfd, 16) != 0 || pipe(f->stop) != 0)
        return -1;
    return pthread_create(&f->th, NULL, fake_main, f);
}

static void fake_stop(struct fake *f)
{
    if (write(f->stop[1], "x", 1) != 1)
        return;
    pthread_join(f->th, NULL);
    for (int i = 0; i < f->n_conns; i++)
        if (f->conns[i] >= 0)
            close(f->conns[i]);
    close(f->lfd);
    close(f->stop[0]);
    close(f->stop[1]);
    pthread_mutex_destroy(&f->mu);
}

static int call(struct ik_client *c)
{
    struct ik_error err = {{0}};
    char *reply = NULL;
    int rc = ik_client_call(c, "{\"v\":1,\"op\":\"ping\"}", &reply, &err);
    free(reply);
    return rc;
}

TEST(test_client_forked_child_connects_afresh)
{
    char dir[512];
    struct fake f;
    struct ik_client_options o;
    struct ik_client *c = NULL;
    struct ik_error err = {{0}};
    int status = 0, last;
    pid_t child;
    snprintf(dir, sizeof dir, "%s/fork", ik_test_tmpdir());
    ASSERT_EQ(mkdir(dir, 0700), 0);
    ASSERT_EQ(fake_start(&f, dir), 0);
    ik_client_options_init(&o);
    o.path = dir;
    o.timeout_ms = 5000;
    ASSERT_EQ(ik_client_open(&o, &c, &err), 0);
    ASSERT_EQ(call(c), 0); /* leaves one connection in the pool */
    ASSERT_EQ(call(c), 0); /* and reuses it */
    child = fork();
    if (child == 0) {
        int rc = call(c) == 0 && call(c) == 0 ? 0 : 1;
        ik_client_close(c);
        _exit(rc);
    }
    ASSERT_TRUE(child > 0);
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ASSERT_EQ(call(c), 0); /* the parent's pooled connection still works */
    ik_client_close(c);
    fake_stop(&f);
    ASSERT_EQ(f.n_reqs, 5);
    ASSERT_EQ(f.req_conn[0], f.req_conn[1]); /* pooled */
    for (int i = 2; i < 4; i++) {            /* the child's two: its own connection */
        ASSERT_NE(f.req_conn[i], f.req_conn[0]);
        ASSERT_EQ(f.conn_pid[f.req_conn[i]], child);
    }
    last = f.req_conn[4];
    ASSERT_EQ(last, f.req_conn[0]);
    ASSERT_EQ(f.conn_pid[last], getpid());
}
