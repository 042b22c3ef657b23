/*
 * input.c - kq-produce's readers: `lines` (any delimiter, -K keys), `json`
 * (kq-consume -f json lines), `binary` (length-prefixed frames) and `raw`
 * (one record per file).  Input is read in large chunks and split in place;
 * records are handed out as views, and the sender copies them into batches,
 * so nothing is allocated per record.
 *
 * An over-long record is noticed while streaming: once more than the limit
 * has arrived without a delimiter, the rest of it is skipped (--on-error
 * skip) or reading stops (fail) without buffering it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "produce.h"

#define READ_CHUNK (1024 * 1024)

struct input {
	int fd;
	int idx;		/* index in opt.files, -1 for implicit stdin */
	const char *name;	/* "stdin" or the path */
	bool eof;
	struct kq_buf buf;	/* unparsed bytes are buf[pos, len) */
	size_t pos;
	uint64_t recno;		/* records (lines) started so far */
	bool skipping;		/* inside an over-long record being skipped */
	bool skip_value;	/* binary: a value length and value follow the skip */
	uint64_t skip_len;
	struct kq_json_rec jr;
	struct kq_record_header *hdrs;	/* JSON headers plus -H */
	int hcap;
};

char *input_fatal;
uint64_t input_skipped;
int64_t input_max_record = 1024 * 1024;
struct sender *input_sender;
uint64_t input_replaced;

static FILE *rejects_fp;
static int64_t last_warn_ms;
static uint64_t warns_suppressed;

/* ---- --rejects ---- */

static FILE *
rejects_file(void)
{
	if (!rejects_fp && opt.rejects_path) {
		rejects_fp = fopen(opt.rejects_path, "w");
		if (!rejects_fp)
			kq_die_errno(KQ_EXIT_FAIL, "cannot open '%s'", opt.rejects_path);
	}
	return rejects_fp;
}

void
rejects_write(const char *error, int32_t partition, struct kq_bytes key, struct kq_bytes value,
	      int32_t nhdr, struct kq_bytes hdrs)
{
	struct kq_buf b = { 0 };
	FILE *fp = rejects_file();

	if (!fp)
		return;
	kq_buf_adds(&b, "{\"error\":");
	kq_json_str(&b, error, strlen(error));
	if (partition >= 0)
		kq_buf_addf(&b, ",\"partition\":%d", (int)partition);
	if (key.p || key.len == -1) {
		kq_buf_addc(&b, ',');
		kq_json_bytes_field(&b, "key", key);
	}
	if (value.p || value.len == -1) {
		kq_buf_addc(&b, ',');
		kq_json_bytes_field(&b, "value", value);
	}
	if (nhdr > 0) {
		kq_buf_adds(&b, ",\"headers\":");
		kq_json_headers(&b, nhdr, hdrs);
	}
	kq_buf_adds(&b, "}\n");
	if (fwrite(b.buf, 1, b.len, fp) != b.len)
		kq_warn_errno("cannot write to '%s'", opt.rejects_path);
	kq_buf_free(&b);
}

void
rejects_close(void)
{
	if (rejects_fp && fclose(rejects_fp) != 0)
		kq_warn_errno("cannot write to '%s'", opt.rejects_path);
	rejects_fp = NULL;
}

/* ---- opening ---- */

struct input *
input_next(struct input *prev)
{
	struct input *in;
	int idx = prev ? prev->idx + 1 : 0;

	if (prev && prev->idx < 0)
		idx = opt.nfiles;	/* implicit stdin was the only input */
	input_close(prev);
	if (opt.nfiles == 0 && !prev)
		idx = -1;
	else if (idx >= opt.nfiles)
		return NULL;
	in = kq_xcalloc(1, sizeof(*in));
	in->idx = idx;
	if (idx < 0 || strcmp(opt.files[idx], "-") == 0) {
		in->fd = 0;
		in->name = "stdin";
	} else {
		in->name = opt.files[idx];
		in->fd = open(in->name, O_RDONLY | O_CLOEXEC);
		if (in->fd < 0)
			kq_die_errno(KQ_EXIT_NOTFOUND, "cannot open '%s'", in->name);
	}
	return in;
}

int
input_fd(const struct input *in)
{
	return in->fd;
}

const char *
input_name(const struct input *in)
{
	return in->name;
}

void
input_close(struct input *in)
{
	if (!in)
		return;
	if (in->fd > 0)
		close(in->fd);
	kq_buf_free(&in->buf);
	kq_json_rec_free(&in->jr);
	free(in->hdrs);
	free(in);
}

/* ---- bad input ---- */

static const char *
unit(void)
{
	return opt.format == IN_JSON ||
			(opt.format == IN_LINES && opt.delim.len == 1 && opt.delim.buf[0] == '\n') ?
		"line" : "record";
}

