/*
 * logging.c - the broker's logger: one line per message on stderr, written
 * with a single write(2) so lines from several threads never interleave.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base.h"

int kq_log_verbosity;
static const char *log_prog = "kq";
static bool log_json, log_stamp;

void
kq_log_init(const char *progname, int verbosity, bool json)
{
	log_prog = progname;
	kq_log_verbosity = verbosity;
	log_json = json;
	log_stamp = !isatty(STDERR_FILENO);
}

static void
json_escape(struct kq_buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			kq_buf_addf(b, "\\%c", c);
		else if (c < 0x20)
			kq_buf_addf(b, "\\u%04x", c);
		else
			kq_buf_addc(b, c);
	}
}

static void
vlog(const char *level, int errnum, const char *fmt, va_list ap)
{
	struct kq_buf msg = { 0 }, line = { 0 };
	char stamp[96] = "";
	ssize_t unused;

	kq_buf_vaddf(&msg, fmt, ap);
	if (errnum)
		kq_buf_addf(&msg, ": %s", strerror(errnum));
	kq_buf_cstr(&msg);
	if (log_stamp || log_json) {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, ts.tv_nsec / 1000000);
	}
	if (log_json) {
		kq_buf_addf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"", stamp, level);
		json_escape(&line, (const char *)msg.buf);
		kq_buf_adds(&line, "\"}\n");
	} else {
		if (log_stamp)
			kq_buf_addf(&line, "%s ", stamp);
		kq_buf_addf(&line, "%s: ", log_prog);
		if (strcmp(level, "info") != 0)
			kq_buf_addf(&line, "%s: ", level);
		kq_buf_addf(&line, "%s\n", (const char *)msg.buf);
	}
	unused = write(STDERR_FILENO, line.buf, line.len);
	(void)unused;
	kq_buf_free(&msg);
	kq_buf_free(&line);
}

#define LOGFN(name, level, witherr, cond)                 \
	void name(const char *fmt, ...)                   \
	{                                                 \
		int e = errno;                            \
		va_list ap;                               \
		if (!(cond))                              \
			return;                           \
		va_start(ap, fmt);                        \
		vlog(level, witherr ? e : 0, fmt, ap);    \
		va_end(ap);                               \
		errno = e;                                \
	}

LOGFN(kq_log_info, "info", 0, 1)
LOGFN(kq_log_debug, "debug", 0, kq_log_verbosity > 0)
LOGFN(kq_log_warn, "warning", 1, 1)
LOGFN(kq_log_warnx, "warning", 0, 1)

void
kq_fatal(const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog("fatal", e, fmt, ap);
	va_end(ap);
	exit(1);
}

void
kq_fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("fatal", 0, fmt, ap);
	va_end(ap);
	exit(1);
}
