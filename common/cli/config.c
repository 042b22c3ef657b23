/*
 * config.c - the client config file (CLI.md section 1).  Its keys are long
 * option names; the file's settings are turned into `--key=value` options
 * placed before the command line's own, so getopt_long sees them first and
 * anything given on the command line wins (the last value of an option is
 * the one that counts).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

struct setting {
	char *key, *value;	/* value NULL: the key alone */
	int line;
};

/* Kept reachable from here: the returned argv lives until exit. */
static char **volatile cfg_args;

struct cfg {
	const char *path;
	struct setting *top, *prof;
	int ntop, nprof;
	bool profile_found;
};

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = '\0';
	return s;
}

/* A '#' at the start or after a blank starts a comment (values may hold '#'). */
static void
strip_comment(char *s)
{
	char *p;

	for (p = s; *p; p++)
		if (*p == '#' && (p == s || p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			return;
		}
}

static void
add(struct setting **v, int *n, char *key, char *value, int line)
{
	*v = kq_xrealloc(*v, (size_t)(*n + 1) * sizeof(**v));
	(*v)[*n].key = kq_xstrdup(key);
	(*v)[*n].value = value ? kq_xstrdup(value) : NULL;
	(*v)[*n].line = line;
	(*n)++;
}

static void
read_file(struct cfg *c, FILE *fp, const char *profile)
{
	char buf[4096];
	int line = 0;
	enum { TOP, WANTED, OTHER } where = TOP;

	while (fgets(buf, sizeof(buf), fp)) {
		char *s, *eq, *key, *value = NULL;

		line++;
		if (!strchr(buf, '\n') && !feof(fp))
			kq_die(KQ_EXIT_USAGE, "%s:%d: line too long", c->path, line);
		strip_comment(buf);
		s = trim(buf);
		if (!*s)
			continue;
		if (*s == '[') {
			char *end = strchr(s, ']');

			if (!end || strncmp(s, "[profile ", 9) != 0 || *trim(end + 1))
				kq_die(KQ_EXIT_USAGE, "%s:%d: expected '[profile NAME]'", c->path, line);
			*end = '\0';
			s = trim(s + 9);
			if (profile && strcmp(s, profile) == 0) {
				where = WANTED;
				c->profile_found = true;
			} else {
				where = OTHER;
			}
			continue;
		}
		eq = strchr(s, '=');
		if (eq) {
			*eq = '\0';
			value = trim(eq + 1);
		}
		key = trim(s);
		if (!*key || strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(key))
			kq_die(KQ_EXIT_USAGE, "%s:%d: expected 'key = value'", c->path, line);
		if (where == TOP)
			add(&c->top, &c->ntop, key, value, line);
		else if (where == WANTED)
			add(&c->prof, &c->nprof, key, value, line);
	}
	if (ferror(fp))
		kq_die_errno(KQ_EXIT_USAGE, "cannot read '%s'", c->path);
}

static const struct option *
find_opt(const struct option *longopts, const char *name)
{
	for (; longopts->name; longopts++)
		if (strcmp(longopts->name, name) == 0)
			return longopts;
	return NULL;
}

static bool
truth(const char *v, bool *out)
{
	static const char *const yes[] = { "", "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	size_t i;

	for (i = 0; i < KQ_ARRAY_LEN(yes); i++)
		if (strcmp(v, yes[i]) == 0)
			return *out = true;
	for (i = 0; i < KQ_ARRAY_LEN(no); i++)
		if (strcmp(v, no[i]) == 0) {
			*out = false;
			return true;
		}
	return false;
}

/* Append the settings as options to args (n so far). */
static void
emit(const struct cfg *c, const struct setting *v, int n, const struct option *longopts,
     char ***args, int *nargs)
{
	static const char *const skip[] = { "config", "config-file", "profile", "help",
					    "version", "show-config" };
	const char *env_brokers = getenv("KQ_BROKERS");
	int i;
	size_t k;

	for (i = 0; i < n; i++) {
		const struct option *o = find_opt(longopts, v[i].key);
		bool on;

		for (k = 0; k < KQ_ARRAY_LEN(skip); k++)
			if (strcmp(v[i].key, skip[k]) == 0)
				break;
		if (k < KQ_ARRAY_LEN(skip))
			continue;
		if (!o) {
			/* The file is shared by every kq tool: another one's key. */
			kq_debug("%s:%d: '%s' does not apply to %s", c->path, v[i].line,
				 v[i].key, kq_cli_progname());
			continue;
		}
		*args = kq_xrealloc(*args, (size_t)(*nargs + 2) * sizeof(**args));
		if (o->has_arg == no_argument) {
			if (!truth(v[i].value ? v[i].value : "", &on))
				kq_die(KQ_EXIT_USAGE, "%s:%d: '%s' takes true or false", c->path,
				       v[i].line, v[i].key);
			if (on)
				(*args)[(*nargs)++] = kq_xasprintf("--%s", v[i].key);
		} else {
			if (!v[i].value || (!*v[i].value && o->has_arg == required_argument))
				kq_die(KQ_EXIT_USAGE, "%s:%d: '%s' needs a value", c->path,
				       v[i].line, v[i].key);
			/* The environment beats the file for the brokers. */
			if (strcmp(v[i].key, "brokers") == 0 && env_brokers && *env_brokers)
				continue;
			(*args)[(*nargs)++] = kq_xasprintf("--%s=%s", v[i].key, v[i].value);
		}
	}
}

/* The value of --NAME / --NAME=V / -S V / -SV in argv, or NULL. */
static const char *
scan(int argc, char **argv, const char *name, int shortc)
{
	size_t nl = strlen(name);
	const char *found = NULL;
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0)
			break;
		if (strncmp(a, "--", 2) == 0 && strncmp(a + 2, name, nl) == 0) {
			if (a[2 + nl] == '=')
				found = a + 3 + nl;
			else if (a[2 + nl] == '\0' && i + 1 < argc)
				found = argv[++i];
		} else if (shortc && a[0] == '-' && a[1] == shortc) {
			if (a[2])
				found = a + 2;
			else if (i + 1 < argc)
				found = argv[++i];
		}
	}
	return found;
}

