/*
 * format.h - record formats shared by the CLIs (CLI.md section 5) and offset
 * specs (CLI.md section 4): JSON lines out and in, base64, UTF-8 checks,
 * templates, the `binary` framing, `lines` output.
 *
 * Everything here appends to a caller's struct kq_buf and never prints,
 * exits or does I/O.  Output functions cannot fail (memory aside, which
 * aborts in kq_xmalloc).  Parsers return 0 or a negative KQ_ERR_* with a
 * one-line message (lower case, no trailing period) in errbuf.
 * All functions are reentrant; no global state.
 */
#ifndef KQ_FORMAT_H
#define KQ_FORMAT_H

#include "../base/base.h"
#include "../proto/proto.h"

/* ---- UTF-8 and base64 ---- */

/* Strict UTF-8: no overlongs, no surrogates, nothing above U+10FFFF. */
bool kq_utf8_valid(const void *p, size_t n);

/* Standard alphabet with '=' padding, appended to out. */
void kq_base64_encode(struct kq_buf *out, const void *p, size_t n);
/*
 * Decode standard base64 (padding optional; whitespace not allowed),
 * appended to out.  0, or KQ_ERR_CORRUPT for a bad character or length;
 * on error out->len is restored.
 */
int kq_base64_decode(struct kq_buf *out, const char *s, size_t n);

/* ---- JSON output ---- */

/*
 * Where a record comes from; constant per partition, so the consumer fills
 * it once per fetched partition, not per record.
 */
struct kq_fmt_src {
	const char *topic;
	size_t topic_len;
	int32_t partition;
	bool log_append_time;	/* batch attribute: timestamp_type "log_append" */
};

/*
 * Quoted JSON string.  Escapes '"', '\\' and control characters (\n \r \t
 * \b \f, else \u00XX); other bytes pass through, so the caller makes sure p
 * is UTF-8 (names from the wire are written as they are).
 */
void kq_json_str(struct kq_buf *out, const void *p, size_t n);
/*
 * `"name":VALUE` for a key or value: null -> null, valid UTF-8 -> a string,
 * otherwise base64 followed by `,"name_encoding":"base64"`.
 */
void kq_json_bytes_field(struct kq_buf *out, const char *name, struct kq_bytes b);
/*
 * Header list as `[[name,value],...]` from raw record header bytes (see
 * kq_header_next); a value that is not UTF-8 is written as a triple
 * [name,"BASE64","base64"], which kq_json_rec_parse accepts.  Stops quietly
 * at corrupt header bytes (the batch CRC already vouched for them).
 */
void kq_json_headers(struct kq_buf *out, int32_t count, struct kq_bytes raw);
/*
 * One JSON line (with the trailing '\n'):
 * {"topic":..,"partition":..,"offset":..,"timestamp":..,"timestamp_type":
 *  "create"|"log_append","key":..,"value":..,"headers":[[n,v],...]}
 */
void kq_fmt_json(struct kq_buf *out, const struct kq_fmt_src *src,
		 const struct kq_record *rec);

/* ---- JSON input (kq-produce -f json) ---- */

/*
 * One parsed input line.  key/value/header views point into the line or
 * into jr's own scratch memory (for unescaped or base64-decoded data); they
 * stay valid until the next kq_json_rec_parse or kq_json_rec_free on jr.
 * A zeroed struct is ready to use; reuse it for every line (no per-line
 * allocation once the scratch memory has grown).
 */
struct kq_json_rec {
	struct kq_bytes key;		/* null when absent or null */
	struct kq_bytes value;		/* required; may be null */
	int32_t partition;		/* -1 when absent */
	bool has_timestamp;
	int64_t timestamp;
	struct kq_record_header *headers;	/* ready for kq_bb_add */
	int nheaders;
	/* private */
	struct kq_buf scratch;
	int hdr_cap;
};
/*
 * Parse one JSON object (surrounding whitespace allowed, trailing '\n'
 * optional).  Fields: value (required, string or null), key (string or
 * null), headers ([[name,value],...] with value string or null and an
 * optional third element "base64", or {"name":value,...}), partition
 * (integer >= 0), timestamp (integer), key_encoding / value_encoding
 * ("base64" or "utf8"/"utf-8"), topic/offset/timestamp_type and unknown
 * fields ignored (any JSON value).  Strings take every JSON escape,
 * \uXXXX surrogate pairs included; a lone surrogate is an error.  Nesting
 * is capped.  Returns 0, or KQ_ERR_CORRUPT with the reason in errbuf
 * ("expected ':' at column 12", "missing \"value\"", "bad base64 in
 * \"key\"").
 */
int kq_json_rec_parse(struct kq_json_rec *jr, const char *line, size_t n,
		      char *errbuf, size_t errlen);
void kq_json_rec_free(struct kq_json_rec *jr);

/* ---- lines, binary ---- */

