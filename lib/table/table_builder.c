/* The row builder for one of the ipfs-kit tables by name: the table-aware half of the builder,
 * kept here so that lib/arrow (the codec) knows no table. */
#include "ipfskit/builder.h"
#include "ipfskit/schemas.h"

int ik_builder_create_table(const char *name, int64_t capacity_hint, struct ik_builder **out,
                            struct ik_error *err)
{
    struct ArrowSchema s;
    int rc;
    *out = NULL;
    if ((rc = ik_table_schema(name, &s, err)) != 0)
        return rc;
    rc = ik_builder_create(&s, capacity_hint, out, err);
    s.release(&s);
    return rc;
}
