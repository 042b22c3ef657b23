/* test-format.c - JSON lines, base64, UTF-8, templates, binary framing, offset specs. */
#include <stdlib.h>
#include <string.h>

#include "../../common/cli/cli.h"
#include "../../common/cli/format.h"
#include "t.h"

/* Build raw record-header bytes: varint key len, key, varint value len, value. */
static void
add_hdr(struct kq_buf *b, const char *k, const char *v, int vlen)
{
	kq_wr_varint(b, (int32_t)strlen(k));
	kq_buf_adds(b, k);
	if (!v) {
		kq_wr_varint(b, -1);
	} else {
		kq_wr_varint(b, vlen);
		kq_buf_add(b, v, (size_t)vlen);
	}
}

static const char *
cstr(struct kq_buf *b)
{
	return kq_buf_cstr(b);
}

static struct kq_record
mkrec(const void *k, int klen, const void *v, int vlen)
{
	struct kq_record r;

	memset(&r, 0, sizeof(r));
	r.offset = 42;
	r.timestamp = 1714560000123LL;
	r.key = klen < 0 ? KQ_BYTES_NULL : (struct kq_bytes){ k, klen };
	r.value = vlen < 0 ? KQ_BYTES_NULL : (struct kq_bytes){ v, vlen };
	return r;
}

static const struct kq_fmt_src src = { "logs", 4, 0, false };

static void
test_utf8(void)
{
	T_OK(kq_utf8_valid("", 0), "empty");
	T_OK(kq_utf8_valid("hello, world, long ascii run", 28), "ascii");
	T_OK(kq_utf8_valid("caf\xc3\xa9", 5), "2-byte");
	T_OK(kq_utf8_valid("\xe2\x82\xac", 3), "euro");
	T_OK(kq_utf8_valid("\xf0\x9f\x98\x80", 4), "emoji");
	T_OK(!kq_utf8_valid("\xc3", 1), "truncated");
	T_OK(!kq_utf8_valid("\xc0\xaf", 2), "overlong 2");
	T_OK(!kq_utf8_valid("\xe0\x80\xaf", 3), "overlong 3");
	T_OK(!kq_utf8_valid("\xed\xa0\x80", 3), "surrogate");
	T_OK(!kq_utf8_valid("\xf4\x90\x80\x80", 4), "above max");
	T_OK(!kq_utf8_valid("abcdefgh\xff", 9), "0xff after run");
	T_OK(!kq_utf8_valid("\x80", 1), "lone continuation");
}

static void
b64rt(const char *in, size_t n, const char *want)
{
	struct kq_buf b = { 0 }, d = { 0 };

	kq_base64_encode(&b, in, n);
	T_STREQ(cstr(&b), want);
	T_EQ(kq_base64_decode(&d, (const char *)b.buf, b.len), 0);
	T_EQ(d.len, n);
	T_OK(n == 0 || memcmp(d.buf, in, n) == 0, "round trip of %zu bytes", n);
	kq_buf_free(&b);
	kq_buf_free(&d);
}