/* Options for `lines` and templates (kq-consume -D -K --null). */
struct kq_fmt_opts {
	const char *delim;		/* after each record in lines mode */
	size_t delim_len;
	const char *key_delim;		/* NULL = no key printed */
	size_t key_delim_len;
	const char *null_str;		/* printed for a null key/value */
	size_t null_len;
};
/* [key KEY_DELIM] value DELIM */
void kq_fmt_lines(struct kq_buf *out, const struct kq_fmt_opts *o,
		  const struct kq_record *rec);

/* Binary framing: BE int32 key length (-1 null), key, BE int32 value length, value. */
void kq_fmt_binary(struct kq_buf *out, struct kq_bytes key, struct kq_bytes value);
/*
 * Decode one frame from p[0..n).  0 with *used set and key/value viewing p;
 * KQ_ERR_TRUNCATED when more bytes are needed (at EOF that is bad input);
 * KQ_ERR_CORRUPT for a length below -1; KQ_ERR_TOO_LARGE when a length
 * exceeds max_len (checked before waiting for the bytes).
 */
int kq_binary_parse(const unsigned char *p, size_t n, size_t max_len,
		    struct kq_bytes *key, struct kq_bytes *value, size_t *used);

/* ---- templates (kq-consume -f '...%s...') ---- */

/*
 * Compiled template.  Tokens: %s value, %k key, %S value length (-1 null),
 * %K key length, %t topic, %p partition, %o offset, %T timestamp ms,
 * %D timestamp RFC 3339 UTC with ms, %h headers name=value,..., %H{NAME}
 * value of the first header NAME (empty/null string when missing), %R value
 * length as BE int32, %x value hex, %b value base64, %% '%'.  Escapes
 * \n \r \t \0 \\ \xNN.  Null key/value print o->null_str.
 */
struct kq_tmpl;
/* Returns NULL with errbuf set for an unknown token or bad escape. */
struct kq_tmpl *kq_tmpl_compile(const char *fmt, char *errbuf, size_t errlen);
void kq_tmpl_render(const struct kq_tmpl *t, struct kq_buf *out,
		    const struct kq_fmt_opts *o, const struct kq_fmt_src *src,
		    const struct kq_record *rec);
void kq_tmpl_free(struct kq_tmpl *t);
/* True if the template uses header tokens (%h %H), for skipping header walks. */
bool kq_tmpl_needs_headers(const struct kq_tmpl *t);

/* ---- offset specs (CLI.md section 4), common/cli/offspec.c ---- */

enum kq_off_kind {
	KQ_OFF_NONE = 0,	/* no END given */
	KQ_OFF_BEGINNING,	/* beginning, earliest, start */
	KQ_OFF_END,		/* end, latest: as END, sampled at startup */
	KQ_OFF_STORED,		/* the group's committed offset */
	KQ_OFF_ABS,		/* N: value = N */
	KQ_OFF_FROM_END,	/* -N: value = N (end - N) */
	KQ_OFF_FROM_START,	/* +N: value = N (beginning + N) */
	KQ_OFF_TIME,		/* @TIME, s@MS, e@MS: value = Unix ms */
};
struct kq_off {
	enum kq_off_kind kind;
	int64_t value;
};
struct kq_offspec {
	struct kq_off start;
	struct kq_off end;	/* kind KQ_OFF_NONE: no end (follow) */
};
/*
 * Parse START or START:END.  Times go through kq_cli_parse_time_ms with
 * now_ms; an END `@+DUR` counts from START when START is a time, so every
 * TIME here is absolute.  The split point is found by trying the whole
 * string, then each ':' left to right until both halves parse, so RFC 3339
 * times with colons work.  e@MS is only valid as END, s@MS only as START.
 * 0 or KQ_ERR_INVALID with errbuf set ("bad offset 'x'...").
 */
int kq_cli_parse_offspec(const char *s, int64_t now_ms, struct kq_offspec *spec,
			 char *errbuf, size_t errlen);
/* One end alone (kq-groups reset --to); is_end selects END semantics. */
int kq_cli_parse_off(const char *s, size_t n, bool is_end, int64_t now_ms,
		     struct kq_off *off, char *errbuf, size_t errlen);
/* Human form of an end ("beginning", "-100", "@2024-05-01T00:00:00.000Z"). */
void kq_off_str(struct kq_buf *out, const struct kq_off *off);

/*
 * Resolve an end against one partition's offsets.  lo/hi are the log start
 * and end offsets; time_off is the ListOffsets answer for a TIME end (-1 =
 * no record at or after it: hi); stored is the committed offset (-1 none:
 * treated as beginning).  *clamped says the result was moved into [lo, hi].
 */
int64_t kq_off_resolve(const struct kq_off *off, int64_t lo, int64_t hi,
		       int64_t time_off, int64_t stored, bool *clamped);

#endif
