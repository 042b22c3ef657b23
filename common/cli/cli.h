/*
 * cli.h - what every kq command-line tool shares (CLI.md section 1):
 * diagnostics in the `PROG: message` form, exit codes, and the parsers for
 * option values (integers, durations, sizes, escapes, timestamps, brokers).
 *
 * Unlike the rest of common/, the diagnostic functions here print to stderr
 * and some exit: that is their whole job.  The parsers never print; they
 * return 0 or -1 and leave *out untouched on failure, so the caller can name
 * the option in its usage error.
 *
 * Thread rules: kq_cli_init() once from main() before threads start; the
 * rest may be called from any thread (stderr lines are written with a single
 * write each, so they do not interleave).
 */
#ifndef KQ_CLI_H
#define KQ_CLI_H

#include <signal.h>

#include "../base/base.h"

/* Exit status, the same for every tool (CLI.md section 1). */
enum {
	KQ_EXIT_OK = 0,
	KQ_EXIT_FAIL = 1,
	KQ_EXIT_USAGE = 2,
	KQ_EXIT_NOTFOUND = 3,
	KQ_EXIT_CONFLICT = 4,
	KQ_EXIT_BADINPUT = 5,
	KQ_EXIT_UNAVAILABLE = 6,
	KQ_EXIT_DENIED = 7,
};

/*
 * Remember the program name (basename of progname is NOT taken: pass
 * "kq-topics") and ignore SIGPIPE, so EPIPE on stdout is an ordinary write
 * error the tool can treat as "the reader is done".
 */
void kq_cli_init(const char *progname);
/*
 * SIGINT/SIGTERM (CLI.md section 1): the first sets *flag to the signal
 * number and the tool shuts down cleanly; a second calls second(), which
 * must be async-signal-safe (say what was left unfinished with write(2)),
 * and exits 1 at once.  Blocking calls are interrupted (no SA_RESTART).
 */
void kq_cli_catch_signals(volatile sig_atomic_t *flag, void (*second)(void));
/* The name given to kq_cli_init ("kq" before it is called). */
const char *kq_cli_progname(void);

/*
 * Verbosity: -1 quiet (-q: kq_warn and kq_note are dropped, errors stay),
 * 0 default, 1 for -v (kq_debug prints), 2 for -vv (protocol detail).
 */
extern int kq_cli_verbosity;

/*
 * Diagnostics, one line each on stderr (a trailing newline is added; do
 * not end fmt with one, nor with a period):
 *   kq_error      "PROG: msg"            an error; the caller goes on or exits
 *   kq_die        "PROG: msg", exit(status)
 *   kq_die_errno  "PROG: msg: strerror(errno)", exit(status)
 *   kq_warn       "PROG: warning: msg"   (suppressed by -q)
 *   kq_warn_errno "PROG: warning: msg: strerror(errno)"
 *   kq_note       "PROG: msg"            informational (suppressed by -q)
 *   kq_debug      "PROG: debug: msg"     only with -v
 * The *_errno variants read errno before doing anything else.
 */
KQ_PRINTF(1, 2) void kq_error(const char *fmt, ...);
KQ_PRINTF(2, 3) KQ_NORETURN void kq_die(int status, const char *fmt, ...);
KQ_PRINTF(2, 3) KQ_NORETURN void kq_die_errno(int status, const char *fmt, ...);
KQ_PRINTF(1, 2) void kq_warn(const char *fmt, ...);
KQ_PRINTF(1, 2) void kq_warn_errno(const char *fmt, ...);
KQ_PRINTF(1, 2) void kq_note(const char *fmt, ...);
KQ_PRINTF(1, 2) void kq_debug(const char *fmt, ...);

/*
 * Usage error: "PROG: msg" and "Try 'PROG --help'." on stderr, exit 2.
 */
KQ_PRINTF(1, 2) KQ_NORETURN void kq_usage_error(const char *fmt, ...);

