/*
 * topics.c - the topic registry: a sorted array of topics, persisted one
 * properties file per topic in DATA/__topics, plus the three checkpoint
 * files.  Every name is checked with kq_topic_valid before it reaches a path.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker.h"

static struct topic **topics;
static int ntopics, topcap;
static int64_t nparts_all;	/* partitions of every topic, for kq.max.partitions */
static bool ck_force;	/* a topic went away: rewrite the checkpoints */

int
topics_count(void)
{
	return ntopics;
}

struct topic *
topic_at(int i)
{
	return topics[i];
}

/* Index of name, or -(insertion point) - 1. */
static int
topic_search(const char *name, size_t len)
{
	int lo = 0, hi = ntopics - 1;

	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		const char *tn = topics[mid]->name;
		size_t tl = strlen(tn);
		int c = memcmp(tn, name, KQ_MIN(tl, len));

		if (c == 0)
			c = tl < len ? -1 : tl > len ? 1 : 0;
		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -lo - 1;
}

struct topic *
topic_find(const char *name, size_t len)
{
	int i = topic_search(name, len);

	return i >= 0 ? topics[i] : NULL;
}

struct topic *
topic_find_str(struct kq_str s)
{
	if (s.len <= 0)
		return NULL;
	return topic_find(s.p, (size_t)s.len);
}

struct partition *
partition_find(struct kq_str name, int32_t part)
{
	struct topic *t = topic_find_str(name);

	if (!t || part < 0 || part >= t->nparts)
		return NULL;
	return t->parts[part];
}

static void
topic_insert(struct topic *t)
{
	int i = topic_search(t->name, strlen(t->name));

	KQ_ASSERT(i < 0);
	i = -i - 1;
	if (ntopics == topcap) {
		topcap = topcap ? topcap * 2 : 64;
		topics = kq_xrealloc(topics, (size_t)topcap * sizeof(*topics));
	}
	memmove(&topics[i + 1], &topics[i], (size_t)(ntopics - i) * sizeof(*topics));
	topics[i] = t;
	ntopics++;
	nparts_all += t->nparts;
}

static void
topic_remove(struct topic *t)
{
	int i = topic_search(t->name, strlen(t->name));

	KQ_ASSERT(i >= 0);
	memmove(&topics[i], &topics[i + 1], (size_t)(ntopics - i - 1) * sizeof(*topics));
	ntopics--;
	nparts_all -= t->nparts;
}

static void
topic_free(struct topic *t)
{
	int i;

	for (i = 0; i < t->nconf; i++) {
		free(t->ckeys[i]);
		free(t->cvals[i]);
	}
	free(t->ckeys);
	free(t->cvals);
	free(t->parts);
	free(t->name);
	free(t);
}

static char *
registry_path(const char *name)
{
	return kq_xasprintf("%s/__topics/%s", cfg.data_dir, name);
}

static int
registry_write(const struct topic *t)
{
	struct kq_buf b = { 0 };
	char *path = registry_path(t->name);
	int i, rc;

	kq_buf_addf(&b, "partitions=%d\n", t->nparts);
	for (i = 0; i < t->nconf; i++)
		kq_buf_addf(&b, "%s=%s\n", t->ckeys[i], t->cvals[i]);
	rc = kq_write_file_atomic(path, b.buf, b.len);
	if (rc < 0)
		kq_log_warn("write %s", path);
	free(path);
	kq_buf_free(&b);
	return rc;
}

/* Checkpoint lookups at startup. */
struct ck {
	struct kq_checkpoint_entry *e;
	size_t n;
};

static int64_t
ck_get(const struct ck *c, const char *topic, int32_t part, int64_t dflt)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (c->e[i].partition == part && strcmp(c->e[i].topic, topic) == 0)
			return c->e[i].offset;
	return dflt;
}

/*
 * Open partitions [from, nparts).  On failure those opened here are closed
 * again, and when this call creates them (created) removed from disk, so a
 * failed creation leaves nothing behind.
 */
