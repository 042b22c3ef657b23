/*
 * t.h - a tiny TAP harness for kq's unit tests.
 *
 *	static void test_roundtrip(void) { T_EQ(1 + 1, 2); T_OK(p != NULL, "got p"); }
 *	int main(void) { T_RUN(test_roundtrip); return t_done(); }
 *
 * Each T_RUN is one TAP test point: "ok N - name" or "not ok N - name" with
 * the failed checks as "# file:line: ..." diagnostics.  t_done() prints the
 * plan and returns the exit status.
 */
#ifndef KQ_T_H
#define KQ_T_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int t_n, t_failed, t_cur_failed;

#define T_OK(cond, ...)                                                            \
	do {                                                                       \
		if (!(cond)) {                                                     \
			t_cur_failed++;                                            \
			printf("# %s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
			printf(__VA_ARGS__);                                       \
			printf("\n");                                              \
		}                                                                  \
	} while (0)

#define T_EQ(a, b)                                                                 \
	do {                                                                       \
		long long t_a_ = (long long)(a), t_b_ = (long long)(b);            \
		if (t_a_ != t_b_) {                                                \
			t_cur_failed++;                                            \
			printf("# %s:%d: %s == %s: %lld != %lld\n", __FILE__, __LINE__, \
			       #a, #b, t_a_, t_b_);                                 \
		}                                                                  \
	} while (0)

#define T_MEMEQ(a, b, n)                                                          \
	T_OK(memcmp((a), (b), (n)) == 0, "%zu bytes differ", (size_t)(n))

#define T_STREQ(a, b)                                                             \
	do {                                                                      \
		const char *t_sa_ = (a), *t_sb_ = (b);                            \
		if (!t_sa_ || !t_sb_ || strcmp(t_sa_, t_sb_) != 0) {              \
			t_cur_failed++;                                           \
			printf("# %s:%d: %s == %s: \"%s\" != \"%s\"\n", __FILE__,  \
			       __LINE__, #a, #b, t_sa_ ? t_sa_ : "(null)",          \
			       t_sb_ ? t_sb_ : "(null)");                          \
		}                                                                 \
	} while (0)

#define T_RUN(fn)                                                                 \
	do {                                                                      \
		t_cur_failed = 0;                                                 \
		fn();                                                             \
		t_n++;                                                            \
		if (t_cur_failed)                                                 \
			t_failed++;                                               \
		printf("%s %d - %s\n", t_cur_failed ? "not ok" : "ok", t_n, #fn); \
		fflush(stdout);                                                   \
	} while (0)

static inline int
t_done(void)
{
	printf("1..%d\n", t_n);
	return t_failed ? 1 : 0;
}

#endif
