/*
 * offspec.c - offset specs (CLI.md section 4): START or START:END, each end
 * one of beginning|earliest|start, end|latest, stored, N, -N, +N, @TIME,
 * s@MS, e@MS.  Parsing is pure; resolution against a partition's offsets
 * is kq_off_resolve, fed by the caller's ListOffsets answers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "format.h"

#define SPEC_MAX 256

static bool
all_digits(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* Non-negative decimal; false on overflow or junk. */
static bool
parse_n(const char *s, size_t n, int64_t *v)
{
	size_t i;
	int64_t x = 0;

	if (!all_digits(s, n))
		return false;
	for (i = 0; i < n; i++) {
		if (x > (INT64_MAX - (s[i] - '0')) / 10)
			return false;
		x = x * 10 + (s[i] - '0');
	}
	*v = x;
	return true;
}

static bool
word(const char *s, size_t n, const char *w)
{
	return strlen(w) == n && memcmp(s, w, n) == 0;
}

static int
parse_off(const char *s, size_t n, bool is_end, const struct kq_off *start, int64_t now_ms,
	  struct kq_off *off, char *errbuf, size_t errlen)
{
	char tmp[SPEC_MAX];
	int64_t v, dur;

	memset(off, 0, sizeof(*off));
	if (n == 0 || n >= sizeof(tmp))
		goto bad;
	if (word(s, n, "beginning") || word(s, n, "earliest") || word(s, n, "start")) {
		off->kind = KQ_OFF_BEGINNING;
		return 0;
	}
	if (word(s, n, "end") || word(s, n, "latest")) {
		off->kind = KQ_OFF_END;
		return 0;
	}
	if (word(s, n, "stored")) {
		off->kind = KQ_OFF_STORED;
		return 0;
	}
	if (parse_n(s, n, &v)) {
		off->kind = KQ_OFF_ABS;
		off->value = v;
		return 0;
	}
	if ((s[0] == '-' || s[0] == '+') && parse_n(s + 1, n - 1, &v)) {
		off->kind = s[0] == '-' ? KQ_OFF_FROM_END : KQ_OFF_FROM_START;
		off->value = v;
		return 0;
	}
	if (n > 2 && (s[0] == 's' || s[0] == 'e') && s[1] == '@') {
		if ((s[0] == 'e') != is_end) {
			snprintf(errbuf, errlen, "'%.*s' can only be %s", (int)n, s,
				 s[0] == 'e' ? "an END (START:e@MS)" : "a START");
			return KQ_ERR_INVALID;
		}
		if (!parse_n(s + 2, n - 2, &v))
			goto bad;
		off->kind = KQ_OFF_TIME;
		off->value = v;
		return 0;
	}
	if (s[0] == '@' && n > 1) {
		memcpy(tmp, s + 1, n - 1);
		tmp[n - 1] = '\0';
		/* END @+DUR counts from a START time, so "@DATE:@+1h" is a window. */
		if (is_end && start && start->kind == KQ_OFF_TIME && tmp[0] == '+') {
			if (kq_cli_parse_duration_ms(tmp + 1, &dur) < 0)
				goto bad;
			off->kind = KQ_OFF_TIME;
			off->value = start->value + dur;
			return 0;
		}
		if (kq_cli_parse_time_ms(s + 1, n - 1, now_ms, &v) < 0)
			goto bad;
		off->kind = KQ_OFF_TIME;
		off->value = v;
		return 0;
	}
bad:
	snprintf(errbuf, errlen, "bad offset '%.*s' (use beginning, end, stored, N, -N, "
		 "+N or @TIME)", (int)KQ_MIN(n, (size_t)80), s);
	return KQ_ERR_INVALID;
}

int
kq_cli_parse_off(const char *s, size_t n, bool is_end, int64_t now_ms, struct kq_off *off,
		 char *errbuf, size_t errlen)
{
	return parse_off(s, n, is_end, NULL, now_ms, off, errbuf, errlen);
}