static int
topic_open_parts(struct topic *t, int32_t from, const struct ck *rp, const struct ck *hw,
		 const struct ck *ls, bool clean, bool created, char *errbuf, size_t errlen)
{
	int32_t i;

	t->parts = kq_xrealloc(t->parts, (size_t)t->nparts * sizeof(*t->parts));
	for (i = from; i < t->nparts; i++) {
		int rc = partition_open(&t->parts[i], t, i,
					rp ? ck_get(rp, t->name, i, 0) : 0,
					hw ? ck_get(hw, t->name, i, 0) : 0,
					ls ? ck_get(ls, t->name, i, 0) : 0,
					clean, errbuf, errlen);

		if (rc < 0) {
			while (--i >= from)
				partition_close(t->parts[i], created);
			return rc;
		}
	}
	return 0;
}

static void
topic_close_parts(struct topic *t, int32_t from, bool delete)
{
	int32_t i;

	for (i = from; i < t->nparts; i++)
		partition_close(t->parts[i], delete);
}

/* kq.max.partitions: 0, or POLICY_VIOLATION with msg.  The broker's own topics pass. */
static int
partitions_cap(const struct topic *t, const char *name, int64_t more, char *msg, size_t msglen)
{
	if (t && t->internal)
		return 0;
	if (!t && (strcmp(name, "__consumer_offsets") == 0 ||
		   strcmp(name, "__transaction_state") == 0))
		return 0;
	if (nparts_all + more <= cfg.max_partitions)
		return 0;
	snprintf(msg, msglen, "The broker has %lld partitions; %lld more would exceed "
		 "kq.max.partitions=%d.", (long long)nparts_all, (long long)more,
		 cfg.max_partitions);
	return KQ_E_POLICY_VIOLATION;
}

static struct topic *
topic_new(const char *name, int32_t nparts)
{
	struct topic *t = kq_xcalloc(1, sizeof(*t));

	t->name = kq_xstrdup(name);
	t->nparts = nparts;
	t->internal = strcmp(name, "__consumer_offsets") == 0 ||
		      strcmp(name, "__transaction_state") == 0;
	return t;
}

static void
topic_add_conf(struct topic *t, const char *k, const char *v)
{
	t->ckeys = kq_xrealloc(t->ckeys, (size_t)(t->nconf + 1) * sizeof(char *));
	t->cvals = kq_xrealloc(t->cvals, (size_t)(t->nconf + 1) * sizeof(char *));
	t->ckeys[t->nconf] = kq_xstrdup(k);
	t->cvals[t->nconf] = kq_xstrdup(v);
	t->nconf++;
}

/* Parse DATA/__topics/NAME; NULL (logged) if unreadable or malformed. */
static struct topic *
registry_read(const char *name)
{
	char *path = registry_path(name);
	FILE *f = fopen(path, "r");
	char line[4096];
	struct topic *t;
	long long np = -1;

	if (!f) {
		kq_log_warn("open %s", path);
		free(path);
		return NULL;
	}
	t = topic_new(name, 0);
	while (fgets(line, sizeof(line), f)) {
		char *eq, msg[256];

		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		eq = strchr(line, '=');
		if (!eq)
			continue;
		*eq = '\0';
		if (strcmp(line, "partitions") == 0) {
			char *end;

			np = strtoll(eq + 1, &end, 10);
			if (*end != '\0')
				np = -1;
		} else if (topic_config_check(line, eq + 1, msg, sizeof(msg)) == 0) {
			topic_add_conf(t, line, eq + 1);
		} else {
			kq_log_warnx("%s: %s (ignored)", path, msg);
		}
	}
	fclose(f);
	if (np < 1 || np > 1000000) {
		kq_log_warnx("%s: bad or missing partitions= line; topic skipped", path);
		free(path);
		topic_free(t);
		return NULL;
	}
	free(path);
	t->nparts = (int32_t)np;
	topic_config_build(&t->tc, t->ckeys, t->cvals, t->nconf);
	return t;
}

