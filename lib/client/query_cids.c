/* Filters on cid compare canonical CID text: the store keeps every pin under its canonical
 * CID (lower-case base32 for v1, base58 for v0), so `pin list --cid B…` or a filter written in
 * base64 must look for that form. Values that are not CIDs stay as they are (they match
 * nothing, as before). Used by the client for every query and by the daemon for queries from
 * any other client. */
#include <stdlib.h>
#include <string.h>

#include "ipfskit/cid.h"
#include "ipfskit/client.h"
#include "store/cid_internal.h"

static bool on_cid(const struct ik_predicate *p)
{
    return strcmp(p->column, "cid") == 0 &&
           (p->op == IK_OP_EQ || p->op == IK_OP_NE || p->op == IK_OP_IN);
}

/* The canonical form of v into buf when it is a CID given in another form; else 0. */
static size_t other_form(const struct ik_value *v, char *buf, size_t cap)
{
    size_t n;
    if (v->kind != IK_VAL_STR || v->s == NULL)
        return 0;
    if (!ik__cid_needs_canonical(v->s, v->len))
        return 0; /* in the form ik_cid_canonical keeps, CID or not: no decode (every lookup) */
    n = ik_cid_canonical(v->s, v->len, buf, cap);
    return n > 0 && (n != v->len || memcmp(buf, v->s, n) != 0) ? n : 0;
}

bool ik_query_has_other_cids(const struct ik_query *q)
{
    char buf[IK_CID_MAX_TEXT + 1];
    size_t i, k;
    for (i = 0; i < q->n_preds; i++)
        for (k = 0; on_cid(&q->preds[i]) && k < q->preds[i].n_values; k++)
            if (other_form(&q->preds[i].values[k], buf, sizeof buf) > 0)
                return true;
    return false;
}

int ik_query_canonical_cids(struct ik_query *q, struct ik_error *err)
{
    char buf[IK_CID_MAX_TEXT + 1];
    size_t i, k, n;
    for (i = 0; i < q->n_preds; i++)
        for (k = 0; on_cid(&q->preds[i]) && k < q->preds[i].n_values; k++) {
            struct ik_value *v = &q->preds[i].values[k];
            char *s;
            if ((n = other_form(v, buf, sizeof buf)) == 0)
                continue;
            if ((s = malloc(n + 1)) == NULL)
                return ik_error_set(err, ENOMEM, "out of memory");
            memcpy(s, buf, n + 1);
            free(v->s);
            v->s = s;
            v->len = n;
        }
    return 0;
}
