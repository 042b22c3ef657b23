/*
 * admin.c - shared pieces of the admin tools (see admin.h).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"

bool
kq_cli_confirm(bool yes, const char *question)
{
	char line[64];

	if (yes)
		return true;
	/* A script must say -y: a prompt nobody can answer would hang it. */
	if (!isatty(STDIN_FILENO) || !isatty(STDERR_FILENO))
		kq_usage_error("refusing to delete without -y (stdin or stderr is not a terminal)");
	fprintf(stderr, "%s: %s [y/N] ", kq_cli_progname(), question);
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	return strcmp(line, "y\n") == 0 || strcmp(line, "Y\n") == 0 ||
	       strcmp(line, "yes\n") == 0;
}

void
kq_cli_json_line(struct kq_buf *b)
{
	kq_buf_addc(b, '\n');
	fwrite(b->buf, 1, b->len, stdout);
	kq_buf_reset(b);
}

void
kq_cli_fmt_duration(char *buf, size_t len, int64_t ms)
{
	if (ms == 0)
		snprintf(buf, len, "0");
	else if (ms % 3600000 == 0)
		snprintf(buf, len, "%lldh", (long long)(ms / 3600000));
	else if (ms % 60000 == 0)
		snprintf(buf, len, "%lldm", (long long)(ms / 60000));
	else if (ms % 1000 == 0)
		snprintf(buf, len, "%llds", (long long)(ms / 1000));
	else
		snprintf(buf, len, "%lldms", (long long)ms);
}