static void
human_size(char *buf, size_t n, uint64_t v)
{
	if (v >= 1024 * 1024)
		snprintf(buf, n, "%.1f MiB", (double)v / (1024.0 * 1024.0));
	else if (v >= 1024)
		snprintf(buf, n, "%.1f KiB", (double)v / 1024.0);
	else
		snprintf(buf, n, "%llu bytes", (unsigned long long)v);
}

/*
 * Record in->recno is bad.  Under fail, remember the message (reading stops
 * and the tool exits 5 once everything before it is delivered) and return
 * false; under skip, warn (at most once a second), write it to --rejects and
 * return true.
 */
static bool
bad_input(struct input *in, const char *why, struct kq_bytes raw)
{
	char *msg = kq_xasprintf("%s %s %llu: %s", in->name, unit(),
				 (unsigned long long)in->recno, why);
	int64_t now = kq_mono_ms();

	if (opt.on_error == ON_ERROR_FAIL) {
		input_fatal = msg;
		return false;
	}
	input_skipped++;
	if (now - last_warn_ms >= 1000) {
		if (warns_suppressed)
			kq_warn("%s (and %llu more skipped)", msg,
				(unsigned long long)warns_suppressed);
		else
			kq_warn("%s; skipped", msg);
		last_warn_ms = now;
		warns_suppressed = 0;
	} else {
		warns_suppressed++;
	}
	rejects_write(msg, -1, (struct kq_bytes){ NULL, 0 }, raw, 0, (struct kq_bytes){ 0 });
	free(msg);
	return true;
}

static bool
too_long(struct input *in, uint64_t size, bool at_least)
{
	char a[32], b[32], why[160];

	human_size(a, sizeof(a), size);
	human_size(b, sizeof(b), (uint64_t)input_max_record);
	snprintf(why, sizeof(why), "record is %s%s, over --max-record-bytes %s",
		 at_least ? "more than " : "", a, b);
	return bad_input(in, why, (struct kq_bytes){ NULL, 0 });
}

/* ---- records ---- */

static void
tee_out(const unsigned char *p, size_t n)
{
	static bool gone;

	if (gone || n == 0)
		return;
	if (fwrite(p, 1, n, stdout) != n) {
		/* The reader of our copy left; the records still get sent. */
		gone = true;
		clearerr(stdout);
	}
}

/* Fill headers: the record's own (JSON) and then every -H. */
static const struct kq_record_header *
merge_headers(struct input *in, const struct kq_record_header *own, int nown, int *n)
{
	int total = nown + opt.nheaders;

	if (nown == 0) {
		*n = opt.nheaders;
		return opt.headers;
	}
	if (opt.nheaders == 0) {
		*n = nown;
		return own;
	}
	if (total > in->hcap) {
		in->hcap = total * 2;
		in->hdrs = kq_xrealloc(in->hdrs, (size_t)in->hcap * sizeof(*in->hdrs));
	}
	memcpy(in->hdrs, own, (size_t)nown * sizeof(*own));
	memcpy(in->hdrs + nown, opt.headers, (size_t)opt.nheaders * sizeof(*own));
	*n = total;
	return in->hdrs;
}

static struct kq_bytes
nullable(const unsigned char *p, size_t n)
{
	if (n == 0 && opt.empty_is_null)
		return KQ_BYTES_NULL;
	return kq_bytes_of(p, n);
}

/* Fill in a `lines` or `raw` record from its bytes. */
static void
split_record(struct in_rec *r, const unsigned char *p, size_t n)
{
	const unsigned char *d = NULL;

	memset(r, 0, sizeof(*r));
	r->partition = -1;
	r->timestamp = -1;
	if (opt.has_key_delim)
		d = memmem(p, n, opt.key_delim.buf, opt.key_delim.len);
	if (d) {
		r->key = nullable(p, (size_t)(d - p));
		d += opt.key_delim.len;
		r->value = nullable(d, n - (size_t)(d - p));
	} else {
		r->key = opt.has_key ? kq_bytes_of(opt.key.buf, opt.key.len) : KQ_BYTES_NULL;
		r->value = nullable(p, n);
	}
	if (r->key.len == -1 && opt.has_key)
		r->key = kq_bytes_of(opt.key.buf, opt.key.len);
	r->headers = opt.headers;
	r->nheaders = opt.nheaders;
}

/* Hand out one record of n bytes at p; false stops reading. */
static bool
emit(struct input *in, const struct in_rec *r, const unsigned char *raw, size_t rawn,
     bool (*fn)(void *arg, const struct in_rec *r), void *arg)
{
	if (opt.tee)
		tee_out(raw, rawn);
	return fn(arg, r);
}

static const unsigned char *
find_delim(const unsigned char *p, size_t n)
{
	if (opt.delim.len == 1)
		return memchr(p, opt.delim.buf[0], n);
	return memmem(p, n, opt.delim.buf, opt.delim.len);
}