/*
 * The option table (git's parse-options in spirit): each program describes
 * every option once, and getopt_long's arrays, the option part of --help,
 * the hidden --list-options and the usage errors all come from it.
 *
 *   static const struct kq_opt opts[] = {
 *	KQ_OPT_SECTION("Connection:"),
 *	KQ_OPT_VALUE('b', "brokers", 0, "HOST[:PORT][,...]", "bootstrap brokers"),
 *	KQ_OPT_ALIAS(0, "bootstrap-server", 'b', "HOST[:PORT][,...]"),
 *	KQ_OPT_VALUE(0, "timeout", OPT_TIMEOUT, "DUR", "give up after DUR\n(default 2m)"),
 *	KQ_OPT_FLAG('e', "exit", 0, "stop at the end"),
 *	KQ_OPT_END,
 *   };
 *
 * key is what kq_opt_next returns for the option, given as a short letter
 * or by its long name; 0 means short_name.  A long-only option takes a key
 * of 256 or more; an alias takes the key of the option it stands for.
 * help may hold several lines: --help indents the later ones to the help
 * column.  A hidden entry (an alias such as --bootstrap-server or -F) is
 * left out of --help but listed by --list-options, so the docs test still
 * finds it in the man page.  A section (no names, help = its title) starts
 * a group of options in --help after a blank line.  KQ_OPT_ALIAS is a
 * hidden alias of an option that takes a value.
 */
enum { KQ_OPT_NOARG, KQ_OPT_ARG, KQ_OPT_OPTARG };
enum { KQ_OPT_HIDDEN = 1 };

struct kq_opt {
	int short_name;		/* 'b', or 0 */
	const char *long_name;	/* "brokers" (no dashes), or NULL */
	int key;		/* returned by kq_opt_next; 0 = short_name */
	int arg;		/* KQ_OPT_NOARG, KQ_OPT_ARG, KQ_OPT_OPTARG */
	const char *argname;	/* shown in --help: "N", "KEY=VAL"; NULL for none */
	const char *help;	/* NULL only for hidden entries */
	unsigned flags;		/* KQ_OPT_HIDDEN */
};
#define KQ_OPT_FLAG(s, l, key, help) { (s), (l), (key), KQ_OPT_NOARG, NULL, (help), 0 }
#define KQ_OPT_VALUE(s, l, key, arg, help) { (s), (l), (key), KQ_OPT_ARG, (arg), (help), 0 }
#define KQ_OPT_OPTIONAL(s, l, key, arg, help) { (s), (l), (key), KQ_OPT_OPTARG, (arg), (help), 0 }
#define KQ_OPT_ALIAS(s, l, key, arg) { (s), (l), (key), KQ_OPT_ARG, (arg), NULL, KQ_OPT_HIDDEN }
#define KQ_OPT_SECTION(title) { 0, NULL, 0, KQ_OPT_NOARG, NULL, (title), 0 }
#define KQ_OPT_END { 0, NULL, 0, KQ_OPT_NOARG, NULL, NULL, 0 }

/*
 * Options several tools share, as table entries.  Their keys sit between
 * the short letters and the tools' own keys (256 and up).
 *   KQ_OPTS_CLIENT_CONNECT  -b/--brokers, its alias --bootstrap-server, and
 *                           --timeout (default 2m): kq-produce, kq-consume
 *   KQ_OPTS_CLIENT_CONFIG   --config FILE, its alias -F, --profile NAME
 *   KQ_OPTS_HELP_VERSION    -h/--help, -V/--version
 * (the admin tools' set is KQ_ADMIN_OPTS in admin.h).
 */
