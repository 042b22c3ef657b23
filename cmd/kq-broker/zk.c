/*
 * zk.c - cluster mode's ZooKeeper session and the broker's registration.
 *
 * libzookeeper-mt runs its own I/O and completion threads.  Its watcher
 * and completions only copy what they got into a struct zev and hand it
 * to the loop (handoff_complete); everything else happens on the loop.
 * Start-up (connect, chroot, first registration) runs before the loop,
 * with the library's synchronous calls; later work is asynchronous.
 * Paths are built here with the chroot in front (zpath), so one handle
 * can create the chroot itself.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#define THREADED		/* the synchronous calls of libzookeeper-mt */
#include <zookeeper/zookeeper.h>
#include <jansson.h>

#include "broker.h"

struct zev;
typedef void zev_fn(struct zev *e);

/* What a library thread saw, on its way to the loop. */
struct zev {
	zev_fn *fn;		/* runs on the loop */
	unsigned gen;		/* session it belongs to */
	int state, rc;
	struct Stat st;
};

static zhandle_t *zh;
static unsigned gen;		/* bumped per session; stale events are dropped */
static struct handoff *events;
static char *hosts, *chroot_path;
static char regdata[1024];
static int reglen;
static bool registered, rereg, lost;
static int64_t epoch;

static void session_event(struct zev *e);
static void created(struct zev *e);
static void stat_done(struct zev *e);

/* chroot + path, in a static buffer (the next call overwrites it). */
static const char *
zpath(const char *fmt, ...)
{
	static char buf[512];
	char tail[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tail, sizeof(tail), fmt, ap);
	va_end(ap);
	snprintf(buf, sizeof(buf), "%s%s", chroot_path, tail);
	return buf;
}

static struct zev *
zev_new(zev_fn *fn, const void *ctx)
{
	struct zev *e = kq_xcalloc(1, sizeof(*e));

	e->fn = fn;
	e->gen = (unsigned)(uintptr_t)ctx;
	return e;
}

/* Library threads from here to the next marker: copy and hand off only. */
static void
watcher(zhandle_t *z, int type, int state, const char *path, void *ctx)
{
	struct zev *e;

	if (type != ZOO_SESSION_EVENT)
		return;
	e = zev_new(session_event, ctx);
	e->state = state;
	handoff_complete(events, e);
}

static void
create_cb(int rc, const char *value, const void *data)
{
	struct zev *e = zev_new(created, data);

	e->rc = rc;
	handoff_complete(events, e);
}

static void
stat_cb(int rc, const struct Stat *st, const void *data)
{
	struct zev *e = zev_new(stat_done, data);

	e->rc = rc;
	if (st)
		e->st = *st;
	handoff_complete(events, e);
}
/* The library's own log lines, at debug level (any thread; stderr only). */
static void
zlog(const char *msg)
{
	kq_log_debug("zookeeper: %s", msg);
}
/* End of library-thread code. */

static void
run_zev(void *arg)
{
	struct zev *e = arg;

	if (e->gen == gen && zh)
		e->fn(e);
	free(e);
}

static const void *
gen_ctx(void)
{
	return (const void *)(uintptr_t)gen;
}

static bool
open_session(void)
{
	gen++;
	zh = zookeeper_init2(hosts, watcher, cfg.zk_session_ms, NULL, (void *)gen_ctx(), 0,
			     zlog);
	return zh != NULL;
}

static void
session_event(struct zev *e)
{
	if (e->state == ZOO_EXPIRED_SESSION_STATE) {
		kq_log_warnx("zookeeper: session expired; opening a new one and registering again");
		zookeeper_close(zh);
		zh = NULL;
		registered = false;
		if (!open_session()) {
			kq_log_warn("zookeeper_init");
			return;
		}
		rereg = true;
	} else if (e->state == ZOO_CONNECTED_STATE && lost && !rereg) {
		lost = false;
		kq_log_info("zookeeper: connected again, session and registration kept");
	} else if (e->state == ZOO_CONNECTED_STATE && rereg) {
		rereg = lost = false;
		if (zoo_acreate(zh, zpath("/brokers/ids/%d", cfg.node_id), regdata, reglen,
				&ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, create_cb, gen_ctx()) != ZOK)
			kq_log_warnx("zookeeper: cannot queue the registration");
	} else if (e->state == ZOO_CONNECTING_STATE && !lost) {
		lost = true;
		kq_log_warnx("zookeeper: connection lost; reconnecting within the session");
	}
}

static void
created(struct zev *e)
{
	if (e->rc != ZOK) {
		/* The old session's node may linger until the server expires it. */
		kq_log_warnx("zookeeper: registering broker %d: %s; retrying", cfg.node_id,
			     zerror(e->rc));
		rereg = true;
		return;
	}
	if (zoo_aexists(zh, zpath("/brokers/ids/%d", cfg.node_id), 0, stat_cb,
			gen_ctx()) != ZOK)
		kq_log_warnx("zookeeper: cannot queue the registration's stat");
}

