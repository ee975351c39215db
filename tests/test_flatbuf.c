/* Tests of the flatbuffers layer: builder/reader round trips of every field kind, defaults for
 * absent fields, and hostile buffers (every truncation, bit flips, lying offsets) that must give
 * a recorded IK_EFORMAT failure, never an out-of-bounds read (ASan checks that). */
#include <stdlib.h>

#include "arrow/internal.h"
#include "ik_test.h"

/* table Inner { a: int; s: string }  table Outer { b: bool; i8; i16; i64; inner: Inner;
 * names: [string]; inners: [Inner]; nums: [long]; pair: struct{long,long} } */
static int build(struct ik_fbb *b, const uint8_t **data, size_t *len)
{
    ik_fbref s1, s2, in1, in2, names, inners, nums, inner_refs[2], name_refs[2], outer;
    int64_t raw[3] = {1, -2, 3};
    uint8_t pair[16];
    ik__fbb_init(b);
    s1 = ik__fbb_string(b, "first", 5);
    ik__fbb_table_start(b);
    ik__fbb_add_i32(b, 0, 42);
    ik__fbb_add_ref(b, 1, s1);
    in1 = ik__fbb_table_end(b);
    s2 = ik__fbb_string(b, "", 0);
    ik__fbb_table_start(b);
    ik__fbb_add_i32(b, 0, -7);
    ik__fbb_add_ref(b, 1, s2);
    in2 = ik__fbb_table_end(b);
    name_refs[0] = ik__fbb_string(b, "alpha", 5);
    name_refs[1] = ik__fbb_string(b, "béta", 5);
    names = ik__fbb_vector_refs(b, name_refs, 2);
    inner_refs[0] = in1;
    inner_refs[1] = in2;
    inners = ik__fbb_vector_refs(b, inner_refs, 2);
    nums = ik__fbb_vector_bytes(b, raw, 3, 8, 8);
    ik__st_u64(pair, 11);
    ik__st_u64(pair + 8, 22);
    ik__fbb_table_start(b);
    ik__fbb_add_bool(b, 0, true);
    ik__fbb_add_u8(b, 1, 200);
    ik__fbb_add_i16(b, 2, -300);
    ik__fbb_add_i64(b, 3, INT64_MIN);
    ik__fbb_add_ref(b, 4, in1);
    ik__fbb_add_ref(b, 5, names);
    ik__fbb_add_ref(b, 6, inners);
    ik__fbb_add_ref(b, 7, nums);
    ik__fbb_add_struct(b, 8, pair, 16, 8);
    outer = ik__fbb_table_end(b);
    return ik__fbb_finish(b, outer, data, len);
}

/* Reads everything; returns 1 when all values are as built. */
static int read_all(const uint8_t *p, size_t len, struct ik_fb *fb)
{
    struct ik_error err;
    struct ik_fbt o, in;
    struct ik_fbv v;
    struct ik_fbs s;
    const uint8_t *pair;
    int ok = 1;
    uint32_t i;
    if (ik__fb_init(fb, p, len, &err) != 0)
        return 0;
    o = ik__fb_root(fb);
    ok &= ik__fbt_bool(o, 0, false) == true;
    ok &= ik__fbt_u8(o, 1, 0) == 200;
    ok &= ik__fbt_i16(o, 2, 0) == -300;
    ok &= ik__fbt_i64(o, 3, 0) == INT64_MIN;
    in = ik__fbt_table(o, 4);
    ok &= ik__fbt_i32(in, 0, 0) == 42;
    s = ik__fbt_string(in, 1);
    ok &= s.ptr != NULL && s.len == 5 && memcmp(s.ptr, "first", 5) == 0;
    v = ik__fbt_vector(o, 5, 4);
    ok &= v.n == 2;
    s = ik__fbv_string(v, 1);
    ok &= s.ptr != NULL && s.len == 5 && memcmp(s.ptr, "béta", 5) == 0;
    v = ik__fbt_vector(o, 6, 4);
    for (i = 0; i < v.n; i++)
        ok &= ik__fbt_i32(ik__fbv_table(v, i), 0, 0) == (i ? -7 : 42);
    v = ik__fbt_vector(o, 7, 8);
    ok &= v.n == 3 && ik__ld_i64(ik__fbv_elem(v, 2, 8)) == 3;
    pair = ik__fbt_struct(o, 8, 16);
    ok &= pair != NULL && ik__ld_i64(pair) == 11 && ik__ld_i64(pair + 8) == 22;
    /* absent fields give defaults and are not failures */
    ok &= ik__fbt_i32(o, 20, 99) == 99 && !ik__fbt_present(ik__fbt_table(o, 21));
    ok &= ik__fbt_string(o, 22).ptr == NULL && ik__fbt_vector(o, 23, 4).n == 0;
    return ok && !ik__fb_failed(fb);
}