/* Split buf[pos, len) at delimiters; 1 = go on, 0 = stop. */
static int
parse_lines(struct input *in, bool (*fn)(void *arg, const struct in_rec *r), void *arg)
{
	const unsigned char *base = in->buf.buf;
	size_t dl = opt.delim.len;

	while (in->pos < in->buf.len) {
		const unsigned char *p = base + in->pos;
		size_t avail = in->buf.len - in->pos, n, rawn;
		const unsigned char *d = find_delim(p, avail);
		struct in_rec r;

		if (in->skipping) {
			if (!d) {
				/* Keep a possible partial delimiter. */
				size_t keep = dl > 1 ? KQ_MIN(avail, dl - 1) : 0;

				in->skip_len += avail - keep;
				in->pos += avail - keep;
				if (!in->eof)
					return 1;
				in->pos = in->buf.len;
				in->skipping = false;
				return too_long(in, in->skip_len, false) ? 1 : 0;
			}
			in->skip_len += (size_t)(d - p);
			in->pos += (size_t)(d - p) + dl;
			in->skipping = false;
			if (!too_long(in, in->skip_len, false))
				return 0;
			continue;
		}
		if (!d) {
			if ((int64_t)avail > input_max_record + (int64_t)opt.key_delim.len) {
				in->recno++;
				if (opt.on_error == ON_ERROR_FAIL) {
					too_long(in, avail, true);
					return 0;
				}
				in->skipping = true;
				in->skip_len = 0;
				continue;
			}
			if (!in->eof)
				return 1;
			n = rawn = avail;	/* a final record without delimiter */
		} else {
			n = (size_t)(d - p);
			rawn = n + dl;
		}
		in->recno++;
		in->pos += rawn;
		if (n == 0 && opt.skip_empty)
			continue;
		if ((int64_t)n > input_max_record + (int64_t)opt.key_delim.len) {
			if (!too_long(in, n, false))
				return 0;
			continue;
		}
		split_record(&r, p, n);
		if (!emit(in, &r, p, rawn, fn, arg))
			return 0;
	}
	return 1;
}

static int
parse_json(struct input *in, bool (*fn)(void *arg, const struct in_rec *r), void *arg)
{
	while (in->pos < in->buf.len) {
		const unsigned char *p = in->buf.buf + in->pos;
		size_t avail = in->buf.len - in->pos, n, rawn;
		const unsigned char *d = memchr(p, '\n', avail);
		char err[160];
		struct in_rec r;

		if (!d && !in->eof) {
			if ((int64_t)avail > 2 * input_max_record + 65536) {
				in->recno++;
				too_long(in, avail, true);
				return 0;	/* no resynchronisation inside JSON */
			}
			return 1;
		}
		n = d ? (size_t)(d - p) : avail;
		rawn = d ? n + 1 : n;
		in->recno++;
		in->pos += rawn;
		while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == 0)
			continue;	/* blank line */
		if (kq_json_rec_parse(&in->jr, (const char *)p, n, err, sizeof(err)) != 0) {
			if (!bad_input(in, err, kq_bytes_of(p, n)))
				return 0;
			continue;
		}
		memset(&r, 0, sizeof(r));
		r.key = in->jr.key;
		r.value = in->jr.value;
		if (r.key.len == -1 && opt.has_key)
			r.key = kq_bytes_of(opt.key.buf, opt.key.len);
		r.headers = merge_headers(in, in->jr.headers, in->jr.nheaders, &r.nheaders);
		r.partition = in->jr.partition;
		r.timestamp = in->jr.has_timestamp ? in->jr.timestamp : -1;
		if ((int64_t)KQ_MAX(r.value.len, 0) + KQ_MAX(r.key.len, 0) > input_max_record) {
			if (!too_long(in, (uint64_t)KQ_MAX(r.value.len, 0) + KQ_MAX(r.key.len, 0), false))
				return 0;
			continue;
		}
		if (r.partition >= 0 && opt.partition < 0 &&
		    !sender_has_partition(input_sender, r.partition)) {
			if (opt.keep_partitions) {
				snprintf(err, sizeof(err), "partition %d does not exist",
					 (int)r.partition);
				if (!bad_input(in, err, kq_bytes_of(p, n)))
					return 0;
				continue;
			}
			r.partition = -1;
			input_replaced++;
		}
		if (!emit(in, &r, p, rawn, fn, arg))
			return 0;
	}
	return 1;
}