int
topics_load(bool clean, char *errbuf, size_t errlen)
{
	char *dir = kq_xasprintf("%s/__topics", cfg.data_dir);
	char *p;
	struct ck rp = { 0 }, hw = { 0 }, ls = { 0 };
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if (mkdir(dir, 0777) < 0 && errno != EEXIST) {
		snprintf(errbuf, errlen, "mkdir %s: %s", dir, strerror(errno));
		free(dir);
		return -1;
	}
	p = kq_xasprintf("%s/recovery-point-offset-checkpoint", cfg.data_dir);
	if (kq_checkpoint_read(p, &rp.e, &rp.n) < 0)
		kq_log_warnx("%s unreadable; recovering every segment", p);
	free(p);
	p = kq_xasprintf("%s/replication-offset-checkpoint", cfg.data_dir);
	if (kq_checkpoint_read(p, &hw.e, &hw.n) < 0)
		kq_log_warnx("%s unreadable", p);
	free(p);
	p = kq_xasprintf("%s/log-start-offset-checkpoint", cfg.data_dir);
	if (kq_checkpoint_read(p, &ls.e, &ls.n) < 0)
		kq_log_warnx("%s unreadable", p);
	free(p);

	d = opendir(dir);
	if (!d) {
		snprintf(errbuf, errlen, "opendir %s: %s", dir, strerror(errno));
		rc = -1;
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		struct topic *t;

		if (de->d_name[0] == '.' || !kq_topic_valid(de->d_name, strlen(de->d_name)))
			continue;
		t = registry_read(de->d_name);
		if (!t)
			continue;
		/* A clean marker is only valid if the recovery points were written. */
		rc = topic_open_parts(t, 0, &rp, &hw, &ls, clean && rp.n > 0, false, errbuf,
				      errlen);
		if (rc < 0) {
			topic_free(t);
			break;
		}
		topic_insert(t);
	}
	closedir(d);
	if (rc == 0)
		orphans_sweep();
out:
	kq_checkpoint_free(rp.e, rp.n);
	kq_checkpoint_free(hw.e, hw.n);
	kq_checkpoint_free(ls.e, ls.n);
	free(dir);
	return rc;
}

/* Kafka refuses names that differ only in '.' vs '_' (they collide in metric names). */
static struct topic *
topic_collision(const char *name)
{
	size_t len = strlen(name), i;
	int k;

	if (!strpbrk(name, "._"))
		return NULL;
	for (k = 0; k < ntopics; k++) {
		const char *tn = topics[k]->name;

		if (strlen(tn) != len)
			continue;
		for (i = 0; i < len; i++) {
			char a = name[i] == '.' ? '_' : name[i], b = tn[i] == '.' ? '_' : tn[i];

			if (a != b)
				break;
		}
		if (i == len)
			return topics[k];
	}
	return NULL;
}

