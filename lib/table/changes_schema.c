/* The schema of a table's change feed (docs/protocol.md "changes"): the table's columns, every
 * one nullable but the key (a deleted row carries only its key), then `op` (dictionary<int8,
 * utf8>: "upsert" or "delete") and `version` (int64, the version of the key's newest change). */
#include <string.h>

#include "arrow/internal.h"
#include "ipfskit/schemas.h"

int ik_changes_schema(const char *table, struct ArrowSchema *out, struct ik_error *err)
{
    struct ArrowSchema t;
    int64_t i, n;
    int rc;
    if (strcmp(table, "pin_index") != 0) {
        if (ik_table_index(table) < 0)
            return ik_error_set(err, ENOENT, "unknown table '%.64s'", table);
        return ik_error_set(err, ENOTSUP,
                            "table '%s' has no change feed (only pin_index is stored; the others "
                            "are computed when asked)",
                            table);
    }
    if ((rc = ik_table_schema(table, &t, err)) != 0)
        return rc;
    n = t.n_children;
    if (ik__schema_alloc(out, "+s", "", t.metadata, 0, n + 2) != 0) {
        t.release(&t);
        return ik_error_set(err, ENOMEM, "out of memory");
    }
    for (i = 0, rc = 0; i < n && rc == 0; i++) {
        out->children[i]->release = NULL;
        rc = ik_schema_copy(t.children[i], out->children[i], err);
        if (rc == 0 && i > 0)
            out->children[i]->flags |= ARROW_FLAG_NULLABLE;
    }
    t.release(&t);
    if (rc == 0 && (ik__schema_alloc(out->children[n], "c", "op", NULL, 0, 0) != 0 ||
                    ik__schema_alloc_dictionary(out->children[n]) != 0 ||
                    ik__schema_alloc(out->children[n]->dictionary, "u", NULL, NULL,
                                     ARROW_FLAG_NULLABLE, 0) != 0 ||
                    ik__schema_alloc(out->children[n + 1], "l", "version", NULL, 0, 0) != 0))
        rc = ik_error_set(err, ENOMEM, "out of memory");
    if (rc != 0)
        out->release(out);
    return rc;
}