TEST(test_flatbuf_round_trip_every_field_kind)
{
    struct ik_fbb b;
    struct ik_fb fb;
    const uint8_t *p;
    size_t len;
    ASSERT_EQ(build(&b, &p, &len), 0);
    ASSERT_EQ(len % 8, 0);
    ASSERT_TRUE(read_all(p, len, &fb));
    ik__fbb_reset(&b);
}

TEST(test_flatbuf_every_truncation_fails_cleanly)
{
    struct ik_fbb b;
    struct ik_fb fb;
    const uint8_t *p;
    size_t len, cut, failed = 0;
    ASSERT_EQ(build(&b, &p, &len), 0);
    for (cut = 0; cut < len; cut++) {
        uint8_t *q = malloc(cut ? cut : 1); /* exact size: ASan catches any overread */
        memcpy(q, p, cut);
        /* read_all succeeds only when every value is exactly right: a cut that removes only
         * trailing alignment padding may do that; anything else must be a recorded failure */
        if (!read_all(q, cut, &fb)) {
            failed++;
            ASSERT_TRUE(cut < 8 || ik__fb_failed(&fb));
        }
        free(q);
    }
    ASSERT_TRUE(failed + 7 >= len);
    ik__fbb_reset(&b);
}

TEST(test_flatbuf_bit_flips_never_read_out_of_bounds)
{
    struct ik_fbb b;
    struct ik_fb fb;
    const uint8_t *p;
    size_t len, i;
    int bitn, failures = 0;
    ASSERT_EQ(build(&b, &p, &len), 0);
    for (i = 0; i < len; i++)
        for (bitn = 0; bitn < 8; bitn++) {
            uint8_t *q = malloc(len);
            memcpy(q, p, len);
            q[i] ^= (uint8_t)(1u << bitn);
            if (!read_all(q, len, &fb))
                failures++;
            free(q);
        }
    ASSERT_TRUE(failures > 0);
    ik__fbb_reset(&b);
}

TEST(test_flatbuf_lying_offsets_are_reported)
{
    struct ik_fb fb;
    struct ik_error err;
    struct ik_fbt t;
    uint8_t buf[32] = {0};
    ik__st_u32(buf, 0xFFFFFFF0u); /* root points far past the end */
    ASSERT_OK(ik__fb_init(&fb, buf, sizeof buf, &err), &err);
    t = ik__fb_root(&fb);
    ASSERT_TRUE(!ik__fbt_present(t));
    ASSERT_FAILS(ik__fb_error(&fb, "root", &err), IK_EFORMAT, &err, "out of bounds");
    /* a table whose vtable claims a huge size */
    memset(buf, 0, sizeof buf);
    ik__st_u32(buf, 16);          /* root table at 16 */
    ik__st_u32(buf + 16, 8);      /* vtable at 8 */
    buf[8] = 0xFE, buf[9] = 0xFF; /* vtable size 65534 */
    buf[10] = 8;
    ASSERT_OK(ik__fb_init(&fb, buf, sizeof buf, &err), &err);
    t = ik__fb_root(&fb);
    ASSERT_TRUE(!ik__fbt_present(t));
    ASSERT_FAILS(ik__fb_error(&fb, "root", &err), IK_EFORMAT, &err, "vtable size");
    /* a vector whose count overflows */
    ASSERT_FAILS(ik__fb_init(&fb, buf, 4, &err), IK_EFORMAT, &err, "flatbuffer of 4 bytes");
}
