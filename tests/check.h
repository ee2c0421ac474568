/* check.h - the smallest test harness that does the job.
 *
 *     #include "check.h"
 *     static void test_add(void) { CHECK(1 + 1 == 2); CHECK_EQ_INT(f(2), 4); }
 *     int main(void) { RUN(test_add); return check_summary(); }
 *
 * Each failed CHECK prints file:line and the expression; check_summary()
 * prints "N passed, N failed" and returns the process exit status.
 */
#ifndef T5_CHECK_H
#define T5_CHECK_H

#include <math.h>
#include <stdio.h>

static int check__pass, check__fail;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            check__pass++;                                                                         \
        } else {                                                                                   \
            check__fail++;                                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                       \
    do {                                                                                           \
        if (cond) {                                                                                \
            check__pass++;                                                                         \
        } else {                                                                                   \
            check__fail++;                                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long check__a = (long long)(a), check__b = (long long)(b);                            \
        CHECK_MSG(check__a == check__b, "%lld != %lld", check__a, check__b);                       \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                      \
    do {                                                                                           \
        double check__a = (a), check__b = (b);                                                     \
        CHECK_MSG(fabs(check__a - check__b) <= (tol), "%.9g vs %.9g (tol %g)", check__a, check__b, \
                  (double)(tol));                                                                  \
    } while (0)

#define RUN(fn)                                                                                    \
    do {                                                                                           \
        int check__before = check__fail;                                                           \
        fn();                                                                                      \
        fprintf(stderr, "%s %s\n", check__fail == check__before ? "ok  " : "FAIL", #fn);           \
    } while (0)

static inline int check_summary(void)
{
    printf("%d passed, %d failed\n", check__pass, check__fail);
    return check__fail ? 1 : 0;
}

#endif
