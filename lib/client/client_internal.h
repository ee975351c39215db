/* Internal pieces shared by the client's files. */
#ifndef IK_CLIENT_INTERNAL_H
#define IK_CLIENT_INTERNAL_H

#include <pthread.h>

#include "ipfskit/client.h"
#include "ipfskit/config.h"

#define IK_CLIENT_POOL 16

struct ik_client {
    char dir[4096];
    char sock_path[4200];
    struct ik_config cfg;
    struct ik_client_options opts;
    int timeout_ms;
    pthread_mutex_t mu; /* guards the idle connection pool */
    int idle[IK_CLIENT_POOL];
    int n_idle;
};

/* Wraps one batch (moved) as a stream (out). */
int ik__one_batch_stream(struct ArrowSchema *schema, struct ArrowArray *batch,
                         struct ArrowArrayStream *out, struct ik_error *err);

/* direct.c: the daemon-down path. */
int ik__client_direct(struct ik_client *c, const struct ik_query *q, struct ik_result *out,
                      struct ik_error *err);

double ik__mono_ms(void);

#endif
