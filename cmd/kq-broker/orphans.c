/*
 * orphans.c - partition directories that belong to no topic.
 *
 * A directory DATA/TOPIC-P is an orphan when no registry file names TOPIC,
 * or when TOPIC has P or fewer partitions.  At start-up, after the topics
 * are loaded, orphans are renamed TOPIC-P.UNIQUEID-delete (Kafka's name for
 * a directory on its way out) and reported in one log line; a detached
 * thread then removes every *-delete directory, so that start-up does not
 * wait for thousands of them.  A removal cut short by a crash is finished
 * by the next start.  A topic whose registry file exists but does not parse
 * keeps its directories: an unreadable registry must not cost its data.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker.h"

#define SHOW_NAMES 5		/* orphans named in the log line */
#define DELETE_SUFFIX "-delete"

/* "TOPIC-P": the topic's length and P, or false. */
static bool
part_dir_name(const char *name, size_t *tlen, long long *part)
{
	const char *dash = strrchr(name, '-'), *p;

	if (!dash || dash == name || dash[1] == '\0' || strlen(dash + 1) > 9)
		return false;
	for (p = dash + 1; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	*tlen = (size_t)(dash - name);
	*part = strtoll(dash + 1, NULL, 10);
	return kq_topic_valid(name, *tlen);
}

static bool
is_orphan(const char *name)
{
	struct topic *t;
	long long part;
	size_t tlen;
	char *reg;
	bool listed;

	if (!part_dir_name(name, &tlen, &part))
		return false;
	t = topic_find(name, tlen);
	if (t)
		return part >= t->nparts;
	reg = kq_xasprintf("%s/__topics/%.*s", cfg.data_dir, (int)tlen, name);
	listed = access(reg, F_OK) == 0;
	free(reg);
	return !listed;
}

/* Kafka's unique id: 32 hex digits of a random UUID. */
static void
unique_id(char out[33])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char r[16];
	int i;

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		uint64_t x = (uint64_t)kq_mono_us() ^ ((uint64_t)getpid() << 40);

		for (i = 0; i < 16; i++)
			r[i] = (unsigned char)(x >> (i % 8 * 8)) ^ (unsigned char)(i * 151);
	}
	for (i = 0; i < 16; i++) {
		out[2 * i] = hex[r[i] >> 4];
		out[2 * i + 1] = hex[r[i] & 15];
	}
	out[32] = '\0';
}

static bool
is_dir(const char *dir, const struct dirent *de)
{
	struct stat st;
	char *p;
	bool yes;

	if (de->d_type != DT_UNKNOWN)
		return de->d_type == DT_DIR;
	p = kq_xasprintf("%s/%s", dir, de->d_name);
	yes = lstat(p, &st) == 0 && S_ISDIR(st.st_mode);
	free(p);
	return yes;
}

static bool
is_deleted(const char *name)
{
	size_t n = strlen(name), k = strlen(DELETE_SUFFIX);

	return n > k && strcmp(name + n - k, DELETE_SUFFIX) == 0 && strchr(name, '.');
}

/* Remove a partition directory (files only, no subdirectories). */
static void
remove_dir(const char *path)
{
	struct dirent *de;
	DIR *d = opendir(path);
	char *p;

	if (d) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			p = kq_xasprintf("%s/%s", path, de->d_name);
			if (unlink(p) < 0 && errno != ENOENT)
				kq_log_warn("unlink %s", p);
			free(p);
		}
		closedir(d);
	}
	if (rmdir(path) < 0 && errno != ENOENT)
		kq_log_warn("rmdir %s", path);
}

/* The remover thread: touches only *-delete directories, never broker state. */
static void *
remover(void *arg)
{
	char *dir = arg, *p;
	struct dirent *de;
	long n = 0;
	DIR *d;

	d = opendir(dir);
	if (d) {
		while ((de = readdir(d)) != NULL) {
			if (!is_deleted(de->d_name) || !is_dir(dir, de))
				continue;
			p = kq_xasprintf("%s/%s", dir, de->d_name);
			remove_dir(p);
			free(p);
			n++;
		}
		closedir(d);
	}
	if (n)
		kq_log_info("removed %ld deleted partition director%s", n, n == 1 ? "y" : "ies");
	free(dir);
	return NULL;
}

void
orphans_sweep(void)
{
	struct kq_buf names = { 0 };
	struct dirent *de;
	char id[33], *from, *to;
	long n = 0, pending = 0;
	pthread_t th;
	char *arg;
	DIR *d;
	int fd;

	d = opendir(cfg.data_dir);
	if (!d) {
		kq_log_warn("opendir %s", cfg.data_dir);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || !is_dir(cfg.data_dir, de))
			continue;
		if (is_deleted(de->d_name)) {
			pending++;
			continue;
		}
		if (!is_orphan(de->d_name))
			continue;
		unique_id(id);
		from = kq_xasprintf("%s/%s", cfg.data_dir, de->d_name);
		to = kq_xasprintf("%s.%s%s", from, id, DELETE_SUFFIX);
		if (rename(from, to) < 0) {
			kq_log_warn("rename %s", from);
		} else {
			if (n < SHOW_NAMES)
				kq_buf_addf(&names, "%s%s", n ? ", " : "", de->d_name);
			n++;
			pending++;
		}
		free(from);
		free(to);
	}
	closedir(d);
	if (n) {
		fd = open(cfg.data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0) {
			(void)fsync(fd);
			close(fd);
		}
		kq_log_warnx("%ld partition director%s belong%s to no topic (%s%s): moved aside "
			     "as *%s, removed in the background", n, n == 1 ? "y" : "ies",
			     n == 1 ? "s" : "", kq_buf_cstr(&names), n > SHOW_NAMES ? ", ..." : "",
			     DELETE_SUFFIX);
	}
	kq_buf_free(&names);
	if (!pending)
		return;
	arg = kq_xstrdup(cfg.data_dir);
	if (pthread_create(&th, NULL, remover, arg) != 0) {
		kq_log_warnx("cannot start the thread removing deleted partition directories");
		free(arg);
		return;
	}
	pthread_detach(th);
}
