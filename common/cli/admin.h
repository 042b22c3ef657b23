/*
 * admin.h - small pieces the admin tools (kq-topics, kq-groups) share on
 * top of cli.h: the delete confirmation rule (CLI.md section 8), JSON Lines
 * output and durations written back the way the user types them.
 *
 * Like the diagnostics in cli.h, kq_cli_confirm talks to the terminal and
 * may exit: that is its job.
 */
#ifndef KQ_CLI_ADMIN_H
#define KQ_CLI_ADMIN_H

#include "cli.h"

/*
 * The confirmation rule of `delete`: with yes (-y) true at once; otherwise
 * stdin and stderr must both be terminals (else a usage error, exit 2,
 * "refusing to delete without -y ..."), and the user is asked
 * "PROG: QUESTION [y/N] " on stderr.  True only for y, Y or yes.
 */
bool kq_cli_confirm(bool yes, const char *question);

/* Finish the JSON object in b as one line on stdout and empty b. */
void kq_cli_json_line(struct kq_buf *b);

/* ms as the shortest exact duration: "30s", "2m", "1h", "250ms", "0". */
void kq_cli_fmt_duration(char *buf, size_t len, int64_t ms);

#endif