static void
stat_done(struct zev *e)
{
	if (e->rc != ZOK) {
		kq_log_warnx("zookeeper: stat of the registration: %s", zerror(e->rc));
		return;
	}
	registered = true;
	epoch = e->st.czxid;
	kq_log_info("zookeeper: broker %d registered again, epoch %lld", cfg.node_id,
		    (long long)epoch);
}

static void
nap_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Create every component of path (with the chroot) that is missing. */
static int
ensure_path(const char *path, char *err, size_t errlen)
{
	char buf[512];
	char *s;
	int rc;

	snprintf(buf, sizeof(buf), "%s", path);
	for (s = buf + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;

		*s = '\0';
		rc = zoo_create(zh, buf, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
		if (rc != ZOK && rc != ZNODEEXISTS) {
			snprintf(err, errlen, "create %s: %s", buf, zerror(rc));
			return -1;
		}
		*s = c;
		if (!c)
			return 0;
	}
}

static bool
host_ok(const char *h)
{
	return h[0] && strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			      "0123456789.-_:[]") == strlen(h);
}

/* Kafka's broker registration, JSON version 5. */
static int
build_regdata(char *err, size_t errlen)
{
	if (!host_ok(B.adv_host)) {
		snprintf(err, errlen, "advertised host '%s' cannot be registered", B.adv_host);
		return -1;
	}
	reglen = snprintf(regdata, sizeof(regdata),
			  "{\"listener_security_protocol_map\":{\"PLAINTEXT\":\"PLAINTEXT\"},"
			  "\"endpoints\":[\"PLAINTEXT://%s:%d\"],\"jmx_port\":-1,"
			  "\"features\":{},\"host\":\"%s\",\"timestamp\":\"%lld\","
			  "\"port\":%d,\"version\":5,\"rack\":null}",
			  B.adv_host, B.adv_port, B.adv_host, (long long)kq_now_ms(),
			  B.adv_port);
	return 0;
}

/*
 * The ephemeral /brokers/ids/N.  A node left by this id's previous
 * session (kill -9, restart) goes away when that session expires, so it
 * is waited out for one session timeout; one that outlives that belongs
 * to a live broker with the same id.
 */
static int
register_sync(char *err, size_t errlen)
{
	const char *path;
	struct Stat st;
	int64_t deadline = kq_now_ms() + zoo_recv_timeout(zh) + 1000;
	bool waited = false;
	int rc;

	if (ensure_path(zpath("/brokers/ids"), err, errlen) < 0 || build_regdata(err, errlen) < 0)
		return -1;
	path = zpath("/brokers/ids/%d", cfg.node_id);
	for (;;) {
		rc = zoo_create(zh, path, regdata, reglen, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL,
				NULL, 0);
		if (rc == ZOK)
			break;
		if (rc != ZNODEEXISTS) {
			snprintf(err, errlen, "create %s: %s", path, zerror(rc));
			return -1;
		}
		rc = zoo_exists(zh, path, 0, &st);
		if (rc == ZOK && st.ephemeralOwner == zoo_client_id(zh)->client_id)
			break;
		if (rc == ZNONODE)
			continue;
		if (kq_now_ms() > deadline) {
			snprintf(err, errlen, "broker id %d is already registered in ZooKeeper "
				 "by a live session (0x%llx); is another broker running with "
				 "--id %d?", cfg.node_id, (unsigned long long)st.ephemeralOwner,
				 cfg.node_id);
			return -1;
		}
		if (!waited)
			kq_log_info("zookeeper: %s exists; waiting up to %d ms for its session "
				    "to expire", path, zoo_recv_timeout(zh) + 1000);
		waited = true;
		nap_ms(100);
	}
	rc = zoo_exists(zh, path, 0, &st);
	if (rc != ZOK) {
		snprintf(err, errlen, "stat %s: %s", path, zerror(rc));
		return -1;
	}
	epoch = st.czxid;
	registered = true;
	return 0;
}

/*
 * A znode's data as a JSON object, through the one JSON reader (jansson).
 * The data was read into a buffer of cap bytes; dlen is its real length.
 * NULL, with err set, when it is oversized, not JSON or not an object.
 */
static json_t *
znode_json(const char *path, const char *buf, int dlen, int cap, char *err, size_t errlen)
{
	json_error_t je;
	json_t *j;

	if (dlen < 0 || dlen > cap) {
		snprintf(err, errlen, "%s: %d bytes, more than the %d a znode may have here",
			 path, dlen, cap);
		return NULL;
	}
	j = json_loadb(buf, (size_t)dlen, JSON_REJECT_DUPLICATES, &je);
	if (!j || !json_is_object(j)) {
		snprintf(err, errlen, "%s: not a JSON object (%s)", path,
			 j ? "wrong type" : je.text);
		json_decref(j);
		return NULL;
	}
	return j;
}

