/* Shared by the fuzz targets: exercise every consumer of decoded batches (full validation,
 * rendering, re-encoding) so a decoding bug that slips past validation still shows up. */
#ifndef IK_FUZZ_COMMON_H
#define IK_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipfskit/arrow.h"

static int fuzz_null_write(void *ctx, const void *data, size_t len, struct ik_error *err)
{
    (void)ctx;
    (void)data;
    (void)len;
    (void)err;
    return 0;
}

static FILE *fuzz_devnull(void)
{
    static FILE *f;
    if (f == NULL)
        f = fopen("/dev/null", "w");
    return f;
}

/* Renders and re-encodes one batch of `schema`. */
static void fuzz_consume(const struct ArrowSchema *schema, const struct ArrowArray *batch)
{
    struct ik_error err;
    struct ik_printer *p = NULL;
    struct ik_ipc_writer *w = NULL;
    struct ik_write_options wo;
    if (ik_printer_create(fuzz_devnull(), schema, IK_PRINT_JSON, 256, &p, &err) == 0) {
        if (ik_printer_batch(p, batch, &err) == 0)
            ik_printer_finish(p, &err);
        ik_printer_destroy(p);
    }
    ik_write_options_init(&wo);
    if (ik_ipc_writer_create(schema, &wo, fuzz_null_write, NULL, &w, &err) == 0) {
        if (ik_ipc_writer_write(w, batch, &err) == 0)
            ik_ipc_writer_finish(w, &err);
        ik_ipc_writer_destroy(w);
    }
}

#endif