char **
kq_cli_config_argv(int *argc, char **argv, const struct option *longopts,
		   const char *file_opt)
{
	const char *path = scan(*argc, argv, file_opt ? file_opt : "config", 'F');
	const char *profile = scan(*argc, argv, "profile", 0);
	bool must_exist = path != NULL;
	struct cfg c = { 0 };
	char *dflt = NULL;
	char **args;
	int nargs = 1, i;
	FILE *fp;

	if (!profile && getenv("KQ_PROFILE") && *getenv("KQ_PROFILE"))
		profile = getenv("KQ_PROFILE");
	if (!path && getenv("KQ_CONFIG") && *getenv("KQ_CONFIG")) {
		path = getenv("KQ_CONFIG");
		must_exist = true;
	}
	if (!path) {
		const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

		if (xdg && *xdg)
			dflt = kq_xasprintf("%s/kq/config", xdg);
		else if (home && *home)
			dflt = kq_xasprintf("%s/.config/kq/config", home);
		path = dflt;
		if (!path || access(path, F_OK) != 0)
			path = "/etc/kq/config";
	}
	fp = fopen(path, "r");
	if (!fp) {
		if (must_exist || (errno != ENOENT && errno != ENOTDIR))
			kq_die_errno(KQ_EXIT_USAGE, "cannot read config file '%s'", path);
		if (profile)
			kq_die(KQ_EXIT_USAGE, "profile '%s' given but there is no config file",
			       profile);
		free(dflt);
		return argv;
	}
	c.path = path;
	read_file(&c, fp, profile);
	fclose(fp);
	if (profile && !c.profile_found)
		kq_die(KQ_EXIT_USAGE, "%s: no [profile %s]", path, profile);
	args = kq_xmalloc(sizeof(*args));
	args[0] = argv[0];
	emit(&c, c.top, c.ntop, longopts, &args, &nargs);
	emit(&c, c.prof, c.nprof, longopts, &args, &nargs);
	args = kq_xrealloc(args, (size_t)(nargs + *argc) * sizeof(*args));
	for (i = 1; i < *argc; i++)
		args[nargs++] = argv[i];
	args[nargs] = NULL;
	*argc = nargs;
	cfg_args = args;
	/* The settings' strings live as long as the process, like argv. */
	for (i = 0; i < c.ntop; i++) {
		free(c.top[i].key);
		free(c.top[i].value);
	}
	for (i = 0; i < c.nprof; i++) {
		free(c.prof[i].key);
		free(c.prof[i].value);
	}
	free(c.top);
	free(c.prof);
	free(dflt);
	return args;
}
