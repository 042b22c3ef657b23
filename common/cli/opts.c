/*
 * opts.c - one option table per program (see cli.h): getopt_long arrays,
 * the option part of --help, --list-options, and the usage errors for a
 * missing value or an unknown option, all read from the same table.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define LIST_OPTIONS_KEY 0x7fff0000	/* above every program's own keys */

/* The arrays built from the one table a program uses (kept until exit). */
static const struct kq_opt *built;
static struct option *longopts;
static char *shortopts;

static bool
is_section(const struct kq_opt *o)
{
	return !o->short_name && !o->long_name;
}

static bool
is_end(const struct kq_opt *o)
{
	return is_section(o) && !o->help;
}

static int
key_of(const struct kq_opt *o)
{
	return o->key ? o->key : o->short_name;
}

static const int has_arg_of[] = {
	[KQ_OPT_NOARG] = no_argument,
	[KQ_OPT_ARG] = required_argument,
	[KQ_OPT_OPTARG] = optional_argument,
};
static const char *const colons_of[] = {
	[KQ_OPT_NOARG] = "", [KQ_OPT_ARG] = ":", [KQ_OPT_OPTARG] = "::",
};

static void
build(const struct kq_opt *t)
{
	const struct kq_opt *o;
	size_t n = 0, nl = 0, ns = 1;

	if (built == t)
		return;
	for (o = t; !is_end(o); o++)
		n++;
	longopts = kq_xcalloc(n + 2, sizeof(*longopts));
	shortopts = kq_xcalloc(3 * n + 2, 1);
	shortopts[0] = ':';	/* a missing value is ':', not '?' */
	for (o = t; !is_end(o); o++) {
		if (o->long_name)
			longopts[nl++] = (struct option){ o->long_name, has_arg_of[o->arg], NULL,
							  key_of(o) };
		if (o->short_name) {
			shortopts[ns++] = (char)o->short_name;
			strcpy(shortopts + ns, colons_of[o->arg]);
			ns += strlen(colons_of[o->arg]);
		}
	}
	longopts[nl] = (struct option){ "list-options", no_argument, NULL, LIST_OPTIONS_KEY };
	built = t;
}

const struct option *
kq_opt_longopts(const struct kq_opt *t)
{
	build(t);
	return longopts;
}

/* Levenshtein distance, capped: anything above 3 is reported as 3. */
static int
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	int prev[64], cur[64];

	if (la >= 63 || lb >= 63)
		return 3;
	for (j = 0; j <= lb; j++)
		prev[j] = (int)j;
	for (i = 1; i <= la; i++) {
		cur[0] = (int)i;
		for (j = 1; j <= lb; j++) {
			int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			int del = prev[j] + 1, ins = cur[j - 1] + 1;

			cur[j] = KQ_MIN(sub, KQ_MIN(del, ins));
		}
		memcpy(prev, cur, sizeof(int) * (lb + 1));
	}
	return KQ_MIN(prev[lb], 3);
}

/*
 * arg is argv[optind - 1] after getopt_long returned '?'; optopt is the
 * short letter, or for "--flag=x" on a flag without a value its key.
 */
KQ_NORETURN static void
unknown_option(const char *arg, int optopt_)
{
	const struct option *lo;
	const char *best = NULL, *name;
	char buf[128];
	size_t n;
	int d, bestd = 3;

	if (!arg || strncmp(arg, "--", 2) != 0) {
		if (optopt_ > 0 && optopt_ < 128)
			kq_usage_error("unknown option '-%c'", optopt_);
		kq_usage_error("unknown option '%s'", arg ? arg : "");
	}
	name = arg + 2;
	n = strcspn(name, "=");
	snprintf(buf, sizeof(buf), "%.*s", (int)KQ_MIN(n, sizeof(buf) - 1), name);
	for (lo = longopts; lo->name; lo++) {
		if (lo->val == LIST_OPTIONS_KEY)
			continue;
		if (strcmp(buf, lo->name) == 0 && name[n] == '=' && lo->has_arg == no_argument)
			kq_usage_error("option '--%s' takes no value", buf);
		d = edit_distance(buf, lo->name);
		if (d < bestd) {
			bestd = d;
			best = lo->name;
		}
	}
	if (best)
		kq_usage_error("unknown option '--%s' (did you mean '--%s'?)", buf, best);
	kq_usage_error("unknown option '--%s'", buf);
}

static const char *const arg_word[] = {
	[KQ_OPT_NOARG] = "none", [KQ_OPT_ARG] = "required", [KQ_OPT_OPTARG] = "optional",
};

/* One line per option: LONG SHORT ARG [hidden]; "-" where there is none. */
KQ_NORETURN static void
list_options(const struct kq_opt *t)
{
	for (; !is_end(t); t++) {
		if (is_section(t))
			continue;
		char s[3] = { '-', (char)t->short_name, '\0' };

		printf("%s%s %s %s%s\n", t->long_name ? "--" : "-",
		       t->long_name ? t->long_name : "", t->short_name ? s : "-",
		       arg_word[t->arg], t->flags & KQ_OPT_HIDDEN ? " hidden" : "");
	}
	kq_cli_exit(KQ_EXIT_OK);
}

int
kq_opt_next(int argc, char **argv, const struct kq_opt *t)
{
	const struct kq_opt *o;
	int c;

	build(t);
	opterr = 0;
	c = getopt_long(argc, argv, shortopts, longopts, NULL);
	/* Hidden: spelled out in full, never reached as an abbreviation. */
	if (c == LIST_OPTIONS_KEY && strcmp(argv[optind - 1], "--list-options") == 0)
		list_options(t);
	if (c == LIST_OPTIONS_KEY)
		unknown_option(argv[optind - 1], 0);
	if (c == ':') {
		if (strncmp(argv[optind - 1], "--", 2) == 0)
			kq_usage_error("option '%s' needs a value", argv[optind - 1]);
		kq_usage_error("option '-%c' needs a value", optopt);
	}
	if (c == '?')
		unknown_option(argv[optind - 1], optopt);
	if (c > 0 && c < 128)	/* a short letter: the key of its entry */
		for (o = t; !is_end(o); o++)
			if (o->short_name == c)
				return key_of(o);
	return c;
}

void
kq_opt_help(const struct kq_opt *t, int col)
{
	char left[128];
	const char *h, *nl;
	int n;

	for (; !is_end(t); t++) {
		if (is_section(t)) {
			printf("\n%s\n", t->help);
			continue;
		}
		if (t->flags & KQ_OPT_HIDDEN)
			continue;
		n = snprintf(left, sizeof(left), "  %c%c%s%s%s%s%s%s",
			     t->short_name ? '-' : ' ', t->short_name ? t->short_name : ' ',
			     t->short_name && t->long_name ? ", " : t->long_name ? "  " : "",
			     t->long_name ? "--" : "", t->long_name ? t->long_name : "",
			     !t->argname ? "" : t->arg == KQ_OPT_OPTARG ? "[=" : " ",
			     t->argname ? t->argname : "",
			     t->argname && t->arg == KQ_OPT_OPTARG ? "]" : "");
		n = KQ_MIN(n, (int)sizeof(left) - 1);
		if (n < col)
			printf("%s%*s", left, col - n, "");
		else
			printf("%s\n%*s", left, col, "");
		for (h = t->help ? t->help : "";; h = nl + 1) {
			nl = strchr(h, '\n');
			printf("%.*s\n", nl ? (int)(nl - h) : (int)strlen(h), h);
			if (!nl || !nl[1])
				break;
			printf("%*s", col, "");
		}
	}
}
