/*
 * kq-groups - consumer group tool (CLI.md section 9).  Not implemented yet:
 * only --help and --version work.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../../common/base/base.h"
#include "../../common/cli/cli.h"

static const char help_text[] =
"Usage: kq-groups [OPTIONS] list [-l] [--state STATE[,STATE]]\n"
"       kq-groups [OPTIONS] describe GROUP...|--all [--members|--state]\n"
"       kq-groups [OPTIONS] lag GROUP [--by total|topic|partition]\n"
"       kq-groups [OPTIONS] reset GROUP (-t TOPIC[:P,P...]... | --all-topics) RESET\n"
"                 [--execute|--export]\n"
"       kq-groups [OPTIONS] delete GROUP... [-y]\n"
"       kq-groups [OPTIONS] delete-offsets GROUP -t TOPIC...\n"
"\n"
"Inspect and manage consumer groups.  Not implemented yet in this version.\n"
"\n"
"Options:\n"
"  -h, --help            show this help\n"
"  -V, --version         show the version\n";

/*
 * The options CLI.md section 9 plans, so that a planned option gets "not
 * implemented yet" and a misspelt one a usage error.
 */
static const struct option long_opts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ "brokers", required_argument, NULL, 'b' },
	{ "bootstrap-server", required_argument, NULL, 'b' },
	{ "timeout", required_argument, NULL, 1 },
	{ "json", no_argument, NULL, 1 },
	{ "no-headers", no_argument, NULL, 1 },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "state", optional_argument, NULL, 1 },
	{ "all", no_argument, NULL, 1 },
	{ "members", no_argument, NULL, 1 },
	{ "by", required_argument, NULL, 1 },
	{ "topic", required_argument, NULL, 't' },
	{ "all-topics", no_argument, NULL, 1 },
	{ "to", required_argument, NULL, 1 },
	{ "to-earliest", no_argument, NULL, 1 },
	{ "to-latest", no_argument, NULL, 1 },
	{ "to-current", no_argument, NULL, 1 },
	{ "to-offset", required_argument, NULL, 1 },
	{ "shift-by", required_argument, NULL, 1 },
	{ "to-datetime", required_argument, NULL, 1 },
	{ "by-duration", required_argument, NULL, 1 },
	{ "from-file", required_argument, NULL, 1 },
	{ "execute", no_argument, NULL, 1 },
	{ "export", no_argument, NULL, 1 },
	{ "yes", no_argument, NULL, 'y' },
	{ NULL, 0, NULL, 0 },
};

int
main(int argc, char **argv)
{
	int c;

	kq_cli_init("kq-groups");
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hVb:vqlt:y", long_opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(help_text, stdout);
			kq_cli_exit(0);
		case 'V':
			kq_cli_version();
		case ':':
			kq_usage_error("option %s needs a value", argv[optind - 1]);
		case '?':
			kq_cli_unknown_option(argv[optind - 1], optopt, long_opts);
		default:
			break;
		}
	}
	kq_die(KQ_EXIT_FAIL, "not implemented yet");
}