enum {
	KQ_OPT_KEY_TIMEOUT = 128, KQ_OPT_KEY_CONFIG, KQ_OPT_KEY_PROFILE, KQ_OPT_KEY_JSON,
	KQ_OPT_KEY_NO_HEADERS,
};
#define KQ_OPTS_CLIENT_CONNECT							\
	KQ_OPT_VALUE('b', "brokers", 0, "HOST[:PORT][,...]",			\
	  "bootstrap brokers (default: $KQ_BROKERS,\n"				\
	  "else localhost:9092; port defaults to 9092)"),			\
	KQ_OPT_ALIAS(0, "bootstrap-server", 'b', "HOST[:PORT][,...]"),		\
	KQ_OPT_VALUE(0, "timeout", KQ_OPT_KEY_TIMEOUT, "DUR",			\
	  "give up on an unreachable broker after DUR\n"			\
	  "(default 2m; 0 = retry forever)")
#define KQ_OPTS_CLIENT_CONFIG							\
	KQ_OPT_VALUE(0, "config", KQ_OPT_KEY_CONFIG, "FILE",			\
	  "client config file (default: $KQ_CONFIG, else\n"			\
	  "~/.config/kq/config, else /etc/kq/config);\n"			\
	  "keys are long option names; -F is an alias"),			\
	KQ_OPT_ALIAS('F', NULL, KQ_OPT_KEY_CONFIG, "FILE"),			\
	KQ_OPT_VALUE(0, "profile", KQ_OPT_KEY_PROFILE, "NAME",			\
	  "use the [profile NAME] section of the file")
#define KQ_OPTS_HELP_VERSION							\
	KQ_OPT_FLAG('h', "help", 0, "print this help and exit"),		\
	KQ_OPT_FLAG('V', "version", 0, "print the version and exit")

/*
 * getopt_long over table t (options may follow operands, as CLI.md section
 * 1 says): the key of the next option, with optarg set, or -1 when the
 * options end (argv[optind] is then the first operand).  Never returns for
 *   --list-options  one line per option on stdout, "LONG SHORT ARG [hidden]"
 *                   ("--brokers -b required", "- -J none"), exit 0;
 *   a missing value "option '--partitions' needs a value" (or '-p'), exit 2;
 *   an unknown one  "unknown option '--partiton' (did you mean
 *                   '--partitions'?)", "option '--json' takes no value", exit 2.
 * A program uses one table for all its calls.
 */
int kq_opt_next(int argc, char **argv, const struct kq_opt *t);
/* The options of t as a getopt_long array (for kq_cli_config_argv). */
struct option;
const struct option *kq_opt_longopts(const struct kq_opt *t);
/*
 * The option part of --help on stdout: "  -b, --brokers ARG" padded to
 * column col (or on a line of its own when longer), then the help lines.
 */
void kq_opt_help(const struct kq_opt *t, int col);

/*
 * Progress display (CLI.md section 6).  in_place: draw line on stderr over
 * the previous one (for a terminal; any diagnostic printed meanwhile clears
 * it first); otherwise print it as an ordinary line.  The caller decides
 * when (at most 4 times a second on a terminal).  kq_cli_progress_clear
 * erases a drawn line (kq_cli_exit does it too).
 */
void kq_cli_progress(const char *line, bool in_place);
void kq_cli_progress_clear(void);
/* v with thousands separators: "1,204,331". */
void kq_cli_fmt_count(char *buf, size_t len, uint64_t v);

/*
 * A text table: rows of ncol malloc'd cells (taken by kq_table_row),
 * printed space-aligned with an optional header row, then freed.
 */
#define KQ_TABLE_MAX_COLS 16
struct kq_table {
	int ncol;
	char **cells;		/* row-major */
	int nrows;
};
void kq_table_row(struct kq_table *t, char **cells);
void kq_table_print(struct kq_table *t, const char *const *header, bool headers);

/* -V/--version: "PROG (kq) 0.1.0" on stdout, exit 0 (1 if stdout fails). */
KQ_NORETURN void kq_cli_version(void);

/*
 * Flush stdout and exit with status; a write error other than EPIPE turns
 * status 0 into 1 with "PROG: write error: ..." (EPIPE is the reader being
 * done and stays quiet and successful, CLI.md section 1).
 */
