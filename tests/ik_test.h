/* Our tiny C test runner: TEST(name) registers a test, ASSERT_* macros print file:line and both
 * values on failure and end the test. The runner (tests/main.c) prints `N passed, N failed`. */
#ifndef IK_TEST_H
#define IK_TEST_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct ik_test {
    const char *name;
    void (*fn)(void);
    struct ik_test *next;
};

void ik_test_register(struct ik_test *t);
void ik_test_fail(const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* A scratch directory for this test run (created once, removed at exit if all passed). */
const char *ik_test_tmpdir(void);

#define TEST(name)                                                                                 \
    static void name(void);                                                                        \
    static struct ik_test name##_reg_ = {#name, name, NULL};                                       \
    __attribute__((constructor)) static void name##_ctor_(void)                                    \
    {                                                                                              \
        ik_test_register(&name##_reg_);                                                            \
    }                                                                                              \
    static void name(void)

#define ASSERT_TRUE(c)                                                                             \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            ik_test_fail(__FILE__, __LINE__, "expected true: %s", #c);                             \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define ASSERT_EQ(a, b)                                                                            \
    do {                                                                                           \
        intmax_t a_ = (intmax_t)(a), b_ = (intmax_t)(b);                                           \
        if (a_ != b_) {                                                                            \
            ik_test_fail(__FILE__, __LINE__, "%s == %s: %jd != %jd", #a, #b, a_, b_);              \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define ASSERT_NE(a, b)                                                                            \
    do {                                                                                           \
        intmax_t a_ = (intmax_t)(a), b_ = (intmax_t)(b);                                           \
        if (a_ == b_) {                                                                            \
            ik_test_fail(__FILE__, __LINE__, "%s != %s: both %jd", #a, #b, a_);                    \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define ASSERT_STR_EQ(a, b)                                                                        \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {                                     \
            ik_test_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b,                 \
                         a_ ? a_ : "(null)", b_ ? b_ : "(null)");                                  \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define ASSERT_MEM_EQ(a, b, n)                                                                     \
    do {                                                                                           \
        if (memcmp((a), (b), (n)) != 0) {                                                          \
            ik_test_fail(__FILE__, __LINE__, "%s and %s differ in their first %zu bytes", #a, #b,  \
                         (size_t)(n));                                                             \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* expr returns an ik code; on failure prints it and the message in *errp. */
#define ASSERT_OK(expr, errp)                                                                      \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ != 0) {                                                                            \
            ik_test_fail(__FILE__, __LINE__, "%s returned %d: %s", #expr, rc_, (errp)->message);   \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* expr must fail with `code`, and the message in *errp must contain `substr`. */
#define ASSERT_FAILS(expr, code, errp, substr)                                                     \
    do {                                                                                           \
        (errp)->message[0] = 0;                                                                    \
        int rc_ = (expr);                                                                          \
        if (rc_ != (code)) {                                                                       \
            ik_test_fail(__FILE__, __LINE__, "%s returned %d, expected %d (%s)", #expr, rc_,       \
                         (int)(code), (errp)->message);                                            \
            return;                                                                                \
        }                                                                                          \
        if (strstr((errp)->message, (substr)) == NULL) {                                           \
            ik_test_fail(__FILE__, __LINE__, "message \"%s\" lacks \"%s\"", (errp)->message,       \
                         (substr));                                                                \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#endif
