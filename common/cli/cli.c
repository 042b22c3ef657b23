/*
 * cli.c - diagnostics, exit helpers and option value parsers shared by the
 * kq command-line tools.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int kq_cli_verbosity;
static const char *progname = "kq";
static bool progress_shown;	/* a progress line is drawn in place on stderr */

void
kq_cli_init(const char *name)
{
	struct sigaction sa;

	progname = name;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGPIPE, &sa, NULL);
}

static volatile sig_atomic_t *sig_flag;
static void (*sig_second)(void);

static void
on_signal(int sig)
{
	if (*sig_flag) {
		/* A second signal: the clean shutdown is abandoned. */
		sig_second();
		_exit(1);
	}
	*sig_flag = sig;
}

void
kq_cli_catch_signals(volatile sig_atomic_t *flag, void (*second)(void))
{
	struct sigaction sa;

	sig_flag = flag;
	sig_second = second;
	memset(&sa, 0, sizeof(sa));
	/* No SA_RESTART: a signal interrupts a blocking poll so it is noticed. */
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

const char *
kq_cli_progname(void)
{
	return progname;
}

/*
 * One write per line, so lines from several threads or processes sharing
 * stderr do not interleave mid-line.
 */
static void
emit(const char *tag, int errnum, const char *fmt, va_list ap)
{
	struct kq_buf b = { 0 };
	ssize_t n;
	size_t off = 0;

	if (progress_shown) {
		kq_buf_adds(&b, "\r\033[K");
		progress_shown = false;
	}
	kq_buf_addf(&b, "%s: %s", progname, tag);
	kq_buf_vaddf(&b, fmt, ap);
	if (errnum)
		kq_buf_addf(&b, ": %s", strerror(errnum));
	kq_buf_addc(&b, '\n');
	while (off < b.len) {
		n = write(STDERR_FILENO, b.buf + off, b.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	kq_buf_free(&b);
}

void
kq_error(const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	emit("", 0, fmt, ap);
	va_end(ap);
	errno = e;
}

void
kq_die(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit("", 0, fmt, ap);
	va_end(ap);
	exit(status);
}

void
kq_die_errno(int status, const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	emit("", e, fmt, ap);
	va_end(ap);
	exit(status);
}

void
kq_warn(const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	if (kq_cli_verbosity < 0)
		return;
	va_start(ap, fmt);
	emit("warning: ", 0, fmt, ap);
	va_end(ap);
	errno = e;
}

void
kq_warn_errno(const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	if (kq_cli_verbosity < 0)
		return;
	va_start(ap, fmt);
	emit("warning: ", e, fmt, ap);
	va_end(ap);
	errno = e;
}

void
kq_note(const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	if (kq_cli_verbosity < 0)
		return;
	va_start(ap, fmt);
	emit("", 0, fmt, ap);
	va_end(ap);
	errno = e;
}

void
kq_debug(const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	if (kq_cli_verbosity < 1)
		return;
	va_start(ap, fmt);
	emit("debug: ", 0, fmt, ap);
	va_end(ap);
	errno = e;
}

void
kq_usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit("", 0, fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try '%s --help'.\n", progname);
	exit(KQ_EXIT_USAGE);
}

static void
write_all(const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(STDERR_FILENO, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

void
kq_cli_progress(const char *line, bool in_place)
{
	struct kq_buf b = { 0 };

	if (in_place)
		kq_buf_addf(&b, "\r\033[K%s: %s", progname, line);
	else
		kq_buf_addf(&b, "%s: %s\n", progname, line);
	write_all(b.buf, b.len);
	progress_shown = in_place;
	kq_buf_free(&b);
}

void
kq_cli_progress_clear(void)
{
	if (progress_shown)
		write_all((const unsigned char *)"\r\033[K", 4);
	progress_shown = false;
}

void
kq_cli_fmt_count(char *buf, size_t len, uint64_t v)
{
	char digits[32];
	size_t n, i, o = 0;

	n = (size_t)snprintf(digits, sizeof(digits), "%llu", (unsigned long long)v);
	for (i = 0; i < n && o + 2 < len; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
}

void
kq_cli_exit(int status)
{
	kq_cli_progress_clear();
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (errno != EPIPE) {
			kq_error("write error: %s", strerror(errno));
			if (status == 0)
				status = KQ_EXIT_FAIL;
		}
	}
	exit(status);
}

void
kq_cli_version(void)
{
	printf("%s (kq) %s\n", progname, KQ_VERSION);
	kq_cli_exit(0);
}

const char *
kq_cli_brokers(const char *flag)
{
	const char *env;

	if (flag)
		return flag;
	env = getenv("KQ_BROKERS");
	if (env && *env)
		return env;
	return "localhost:9092";
}

void
kq_cli_client_warn(void *arg, const char *msg)
{
	(void)arg;
	kq_warn("%s", msg);
}

/* ---- value parsers ---- */

int
kq_cli_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (!s || !*s || *s == ' ' || *s == '\t')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return -1;
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Unit tables: suffix and multiplier, longest suffixes first. */
struct unit {
	const char *name;
	int64_t mult;
};

static const struct unit dur_units[] = {
	{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 }, { "d", 86400000 },
};

static const struct unit size_units[] = {
	{ "kib", 1024LL }, { "mib", 1024LL * 1024 }, { "gib", 1024LL * 1024 * 1024 },
	{ "tib", 1024LL * 1024 * 1024 * 1024 },
	{ "kb", 1000LL }, { "mb", 1000000LL }, { "gb", 1000000000LL }, { "tb", 1000000000000LL },
	{ "k", 1000LL }, { "m", 1000000LL }, { "g", 1000000000LL },
	{ "b", 1 },
};

/*
 * Parse "DIGITS[.DIGITS]" at *pp into an integer part and a fraction
 * (numerator/denominator, up to 9 fraction digits kept).
 */
static int
parse_num(const char **pp, int64_t *ip, int64_t *num, int64_t *den)
{
	const char *p = *pp;
	int64_t v = 0, n = 0, d = 1;

	if (*p < '0' || *p > '9')
		return -1;
	while (*p >= '0' && *p <= '9') {
		if (v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*p++ - '0');
	}
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		while (*p >= '0' && *p <= '9') {
			if (d < 1000000000) {
				n = n * 10 + (*p - '0');
				d *= 10;
			}
			p++;
		}
	}
	*ip = v;
	*num = n;
	*den = d;
	*pp = p;
	return 0;
}

/* v * mult + num * mult / den without overflow; -1 on overflow. */
static int
scale(int64_t v, int64_t num, int64_t den, int64_t mult, int64_t *out)
{
	int64_t r;

	if (v > INT64_MAX / mult)
		return -1;
	r = v * mult;
	/* num < den <= 1e9 and mult <= ~1e12: use long double-free math */
	if (num) {
		__int128 f = (__int128)num * mult / den;

		if (r > INT64_MAX - (int64_t)f)
			return -1;
		r += (int64_t)f;
	}
	*out = r;
	return 0;
}

static int
unit_match(const char *p, const struct unit *units, size_t nunits, bool nocase,
	   const struct unit **u, size_t *len)
{
	size_t i, l;

	for (i = 0; i < nunits; i++) {
		l = strlen(units[i].name);
		if ((nocase ? strncasecmp(p, units[i].name, l) : strncmp(p, units[i].name, l)) == 0) {
			/* "m" must not swallow the "m" of "ms" */
			if (units == dur_units && p[l] >= 'a' && p[l] <= 'z')
				continue;
			*u = &units[i];
			*len = l;
			return 0;
		}
	}
	return -1;
}

int
kq_cli_parse_duration_ms(const char *s, int64_t *ms)
{
	const char *p = s;
	const struct unit *u;
	int64_t total = 0, v, num, den, part;
	size_t ul;

	if (!s || !*s)
		return -1;
	if (strcmp(s, "0") == 0) {
		*ms = 0;
		return 0;
	}
	while (*p) {
		if (parse_num(&p, &v, &num, &den) < 0)
			return -1;
		if (unit_match(p, dur_units, KQ_ARRAY_LEN(dur_units), false, &u, &ul) < 0)
			return -1;
		p += ul;
		if (scale(v, num, den, u->mult, &part) < 0 || total > INT64_MAX - part)
			return -1;
		total += part;
	}
	*ms = total;
	return 0;
}

int
kq_cli_parse_size(const char *s, int64_t *bytes)
{
	const char *p = s;
	const struct unit *u = NULL;
	int64_t v, num, den, r;
	size_t ul = 0;

	if (!s || !*s)
		return -1;
	if (parse_num(&p, &v, &num, &den) < 0)
		return -1;
	if (*p) {
		if (unit_match(p, size_units, KQ_ARRAY_LEN(size_units), true, &u, &ul) < 0)
			return -1;
		if (p[ul])
			return -1;
	} else if (num) {
		return -1;	/* "1.5" bytes */
	}
	if (scale(v, num, den, u ? u->mult : 1, &r) < 0)
		return -1;
	*bytes = r;
	return 0;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
kq_cli_parse_escapes(const char *s, struct kq_buf *out)
{
	size_t start = out->len;
	int hi, lo;

	for (; *s; s++) {
		if (*s != '\\') {
			kq_buf_addc(out, (unsigned char)*s);
			continue;
		}
		switch (*++s) {
		case 'n': kq_buf_addc(out, '\n'); break;
		case 'r': kq_buf_addc(out, '\r'); break;
		case 't': kq_buf_addc(out, '\t'); break;
		case '0': kq_buf_addc(out, '\0'); break;
		case '\\': kq_buf_addc(out, '\\'); break;
		case 'x':
			if ((hi = hexval(s[1])) < 0 || (lo = hexval(s[2])) < 0)
				goto bad;
			kq_buf_addc(out, hi << 4 | lo);
			s += 2;
			break;
		default:
			goto bad;
		}
	}
	return 0;
bad:
	out->len = start;
	return -1;
}

int
kq_cli_unescape(const char *s, struct kq_buf *out)
{
	return kq_cli_parse_escapes(s, out);
}

/* ---- time ---- */

/* Days since 1970-01-01 for a proleptic Gregorian date (Hinnant's algorithm). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static bool
is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
mdays(int64_t y, int m)
{
	static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

/* Exactly n digits at p (bounded by end) into *v. */
static int
digits(const char *p, const char *end, int n, int *v)
{
	int i, r = 0;

	if (end - p < n)
		return -1;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		r = r * 10 + (p[i] - '0');
	}
	*v = r;
	return 0;
}

static bool
all_digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return n > 0;
}

static int
parse_rfc3339(const char *s, const char *end, int64_t *ms)
{
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, sec = 0, zh, zm, frac = 0, scale_ = 100;
	int64_t off = 0, t;

	if (digits(p, end, 4, &y) < 0 || p[4] != '-' || digits(p + 5, end, 2, &mo) < 0 ||
	    end - p < 10 || p[7] != '-' || digits(p + 8, end, 2, &d) < 0)
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays(y, mo))
		return -1;
	p += 10;
	if (p < end) {
		if (*p != 'T' && *p != 't' && *p != ' ')
			return -1;
		p++;
		if (digits(p, end, 2, &h) < 0 || end - p < 8 || p[2] != ':' ||
		    digits(p + 3, end, 2, &mi) < 0 || p[5] != ':' ||
		    digits(p + 6, end, 2, &sec) < 0)
			return -1;
		if (h > 23 || mi > 59 || sec > 60)
			return -1;
		if (sec == 60)
			sec = 59;	/* leap second: close enough for offsets */
		p += 8;
		if (p < end && *p == '.') {
			p++;
			if (p >= end || *p < '0' || *p > '9')
				return -1;
			while (p < end && *p >= '0' && *p <= '9') {
				frac += (*p - '0') * scale_;
				scale_ /= 10;
				p++;
			}
		}
		if (p < end) {
			if (*p == 'Z' || *p == 'z') {
				p++;
			} else if (*p == '+' || *p == '-') {
				if (digits(p + 1, end, 2, &zh) < 0 || end - p < 6 || p[3] != ':' ||
				    digits(p + 4, end, 2, &zm) < 0 || zh > 23 || zm > 59)
					return -1;
				off = (int64_t)(zh * 60 + zm) * 60000;
				if (*p == '-')
					off = -off;
				p += 6;
			} else {
				return -1;
			}
		}
		if (p != end)
			return -1;
	}
	t = days_from_civil(y, mo, d) * 86400000LL +
	    ((int64_t)h * 3600 + mi * 60 + sec) * 1000 + frac;
	*ms = t - off;
	return 0;
}

int
kq_cli_parse_time_ms(const char *s, size_t n, int64_t now_ms, int64_t *ms)
{
	char tmp[64];
	int64_t v;

	if (!s || n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (strcmp(tmp, "now") == 0) {
		*ms = now_ms;
		return 0;
	}
	if (n == 13 && all_digits(tmp, n)) {
		*ms = strtoll(tmp, NULL, 10);
		return 0;
	}
	if (n == 10 && all_digits(tmp, n)) {
		*ms = strtoll(tmp, NULL, 10) * 1000;
		return 0;
	}
	if (parse_rfc3339(tmp, tmp + n, ms) == 0)
		return 0;
	if (tmp[0] == '-' || tmp[0] == '+') {
		if (kq_cli_parse_duration_ms(tmp + 1, &v) < 0)
			return -1;
		if (tmp[0] == '-' ? now_ms < INT64_MIN + v : now_ms > INT64_MAX - v)
			return -1;
		*ms = tmp[0] == '-' ? now_ms - v : now_ms + v;
		return 0;
	}
	return -1;
}

void
kq_cli_fmt_time(int64_t ms, char *buf, size_t len)
{
	int64_t days, rem, y;
	int m, d;

	days = ms / 86400000;
	rem = ms % 86400000;
	if (rem < 0) {
		rem += 86400000;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	snprintf(buf, len, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)y, m, d,
		 (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
		 (int)(rem % 1000));
}
