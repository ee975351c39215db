/* A raw gRPC client for the Flight tests (test_flight_hostile.py): sends the bytes of each FILE
 * as one message of METHOD (any bytes: garbage protobuf, broken FlightData) and prints one JSON
 * line: the status code, its details, and how many messages and bytes came back.
 *   flight_raw TARGET METHOD [-H key=value] [-k N] [-s MS] FILE...
 * -k N: stop reading (and cancel) after N messages; -s MS: sleep MS ms after the first message
 * (a slow reader). TARGET is gRPC's ("unix:/path", "127.0.0.1:port"). */
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static gpr_timespec deadline(int s)
{
    return gpr_time_add(gpr_now(GPR_CLOCK_REALTIME), gpr_time_from_seconds(s, GPR_TIMESPAN));
}

static int run(grpc_call *call, grpc_completion_queue *cq, grpc_op *ops, size_t n, void *tag)
{
    if (grpc_call_start_batch(call, ops, n, tag, NULL) != GRPC_CALL_OK)
        return -1;
    grpc_event ev = grpc_completion_queue_pluck(cq, tag, deadline(120), NULL);
    return ev.type == GRPC_OP_COMPLETE && ev.success ? 0 : -1;
}

static grpc_byte_buffer *file_message(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0, k;
    if (!f)
        return NULL;
    do {
        if (n + 65536 > cap && !(buf = realloc(buf, cap = cap * 2 + 65536)))
            return NULL;
        k = fread(buf + n, 1, 65536, f);
        n += k;
    } while (k > 0);
    fclose(f);
    grpc_slice s = grpc_slice_from_copied_buffer(buf, n);
    free(buf);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

int main(int argc, char **argv)
{
    grpc_metadata md[4];
    size_t n_md = 0, n_msgs = 0, bytes = 0;
    long stop_after = -1, sleep_ms = 0;
    int i = 3;
    if (argc < 3) {
        fprintf(stderr, "usage: flight_raw TARGET METHOD [-H k=v] [-k N] [-s MS] FILE...\n");
        return 2;
    }
    for (; i < argc && argv[i][0] == '-'; i += 2) {
        if (i + 1 >= argc)
            return 2;
        if (strcmp(argv[i], "-H") == 0 && n_md < 4) {
            char *eq = strchr(argv[i + 1], '=');
            if (!eq)
                return 2;
            *eq = 0;
            md[n_md].key = grpc_slice_from_copied_string(argv[i + 1]);
            md[n_md++].value = grpc_slice_from_copied_string(eq + 1);
        } else if (strcmp(argv[i], "-k") == 0) {
            stop_after = atol(argv[i + 1]);
        } else if (strcmp(argv[i], "-s") == 0) {
            sleep_ms = atol(argv[i + 1]);
        }
    }
    grpc_init();
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    grpc_channel *ch = grpc_channel_create(argv[1], creds, NULL);
    grpc_channel_credentials_release(creds);
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    grpc_slice method = grpc_slice_from_copied_string(argv[2]);
    grpc_call *call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, method, NULL,
                                               deadline(120), NULL);
    grpc_metadata_array init_md, trail_md;
    grpc_status_code status = GRPC_STATUS_UNKNOWN;
    grpc_slice details = grpc_empty_slice();
    grpc_op ops[2];
    int tag = 0;
    grpc_metadata_array_init(&init_md);
    grpc_metadata_array_init(&trail_md);
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = n_md;
    ops[0].data.send_initial_metadata.metadata = n_md ? md : NULL;
    run(call, cq, ops, 1, &tag);
    for (; i < argc; i++) {
        grpc_byte_buffer *bb = file_message(argv[i]);
        memset(ops, 0, sizeof ops);
        ops[0].op = GRPC_OP_SEND_MESSAGE;
        ops[0].data.send_message.send_message = bb;
        int rc = bb ? run(call, cq, ops, 1, &tag) : -1;
        if (bb)
            grpc_byte_buffer_destroy(bb);
        if (rc != 0)
            break;
    }
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    run(call, cq, ops, 1, &tag);
    for (;;) {
        grpc_byte_buffer *got = NULL;
        memset(ops, 0, sizeof ops);
        ops[0].op = GRPC_OP_RECV_MESSAGE;
        ops[0].data.recv_message.recv_message = &got;
        size_t n = 1;
        if (n_msgs == 0 && bytes == 0) {
            ops[1].op = GRPC_OP_RECV_INITIAL_METADATA;
            ops[1].data.recv_initial_metadata.recv_initial_metadata = &init_md;
            n = 2;
        }
        if (run(call, cq, ops, n, &tag) != 0 || got == NULL)
            break;
        n_msgs++;
        bytes += grpc_byte_buffer_length(got);
        grpc_byte_buffer_destroy(got);
        if (n_msgs == 1 && sleep_ms > 0) {
            struct timespec ts = {sleep_ms / 1000, (sleep_ms % 1000) * 1000000};
            nanosleep(&ts, NULL);
        }
        if (stop_after >= 0 && (long)n_msgs >= stop_after) {
            grpc_call_cancel(call, NULL);
            break;
        }
    }
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[0].data.recv_status_on_client.trailing_metadata = &trail_md;
    ops[0].data.recv_status_on_client.status = &status;
    ops[0].data.recv_status_on_client.status_details = &details;
    run(call, cq, ops, 1, &tag);
    char *d = grpc_slice_to_c_string(details);
    printf("{\"status\": %d, \"messages\": %zu, \"bytes\": %zu, \"details\": \"", (int)status,
           n_msgs, bytes);
    for (char *p = d; *p; p++) {
        if (*p == '"' || *p == '\\')
            putchar('\\');
        putchar((unsigned char)*p < 32 ? ' ' : *p);
    }
    printf("\"}\n");
    fflush(stdout);
    gpr_free(d);
    grpc_slice_unref(details);
    grpc_slice_unref(method);
    grpc_metadata_array_destroy(&init_md);
    grpc_metadata_array_destroy(&trail_md);
    grpc_call_unref(call);
    grpc_channel_destroy(ch);
    grpc_completion_queue_shutdown(cq);
    grpc_completion_queue_destroy(cq);
    return 0;
}