static int
parse_binary(struct input *in, bool (*fn)(void *arg, const struct in_rec *r), void *arg)
{
	for (;;) {
		const unsigned char *p = in->buf.buf + in->pos;
		size_t avail = in->buf.len - in->pos, used;
		struct kq_bytes key, value;
		struct in_rec r;
		int rc;

		if (in->skipping) {
			size_t step = (size_t)KQ_MIN((uint64_t)avail, in->skip_len);

			in->pos += step;
			in->skip_len -= step;
			avail -= step;
			if (in->skip_len == 0 && in->skip_value && avail >= 4) {
				int32_t vl = (int32_t)kq_be32(in->buf.buf + in->pos);

				in->skip_value = false;
				in->skip_len = 4 + (uint64_t)KQ_MAX(vl, 0);
				continue;
			}
			if (in->skip_len > 0 || in->skip_value)
				return in->eof ? 0 : 1;
			in->skipping = false;
			continue;
		}
		if (avail == 0)
			return 1;
		rc = kq_binary_parse(p, avail, (size_t)input_max_record, &key, &value, &used);
		if (rc == KQ_ERR_TRUNCATED) {
			if (!in->eof)
				return 1;
			in->recno++;
			in->pos = in->buf.len;
			return bad_input(in, "truncated frame at end of input",
					 (struct kq_bytes){ 0 }) ? 1 : 0;
		}
		in->recno++;
		if (rc == KQ_ERR_TOO_LARGE) {
			/* kq_binary_parse checked the key length before waiting for the
			 * key, and the value length only once it was here. */
			int32_t kl = (int32_t)kq_be32(p);
			uint64_t size = kl > input_max_record ? (uint64_t)kl :
				(uint64_t)(int32_t)kq_be32(p + 4 + KQ_MAX(kl, 0));

			if (!too_long(in, size, kl > input_max_record))
				return 0;
			in->skipping = true;
			in->skip_value = true;
			in->skip_len = 4 + (uint64_t)KQ_MAX(kl, 0);
			continue;
		}
		if (rc != 0) {
			/* The framing is lost: nothing after this can be trusted. */
			if (bad_input(in, "malformed binary frame (length below -1)",
				      (struct kq_bytes){ 0 }))
				input_fatal = kq_xasprintf("%s record %llu: malformed binary frame",
							   in->name, (unsigned long long)in->recno);
			return 0;
		}
		in->pos += used;
		memset(&r, 0, sizeof(r));
		r.key = key.len == 0 && opt.empty_is_null ? KQ_BYTES_NULL : key;
		r.value = value.len == 0 && opt.empty_is_null ? KQ_BYTES_NULL : value;
		if (r.key.len == -1 && opt.has_key)
			r.key = kq_bytes_of(opt.key.buf, opt.key.len);
		r.partition = -1;
		r.timestamp = -1;
		r.headers = opt.headers;
		r.nheaders = opt.nheaders;
		if (!emit(in, &r, p, used, fn, arg))
			return 0;
	}
}

static int
parse_raw(struct input *in, bool (*fn)(void *arg, const struct in_rec *r), void *arg)
{
	struct in_rec r;

	if (in->skipping) {
		in->pos = in->buf.len;
		return in->eof ? 0 : 1;
	}
	if ((int64_t)(in->buf.len - in->pos) > input_max_record) {
		in->recno = 1;
		in->skipping = true;
		if (!too_long(in, in->buf.len - in->pos, true))
			return 0;
		in->pos = in->buf.len;
		return in->eof ? 0 : 1;
	}
	if (!in->eof)
		return 1;
	in->recno = 1;
	if (in->buf.len == in->pos && opt.skip_empty)
		return 0;
	split_record(&r, in->buf.buf + in->pos, in->buf.len - in->pos);
	in->pos = in->buf.len;
	emit(in, &r, in->buf.buf, in->buf.len, fn, arg);
	return 0;
}

int
input_read(struct input *in, bool (*fn)(void *arg, const struct in_rec *r), void *arg)
{
	ssize_t n;
	int rc;

	/* Move the unparsed tail to the front before reading more. */
	if (in->pos > 0) {
		kq_buf_consume(&in->buf, in->pos);
		in->pos = 0;
	}
	kq_buf_grow(&in->buf, READ_CHUNK);
	do
		n = read(in->fd, in->buf.buf + in->buf.len, READ_CHUNK);
	while (n < 0 && errno == EINTR && !got_signal);
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return 1;
		kq_error("cannot read %s: %s", in->name, strerror(errno));
		return -1;
	}
	if (n == 0)
		in->eof = true;
	in->buf.len += (size_t)n;
	switch (opt.format) {
	case IN_LINES:
		rc = parse_lines(in, fn, arg);
		break;
	case IN_JSON:
		rc = parse_json(in, fn, arg);
		break;
	case IN_BINARY:
		rc = parse_binary(in, fn, arg);
		break;
	default:
		rc = parse_raw(in, fn, arg);
		break;
	}
	if (opt.tee && fflush(stdout) != 0)
		clearerr(stdout);
	if (rc == 0 || input_fatal)
		return 0;
	return in->eof ? 0 : 1;
}
