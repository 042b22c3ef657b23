/*
 * format.c - record formats shared by the CLIs: UTF-8 checks, base64, JSON
 * lines out and in, `lines`, `binary`, templates.  See format.h.
 *
 * The output side runs once per consumed record, so it appends with
 * memcpy-sized runs and hand-rolled integer formatting, never stdio.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"

/* ---- small output helpers ---- */

static void
put_i64(struct kq_buf *out, int64_t v)
{
	char tmp[24], *p = tmp + sizeof(tmp);
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	kq_buf_add(out, p, (size_t)(tmp + sizeof(tmp) - p));
}

#define ADDLIT(out, s) kq_buf_add((out), (s), sizeof(s) - 1)

/* ---- UTF-8 ---- */

bool
kq_utf8_valid(const void *vp, size_t n)
{
	const unsigned char *p = vp, *end = p + n;

	while (p < end) {
		unsigned c = *p;

		/* ASCII runs dominate real data: test eight bytes at a time. */
		if (c < 0x80) {
			while (end - p >= 8) {
				uint64_t w;

				memcpy(&w, p, 8);
				if (w & 0x8080808080808080ULL)
					break;
				p += 8;
			}
			while (p < end && *p < 0x80)
				p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			if (end - p < 2 || (p[1] & 0xc0) != 0x80)
				return false;
			p += 2;
		} else if (c >= 0xe0 && c <= 0xef) {
			if (end - p < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
				return false;
			if (c == 0xe0 && p[1] < 0xa0)	/* overlong */
				return false;
			if (c == 0xed && p[1] >= 0xa0)	/* surrogate */
				return false;
			p += 3;
		} else if (c >= 0xf0 && c <= 0xf4) {
			if (end - p < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 ||
			    (p[3] & 0xc0) != 0x80)
				return false;
			if (c == 0xf0 && p[1] < 0x90)	/* overlong */
				return false;
			if (c == 0xf4 && p[1] >= 0x90)	/* above U+10FFFF */
				return false;
			p += 4;
		} else {
			return false;
		}
	}
	return true;
}

/* ---- base64 ---- */

static const char b64chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void
kq_base64_encode(struct kq_buf *out, const void *vp, size_t n)
{
	const unsigned char *p = vp;
	unsigned char *o;
	size_t i;

	kq_buf_grow(out, (n + 2) / 3 * 4);
	o = out->buf + out->len;
	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

		*o++ = b64chars[v >> 18];
		*o++ = b64chars[(v >> 12) & 63];
		*o++ = b64chars[(v >> 6) & 63];
		*o++ = b64chars[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;

		*o++ = b64chars[v >> 18];
		*o++ = b64chars[(v >> 12) & 63];
		*o++ = '=';
		*o++ = '=';
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;

		*o++ = b64chars[v >> 18];
		*o++ = b64chars[(v >> 12) & 63];
		*o++ = b64chars[(v >> 6) & 63];
		*o++ = '=';
	}
	out->len = (size_t)(o - out->buf);
}

static int
b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
kq_base64_decode(struct kq_buf *out, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len0 = out->len, i, pad = 0;
	uint32_t acc = 0;
	int bits = 0;

	/* Padding only at the end, at most two, and only to complete a quad. */
	while (n > 0 && p[n - 1] == '=' && pad < 2) {
		n--;
		pad++;
	}
	if (n % 4 == 1 || (pad && (n + pad) % 4 != 0))
		return KQ_ERR_CORRUPT;
	kq_buf_grow(out, n / 4 * 3 + 3);
	for (i = 0; i < n; i++) {
		int v = b64val(p[i]);

		if (v < 0) {
			out->len = len0;
			return KQ_ERR_CORRUPT;
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out->buf[out->len++] = (unsigned char)(acc >> bits);
		}
	}
	/* Leftover bits must be zero, or the text is not canonical base64 of
	 * anything (and would not round-trip). */
	if (bits && (acc & ((1u << bits) - 1))) {
		out->len = len0;
		return KQ_ERR_CORRUPT;
	}
	return 0;
}

/* ---- JSON output ---- */

/* 0 = copy as is, else the escape character ('u' = \u00XX). */
static const char json_esc[256] = {
	['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', ['\f'] = 'f', ['\r'] = 'r',
	[0] = 'u', [1] = 'u', [2] = 'u', [3] = 'u', [4] = 'u', [5] = 'u', [6] = 'u',
	[7] = 'u', [11] = 'u', [14] = 'u', [15] = 'u', [16] = 'u', [17] = 'u',
	[18] = 'u', [19] = 'u', [20] = 'u', [21] = 'u', [22] = 'u', [23] = 'u',
	[24] = 'u', [25] = 'u', [26] = 'u', [27] = 'u', [28] = 'u', [29] = 'u',
	[30] = 'u', [31] = 'u', ['"'] = '"', ['\\'] = '\\', [127] = 'u',
};

void
kq_json_str(struct kq_buf *out, const void *vp, size_t n)
{
	const unsigned char *p = vp, *end = p + n, *run;

	kq_buf_grow(out, n + 2);
	out->buf[out->len++] = '"';
	while (p < end) {
		run = p;
		while (p < end && !json_esc[*p])
			p++;
		kq_buf_add(out, run, (size_t)(p - run));
		if (p == end)
			break;
		if (json_esc[*p] == 'u') {
			char e[6] = { '\\', 'u', '0', '0', "0123456789abcdef"[*p >> 4],
				      "0123456789abcdef"[*p & 15] };
			kq_buf_add(out, e, 6);
		} else {
			char e[2] = { '\\', json_esc[*p] };
			kq_buf_add(out, e, 2);
		}
		p++;
	}
	kq_buf_addc(out, '"');
}

void
kq_json_bytes_field(struct kq_buf *out, const char *name, struct kq_bytes b)
{
	size_t nl = strlen(name);

	kq_buf_addc(out, '"');
	kq_buf_add(out, name, nl);
	ADDLIT(out, "\":");
	if (b.len < 0) {
		ADDLIT(out, "null");
	} else if (kq_utf8_valid(b.p, (size_t)b.len)) {
		kq_json_str(out, b.p, (size_t)b.len);
	} else {
		kq_buf_addc(out, '"');
		kq_base64_encode(out, b.p, (size_t)b.len);
		ADDLIT(out, "\",\"");
		kq_buf_add(out, name, nl);
		ADDLIT(out, "_encoding\":\"base64\"");
	}
}

void
kq_json_headers(struct kq_buf *out, int32_t count, struct kq_bytes raw)
{
	struct kq_record_header h;
	struct kq_rd hr;
	int32_t i;

	kq_buf_addc(out, '[');
	if (raw.len > 0) {
		kq_rd_init(&hr, raw.p, (size_t)raw.len);
		for (i = 0; i < count && kq_header_next(&hr, &h) == 1; i++) {
			if (i)
				kq_buf_addc(out, ',');
			kq_buf_addc(out, '[');
			/* Header names are strings on the wire but nobody checks
			 * them; keep the output valid JSON either way. */
			if (kq_utf8_valid(h.key.p, (size_t)KQ_MAX(h.key.len, 0)))
				kq_json_str(out, h.key.p, (size_t)KQ_MAX(h.key.len, 0));
			else
				kq_json_str(out, "", 0);
			kq_buf_addc(out, ',');
			if (h.value.len < 0) {
				ADDLIT(out, "null");
			} else if (kq_utf8_valid(h.value.p, (size_t)h.value.len)) {
				kq_json_str(out, h.value.p, (size_t)h.value.len);
			} else {
				kq_buf_addc(out, '"');
				kq_base64_encode(out, h.value.p, (size_t)h.value.len);
				ADDLIT(out, "\",\"base64\"");
			}
			kq_buf_addc(out, ']');
		}
	}
	kq_buf_addc(out, ']');
}

void
kq_fmt_json(struct kq_buf *out, const struct kq_fmt_src *src, const struct kq_record *rec)
{
	ADDLIT(out, "{\"topic\":");
	kq_json_str(out, src->topic, src->topic_len);
	ADDLIT(out, ",\"partition\":");
	put_i64(out, src->partition);
	ADDLIT(out, ",\"offset\":");
	put_i64(out, rec->offset);
	ADDLIT(out, ",\"timestamp\":");
	put_i64(out, rec->timestamp);
	if (src->log_append_time)
		ADDLIT(out, ",\"timestamp_type\":\"log_append\",");
	else
		ADDLIT(out, ",\"timestamp_type\":\"create\",");
	kq_json_bytes_field(out, "key", rec->key);
	kq_buf_addc(out, ',');
	kq_json_bytes_field(out, "value", rec->value);
	ADDLIT(out, ",\"headers\":");
	kq_json_headers(out, rec->header_count, rec->headers);
	ADDLIT(out, "}\n");
}

/* ---- JSON input ---- */

#define JSON_MAX_DEPTH 64

/*
 * Where a parsed string lives.  Scratch is grown once per line to its
 * worst case before parsing, so these can be turned into pointers at the
 * end without fearing a realloc in between.
 */
struct span {
	int where;		/* 0 null, 1 line, 2 scratch */
	size_t off;
	size_t len;
};

struct jp {
	const unsigned char *s;
	size_t n, i;
	struct kq_buf *scratch;
	char *errbuf;
	size_t errlen;
};

KQ_PRINTF(2, 3) static int
jfail(struct jp *jp, const char *fmt, ...)
{
	va_list ap;

	if (jp->errlen) {
		va_start(ap, fmt);
		vsnprintf(jp->errbuf, jp->errlen, fmt, ap);
		va_end(ap);
	}
	return KQ_ERR_CORRUPT;
}

static void
jws(struct jp *jp)
{
	while (jp->i < jp->n && (jp->s[jp->i] == ' ' || jp->s[jp->i] == '\t' ||
				 jp->s[jp->i] == '\n' || jp->s[jp->i] == '\r'))
		jp->i++;
}

static int
jexpect(struct jp *jp, char c)
{
	jws(jp);
	if (jp->i >= jp->n)
		return jfail(jp, "expected '%c' at end of line", c);
	if (jp->s[jp->i] != (unsigned char)c)
		return jfail(jp, "expected '%c' at column %zu", c, jp->i + 1);
	jp->i++;
	return 0;
}

static int
hex4(const unsigned char *p, uint32_t *v)
{
	int i;

	*v = 0;
	for (i = 0; i < 4; i++) {
		unsigned c = p[i];

		if (c >= '0' && c <= '9')
			c -= '0';
		else if (c >= 'a' && c <= 'f')
			c -= 'a' - 10;
		else if (c >= 'A' && c <= 'F')
			c -= 'A' - 10;
		else
			return -1;
		*v = *v << 4 | c;
	}
	return 0;
}

static void
put_utf8(struct kq_buf *b, uint32_t cp)
{
	unsigned char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xc0 | cp >> 6);
		u[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xe0 | cp >> 12);
		u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (unsigned char)(0xf0 | cp >> 18);
		u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	kq_buf_add(b, u, n);
}

/* A JSON string at jp->i (the opening quote).  Unescaped strings stay views. */
static int
jstring(struct jp *jp, struct span *sp)
{
	size_t start, i;
	const unsigned char *s = jp->s;

	jws(jp);
	if (jp->i >= jp->n || s[jp->i] != '"')
		return jfail(jp, "expected a string at column %zu", jp->i + 1);
	start = ++jp->i;
	for (i = start; i < jp->n && s[i] != '"' && s[i] != '\\'; i++)
		if (s[i] < 0x20)
			return jfail(jp, "control character in string at column %zu", i + 1);
	if (i < jp->n && s[i] == '"') {
		sp->where = 1;
		sp->off = start;
		sp->len = i - start;
		jp->i = i + 1;
		return 0;
	}
	/* Escapes: decode into scratch. */
	sp->where = 2;
	sp->off = jp->scratch->len;
	kq_buf_add(jp->scratch, s + start, i - start);
	while (i < jp->n && s[i] != '"') {
		uint32_t cp, lo;

		if (s[i] < 0x20)
			return jfail(jp, "control character in string at column %zu", i + 1);
		if (s[i] != '\\') {
			kq_buf_addc(jp->scratch, s[i++]);
			continue;
		}
		if (++i >= jp->n)
			break;
		switch (s[i]) {
		case '"': case '\\': case '/':
			kq_buf_addc(jp->scratch, s[i]);
			break;
		case 'b': kq_buf_addc(jp->scratch, '\b'); break;
		case 'f': kq_buf_addc(jp->scratch, '\f'); break;
		case 'n': kq_buf_addc(jp->scratch, '\n'); break;
		case 'r': kq_buf_addc(jp->scratch, '\r'); break;
		case 't': kq_buf_addc(jp->scratch, '\t'); break;
		case 'u':
			if (jp->n - i < 5 || hex4(s + i + 1, &cp) < 0)
				return jfail(jp, "bad \\u escape at column %zu", i);
			i += 4;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return jfail(jp, "lone low surrogate at column %zu", i - 4);
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (jp->n - i < 7 || s[i + 1] != '\\' || s[i + 2] != 'u' ||
				    hex4(s + i + 3, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
					return jfail(jp, "lone high surrogate at column %zu",
						     i - 4);
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				i += 6;
			}
			put_utf8(jp->scratch, cp);
			break;
		default:
			return jfail(jp, "bad escape '\\%c' at column %zu", s[i], i);
		}
		i++;
	}
	if (i >= jp->n)
		return jfail(jp, "unterminated string");
	sp->len = jp->scratch->len - sp->off;
	jp->i = i + 1;
	return 0;
}

static bool
jlit(struct jp *jp, const char *lit)
{
	size_t l = strlen(lit);

	if (jp->n - jp->i >= l && memcmp(jp->s + jp->i, lit, l) == 0) {
		jp->i += l;
		return true;
	}
	return false;
}

/* A string or null. */
static int
jstring_or_null(struct jp *jp, struct span *sp, const char *what)
{
	jws(jp);
	if (jlit(jp, "null")) {
		sp->where = 0;
		sp->off = sp->len = 0;
		return 0;
	}
	if (jp->i < jp->n && jp->s[jp->i] == '"')
		return jstring(jp, sp);
	return jfail(jp, "\"%s\" must be a string or null", what);
}

static int
jint(struct jp *jp, int64_t *v, const char *what)
{
	size_t i;
	bool neg = false;
	uint64_t u = 0;

	jws(jp);
	i = jp->i;
	if (i < jp->n && jp->s[i] == '-') {
		neg = true;
		i++;
	}
	if (i >= jp->n || jp->s[i] < '0' || jp->s[i] > '9')
		return jfail(jp, "\"%s\" must be an integer", what);
	for (; i < jp->n && jp->s[i] >= '0' && jp->s[i] <= '9'; i++) {
		if (u > (UINT64_MAX - 9) / 10)
			return jfail(jp, "\"%s\" is out of range", what);
		u = u * 10 + (jp->s[i] - '0');
	}
	if (i < jp->n && (jp->s[i] == '.' || jp->s[i] == 'e' || jp->s[i] == 'E'))
		return jfail(jp, "\"%s\" must be an integer", what);
	if (u > (uint64_t)INT64_MAX + neg)
		return jfail(jp, "\"%s\" is out of range", what);
	*v = neg ? (int64_t)(0 - u) : (int64_t)u;
	jp->i = i;
	return 0;
}

/* Skip any JSON value (unknown fields). */
static int
jskip(struct jp *jp, int depth)
{
	struct span sp;
	int err;
	char close;

	if (depth > JSON_MAX_DEPTH)
		return jfail(jp, "nesting too deep");
	jws(jp);
	if (jp->i >= jp->n)
		return jfail(jp, "expected a value at end of line");
	switch (jp->s[jp->i]) {
	case '"':
		return jstring(jp, &sp);
	case '{':
	case '[':
		close = jp->s[jp->i] == '{' ? '}' : ']';
		jp->i++;
		jws(jp);
		if (jp->i < jp->n && jp->s[jp->i] == (unsigned char)close) {
			jp->i++;
			return 0;
		}
		for (;;) {
			if (close == '}') {
				if ((err = jstring(jp, &sp)) || (err = jexpect(jp, ':')))
					return err;
			}
			if ((err = jskip(jp, depth + 1)))
				return err;
			jws(jp);
			if (jp->i < jp->n && jp->s[jp->i] == ',') {
				jp->i++;
				continue;
			}
			return jexpect(jp, close);
		}
	case 't':
		if (jlit(jp, "true"))
			return 0;
		break;
	case 'f':
		if (jlit(jp, "false"))
			return 0;
		break;
	case 'n':
		if (jlit(jp, "null"))
			return 0;
		break;
	default:
		if (jp->s[jp->i] == '-' || (jp->s[jp->i] >= '0' && jp->s[jp->i] <= '9')) {
			size_t i = jp->i + 1;

			while (i < jp->n && strchr("0123456789.eE+-", jp->s[i]))
				i++;
			jp->i = i;
			return 0;
		}
		break;
	}
	return jfail(jp, "unexpected character at column %zu", jp->i + 1);
}

struct hspan {
	struct span name, value;
	bool b64;
};

struct jrec {
	struct span key, value;
	bool has_value, key_b64, value_b64;
	struct hspan *h;
	int nh, hcap;
};

static bool
span_eq(const struct jp *jp, const struct span *sp, const char *lit)
{
	const unsigned char *p = sp->where == 1 ? jp->s + sp->off : jp->scratch->buf + sp->off;
	size_t l = strlen(lit);

	return sp->where && sp->len == l && memcmp(p, lit, l) == 0;
}

static int
jencoding(struct jp *jp, bool *b64, const char *what)
{
	struct span sp;
	int err;

	if ((err = jstring_or_null(jp, &sp, what)))
		return err;
	if (sp.where == 0 || span_eq(jp, &sp, "utf8") || span_eq(jp, &sp, "utf-8"))
		*b64 = false;
	else if (span_eq(jp, &sp, "base64"))
		*b64 = true;
	else
		return jfail(jp, "\"%s\" must be \"base64\" or \"utf8\"", what);
	return 0;
}

static struct hspan *
hpush(struct jrec *r)
{
	if (r->nh == r->hcap) {
		r->hcap = r->hcap ? r->hcap * 2 : 8;
		r->h = kq_xrealloc(r->h, (size_t)r->hcap * sizeof(*r->h));
	}
	memset(&r->h[r->nh], 0, sizeof(r->h[0]));
	return &r->h[r->nh++];
}

static int
jheaders(struct jp *jp, struct jrec *r)
{
	struct hspan *h;
	int err;

	jws(jp);
	if (jlit(jp, "null"))
		return 0;
	if (jp->i < jp->n && jp->s[jp->i] == '{') {
		jp->i++;
		jws(jp);
		if (jp->i < jp->n && jp->s[jp->i] == '}') {
			jp->i++;
			return 0;
		}
		for (;;) {
			h = hpush(r);
			if ((err = jstring(jp, &h->name)) || (err = jexpect(jp, ':')) ||
			    (err = jstring_or_null(jp, &h->value, "headers")))
				return err;
			jws(jp);
			if (jp->i < jp->n && jp->s[jp->i] == ',') {
				jp->i++;
				continue;
			}
			return jexpect(jp, '}');
		}
	}
	if (jp->i >= jp->n || jp->s[jp->i] != '[')
		return jfail(jp, "\"headers\" must be an array of [name, value] pairs or an object");
	jp->i++;
	jws(jp);
	if (jp->i < jp->n && jp->s[jp->i] == ']') {
		jp->i++;
		return 0;
	}
	for (;;) {
		h = hpush(r);
		if ((err = jexpect(jp, '[')) || (err = jstring(jp, &h->name)) ||
		    (err = jexpect(jp, ',')) ||
		    (err = jstring_or_null(jp, &h->value, "headers")))
			return err;
		jws(jp);
		if (jp->i < jp->n && jp->s[jp->i] == ',') {
			jp->i++;
			if ((err = jencoding(jp, &h->b64, "headers")))
				return err;
		}
		if ((err = jexpect(jp, ']')))
			return err;
		jws(jp);
		if (jp->i < jp->n && jp->s[jp->i] == ',') {
			jp->i++;
			continue;
		}
		return jexpect(jp, ']');
	}
}

static int
jfield(struct jp *jp, struct jrec *r, struct kq_json_rec *jr, const struct span *name)
{
	int64_t v;
	int err;

	if (span_eq(jp, name, "value")) {
		r->has_value = true;
		return jstring_or_null(jp, &r->value, "value");
	}
	if (span_eq(jp, name, "key"))
		return jstring_or_null(jp, &r->key, "key");
	if (span_eq(jp, name, "headers")) {
		r->nh = 0;	/* a repeated field replaces, like every other */
		return jheaders(jp, r);
	}
	if (span_eq(jp, name, "key_encoding"))
		return jencoding(jp, &r->key_b64, "key_encoding");
	if (span_eq(jp, name, "value_encoding"))
		return jencoding(jp, &r->value_b64, "value_encoding");
	if (span_eq(jp, name, "partition")) {
		jws(jp);
		if (jlit(jp, "null")) {
			jr->partition = -1;
			return 0;
		}
		if ((err = jint(jp, &v, "partition")))
			return err;
		if (v < 0 || v > INT32_MAX)
			return jfail(jp, "\"partition\" is out of range");
		jr->partition = (int32_t)v;
		return 0;
	}
	if (span_eq(jp, name, "timestamp")) {
		jws(jp);
		if (jlit(jp, "null")) {
			jr->has_timestamp = false;
			return 0;
		}
		if ((err = jint(jp, &v, "timestamp")))
			return err;
		jr->has_timestamp = true;
		jr->timestamp = v;
		return 0;
	}
	return jskip(jp, 1);
}

/* Turn a span into a view, base64-decoding into scratch when asked. */
static int
jresolve(struct jp *jp, const struct span *sp, bool b64, struct kq_bytes *out,
	 const char *what)
{
	const unsigned char *p;
	size_t off;

	if (sp->where == 0) {
		*out = KQ_BYTES_NULL;
		return 0;
	}
	p = sp->where == 1 ? jp->s + sp->off : jp->scratch->buf + sp->off;
	if (!b64) {
		*out = (struct kq_bytes){ p, (int32_t)sp->len };
		return 0;
	}
	off = jp->scratch->len;
	if (kq_base64_decode(jp->scratch, (const char *)p, sp->len) < 0)
		return jfail(jp, "bad base64 in \"%s\"", what);
	*out = (struct kq_bytes){ jp->scratch->buf + off, (int32_t)(jp->scratch->len - off) };
	return 0;
}

int
kq_json_rec_parse(struct kq_json_rec *jr, const char *line, size_t n, char *errbuf,
		  size_t errlen)
{
	struct jp jp = { (const unsigned char *)line, n, 0, &jr->scratch, errbuf, errlen };
	struct jrec r = { 0 };
	struct span name;
	struct kq_bytes hv;
	int err, i;

	if (n > INT32_MAX)
		return jfail(&jp, "line too long");
	jr->key = KQ_BYTES_NULL;
	jr->value = KQ_BYTES_NULL;
	jr->partition = -1;
	jr->has_timestamp = false;
	jr->timestamp = -1;
	jr->nheaders = 0;
	kq_buf_reset(&jr->scratch);
	/* Unescaping never grows a string and base64 decoding shrinks it, so
	 * 2n bytes hold everything: scratch never moves while we parse. */
	kq_buf_grow(&jr->scratch, 2 * n + 16);

	jws(&jp);
	if (jp.i >= n) {
		err = jfail(&jp, "empty line");
		goto out;
	}
	if ((err = jexpect(&jp, '{')))
		goto out;
	jws(&jp);
	if (jp.i < n && jp.s[jp.i] == '}') {
		jp.i++;
	} else {
		for (;;) {
			if ((err = jstring(&jp, &name)) || (err = jexpect(&jp, ':')) ||
			    (err = jfield(&jp, &r, jr, &name)))
				goto out;
			jws(&jp);
			if (jp.i < n && jp.s[jp.i] == ',') {
				jp.i++;
				continue;
			}
			if ((err = jexpect(&jp, '}')))
				goto out;
			break;
		}
	}
	jws(&jp);
	if (jp.i < n) {
		err = jfail(&jp, "unexpected text after the object at column %zu", jp.i + 1);
		goto out;
	}
	if (!r.has_value) {
		err = jfail(&jp, "missing \"value\"");
		goto out;
	}
	if ((err = jresolve(&jp, &r.key, r.key_b64, &jr->key, "key")) ||
	    (err = jresolve(&jp, &r.value, r.value_b64, &jr->value, "value")))
		goto out;
	if (r.nh > jr->hdr_cap) {
		jr->hdr_cap = r.nh;
		jr->headers = kq_xrealloc(jr->headers, (size_t)r.nh * sizeof(*jr->headers));
	}
	for (i = 0; i < r.nh; i++) {
		const struct span *nm = &r.h[i].name;

		jr->headers[i].key = (struct kq_str){
			(const char *)(nm->where == 1 ? jp.s : jp.scratch->buf) + nm->off,
			(int32_t)nm->len };
		if ((err = jresolve(&jp, &r.h[i].value, r.h[i].b64, &hv, "headers")))
			goto out;
		jr->headers[i].value = hv;
	}
	jr->nheaders = r.nh;
out:
	free(r.h);
	return err;
}

void
kq_json_rec_free(struct kq_json_rec *jr)
{
	kq_buf_free(&jr->scratch);
	free(jr->headers);
	memset(jr, 0, sizeof(*jr));
}

/* ---- lines, binary ---- */

static inline void
put_bytes_or_null(struct kq_buf *out, struct kq_bytes b, const struct kq_fmt_opts *o)
{
	if (b.len < 0)
		kq_buf_add(out, o->null_str, o->null_len);
	else
		kq_buf_add(out, b.p, (size_t)b.len);
}

void
kq_fmt_lines(struct kq_buf *out, const struct kq_fmt_opts *o, const struct kq_record *rec)
{
	if (o->key_delim) {
		put_bytes_or_null(out, rec->key, o);
		kq_buf_add(out, o->key_delim, o->key_delim_len);
	}
	put_bytes_or_null(out, rec->value, o);
	kq_buf_add(out, o->delim, o->delim_len);
}

void
kq_fmt_binary(struct kq_buf *out, struct kq_bytes key, struct kq_bytes value)
{
	unsigned char l[4];

	kq_put32(l, (uint32_t)(key.len < 0 ? -1 : key.len));
	kq_buf_add(out, l, 4);
	if (key.len > 0)
		kq_buf_add(out, key.p, (size_t)key.len);
	kq_put32(l, (uint32_t)(value.len < 0 ? -1 : value.len));
	kq_buf_add(out, l, 4);
	if (value.len > 0)
		kq_buf_add(out, value.p, (size_t)value.len);
}

int
kq_binary_parse(const unsigned char *p, size_t n, size_t max_len, struct kq_bytes *key,
		struct kq_bytes *value, size_t *used)
{
	int32_t kl, vl;
	size_t pos = 0;

	if (n < 4)
		return KQ_ERR_TRUNCATED;
	kl = (int32_t)kq_be32(p);
	if (kl < -1)
		return KQ_ERR_CORRUPT;
	if (kl > 0 && (size_t)kl > max_len)
		return KQ_ERR_TOO_LARGE;
	pos = 4 + (size_t)KQ_MAX(kl, 0);
	if (n < pos + 4)
		return KQ_ERR_TRUNCATED;
	vl = (int32_t)kq_be32(p + pos);
	if (vl < -1)
		return KQ_ERR_CORRUPT;
	if (vl > 0 && (size_t)vl > max_len)
		return KQ_ERR_TOO_LARGE;
	if (n - pos - 4 < (size_t)KQ_MAX(vl, 0))
		return KQ_ERR_TRUNCATED;
	*key = kl < 0 ? KQ_BYTES_NULL : (struct kq_bytes){ p + 4, kl };
	*value = vl < 0 ? KQ_BYTES_NULL : (struct kq_bytes){ p + pos + 4, vl };
	*used = pos + 4 + (size_t)KQ_MAX(vl, 0);
	return 0;
}

/* ---- templates ---- */

enum tok {
	TK_LIT, TK_VALUE, TK_KEY, TK_VLEN, TK_KLEN, TK_TOPIC, TK_PART, TK_OFFSET,
	TK_TS, TK_DATE, TK_HDRS, TK_HDR, TK_VLEN_BE, TK_HEX, TK_B64,
};

struct tmpl_op {
	enum tok tok;
	size_t off, len;	/* literal text or header name, in t->text */
};

struct kq_tmpl {
	struct tmpl_op *ops;
	int nops;
	bool headers;
	struct kq_buf text;
};

static int
hexdig(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void
tmpl_push(struct kq_tmpl *t, enum tok tok, size_t off, size_t len)
{
	/* Adjacent literals merge, so rendering does one copy per run. */
	if (tok == TK_LIT && t->nops && t->ops[t->nops - 1].tok == TK_LIT &&
	    t->ops[t->nops - 1].off + t->ops[t->nops - 1].len == off) {
		t->ops[t->nops - 1].len += len;
		return;
	}
	t->ops = kq_xrealloc(t->ops, (size_t)(t->nops + 1) * sizeof(*t->ops));
	t->ops[t->nops++] = (struct tmpl_op){ tok, off, len };
}

struct kq_tmpl *
kq_tmpl_compile(const char *fmt, char *errbuf, size_t errlen)
{
	struct kq_tmpl *t = kq_xcalloc(1, sizeof(*t));
	const char *p = fmt;
	size_t off;
	int h, l;

	while (*p) {
		off = t->text.len;
		if (*p == '\\') {
			p++;
			switch (*p) {
			case 'n': kq_buf_addc(&t->text, '\n'); break;
			case 'r': kq_buf_addc(&t->text, '\r'); break;
			case 't': kq_buf_addc(&t->text, '\t'); break;
			case '0': kq_buf_addc(&t->text, '\0'); break;
			case '\\': kq_buf_addc(&t->text, '\\'); break;
			case 'x':
				if ((h = hexdig(p[1])) < 0 || (l = hexdig(p[2])) < 0) {
					snprintf(errbuf, errlen, "bad escape '\\x' in format "
						 "(use \\xNN with two hex digits)");
					goto fail;
				}
				kq_buf_addc(&t->text, h << 4 | l);
				p += 2;
				break;
			default:
				snprintf(errbuf, errlen, "bad escape '\\%.1s' in format "
					 "(known: \\n \\r \\t \\0 \\\\ \\xNN)", p);
				goto fail;
			}
			p++;
			tmpl_push(t, TK_LIT, off, 1);
			continue;
		}
		if (*p != '%') {
			kq_buf_addc(&t->text, *p++);
			tmpl_push(t, TK_LIT, off, 1);
			continue;
		}
		p++;
		switch (*p) {
		case '%':
			kq_buf_addc(&t->text, '%');
			tmpl_push(t, TK_LIT, off, 1);
			break;
		case 's': tmpl_push(t, TK_VALUE, 0, 0); break;
		case 'k': tmpl_push(t, TK_KEY, 0, 0); break;
		case 'S': tmpl_push(t, TK_VLEN, 0, 0); break;
		case 'K': tmpl_push(t, TK_KLEN, 0, 0); break;
		case 't': tmpl_push(t, TK_TOPIC, 0, 0); break;
		case 'p': tmpl_push(t, TK_PART, 0, 0); break;
		case 'o': tmpl_push(t, TK_OFFSET, 0, 0); break;
		case 'T': tmpl_push(t, TK_TS, 0, 0); break;
		case 'D': tmpl_push(t, TK_DATE, 0, 0); break;
		case 'R': tmpl_push(t, TK_VLEN_BE, 0, 0); break;
		case 'x': tmpl_push(t, TK_HEX, 0, 0); break;
		case 'b': tmpl_push(t, TK_B64, 0, 0); break;
		case 'h':
			t->headers = true;
			tmpl_push(t, TK_HDRS, 0, 0);
			break;
		case 'H': {
			const char *e;

			if (p[1] != '{' || !(e = strchr(p + 2, '}'))) {
				snprintf(errbuf, errlen, "'%%H' in format needs a header "
					 "name: %%H{NAME}");
				goto fail;
			}
			kq_buf_add(&t->text, p + 2, (size_t)(e - (p + 2)));
			/* A lone op: never merged with a literal. */
			t->ops = kq_xrealloc(t->ops, (size_t)(t->nops + 1) * sizeof(*t->ops));
			t->ops[t->nops++] = (struct tmpl_op){ TK_HDR, off,
							      (size_t)(e - (p + 2)) };
			t->headers = true;
			p = e;
			break;
		}
		case '\0':
			snprintf(errbuf, errlen, "format ends with a lone '%%' "
				 "(write %%%% for a literal '%%')");
			goto fail;
		default:
			snprintf(errbuf, errlen, "unknown format token '%%%c' (known: "
				 "%%s %%k %%S %%K %%t %%p %%o %%T %%D %%h %%H{NAME} %%R %%x "
				 "%%b %%%%)", *p);
			goto fail;
		}
		p++;
	}
	return t;
fail:
	kq_tmpl_free(t);
	return NULL;
}

void
kq_tmpl_free(struct kq_tmpl *t)
{
	if (!t)
		return;
	free(t->ops);
	kq_buf_free(&t->text);
	free(t);
}

bool
kq_tmpl_needs_headers(const struct kq_tmpl *t)
{
	return t->headers;
}

/* Days since 1970-01-01 to a civil date (proleptic Gregorian). */
static void
civil(int64_t days, int64_t *y, int *m, int *d)
{
	int64_t z = days + 719468, era, doe, yoe, doy, mp;

	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static void
put_date(struct kq_buf *out, int64_t ms)
{
	int64_t secs, days, rem, y;
	int m, d, msec;
	char tmp[48];
	int n;

	/* Floor division, so times before 1970 still print correctly. */
	secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
	msec = (int)(ms - secs * 1000);
	days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	rem = secs - days * 86400;
	civil(days, &y, &m, &d);
	n = snprintf(tmp, sizeof(tmp), "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ",
		     (long long)y, m, d, (int)(rem / 3600), (int)(rem / 60 % 60),
		     (int)(rem % 60), msec);
	kq_buf_add(out, tmp, (size_t)n);
}

static void
put_hex(struct kq_buf *out, struct kq_bytes b)
{
	static const char hx[] = "0123456789abcdef";
	unsigned char *o;
	int32_t i;

	kq_buf_grow(out, (size_t)b.len * 2);
	o = out->buf + out->len;
	for (i = 0; i < b.len; i++) {
		*o++ = (unsigned char)hx[b.p[i] >> 4];
		*o++ = (unsigned char)hx[b.p[i] & 15];
	}
	out->len += (size_t)b.len * 2;
}

void
kq_tmpl_render(const struct kq_tmpl *t, struct kq_buf *out, const struct kq_fmt_opts *o,
	       const struct kq_fmt_src *src, const struct kq_record *rec)
{
	struct kq_record_header h;
	struct kq_rd hr;
	unsigned char be[4];
	int i, n;

	for (i = 0; i < t->nops; i++) {
		const struct tmpl_op *op = &t->ops[i];

		switch (op->tok) {
		case TK_LIT:
			kq_buf_add(out, t->text.buf + op->off, op->len);
			break;
		case TK_VALUE:
			put_bytes_or_null(out, rec->value, o);
			break;
		case TK_KEY:
			put_bytes_or_null(out, rec->key, o);
			break;
		case TK_VLEN:
			put_i64(out, rec->value.len < 0 ? -1 : rec->value.len);
			break;
		case TK_KLEN:
			put_i64(out, rec->key.len < 0 ? -1 : rec->key.len);
			break;
		case TK_TOPIC:
			kq_buf_add(out, src->topic, src->topic_len);
			break;
		case TK_PART:
			put_i64(out, src->partition);
			break;
		case TK_OFFSET:
			put_i64(out, rec->offset);
			break;
		case TK_TS:
			put_i64(out, rec->timestamp);
			break;
		case TK_DATE:
			put_date(out, rec->timestamp);
			break;
		case TK_VLEN_BE:
			kq_put32(be, (uint32_t)(rec->value.len < 0 ? -1 : rec->value.len));
			kq_buf_add(out, be, 4);
			break;
		case TK_HEX:
			if (rec->value.len < 0)
				kq_buf_add(out, o->null_str, o->null_len);
			else
				put_hex(out, rec->value);
			break;
		case TK_B64:
			if (rec->value.len < 0)
				kq_buf_add(out, o->null_str, o->null_len);
			else
				kq_base64_encode(out, rec->value.p, (size_t)rec->value.len);
			break;
		case TK_HDRS:
			if (rec->headers.len <= 0)
				break;
			kq_rd_init(&hr, rec->headers.p, (size_t)rec->headers.len);
			for (n = 0; n < rec->header_count && kq_header_next(&hr, &h) == 1; n++) {
				if (n)
					kq_buf_addc(out, ',');
				kq_buf_add(out, h.key.p, (size_t)KQ_MAX(h.key.len, 0));
				kq_buf_addc(out, '=');
				put_bytes_or_null(out, h.value, o);
			}
			break;
		case TK_HDR:
			if (rec->headers.len > 0) {
				kq_rd_init(&hr, rec->headers.p, (size_t)rec->headers.len);
				for (n = 0; n < rec->header_count &&
					    kq_header_next(&hr, &h) == 1; n++) {
					if ((size_t)h.key.len == op->len &&
					    memcmp(h.key.p, t->text.buf + op->off, op->len) == 0) {
						put_bytes_or_null(out, h.value, o);
						goto next;
					}
				}
			}
			kq_buf_add(out, o->null_str, o->null_len);
		next:
			break;
		}
	}
}
