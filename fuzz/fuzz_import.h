/* Shared by the import fuzz targets (fuzz_import_*.c): the input goes through ik_store_import
 * with the format forced, once failing on the first bad row and once skipping bad rows, into a
 * store in a temporary directory made at first use. Whatever is committed is read back as a
 * pin_index batch (the fast reader the snapshot builds use) and fully validated, UTF-8
 * included: an import must never commit what a snapshot reader would refuse. The table is
 * emptied after each input so the store stays small. */
#ifndef IK_FUZZ_IMPORT_H
#define IK_FUZZ_IMPORT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipfskit/arrow.h"
#include "ipfskit/store.h"
#include "store/store_internal.h"

static char fuzz_dir[64];
static struct ik_store *fuzz_store;
static struct ik_pin_reader *fuzz_reader;

static void fuzz_die(const char *what, const struct ik_error *err)
{
    fprintf(stderr, "fuzz_import: %s: %s\n", what, err ? err->message : "");
    abort();
}

/* Closes the store and removes its directory when the fuzzer or the replay exits. */
static void fuzz_remove_store(void)
{
    static const char *const files[] = {"pins.db", "pins.db-wal", "pins.db-shm"};
    char path[128];
    size_t i;
    ik_pin_reader_close(fuzz_reader);
    ik_store_close(fuzz_store);
    for (i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", fuzz_dir, files[i]);
        remove(path);
    }
    remove(fuzz_dir);
}

static void fuzz_open_store(void)
{
    struct ik_error err;
    snprintf(fuzz_dir, sizeof fuzz_dir, "/tmp/ik-fuzz-import-XXXXXX");
    if (mkdtemp(fuzz_dir) == NULL)
        fuzz_die("mkdtemp", NULL);
    if (ik_store_open(fuzz_dir, IK_STORE_CREATE, &fuzz_store, &err) != 0)
        fuzz_die("opening the store", &err);
    if (ik_pin_reader_open(fuzz_dir, 1, &fuzz_reader, &err) != 0)
        fuzz_die("opening the reader", &err);
    atexit(fuzz_remove_store);
}

/* Reads the committed pins back and validates them fully. */
static void fuzz_check_committed(void)
{
    struct ik_error err;
    struct ArrowSchema s;
    struct ArrowArray a;
    uint64_t gen;
    if (ik_pin_reader_read(fuzz_reader, &gen, &s, &a, &err) != 0)
        fuzz_die("reading the pins back", &err);
    if (ik_array_validate(&s, &a, IK_VALIDATE_FULL, true, &err) != 0)
        fuzz_die("an import committed pins that are not valid Arrow", &err);
    a.release(&a);
    s.release(&s);
}

static void fuzz_import(const uint8_t *data, size_t size, enum ik_import_format format)
{
    struct ik_import_options o;
    struct ik_import_result res;
    struct ik_error err;
    int skip;
    if (fuzz_store == NULL)
        fuzz_open_store();
    for (skip = 0; skip < 2; skip++) {
        int64_t before = ik_store_count(fuzz_store), after;
        ik_import_options_init(&o);
        o.format = format;
        o.skip_invalid = skip != 0;
        struct ArrowSchema gs = {0};
        struct ArrowArray ga = {0};
        /* Arrow: the rows an import into the empty table leaves are built too (import_given.c,
         * on two threads from 8192 rows), and must be valid Arrow, one per pin committed */
        if ((format == IK_IMPORT_ARROW
                 ? ik_store_import_rows(fuzz_store, data, size, &o, &res, &gs, &ga, &err)
                 : ik_store_import(fuzz_store, data, size, &o, &res, &err)) == 0) {
            after = ik_store_count(fuzz_store);
            if (after - before > res.imported)
                fuzz_die("more pins committed than reported", NULL);
            if (ga.release != NULL) {
                if (before != 0 || ga.length != after)
                    fuzz_die("the rows given are not the pins committed", NULL);
                if (ik_array_validate(&gs, &ga, IK_VALIDATE_FULL, true, &err) != 0)
                    fuzz_die("the rows given are not valid Arrow", &err);
                ga.release(&ga);
                gs.release(&gs);
            }
            fuzz_check_committed();
        } else if (ik_store_count(fuzz_store) != before) {
            fuzz_die("a failed import changed the store", &err);
        }
    }
    if (sqlite3_exec(ik__store_db(fuzz_store), "DELETE FROM pins", NULL, NULL, NULL) != SQLITE_OK)
        fuzz_die("emptying the store", NULL);
}

#endif
