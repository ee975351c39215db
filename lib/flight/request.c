/* The requests of the Flight service that name data: FlightDescriptors (a path of one table
 * name, or a command holding a query's JSON object) and tickets (the query's JSON object plus
 * the snapshot version it was planned on). Pure decoding, shared by the daemon's server, the
 * clients that make tickets, and the fuzzer. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "flight/flight.h"
#include "ipfskit/query.h"
#include "ipfskit/schemas.h"

/* A query from JSON bytes; *version (may be NULL) gets "version" (0 when absent). */
static int query_from_json_bytes(const uint8_t *p, size_t n, const char *what, struct ik_query *q,
                                 uint64_t *version, struct ik_error *err)
{
    json_error_t je;
    json_t *o = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, &je), *v;
    int rc;
    ik_query_init(q, NULL);
    if (version)
        *version = 0;
    if (o == NULL || !json_is_object(o)) {
        json_decref(o);
        return ik_error_set(err, EINVAL,
                            "%s: expected a JSON query object such as "
                            "{\"table\":\"pin_index\",\"limit\":10}%s%s",
                            what, o ? "" : ": ", o ? "" : je.text);
    }
    v = json_object_get(o, "version");
    if (v && version && (!json_is_integer(v) || json_integer_value(v) < 0))
        rc = ik_error_set(err, EINVAL, "%s: \"version\" must be a non-negative integer", what);
    else if ((rc = ik_query_from_json((const char *)p, n, q, err)) != 0)
        ik_error_prefix(err, rc, "%s", what);
    else if (v && version)
        *version = (uint64_t)json_integer_value(v);
    json_decref(o);
    return rc;
}

int ik_flight_query_from_descriptor(const uint8_t *p, size_t n, struct ik_query *q,
                                    struct ik_error *err)
{
    Arrow__Flight__Protocol__FlightDescriptor *fd;
    int rc = 0;
    ik_query_init(q, NULL);
    fd = arrow__flight__protocol__flight_descriptor__unpack(NULL, n, p);
    if (fd == NULL)
        return ik_error_set(err, IK_EFORMAT, "request is not a valid FlightDescriptor message");
    if (fd->type == ARROW__FLIGHT__PROTOCOL__FLIGHT_DESCRIPTOR__DESCRIPTOR_TYPE__PATH) {
        if (fd->n_path != 1 || ik_table_index(fd->path[0]) < 0)
            rc = ik_error_set(err, ENOENT,
                              "FlightDescriptor.path: no flight at that path; the paths are "
                              "[\"pin_index\"], [\"vfs_stats\"], [\"metrics\"], "
                              "[\"backend_health\"]");
        else
            ik_query_init(q, fd->path[0]);
    } else if (fd->type == ARROW__FLIGHT__PROTOCOL__FLIGHT_DESCRIPTOR__DESCRIPTOR_TYPE__CMD) {
        rc = query_from_json_bytes(fd->cmd.data, fd->cmd.len, "FlightDescriptor.cmd", q, NULL, err);
    } else {
        rc = ik_error_set(err, EINVAL, "FlightDescriptor.type: must be PATH (1) or CMD (2)");
    }
    arrow__flight__protocol__flight_descriptor__free_unpacked(fd, NULL);
    return rc;
}

int ik_flight_query_from_ticket(const uint8_t *p, size_t n, struct ik_query *q, uint64_t *version,
                                struct ik_error *err)
{
    Arrow__Flight__Protocol__Ticket *t = arrow__flight__protocol__ticket__unpack(NULL, n, p);
    int rc;
    ik_query_init(q, NULL);
    *version = 0;
    if (t == NULL)
        return ik_error_set(err, IK_EFORMAT, "request is not a valid Ticket message");
    rc = query_from_json_bytes(t->ticket.data, t->ticket.len, "Ticket", q, version, err);
    arrow__flight__protocol__ticket__free_unpacked(t, NULL);
    return rc;
}

char *ik_flight_ticket(const struct ik_query *q, uint64_t version)
{
    char *qs = ik_query_to_json(q), *s = NULL;
    json_t *o = qs ? json_loads(qs, 0, NULL) : NULL;
    free(qs);
    if (o && json_object_set_new(o, "version", json_integer((json_int_t)version)) == 0)
        s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}