int
topic_create(const char *name, int32_t nparts, char **keys, char **vals, int nconf,
	     bool validate_only, char *msg, size_t msglen)
{
	char errbuf[512];
	struct topic *t;
	int i, rc;

	if (!kq_topic_valid(name, strlen(name))) {
		snprintf(msg, msglen, "Topic name '%s' is illegal", name);
		return KQ_E_INVALID_TOPIC_EXCEPTION;
	}
	if (topic_find(name, strlen(name))) {
		snprintf(msg, msglen, "Topic '%s' already exists.", name);
		return KQ_E_TOPIC_ALREADY_EXISTS;
	}
	if ((t = topic_collision(name)) != NULL) {
		snprintf(msg, msglen, "Topic '%s' collides with existing topic: %s", name, t->name);
		return KQ_E_INVALID_TOPIC_EXCEPTION;
	}
	if (nparts < 1 || nparts > KQ_PARTITIONS_PER_REQUEST) {
		snprintf(msg, msglen, "Number of partitions must be in 1..%d.",
			 KQ_PARTITIONS_PER_REQUEST);
		return KQ_E_INVALID_PARTITIONS;
	}
	if ((rc = partitions_cap(NULL, name, nparts, msg, msglen)) != 0)
		return rc;
	for (i = 0; i < nconf; i++) {
		rc = topic_config_check(keys[i], vals[i], msg, msglen);
		if (rc)
			return rc;
	}
	if (validate_only)
		return 0;
	t = topic_new(name, nparts);
	for (i = 0; i < nconf; i++)
		topic_add_conf(t, keys[i], vals[i]);
	topic_config_build(&t->tc, t->ckeys, t->cvals, t->nconf);
	/*
	 * Partitions first (in memory: a new log touches the disk at its first
	 * append), then the registry file, whose atomic rename commits the
	 * topic: a crash before it leaves at most orphan directories, which
	 * the next start moves aside.
	 */
	rc = topic_open_parts(t, 0, NULL, NULL, NULL, true, true, errbuf, sizeof(errbuf));
	if (rc < 0) {
		kq_log_warnx("create topic %s: %s", name, errbuf);
		snprintf(msg, msglen, "%s", errbuf);
		topic_free(t);
		return KQ_E_KAFKA_STORAGE_ERROR;
	}
	if (registry_write(t) < 0) {
		snprintf(msg, msglen, "cannot write topic registry: %s", strerror(errno));
		kq_log_warnx("create topic %s: %s", name, msg);
		topic_close_parts(t, 0, true);
		topic_free(t);
		return KQ_E_KAFKA_STORAGE_ERROR;
	}
	topic_insert(t);
	kq_log_info("created topic %s with %d partition%s", name, nparts, nparts == 1 ? "" : "s");
	return 0;
}

int
topic_delete(struct topic *t)
{
	char *path = registry_path(t->name);
	int32_t i;

	/* Registry first: a crash half-way must not bring the topic back. */
	if (unlink(path) < 0 && errno != ENOENT)
		kq_log_warn("unlink %s", path);
	free(path);
	topic_remove(t);
	ck_force = true;
	for (i = 0; i < t->nparts; i++)
		partition_close(t->parts[i], true);
	kq_log_info("deleted topic %s", t->name);
	topic_free(t);
	return 0;
}

int
topic_add_partitions(struct topic *t, int32_t total, char *msg, size_t msglen)
{
	char errbuf[512];
	int32_t old = t->nparts;
	int rc;

	if ((rc = partitions_cap(t, t->name, total - old, msg, msglen)) != 0)
		return rc;
	t->nparts = total;
	rc = topic_open_parts(t, old, NULL, NULL, NULL, true, true, errbuf, sizeof(errbuf));
	if (rc < 0) {
		t->nparts = old;
		snprintf(msg, msglen, "%s", errbuf);
		kq_log_warnx("grow topic %s: %s", t->name, errbuf);
		return KQ_E_KAFKA_STORAGE_ERROR;
	}
	/* The registry's new count commits them, as at creation. */
	if (registry_write(t) < 0) {
		snprintf(msg, msglen, "cannot write topic registry: %s", strerror(errno));
		kq_log_warnx("grow topic %s: %s", t->name, msg);
		topic_close_parts(t, old, true);
		t->nparts = old;
		return KQ_E_KAFKA_STORAGE_ERROR;
	}
	nparts_all += total - old;
	kq_log_info("topic %s now has %d partitions", t->name, total);
	return 0;
}