/* Kafka's {"version":"1","id":"..."}: the id, or NULL with err set. */
static char *
parse_cluster_id(const char *path, const char *buf, int dlen, int cap, char *err,
		 size_t errlen)
{
	json_t *j = znode_json(path, buf, dlen, cap, err, errlen);
	const char *id;
	char *out = NULL;

	if (!j)
		return NULL;
	id = json_string_value(json_object_get(j, "id"));
	if (!id || !id[0] || strlen(id) >= 64 ||
	    strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") !=
	    strlen(id))
		snprintf(err, errlen, "%s: no valid \"id\" string (Kafka's "
			 "{\"version\":\"1\",\"id\":\"...\"})", path);
	else
		out = kq_xstrdup(id);
	json_decref(j);
	return out;
}

/*
 * /cluster/id, created once with fresh if missing.  A malformed one is
 * refused: the cluster's identity is not guessed.
 */
static char *
cluster_id(const char *fresh, char *err, size_t errlen)
{
	enum { CAP = 1024 };
	char buf[CAP + 1], data[128];
	const char *path;
	struct Stat st;
	int rc, len, n;

	if (ensure_path(zpath("/cluster"), err, errlen) < 0)
		return NULL;
	path = zpath("/cluster/id");
	n = snprintf(data, sizeof(data), "{\"version\":\"1\",\"id\":\"%s\"}", fresh);
	rc = zoo_create(zh, path, data, n, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
	if (rc == ZOK) {
		kq_log_info("zookeeper: created %s: cluster %s", path, fresh);
		return kq_xstrdup(fresh);
	}
	if (rc != ZNODEEXISTS) {
		snprintf(err, errlen, "create %s: %s", path, zerror(rc));
		return NULL;
	}
	len = CAP + 1;
	rc = zoo_get(zh, path, 0, buf, &len, &st);
	if (rc != ZOK) {
		snprintf(err, errlen, "get %s: %s", path, zerror(rc));
		return NULL;
	}
	return parse_cluster_id(path, buf, st.dataLength, CAP, err, errlen);
}

int
zk_connect(struct event_base *base, const char *connect, const char *fresh_id,
	   char **cluster, char *err, size_t errlen)
{
	const char *slash = strchr(connect, '/');
	int64_t deadline;

	hosts = slash ? kq_xstrndup(connect, (size_t)(slash - connect)) : kq_xstrdup(connect);
	chroot_path = kq_xstrdup(slash && slash[1] ? slash : "");
	if (slash && chroot_path[0] && chroot_path[strlen(chroot_path) - 1] == '/')
		chroot_path[strlen(chroot_path) - 1] = '\0';
	events = handoff_new(base, "zookeeper event", NULL, run_zev);
	if (!events) {
		snprintf(err, errlen, "cannot set up the zookeeper hand-off");
		return -1;
	}
	zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
	if (!open_session()) {
		snprintf(err, errlen, "zookeeper_init %s: %s", hosts, strerror(errno));
		return -1;
	}
	deadline = kq_now_ms() + cfg.zk_session_ms;
	while (zoo_state(zh) != ZOO_CONNECTED_STATE) {
		if (kq_now_ms() > deadline) {
			snprintf(err, errlen, "cannot reach ZooKeeper at %s within %d ms",
				 hosts, cfg.zk_session_ms);
			return -1;
		}
		nap_ms(10);
	}
	if (chroot_path[0] && ensure_path(chroot_path, err, errlen) < 0)
		return -1;
	*cluster = cluster_id(fresh_id, err, errlen);
	return *cluster ? 0 : -1;
}

/*
 * Kafka's auto-generated ids: a write to /brokers/seqid bumps its version,
 * and the id is that version plus reserved.broker.max.id.
 */
int
zk_new_broker_id(int *id, char *err, size_t errlen)
{
	const char *path = zpath("/brokers/seqid");
	struct Stat st;
	int rc;

	if (ensure_path(path, err, errlen) < 0)
		return -1;
	rc = zoo_set2(zh, path, NULL, -1, -1, &st);
	if (rc != ZOK) {
		snprintf(err, errlen, "set %s: %s", path, zerror(rc));
		return -1;
	}
	if (st.version > INT32_MAX - cfg.reserved_broker_max_id) {
		snprintf(err, errlen, "%s: version %d leaves no broker id", path, st.version);
		return -1;
	}
	*id = cfg.reserved_broker_max_id + st.version;
	kq_log_info("zookeeper: broker id %d from %s", *id, path);
	return 0;
}

int
zk_register(struct event_base *base, char *err, size_t errlen)
{
	if (register_sync(err, errlen) < 0)
		return -1;
	kq_log_info("zookeeper: registered broker %d at %s:%d in %s%s, epoch %lld",
		    cfg.node_id, B.adv_host, B.adv_port, hosts, chroot_path, (long long)epoch);
	return 0;
}

int64_t
zk_broker_epoch(void)
{
	return registered ? epoch : -1;
}

void
zk_stop(void)
{
	/* Closing the session deletes the ephemeral registration at once. */
	if (zh)
		zookeeper_close(zh);
	zh = NULL;
	handoff_free(events);
	events = NULL;
}