KQ_NORETURN void kq_cli_exit(int status);

/* ---- value parsers: 0 on success, -1 on a bad value (nothing printed) ---- */

/* Decimal integer (optional sign) within [min, max]. */
int kq_cli_parse_int(const char *s, int64_t min, int64_t max, int64_t *out);

/*
 * Duration with units, summed: "250ms", "10s", "5m", "2h", "7d", "1h30m",
 * "1.5s" (a fraction is allowed per part).  A unit is required except for a
 * bare "0".  Result in ms, >= 0, capped at about 292 million years.
 */
int kq_cli_parse_duration_ms(const char *s, int64_t *ms);

/*
 * Size: "512", "64KiB", "1MiB", "1GiB", "1KB", "1MB", "1GB", "10B"; units
 * are case-insensitive (K/KB = 1000, KiB = 1024).  Result >= 0, no overflow.
 */
int kq_cli_parse_size(const char *s, int64_t *bytes);

/*
 * Delimiter escapes: \n \r \t \0 \\ \xNN (exactly two hex digits); other
 * bytes are copied.  Appends to out (which may then hold NUL bytes; len is
 * the length).  -1 for an unknown escape or a lone trailing backslash, with
 * out->len restored.  kq_cli_unescape is the same function by another name.
 */
int kq_cli_parse_escapes(const char *s, struct kq_buf *out);
int kq_cli_unescape(const char *s, struct kq_buf *out);

/*
 * Timestamp to Unix ms (CLI.md section 1), tried in this order: "now"; 13
 * digits = Unix ms; 10 digits = Unix s; YYYY-MM-DD (midnight UTC); RFC 3339
 * "YYYY-MM-DDTHH:MM:SS[.frac][Z|+HH:MM|-HH:MM]" ('t', ' ' also separate,
 * 'z' also allowed; no zone = UTC); "-DUR"/"+DUR" relative to now_ms.
 * s need not be NUL-terminated: n bytes are parsed.
 */
int kq_cli_parse_time_ms(const char *s, size_t n, int64_t now_ms, int64_t *ms);

/* Unix ms as "2024-05-01T12:00:00.123Z" into buf (at least 32 bytes). */
void kq_cli_fmt_time(int64_t ms, char *buf, size_t len);

/*
 * The bootstrap list: flag if non-NULL, else $KQ_BROKERS if set and not
 * empty, else "localhost:9092".  Never NULL; not a copy.
 */
const char *kq_cli_brokers(const char *flag);

/*
 * The client config file (CLI.md section 1): --config FILE (or -F FILE),
 * else $KQ_CONFIG, else ${XDG_CONFIG_HOME:-$HOME/.config}/kq/config, else
 * /etc/kq/config; a missing default file is fine.  Keys are long option
 * names ("brokers = k1:9092"; a flag takes true/false); `[profile NAME]`
 * sections apply with --profile NAME or $KQ_PROFILE.  Returns a new argv
 * with the file's settings as `--key=value` options before the command
 * line's (so the command line wins; KQ_BROKERS beats the file's brokers),
 * or argv itself when there is no file; *argc is updated.  Keys the tool
 * does not know are ignored (the file is shared by all kq tools).  A bad
 * line exits 2 with "FILE:LINE: ...".  The tool's option table must accept
 * --FILE_OPT, --profile (and -F) and ignore them; file_opt is the long name
 * of the file option, NULL for "config" (kq-topics, whose --config is a
 * topic setting, uses "config-file").
 */
struct option;
char **kq_cli_config_argv(int *argc, char **argv, const struct option *longopts,
			  const char *file_opt);

/*
 * Callback for kq_client_set_warn (common/net/client.h) that reports
 * through kq_warn; arg is unused.
 */
void kq_cli_client_warn(void *arg, const char *msg);

#endif