static void
test_base64(void)
{
	struct kq_buf d = { 0 };
	unsigned char all[256];
	int i;

	b64rt("", 0, "");
	b64rt("f", 1, "Zg==");
	b64rt("fo", 2, "Zm8=");
	b64rt("foo", 3, "Zm9v");
	b64rt("foob", 4, "Zm9vYg==");
	b64rt("\xff\xfe\x00", 3, "//4A");
	for (i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	for (i = 0; i <= 256; i += 37) {
		struct kq_buf b = { 0 };

		kq_base64_encode(&b, all, (size_t)i);
		kq_buf_reset(&d);
		T_EQ(kq_base64_decode(&d, (const char *)b.buf, b.len), 0);
		T_EQ(d.len, i);
		T_OK(i == 0 || memcmp(d.buf, all, (size_t)i) == 0, "%d bytes", i);
		kq_buf_free(&b);
	}
	/* unpadded is accepted */
	kq_buf_reset(&d);
	T_EQ(kq_base64_decode(&d, "Zm8", 3), 0);
	T_EQ(d.len, 2);
	kq_buf_reset(&d);
	T_EQ(kq_base64_decode(&d, "Zm9v!", 5), KQ_ERR_CORRUPT);
	T_EQ(d.len, 0);
	T_EQ(kq_base64_decode(&d, "Z", 1), KQ_ERR_CORRUPT);
	T_EQ(kq_base64_decode(&d, "Zm9=", 4), KQ_ERR_CORRUPT);	/* non-zero pad bits */
	T_EQ(kq_base64_decode(&d, "Zg=", 3), KQ_ERR_CORRUPT);
	T_EQ(kq_base64_decode(&d, "Zm 9v", 5), KQ_ERR_CORRUPT);
	kq_buf_free(&d);
}

static void
test_json_out(void)
{
	struct kq_buf b = { 0 }, h = { 0 };
	struct kq_record r = mkrec("web-1", 5, "GET / 200", 9);

	add_hdr(&h, "trace-id", "ab12", 4);
	add_hdr(&h, "retry", NULL, 0);
	r.header_count = 2;
	r.headers = (struct kq_bytes){ h.buf, (int32_t)h.len };
	kq_fmt_json(&b, &src, &r);
	T_STREQ(cstr(&b), "{\"topic\":\"logs\",\"partition\":0,\"offset\":42,"
		"\"timestamp\":1714560000123,\"timestamp_type\":\"create\","
		"\"key\":\"web-1\",\"value\":\"GET / 200\","
		"\"headers\":[[\"trace-id\",\"ab12\"],[\"retry\",null]]}\n");

	/* null key, empty value, escapes, UTF-8 passthrough, log append time */
	kq_buf_reset(&b);
	r = mkrec(NULL, -1, "a\"b\\c\n\t\x01\x7f caf\xc3\xa9", 15);
	{
		struct kq_fmt_src s2 = { "t\"x", 3, 7, true };

		kq_fmt_json(&b, &s2, &r);
	}
	T_STREQ(cstr(&b), "{\"topic\":\"t\\\"x\",\"partition\":7,\"offset\":42,"
		"\"timestamp\":1714560000123,\"timestamp_type\":\"log_append\","
		"\"key\":null,\"value\":\"a\\\"b\\\\c\\n\\t\\u0001\\u007f caf\xc3\xa9\","
		"\"headers\":[]}\n");

	/* empty key is "", invalid UTF-8 value is base64 */
	kq_buf_reset(&b);
	r = mkrec("", 0, "\xff\x00\xfe", 3);
	kq_fmt_json(&b, &src, &r);
	T_OK(strstr(cstr(&b), "\"key\":\"\",\"value\":\"/wD+\","
		     "\"value_encoding\":\"base64\",\"headers\":[]}") != NULL, "%s", cstr(&b));

	/* binary header value is a triple */
	kq_buf_reset(&b);
	kq_buf_reset(&h);
	add_hdr(&h, "bin", "\xff", 1);
	r = mkrec("k", 1, "v", 1);
	r.header_count = 1;
	r.headers = (struct kq_bytes){ h.buf, (int32_t)h.len };
	kq_json_headers(&b, r.header_count, r.headers);
	T_STREQ(cstr(&b), "[[\"bin\",\"/w==\",\"base64\"]]");
	kq_buf_free(&b);
	kq_buf_free(&h);
}

static bool
bytes_is(struct kq_bytes b, const char *s)
{
	return b.len >= 0 && (size_t)b.len == strlen(s) && memcmp(b.p, s, (size_t)b.len) == 0;
}

static int
jparse(struct kq_json_rec *jr, const char *s, char *err, size_t errlen)
{
	return kq_json_rec_parse(jr, s, strlen(s), err, errlen);
}

static void
test_json_in(void)
{
	struct kq_json_rec jr = { 0 };
	char err[200];

	T_EQ(jparse(&jr, "{\"topic\":\"logs\",\"partition\":3,\"offset\":42,"
		    "\"timestamp\":1714560000123,\"timestamp_type\":\"create\",\"key\":\"web-1\","
		    "\"value\":\"GET / 200\",\"headers\":[[\"trace-id\",\"ab12\"],[\"retry\",null]]}\n",
		    err, sizeof(err)), 0);
	T_OK(bytes_is(jr.key, "web-1"), "key");
	T_OK(bytes_is(jr.value, "GET / 200"), "value");
	T_EQ(jr.partition, 3);
	T_OK(jr.has_timestamp, "has ts");
	T_EQ(jr.timestamp, 1714560000123LL);
	T_EQ(jr.nheaders, 2);
	T_OK(jr.nheaders == 2 && kq_str_eq(jr.headers[0].key, "trace-id") &&
	     bytes_is(jr.headers[0].value, "ab12") && kq_str_eq(jr.headers[1].key, "retry") &&
	     jr.headers[1].value.len == -1, "headers");

	/* minimal: value only; null value; object headers */
	T_EQ(jparse(&jr, "  {\"value\":null}  ", err, sizeof(err)), 0);
	T_EQ(jr.value.len, -1);
	T_EQ(jr.key.len, -1);
	T_EQ(jr.partition, -1);
	T_OK(!jr.has_timestamp, "no ts");
	T_EQ(jr.nheaders, 0);
	T_EQ(jparse(&jr, "{\"value\":\"\",\"key\":\"\",\"headers\":{\"a\":\"1\",\"b\":null}}",
		    err, sizeof(err)), 0);
	T_EQ(jr.value.len, 0);
	T_EQ(jr.key.len, 0);
	T_EQ(jr.nheaders, 2);
	T_OK(jr.nheaders == 2 && kq_str_eq(jr.headers[1].key, "b") &&
	     jr.headers[1].value.len == -1, "object headers");

	/* escapes, surrogate pair, base64 encodings, unknown fields skipped */
	T_EQ(jparse(&jr, "{\"x\":{\"y\":[1,2.5e3,true,false,null,\"s\"]},"
		    "\"value\":\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\","
		    "\"key\":\"/wD+\",\"key_encoding\":\"base64\","
		    "\"headers\":[[\"h\\u0041\",\"/w==\",\"base64\"]]}", err, sizeof(err)), 0);
	T_OK(bytes_is(jr.value, "a\"\\/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80"), "escapes");
	T_EQ(jr.key.len, 3);
	T_OK(jr.key.len == 3 && memcmp(jr.key.p, "\xff\x00\xfe", 3) == 0, "key b64");
	T_OK(jr.nheaders == 1 && kq_str_eq(jr.headers[0].key, "hA") &&
	     jr.headers[0].value.len == 1 && jr.headers[0].value.p[0] == 0xff, "hdr b64");
	/* encoding before the field it describes */
	T_EQ(jparse(&jr, "{\"value_encoding\":\"base64\",\"value\":\"Zm9v\"}", err,
		    sizeof(err)), 0);
	T_OK(bytes_is(jr.value, "foo"), "value b64");

	/* output of kq_fmt_json parses back to the same record */
	{
		struct kq_buf b = { 0 }, h = { 0 };
		struct kq_record r = mkrec("\x01k", 2, "\xc3\x28", 2);

		add_hdr(&h, "n", "v\n", 2);
		r.header_count = 1;
		r.headers = (struct kq_bytes){ h.buf, (int32_t)h.len };
		kq_fmt_json(&b, &src, &r);
		T_EQ(kq_json_rec_parse(&jr, (const char *)b.buf, b.len, err, sizeof(err)), 0);
		T_OK(bytes_is(jr.key, "\x01k"), "rt key");
		T_OK(bytes_is(jr.value, "\xc3\x28"), "rt value (base64)");
		T_OK(jr.nheaders == 1 && bytes_is(jr.headers[0].value, "v\n"), "rt hdr");
		T_EQ(jr.partition, 0);
		kq_buf_free(&b);
		kq_buf_free(&h);
	}

	/* malformed lines */
	{
		static const char *bad[] = {
			"", "   ", "[]", "{", "{\"value\":\"x\"", "{\"value\":\"x\"}x",
			"{\"key\":\"k\"}", "{\"value\":1}", "{\"value\":\"x\",}",
			"{\"value\":\"a\nb\"}", "{\"value\":\"\\q\"}", "{\"value\":\"\\u12\"}",
			"{\"value\":\"\\ud83d\"}", "{\"value\":\"\\ude00\"}",
			"{\"value\":\"\\ud83dx\"}", "{\"value\":\"x\",\"partition\":-1}",
			"{\"value\":\"x\",\"partition\":1.5}",
			"{\"value\":\"x\",\"timestamp\":\"now\"}",
			"{\"value\":\"!!\",\"value_encoding\":\"base64\"}",
			"{\"value\":\"x\",\"value_encoding\":\"hex\"}",
			"{\"value\":\"x\",\"headers\":[[\"a\"]]}",
			"{\"value\":\"x\",\"headers\":[[1,\"a\"]]}",
			"{\"value\":\"x\",\"headers\":\"a\"}",
			"{\"value\":\"x\",\"headers\":[[\"a\",\"b\",\"c\",\"d\"]]}",
			"{\"value\":\"x\",\"z\":tru}", "{value:\"x\"}",
			"{\"value\":\"x\",\"partition\":99999999999}",
			"{\"value\":\"x\",\"timestamp\":99999999999999999999}",
		};
		size_t i;

		for (i = 0; i < KQ_ARRAY_LEN(bad); i++) {
			err[0] = '\0';
			T_OK(jparse(&jr, bad[i], err, sizeof(err)) == KQ_ERR_CORRUPT,
			     "accepted bad line %zu: %s", i, bad[i]);
			T_OK(err[0] != '\0', "no message for bad line %zu", i);
		}
	}
	/* deep nesting is refused, not a stack overflow */
	{
		char deep[400];
		int i;

		strcpy(deep, "{\"x\":");
		for (i = 0; i < 150; i++)
			strcat(deep, "[");
		T_EQ(jparse(&jr, deep, err, sizeof(err)), KQ_ERR_CORRUPT);
	}
	T_EQ(jparse(&jr, "{\"value\":\"x\"}", err, sizeof(err)), 0);
	T_OK(bytes_is(jr.value, "x"), "still usable after errors");
	kq_json_rec_free(&jr);
}

static void
test_lines_binary(void)
{
	struct kq_buf b = { 0 };
	struct kq_fmt_opts o = { "\n", 1, NULL, 0, "NULL", 4 };
	struct kq_record r = mkrec("k", 1, "v", 1);
	struct kq_bytes k, v;
	size_t used;

	kq_fmt_lines(&b, &o, &r);
	T_STREQ(cstr(&b), "v\n");
	o.key_delim = "::";
	o.key_delim_len = 2;
	r = mkrec(NULL, -1, "", 0);
	kq_fmt_lines(&b, &o, &r);
	T_STREQ(cstr(&b), "v\nNULL::\n");

	kq_buf_reset(&b);
	kq_fmt_binary(&b, KQ_BYTES_NULL, (struct kq_bytes){ (const unsigned char *)"ab", 2 });
	kq_fmt_binary(&b, (struct kq_bytes){ (const unsigned char *)"", 0 }, KQ_BYTES_NULL);
	T_EQ(b.len, 4 + 4 + 2 + 4 + 4);
	T_MEMEQ(b.buf, "\xff\xff\xff\xff\x00\x00\x00\x02" "ab" "\0\0\0\0\xff\xff\xff\xff", 18);
	T_EQ(kq_binary_parse(b.buf, b.len, 100, &k, &v, &used), 0);
	T_EQ(k.len, -1);
	T_OK(bytes_is(v, "ab"), "value");
	T_EQ(used, 10);
	T_EQ(kq_binary_parse(b.buf + used, b.len - used, 100, &k, &v, &used), 0);
	T_EQ(k.len, 0);
	T_EQ(v.len, -1);
	T_EQ(used, 8);
	T_EQ(kq_binary_parse(b.buf, 9, 100, &k, &v, &used), KQ_ERR_TRUNCATED);
	T_EQ(kq_binary_parse(b.buf, 3, 100, &k, &v, &used), KQ_ERR_TRUNCATED);
	T_EQ(kq_binary_parse(b.buf, 10, 1, &k, &v, &used), KQ_ERR_TOO_LARGE);
	T_EQ(kq_binary_parse((const unsigned char *)"\xff\xff\xff\xfe", 4, 100, &k, &v, &used),
	     KQ_ERR_CORRUPT);
	T_EQ(kq_binary_parse((const unsigned char *)"\x7f\xff\xff\xff", 4, 100, &k, &v, &used),
	     KQ_ERR_TOO_LARGE);
	kq_buf_free(&b);
}

static const char *
render(struct kq_buf *b, const char *fmt, const struct kq_record *r)
{
	struct kq_fmt_opts o = { "\n", 1, NULL, 0, "-", 1 };
	struct kq_fmt_src s = { "logs", 4, 3, false };
	char err[200];
	struct kq_tmpl *t = kq_tmpl_compile(fmt, err, sizeof(err));

	kq_buf_reset(b);
	if (!t)
		return "(compile failed)";
	kq_tmpl_render(t, b, &o, &s, r);
	kq_tmpl_free(t);
	return cstr(b);
}

static void
test_templates(void)
{
	struct kq_buf b = { 0 }, h = { 0 };
	struct kq_record r = mkrec("key", 3, "val\xff", 4);
	char err[200];
	static const char *bad[] = { "%", "%z", "%H", "%H{abc", "\\q", "\\x4", "\\xg0" };
	size_t i;

	add_hdr(&h, "a", "1", 1);
	add_hdr(&h, "b", NULL, 0);
	add_hdr(&h, "a", "2", 1);
	r.header_count = 3;
	r.headers = (struct kq_bytes){ h.buf, (int32_t)h.len };
	T_STREQ(render(&b, "%t/%p@%o %k=%s\\n", &r), "logs/3@42 key=val\xff\n");
	T_STREQ(render(&b, "%S %K %T %%\\t\\\\", &r), "4 3 1714560000123 %\t\\");
	T_STREQ(render(&b, "%D", &r), "2024-05-01T10:40:00.123Z");
	T_STREQ(render(&b, "%x|%b", &r), "76616cff|dmFs/w==");
	T_STREQ(render(&b, "%h", &r), "a=1,b=-,a=2");
	T_STREQ(render(&b, "[%H{a}][%H{b}][%H{zz}]", &r), "[1][-][-]");
	T_STREQ(render(&b, "\\x41\\0Z", &r), "A");	/* cstr stops at the NUL */
	T_EQ(b.len, 3);
	render(&b, "%R", &r);
	T_EQ(b.len, 4);
	T_MEMEQ(b.buf, "\0\0\0\4", 4);
	r = mkrec(NULL, -1, NULL, -1);
	T_STREQ(render(&b, "%k|%s|%S|%K|%x|%b|%h", &r), "-|-|-1|-1|-|-|");
	r.timestamp = -1;
	T_STREQ(render(&b, "%D", &r), "1969-12-31T23:59:59.999Z");
	r.timestamp = 951782400000LL;	/* leap day 2000 */
	T_STREQ(render(&b, "%D", &r), "2000-02-29T00:00:00.000Z");
	for (i = 0; i < KQ_ARRAY_LEN(bad); i++) {
		struct kq_tmpl *t;

		err[0] = '\0';
		t = kq_tmpl_compile(bad[i], err, sizeof(err));
		T_OK(t == NULL && err[0], "accepted bad template '%s'", bad[i]);
		kq_tmpl_free(t);
	}
	{
		struct kq_tmpl *t = kq_tmpl_compile("%s", err, sizeof(err));
		struct kq_tmpl *t2 = kq_tmpl_compile("%H{x}", err, sizeof(err));

		T_OK(t && !kq_tmpl_needs_headers(t), "no headers");
		T_OK(t2 && kq_tmpl_needs_headers(t2), "headers");
		kq_tmpl_free(t);
		kq_tmpl_free(t2);
	}
	kq_buf_free(&b);
	kq_buf_free(&h);
}

#define NOW 1714560000000LL	/* 2024-05-01T10:40:00Z */

static int
spec(const char *s, struct kq_offspec *sp)
{
	char err[200];

	return kq_cli_parse_offspec(s, NOW, sp, err, sizeof(err));
}

static void
test_offspec(void)
{
	struct kq_offspec sp;
	char err[200];
	struct kq_off off;
	struct kq_buf b = { 0 };
	bool cl;
	static const char *bad[] = {
		"", "x", "beginningx", "1x", "--5", "+-5", "@", "@bogus", "e@123", "s@",
		"s@12x", "1:", ":1", "1:2:3", "1:stored", "99999999999999999999", "1:s@5",
		"@yesterday",
	};
	size_t i;

	T_EQ(spec("beginning", &sp), 0);
	T_EQ(sp.start.kind, KQ_OFF_BEGINNING);
	T_EQ(sp.end.kind, KQ_OFF_NONE);
	T_EQ(spec("earliest", &sp), 0);
	T_EQ(sp.start.kind, KQ_OFF_BEGINNING);
	T_EQ(spec("start", &sp), 0);
	T_EQ(sp.start.kind, KQ_OFF_BEGINNING);
	T_EQ(spec("end", &sp), 0);
	T_EQ(sp.start.kind, KQ_OFF_END);
	T_EQ(spec("latest", &sp), 0);
	T_EQ(sp.start.kind, KQ_OFF_END);
	T_EQ(spec("stored", &sp), 0);
	T_EQ(sp.start.kind, KQ_OFF_STORED);
	T_EQ(spec("41977", &sp), 0);
	T_EQ(sp.start.kind, KQ_OFF_ABS);
	T_EQ(sp.start.value, 41977);
	T_EQ(spec("-100", &sp), 0);
	T_EQ(sp.start.kind, KQ_OFF_FROM_END);
	T_EQ(sp.start.value, 100);
	T_EQ(spec("+7", &sp), 0);
	T_EQ(sp.start.kind, KQ_OFF_FROM_START);
	T_EQ(sp.start.value, 7);
	T_EQ(spec("s@1714560000000", &sp), 0);
	T_EQ(sp.start.kind, KQ_OFF_TIME);
	T_EQ(sp.start.value, 1714560000000LL);
	T_EQ(spec("@-30m", &sp), 0);
	T_EQ(sp.start.kind, KQ_OFF_TIME);
	T_EQ(sp.start.value, NOW - 30 * 60000);
	T_EQ(spec("@1714560000123", &sp), 0);
	T_EQ(sp.start.value, 1714560000123LL);
	T_EQ(spec("@2024-05-01T12:00:00Z", &sp), 0);
	T_EQ(sp.start.kind, KQ_OFF_TIME);
	T_EQ(sp.start.value, 1714564800000LL);
	T_EQ(sp.end.kind, KQ_OFF_NONE);
	T_EQ(spec("@2024-05-01T12:00:00.123+02:00", &sp), 0);
	T_EQ(sp.start.value, 1714557600123LL);

	/* ranges */
	T_EQ(spec("1000:2000", &sp), 0);
	T_EQ(sp.start.kind, KQ_OFF_ABS);
	T_EQ(sp.start.value, 1000);
	T_EQ(sp.end.kind, KQ_OFF_ABS);
	T_EQ(sp.end.value, 2000);
	T_EQ(spec("beginning:end", &sp), 0);
	T_EQ(sp.start.kind, KQ_OFF_BEGINNING);
	T_EQ(sp.end.kind, KQ_OFF_END);
	T_EQ(spec("-10:-5", &sp), 0);
	T_EQ(sp.end.kind, KQ_OFF_FROM_END);
	T_EQ(sp.end.value, 5);
	T_EQ(spec("@-48h:@-24h", &sp), 0);
	T_EQ(sp.start.value, NOW - 48 * 3600000LL);
	T_EQ(sp.end.value, NOW - 24 * 3600000LL);
	T_EQ(spec("@2024-05-01:@+1h", &sp), 0);
	T_EQ(sp.start.value, 1714521600000LL);
	T_EQ(sp.end.kind, KQ_OFF_TIME);
	T_EQ(sp.end.value, 1714521600000LL + 3600000);
	T_EQ(spec("@2024-05-01T12:00:00Z:@2024-05-01T13:00:00Z", &sp), 0);
	T_EQ(sp.start.value, 1714564800000LL);
	T_EQ(sp.end.value, 1714568400000LL);
	T_EQ(spec("beginning:@+1h", &sp), 0);	/* no START time: relative to now */
	T_EQ(sp.end.value, NOW + 3600000);
	T_EQ(spec("s@100:e@200", &sp), 0);
	T_EQ(sp.start.value, 100);
	T_EQ(sp.end.kind, KQ_OFF_TIME);
	T_EQ(sp.end.value, 200);

	for (i = 0; i < KQ_ARRAY_LEN(bad); i++) {
		err[0] = '\0';
		T_OK(kq_cli_parse_offspec(bad[i], NOW, &sp, err, sizeof(err)) == KQ_ERR_INVALID &&
		     err[0], "accepted bad spec '%s'", bad[i]);
	}
	T_EQ(kq_cli_parse_off("e@5", 3, true, NOW, &off, err, sizeof(err)), 0);
	T_EQ(off.kind, KQ_OFF_TIME);

	/* resolution and clamping */
	off = (struct kq_off){ KQ_OFF_BEGINNING, 0 };
	T_EQ(kq_off_resolve(&off, 10, 50, -1, -1, &cl), 10);
	T_OK(!cl, "no clamp");
	off = (struct kq_off){ KQ_OFF_END, 0 };
	T_EQ(kq_off_resolve(&off, 10, 50, -1, -1, &cl), 50);
	off = (struct kq_off){ KQ_OFF_FROM_END, 5 };
	T_EQ(kq_off_resolve(&off, 10, 50, -1, -1, &cl), 45);
	off = (struct kq_off){ KQ_OFF_FROM_END, 2000 };
	T_EQ(kq_off_resolve(&off, 10, 50, -1, -1, &cl), 10);
	T_OK(cl, "clamped low");
	off = (struct kq_off){ KQ_OFF_FROM_START, 5 };
	T_EQ(kq_off_resolve(&off, 10, 50, -1, -1, &cl), 15);
	off = (struct kq_off){ KQ_OFF_ABS, 99 };
	T_EQ(kq_off_resolve(&off, 10, 50, -1, -1, &cl), 50);
	T_OK(cl, "clamped high");
	off = (struct kq_off){ KQ_OFF_ABS, 3 };
	T_EQ(kq_off_resolve(&off, 10, 50, -1, -1, &cl), 10);
	off = (struct kq_off){ KQ_OFF_TIME, 5 };
	T_EQ(kq_off_resolve(&off, 10, 50, 33, -1, &cl), 33);
	T_EQ(kq_off_resolve(&off, 10, 50, -1, -1, &cl), 50);
	off = (struct kq_off){ KQ_OFF_STORED, 0 };
	T_EQ(kq_off_resolve(&off, 10, 50, -1, 20, &cl), 20);
	T_EQ(kq_off_resolve(&off, 10, 50, -1, -1, &cl), 10);

	off = (struct kq_off){ KQ_OFF_TIME, 1714564800000LL };
	kq_off_str(&b, &off);
	T_STREQ(cstr(&b), "@2024-05-01T12:00:00.000Z");
	kq_buf_reset(&b);
	off = (struct kq_off){ KQ_OFF_FROM_END, 100 };
	kq_off_str(&b, &off);
	T_STREQ(cstr(&b), "-100");
	kq_buf_free(&b);
}

int
main(void)
{
	T_RUN(test_utf8);
	T_RUN(test_base64);
	T_RUN(test_json_out);
	T_RUN(test_json_in);
	T_RUN(test_lines_binary);
	T_RUN(test_templates);
	T_RUN(test_offspec);
	return t_done();
}
