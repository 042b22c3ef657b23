/*
 * admin.h - small pieces the admin tools (kq-topics, kq-groups) share on
 * top of cli.h: connecting and the exit status of a failure, the delete
 * confirmation rule (CLI.md section 8), JSON Lines output and durations
 * written back the way the user types them.
 *
 * Like the diagnostics in cli.h, these talk to the terminal and may exit:
 * that is their job.
 */
#ifndef KQ_CLI_ADMIN_H
#define KQ_CLI_ADMIN_H

#include "cli.h"

struct kq_client;

/*
 * The options both admin tools take, as the end of their option tables
 * (cli.h), under the section "Common options:".  config is the long name
 * of the config file option ("config-file" for kq-topics, whose --config
 * is a topic setting); -F is its hidden alias.
 */
#define KQ_ADMIN_OPTS(config)							\
	KQ_OPT_SECTION("Common options:"),					\
	KQ_OPT_VALUE('b', "brokers", 0, "HOST[:PORT][,...]",			\
	  "bootstrap brokers (default $KQ_BROKERS, else localhost:9092)"),	\
	KQ_OPT_ALIAS(0, "bootstrap-server", 'b', "HOST[:PORT][,...]"),		\
	KQ_OPT_VALUE(0, "timeout", KQ_OPT_KEY_TIMEOUT, "DUR",			\
	  "give up on unreachable brokers after DUR (default 30s;\n"		\
	  "0 = retry forever)"),						\
	KQ_OPT_FLAG(0, "json", KQ_OPT_KEY_JSON,					\
	  "one JSON object per line instead of a table"),			\
	KQ_OPT_FLAG(0, "no-headers", KQ_OPT_KEY_NO_HEADERS, "omit the header row of tables"), \
	KQ_OPT_VALUE(0, config, KQ_OPT_KEY_CONFIG, "FILE",			\
	  "client config file (default: $KQ_CONFIG, else\n"			\
	  "~/.config/kq/config, else /etc/kq/config); -F is an alias"),		\
	KQ_OPT_ALIAS('F', NULL, KQ_OPT_KEY_CONFIG, "FILE"),			\
	KQ_OPT_VALUE(0, "profile", KQ_OPT_KEY_PROFILE, "NAME",			\
	  "use the [profile NAME] section of the config file"),		\
	KQ_OPT_FLAG('v', "verbose", 0, "more diagnostics on stderr"),		\
	KQ_OPT_FLAG('q', "quiet", 0, "errors only"),				\
	KQ_OPT_FLAG('h', "help", 0, "show this help"),				\
	KQ_OPT_FLAG('V', "version", 0, "show the version"),			\
	KQ_OPT_END

/*
 * The exit status of a tool that saw some failures and went on: the first
 * non-zero code given to kq_cli_set_status (0 if none).
 */
extern int kq_cli_exit_status;
void kq_cli_set_status(int code);

/*
 * The exit status for err, a Kafka code or a KQ_ERR_* (CLI.md section 1):
 * 3 not found, 4 conflict, 7 denied, 6 unavailable (timeouts, connections,
 * no leader, controller or coordinator), else 1.
 */
int kq_cli_exit_for(int err);

/*
 * Report err from cl (its error text, or the standard text of a Kafka code;
 * "...; gave up after --timeout 30s" for a timeout) and exit with
 * kq_cli_exit_for(err).
 */
KQ_NORETURN void kq_cli_die_client(struct kq_client *cl, int err);

/*
 * A client for brokers named after the program, warning through kq_warn,
 * with timeout_ms as its give-up deadline and (when not 0) per-request
 * timeout, connected to one broker.  A bad broker list is a usage error;
 * no broker within the timeout exits through kq_cli_die_client.
 */
struct kq_client *kq_cli_connect(const char *brokers, int64_t timeout_ms);

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