int
kq_cli_parse_offspec(const char *s, int64_t now_ms, struct kq_offspec *spec, char *errbuf,
		     size_t errlen)
{
	size_t n = strlen(s), i;
	char e1[8], e2[8];
	int err;

	memset(spec, 0, sizeof(*spec));
	if (n == 0) {
		snprintf(errbuf, errlen, "empty offset spec");
		return KQ_ERR_INVALID;
	}
	/* The whole string as START first; RFC 3339 times contain colons. */
	if ((err = parse_off(s, n, false, NULL, now_ms, &spec->start, errbuf, errlen)) == 0)
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] != ':')
			continue;
		if (parse_off(s, i, false, NULL, now_ms, &spec->start, e1, sizeof(e1)) == 0 &&
		    parse_off(s + i + 1, n - i - 1, true, &spec->start, now_ms, &spec->end,
			      e2, sizeof(e2)) == 0)
			break;
	}
	if (i == n) {
		/* No split worked: report the simple case's reason precisely. */
		const char *c = strchr(s, ':');

		if (c && !strchr(c + 1, ':')) {
			if ((err = parse_off(s, (size_t)(c - s), false, NULL, now_ms,
					     &spec->start, errbuf, errlen)) == 0)
				err = parse_off(c + 1, strlen(c + 1), true, &spec->start,
						now_ms, &spec->end, errbuf, errlen);
			if (err == 0)	/* cannot happen: the loop tried it */
				err = KQ_ERR_INVALID;
		} else {
			err = KQ_ERR_INVALID;
		}
		memset(spec, 0, sizeof(*spec));
		return err;
	}
	if (spec->end.kind == KQ_OFF_STORED) {
		snprintf(errbuf, errlen, "'stored' can only be a START");
		memset(spec, 0, sizeof(*spec));
		return KQ_ERR_INVALID;
	}
	return 0;
}

void
kq_off_str(struct kq_buf *out, const struct kq_off *off)
{
	int64_t ms, secs, days, rem, y, z, era, doe, yoe, doy, mp;
	int m, d;

	switch (off->kind) {
	case KQ_OFF_NONE:
		kq_buf_adds(out, "none");
		break;
	case KQ_OFF_BEGINNING:
		kq_buf_adds(out, "beginning");
		break;
	case KQ_OFF_END:
		kq_buf_adds(out, "end");
		break;
	case KQ_OFF_STORED:
		kq_buf_adds(out, "stored");
		break;
	case KQ_OFF_ABS:
		kq_buf_addf(out, "%lld", (long long)off->value);
		break;
	case KQ_OFF_FROM_END:
		kq_buf_addf(out, "-%lld", (long long)off->value);
		break;
	case KQ_OFF_FROM_START:
		kq_buf_addf(out, "+%lld", (long long)off->value);
		break;
	case KQ_OFF_TIME:
		ms = off->value;
		secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
		days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
		rem = secs - days * 86400;
		/* Civil date from days since the epoch (Howard Hinnant's method). */
		z = days + 719468;
		era = (z >= 0 ? z : z - 146096) / 146097;
		doe = z - era * 146097;
		yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
		doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
		mp = (5 * doy + 2) / 153;
		d = (int)(doy - (153 * mp + 2) / 5 + 1);
		m = (int)(mp < 10 ? mp + 3 : mp - 9);
		y = yoe + era * 400 + (m <= 2);
		kq_buf_addf(out, "@%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)y, m, d,
			    (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60),
			    (int)(ms - secs * 1000));
		break;
	}
}

int64_t
kq_off_resolve(const struct kq_off *off, int64_t lo, int64_t hi, int64_t time_off,
	       int64_t stored, bool *clamped)
{
	int64_t v;

	switch (off->kind) {
	case KQ_OFF_END:
	case KQ_OFF_NONE:
		v = hi;
		break;
	case KQ_OFF_STORED:
		v = stored >= 0 ? stored : lo;
		break;
	case KQ_OFF_ABS:
		v = off->value;
		break;
	case KQ_OFF_FROM_END:
		v = off->value > hi ? INT64_MIN : hi - off->value;
		break;
	case KQ_OFF_FROM_START:
		v = off->value > INT64_MAX - lo ? INT64_MAX : lo + off->value;
		break;
	case KQ_OFF_TIME:
		v = time_off < 0 ? hi : time_off;
		break;
	case KQ_OFF_BEGINNING:
	default:
		v = lo;
		break;
	}
	*clamped = false;
	if (v < lo) {
		v = lo;
		*clamped = true;
	} else if (v > hi) {
		v = hi;
		*clamped = true;
	}
	return v;
}
