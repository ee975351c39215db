/* The rows an Arrow import into an empty table leaves (ik_store_import_rows), built while
 * pass 2 upserts them in cid order: the daemon publishes them as the new base instead of
 * reading 100k rows back from SQLite (70-100 ms of the import's reply). Every value is the
 * one the upsert stores: a column the row does not give takes the INSERT's default
 * ('recursive', the import's now, the default backend, 1, false, 0, else null), and a CID
 * given twice (adjacent once sorted) is merged as ON CONFLICT merges it, later values over
 * earlier ones. Tested against a read of the store (tests/test_import_given.c). */
#include <stdlib.h>
#include <string.h>

#include "ipfskit/builder.h"
#include "ipfskit/cid.h"
#include "ipfskit/schemas.h"
#include "store/cid_internal.h"
#include "store/store_internal.h"

struct ik__given {
    struct ik_builder *b;
    int col[IK__NCOLS];
    struct ik__row row; /* pending: merged until the next CID comes */
    bool have, failed;
    char cid[IK_CID_MAX_TEXT + 1];
    size_t cid_n;
};

int ik__given_create(struct ik__given **out)
{
    struct ArrowSchema sch;
    struct ik__given *g = calloc(1, sizeof *g);
    int c;
    *out = NULL;
    if (g == NULL)
        return ENOMEM;
    if (ik_table_schema("pin_index", &sch, NULL) != 0) {
        free(g);
        return ENOMEM;
    }
    if (ik_builder_create(&sch, 0, &g->b, NULL) != 0)
        g->b = NULL;
    sch.release(&sch);
    for (c = 0; g->b && c < IK__NCOLS; c++)
        if ((g->col[c] = ik_builder_column(g->b, ik__col_names[c])) < 0)
            g->failed = true;
    if (g->b == NULL || g->failed) {
        ik__given_free(g);
        return EINVAL;
    }
    *out = g;
    return 0;
}

void ik__given_free(struct ik__given *g)
{
    if (g == NULL)
        return;
    ik_builder_destroy(g->b);
    free(g);
}

/* Whether the upsert binds column c of r to a value (not NULL): store.c's bind_col. */
static bool bound(const struct ik__row *r, int c)
{
    return IK__HAS(r, c) && (!ik__col_is_str(c) || r->str[c].p != NULL);
}

static int put(struct ik__given *g, const struct ik__sink *s)
{
    const struct ik__row *r = &g->row;
    const char *backend = s->opts->default_backend ? s->opts->default_backend : "ipfs";
    int c, rc = 0;
    for (c = 0; c < IK__NCOLS && rc == 0; c++) {
        int k = g->col[c];
        bool has = bound(r, c);
        if (c == IK__CID)
            rc = ik_builder_str(g->b, k, g->cid, g->cid_n, NULL);
        else if (ik__col_is_str(c) && has)
            rc = ik_builder_str(g->b, k, r->str[c].p, r->str[c].n, NULL);
        else if (c == IK__PIN_TYPE)
            rc = ik_builder_str(g->b, k, "recursive", 9, NULL);
        else if (c == IK__BACKEND)
            rc = ik_builder_str(g->b, k, backend, strlen(backend), NULL);
        else if (c == IK__VERIFIED)
            rc = ik_builder_bool(g->b, k, has && r->num[c] != 0, NULL);
        else if (has)
            rc = ik_builder_int(g->b, k, r->num[c], NULL);
        else if (c == IK__TIMESTAMP)
            rc = ik_builder_int(g->b, k, s->now, NULL);
        else if (c == IK__REPLICATION_FACTOR)
            rc = ik_builder_int(g->b, k, 1, NULL);
        else if (c == IK__ACCESS_COUNT)
            rc = ik_builder_int(g->b, k, 0, NULL);
        else
            rc = ik_builder_null(g->b, k, NULL);
    }
    if (rc == 0)
        rc = ik_builder_end_row(g->b, NULL);
    return rc;
}

void ik__given_add(struct ik__sink *s, const struct ik__row *r)
{
    struct ik__given *g = s->given;
    const struct ik__span cid = r->str[IK__CID];
    char buf[IK_CID_MAX_TEXT + 1];
    const char *k = cid.p;
    size_t n = cid.n;
    int c;
    if (g == NULL || g->failed)
        return;
    if (ik__cid_needs_canonical(cid.p, cid.n)) { /* the key the upsert stored */
        if ((n = ik_cid_canonical(cid.p, cid.n, buf, sizeof buf)) == 0) {
            g->failed = true;
            return;
        }
        k = buf;
    }
    if (g->have && n == g->cid_n && memcmp(k, g->cid, n) == 0) { /* ON CONFLICT: coalesce */
        for (c = 0; c < IK__NCOLS; c++)
            if (c != IK__CID && bound(r, c)) {
                g->row.given |= 1u << c;
                g->row.str[c] = r->str[c];
                g->row.num[c] = r->num[c];
            }
        return;
    }
    if (g->have && put(g, s) != 0) {
        g->failed = true;
        return;
    }
    if (n >= sizeof g->cid) {
        g->failed = true;
        return;
    }
    g->row = *r;
    memcpy(g->cid, k, n);
    g->cid_n = n;
    g->have = true;
}

void ik__given_end(struct ik__sink *s)
{
    struct ik__given *g = s->given;
    if (g == NULL || g->failed || !g->have)
        return;
    if (put(g, s) != 0)
        g->failed = true;
    g->have = false;
}

int ik__given_finish(struct ik__given *g, struct ArrowSchema *schema_out, struct ArrowArray *out)
{
    struct ArrowSchema tmp;
    int rc;
    if (g->failed || g->have)
        return EINVAL;
    if ((rc = ik_builder_finish(g->b, NULL, &tmp, out, NULL)) != 0)
        return rc;
    tmp.release(&tmp);
    if ((rc = ik_table_schema("pin_index", schema_out, NULL)) != 0) {
        out->release(out);
        out->release = NULL;
    }
    return rc;
}