void
topics_checkpoint(bool force)
{
	struct kq_checkpoint_entry *rp, *hw, *ls;
	bool crp, chw, cls;
	size_t n = 0, cap = 0;
	int i;

	force |= ck_force;
	ck_force = false;
	crp = chw = cls = force;
	for (i = 0; i < ntopics; i++)
		cap += (size_t)topics[i]->nparts;
	rp = kq_xcalloc(cap + 1, sizeof(*rp));
	hw = kq_xcalloc(cap + 1, sizeof(*hw));
	ls = kq_xcalloc(cap + 1, sizeof(*ls));
	for (i = 0; i < ntopics; i++) {
		struct topic *t = topics[i];
		int32_t j;

		for (j = 0; j < t->nparts; j++) {
			struct partition *p = t->parts[j];
			int64_t r = kq_log_flushed(p->log), s = kq_log_start(p->log);

			crp |= r != p->ck_recovery;
			chw |= p->hw != p->ck_hw;
			cls |= s != p->ck_start;
			p->ck_recovery = r;
			p->ck_hw = p->hw;
			p->ck_start = s;
			rp[n] = (struct kq_checkpoint_entry){ t->name, j, r };
			hw[n] = (struct kq_checkpoint_entry){ t->name, j, p->hw };
			ls[n] = (struct kq_checkpoint_entry){ t->name, j, s };
			n++;
		}
	}
	if (crp) {
		char *p = kq_xasprintf("%s/recovery-point-offset-checkpoint", cfg.data_dir);

		if (kq_checkpoint_write(p, rp, n) < 0)
			kq_log_warn("write %s", p);
		free(p);
	}
	if (chw) {
		char *p = kq_xasprintf("%s/replication-offset-checkpoint", cfg.data_dir);

		if (kq_checkpoint_write(p, hw, n) < 0)
			kq_log_warn("write %s", p);
		free(p);
	}
	if (cls) {
		char *p = kq_xasprintf("%s/log-start-offset-checkpoint", cfg.data_dir);

		if (kq_checkpoint_write(p, ls, n) < 0)
			kq_log_warn("write %s", p);
		free(p);
	}
	free(rp);
	free(hw);
	free(ls);
}

void
topics_close_all(void)
{
	int i;
	int32_t j;

	for (i = 0; i < ntopics; i++) {
		for (j = 0; j < topics[i]->nparts; j++)
			partition_close(topics[i]->parts[j], false);
		topic_free(topics[i]);
	}
	ntopics = 0;
}

int
topic_set_configs(struct topic *t, char **keys, char **vals, int n, bool validate_only,
		  char *msg, size_t msglen)
{
	struct kq_log_config lc;
	char **nk, **nv;
	int i, rc;
	int32_t j;

	for (i = 0; i < n; i++) {
		rc = topic_config_check(keys[i], vals[i], msg, msglen);
		if (rc)
			return rc;
	}
	if (validate_only)
		return 0;
	/* keys/vals may point at the current overrides: copy before freeing them. */
	nk = kq_xcalloc((size_t)n + 1, sizeof(char *));
	nv = kq_xcalloc((size_t)n + 1, sizeof(char *));
	for (i = 0; i < n; i++) {
		nk[i] = kq_xstrdup(keys[i]);
		nv[i] = kq_xstrdup(vals[i]);
	}
	for (i = 0; i < t->nconf; i++) {
		free(t->ckeys[i]);
		free(t->cvals[i]);
	}
	free(t->ckeys);
	free(t->cvals);
	t->ckeys = nk;
	t->cvals = nv;
	t->nconf = n;
	topic_config_build(&t->tc, t->ckeys, t->cvals, t->nconf);
	if (registry_write(t) < 0) {
		snprintf(msg, msglen, "cannot write topic registry: %s", strerror(errno));
		return KQ_E_KAFKA_STORAGE_ERROR;
	}
	kq_log_config_default(&lc);
	lc.segment_bytes = t->tc.segment_bytes;
	lc.segment_ms = t->tc.segment_ms;
	lc.index_interval_bytes = t->tc.index_interval_bytes;
	lc.segment_index_bytes = t->tc.segment_index_bytes;
	lc.max_message_bytes = t->tc.max_message_bytes;
	lc.flush_mode = cfg.flush_mode;
	for (j = 0; j < t->nparts; j++)
		kq_log_set_config(t->parts[j]->log, &lc);
	kq_log_info("topic %s: %d config override%s", t->name, n, n == 1 ? "" : "s");
	return 0;
}
