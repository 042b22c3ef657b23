/*
 * kq-broker - a standalone Kafka-compatible broker.
 *
 * main.c: options, data directory (lock, meta.properties, clean-shutdown
 * marker), startup and the orderly shutdown on SIGTERM/SIGINT.
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/thread.h>

#include "../../common/cli/cli.h"
#include "broker.h"

struct broker B;

static const char usage_text[] =
	"usage: kq-broker [--config FILE] [-l|--listen HOST:PORT] [--advertise HOST:PORT]\n"
	"                 [-d|--data-dir DIR] [--id N] [-z|--zookeeper HOST:PORT[/CHROOT]]\n"
	"                 [-X|--property KEY=VALUE]... [--log-format text|json] [--check-config]\n"
	"                 [-v] [-h] [-V]\n";

static const char help_head[] =
	"\n"
	"A standalone Kafka-compatible broker.\n"
	"\n";

enum { OPT_CONFIG = 256, OPT_ADVERTISE, OPT_ID, OPT_LOG_FORMAT, OPT_CHECK_CONFIG };

static const struct kq_opt opts[] = {
	KQ_OPT_VALUE(0, "config", OPT_CONFIG, "FILE", "read Kafka server.properties keys from FILE"),
	KQ_OPT_VALUE('l', "listen", 0, "HOST:PORT",
	  "listen address (default localhost:9092; port 0 = any)"),
	KQ_OPT_VALUE(0, "advertise", OPT_ADVERTISE, "HOST:PORT", "address given to clients in Metadata"),
	KQ_OPT_VALUE('d', "data-dir", 0, "DIR", "data directory (default ./kq-data)"),
	KQ_OPT_VALUE(0, "id", OPT_ID, "N", "node id (default 0)"),
	KQ_OPT_VALUE('z', "zookeeper", 0, "HOST:PORT[/CHROOT]", "cluster mode: register in ZooKeeper"),
	KQ_OPT_VALUE('X', "property", 0, "KEY=VALUE", "set a server.properties key (repeatable)"),
	KQ_OPT_VALUE(0, "log-format", OPT_LOG_FORMAT, "text|json",
	  "log line format on stderr (default text)"),
	KQ_OPT_FLAG(0, "check-config", OPT_CHECK_CONFIG, "validate the configuration and exit"),
	KQ_OPT_FLAG('v', "verbose", 0, "debug logging"),
	KQ_OPT_FLAG('h', "help", 0, "show this help"),
	KQ_OPT_FLAG('V', "version", 0, "show the version"),
	KQ_OPT_END,
};

struct opts {
	const char *config;
	const char *listen, *advertise, *data_dir, *id, *zookeeper;
	const char **props;
	int nprops;
	bool json, check_config;
	int verbose;
};

static int lock_fd = -1;
static struct event *sig_term, *sig_int, *sig_hup, *ck_timer;

static void
parse_opts(int argc, char **argv, struct opts *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->props = kq_xcalloc((size_t)argc + 1, sizeof(*o->props));
	while ((c = kq_opt_next(argc, argv, opts)) != -1) {
		switch (c) {
		case OPT_CONFIG:
			o->config = optarg;
			break;
		case 'l':
			o->listen = optarg;
			break;
		case OPT_ADVERTISE:
			o->advertise = optarg;
			break;
		case 'd':
			o->data_dir = optarg;
			break;
		case OPT_ID:
			o->id = optarg;
			break;
		case 'z':
			o->zookeeper = optarg;
			break;
		case 'X':
			o->props[o->nprops++] = optarg;
			break;
		case OPT_LOG_FORMAT:
			if (strcmp(optarg, "json") == 0)
				o->json = true;
			else if (strcmp(optarg, "text") != 0)
				kq_usage_error("bad --log-format '%s' (text or json)", optarg);
			break;
		case OPT_CHECK_CONFIG:
			o->check_config = true;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'h':
			fputs(usage_text, stdout);
			fputs(help_head, stdout);
			kq_opt_help(opts, 25);
			exit(0);
		case 'V':
			kq_cli_version();
		}
	}
	if (optind < argc)
		kq_usage_error("unexpected argument '%s'", argv[optind]);
}

/* Apply file, then -X, then the explicit flags (flags win). */
static void
build_config(const struct opts *o)
{
	char msg[512];
	int i, rc;

	config_defaults(&cfg);
	cfg.node_id = -1;	/* none given: 0, or in cluster mode meta.properties or a seqid */
	if (o->config) {
		if (config_load_file(&cfg, o->config, msg, sizeof(msg)) < 0) {
			fprintf(stderr, "kq-broker: %s\n", msg);
			exit(2);
		}
		/* server.properties files usually name ZooKeeper; only -z selects cluster mode. */
		if (cfg.zookeeper) {
			kq_log_warnx("%s: zookeeper.connect ignored (use -z for cluster mode)",
				     o->config);
			free(cfg.zookeeper);
			cfg.zookeeper = NULL;
		}
	}
	for (i = 0; i < o->nprops; i++) {
		char *kv = kq_xstrdup(o->props[i]), *eq = strchr(kv, '=');

		if (!eq || eq == kv) {
			fprintf(stderr, "kq-broker: -X wants KEY=VALUE, got '%s'\n", o->props[i]);
			fprintf(stderr, "Try 'kq-broker --help'.\n");
			exit(2);
		}
		*eq = '\0';
		rc = config_set(&cfg, kv, eq + 1, msg, sizeof(msg));
		if (rc < 0) {
			fprintf(stderr, "kq-broker: %s\n", msg);
			exit(2);
		}
		if (rc == 0)
			kq_log_warnx("unknown property '%s' ignored", kv);
		free(kv);
	}
	if (o->listen && config_set(&cfg, "listeners", o->listen, msg, sizeof(msg)) <= 0)
		kq_usage_error("bad --listen '%s' (HOST:PORT)", o->listen);
	if (o->advertise &&
	    config_set(&cfg, "advertised.listeners", o->advertise, msg, sizeof(msg)) <= 0)
		kq_usage_error("bad --advertise '%s' (HOST:PORT)", o->advertise);
	if (o->data_dir && config_set(&cfg, "log.dirs", o->data_dir, msg, sizeof(msg)) <= 0)
		kq_usage_error("bad --data-dir '%s'", o->data_dir);
	if (o->id && config_set(&cfg, "node.id", o->id, msg, sizeof(msg)) <= 0)
		kq_usage_error("bad --id '%s' (0..2147483647)", o->id);
	if (o->zookeeper) {
		if (!o->zookeeper[0] || o->zookeeper[0] == '/' || o->zookeeper[0] == ',')
			kq_usage_error("bad --zookeeper '%s' (HOST:PORT[,...][/CHROOT])",
				       o->zookeeper);
		cfg.zookeeper = kq_xstrdup(o->zookeeper);
	}
	if (cfg.node_id < 0 && !cfg.zookeeper)
		cfg.node_id = 0;
	if (cfg.default_rf != 1)
		kq_log_warnx("default.replication.factor=%d: standalone brokers use 1",
			     cfg.default_rf);
}

static void
libevent_log(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_WARN)
		kq_log_warnx("libevent: %s", msg);
	else
		kq_log_debug("libevent: %s", msg);
}

static int
mkdir_p(const char *path)
{
	char *p = kq_xstrdup(path), *s;
	int rc = 0;

	for (s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0777) < 0 && errno != EEXIST)
			rc = -1;
		*s = '/';
	}
	if (mkdir(p, 0777) < 0 && errno != EEXIST)
		rc = -1;
	free(p);
	return rc;
}

static char *
data_path(const char *name)
{
	return kq_xasprintf("%s/%s", cfg.data_dir, name);
}

/* 22-char URL-safe base64 of 16 random bytes, like Kafka's cluster ids. */
static char *
new_cluster_id(void)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char r[16];
	char out[23];
	int i, bits = 0, o = 0;
	uint32_t acc = 0;

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		uint64_t t = (uint64_t)kq_mono_us() ^ (uint64_t)getpid() << 32;

		for (i = 0; i < 16; i++)
			r[i] = (unsigned char)(t >> ((i % 8) * 8)) ^ (unsigned char)(i * 37);
	}
	for (i = 0; i < 16; i++) {
		acc = acc << 8 | r[i];
		bits += 8;
		while (bits >= 6 && o < 22) {
			bits -= 6;
			out[o++] = b64[(acc >> bits) & 63];
		}
	}
	if (o < 22)
		out[o++] = b64[(acc << (6 - bits)) & 63];
	out[o] = '\0';
	return kq_xstrdup(out);
}

/*
 * Read or create DATA/meta.properties; exits 1 when it names another node
 * id or (cluster mode) another cluster.  In cluster mode ZooKeeper gives
 * the cluster id and, without --id, the node id (the file's, else a new
 * one from /brokers/seqid).
 */
static void
load_meta(void)
{
	char *path = data_path("meta.properties"), *file_cluster = NULL, *zk_cluster = NULL;
	char err[512];
	FILE *f = fopen(path, "r");
	char line[512];
	long long id = -1;

	if (f) {
		while (fgets(line, sizeof(line), f)) {
			line[strcspn(line, "\r\n")] = '\0';
			if (strncmp(line, "cluster.id=", 11) == 0 && line[11] != '\0' &&
			    strlen(line + 11) < 64)
				file_cluster = kq_xstrdup(line + 11);
			else if (strncmp(line, "broker.id=", 10) == 0 ||
				 strncmp(line, "node.id=", 8) == 0)
				id = strtoll(strchr(line, '=') + 1, NULL, 10);
		}
		fclose(f);
	}
	if (cfg.zookeeper) {
		char *fresh = new_cluster_id();

		if (zk_connect(B.base, cfg.zookeeper, fresh, &zk_cluster, err, sizeof(err)) < 0) {
			kq_log_warnx("%s", err);
			exit(1);
		}
		free(fresh);
		if (file_cluster && strcmp(file_cluster, zk_cluster) != 0) {
			kq_log_warnx("%s: this data directory belongs to cluster %s, but "
				     "ZooKeeper %s holds cluster %s; refusing to start", path,
				     file_cluster, cfg.zookeeper, zk_cluster);
			exit(1);
		}
		if (cfg.node_id < 0 && id >= 0 && id <= INT32_MAX)
			cfg.node_id = (int)id;
		if (cfg.node_id < 0 && zk_new_broker_id(&cfg.node_id, err, sizeof(err)) < 0) {
			kq_log_warnx("%s", err);
			exit(1);
		}
	}
	if (id >= 0 && id != cfg.node_id) {
		kq_log_warnx("%s: broker.id=%lld but this node is %d; refusing to start",
			     path, id, cfg.node_id);
		exit(1);
	}
	B.cluster_id = zk_cluster ? zk_cluster : file_cluster;
	if (zk_cluster)
		free(file_cluster);
	if (!B.cluster_id || id < 0) {
		char *txt;

		if (!B.cluster_id)
			B.cluster_id = new_cluster_id();
		txt = kq_xasprintf("#kq-broker meta.properties\nversion=0\nbroker.id=%d\n"
				   "cluster.id=%s\n", cfg.node_id, B.cluster_id);
		if (kq_write_file_atomic(path, txt, strlen(txt)) < 0) {
			kq_log_warn("write %s", path);
			exit(1);
		}
		free(txt);
	}
	free(path);
}

static void
lock_data_dir(void)
{
	char *path = data_path(".lock");

	lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lock_fd < 0) {
		kq_log_warn("open %s", path);
		exit(1);
	}
	if (flock(lock_fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			kq_log_warnx("%s is in use by another kq-broker (%s is locked)",
				     cfg.data_dir, path);
		else
			kq_log_warn("flock %s", path);
		exit(1);
	}
	free(path);
}

/*
 * True when the data directory holds nothing but what any start creates
 * (the lock, meta.properties) and what a file system puts in an empty
 * mount point: a new directory, which no shutdown, clean or not, has left.
 */
static bool
data_dir_new(void)
{
	static const char *const not_data[] = { ".", "..", ".lock", "meta.properties",
						"lost+found" };
	struct dirent *de;
	DIR *d = opendir(cfg.data_dir);
	bool empty = true;
	size_t i;

	if (!d)
		return false;
	while (empty && (de = readdir(d)) != NULL) {
		for (i = 0; i < KQ_ARRAY_LEN(not_data); i++)
			if (strcmp(de->d_name, not_data[i]) == 0)
				break;
		empty = i < KQ_ARRAY_LEN(not_data);
	}
	closedir(d);
	return empty;
}

static void
second_signal(int sig)
{
	static const char m[] = "kq-broker: second signal, exiting at once\n";

	(void)sig;
	if (write(2, m, sizeof(m) - 1) < 0)
		_exit(1);
	_exit(1);
}

static void
shutdown_broker(void)
{
	struct sigaction sa;
	char *marker;
	int fd;

	B.stopping = true;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = second_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	kq_log_info("shutting down");
	server_stop_accepting();
	if (cfg.zookeeper)
		zk_stop();
	cleaner_stop();
	flush_stop();
	flush_all_sync();
	server_close_all();
	group_stop();
	topics_checkpoint(true);
	topics_close_all();
	marker = data_path(".kq_cleanshutdown");
	fd = open(marker, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || fsync(fd) < 0)
		kq_log_warn("write %s", marker);
	if (fd >= 0)
		close(fd);
	fd = open(cfg.data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(marker);
	kq_log_info("stopped");
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	kq_log_info("got %s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	shutdown_broker();
	event_base_loopbreak(B.base);
}

static void
sighup_cb(evutil_socket_t sig, short what, void *arg)
{
	/* Logs go to stderr and configs are static: nothing to reopen or reload yet. */
	kq_log_info("got SIGHUP; nothing to reload");
}

static void
checkpoint_cb(evutil_socket_t fd, short what, void *arg)
{
	int i, n = topics_count();
	int64_t now = kq_now_ms();

	for (i = 0; i < n; i++) {
		struct topic *t = topic_at(i);
		int32_t j;

		for (j = 0; j < t->nparts; j++)
			kq_log_maybe_roll(t->parts[j]->log, now);
	}
	topics_checkpoint(false);
}

/*
 * Soft RLIMIT_NOFILE up to the hard limit.  The log's descriptor LRU gets
 * limit/8 segments, at most 3 descriptors each: the rest is for
 * connections, fetch responses' dups and the flusher's tickets.
 */
static void
raise_nofile(void)
{
	struct rlimit rl;
	rlim_t was;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		kq_log_warn("getrlimit RLIMIT_NOFILE");
		return;
	}
	was = rl.rlim_cur;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
			kq_log_warn("setrlimit RLIMIT_NOFILE %llu", (unsigned long long)rl.rlim_max);
			rl.rlim_cur = was;
		}
	}
	kq_log_set_fd_cap((size_t)KQ_MIN(rl.rlim_cur / 8, (rlim_t)1 << 20));
	kq_log_info("open files limit %llu (was %llu)", (unsigned long long)rl.rlim_cur,
		    (unsigned long long)was);
}

static int
run(void)
{
	char errbuf[512] = "", *marker, hostbuf[256];
	bool clean, fresh;
	int port = 0;
	struct timeval tv;

	if (evthread_use_pthreads() < 0)
		kq_fatalx("evthread_use_pthreads failed");
	event_set_log_callback(libevent_log);
	B.base = event_base_new();
	if (!B.base)
		kq_fatalx("event_base_new failed");
	signal(SIGPIPE, SIG_IGN);
	watch_init();

	if (mkdir_p(cfg.data_dir) < 0) {
		kq_log_warn("mkdir %s", cfg.data_dir);
		return 1;
	}
	lock_data_dir();
	raise_nofile();
	load_meta();
	marker = data_path(".kq_cleanshutdown");
	clean = access(marker, F_OK) == 0;
	fresh = !clean && data_dir_new();
	kq_log_info("loading topics from %s (%s)", cfg.data_dir,
		    fresh ? "new data directory" : clean ? "clean shutdown" : "unclean shutdown");
	if (topics_load(clean, errbuf, sizeof(errbuf)) < 0) {
		kq_log_warnx("cannot load topics: %s", errbuf);
		return 1;
	}
	/* From now on a crash must trigger recovery. */
	if (clean && unlink(marker) < 0)
		kq_log_warn("unlink %s", marker);
	free(marker);

	waiters_init(B.base);
	if (flush_start(B.base) < 0)
		kq_fatalx("cannot start the flusher thread");
	if (group_start(B.base) < 0)
		kq_fatalx("cannot start the group coordinator");
	if (cleaner_start(B.base) < 0)
		kq_fatalx("cannot start the log cleaner");
	if (server_listen(B.base, cfg.listen_host, cfg.listen_port, &port, errbuf,
			  sizeof(errbuf)) < 0) {
		kq_log_warnx("%s", errbuf);
		return 1;
	}
	if (cfg.adv_host && strcmp(cfg.adv_host, "0.0.0.0") != 0) {
		B.adv_host = cfg.adv_host;
	} else if (strcmp(cfg.listen_host, "0.0.0.0") == 0 || strcmp(cfg.listen_host, "::") == 0) {
		if (gethostname(hostbuf, sizeof(hostbuf)) < 0)
			snprintf(hostbuf, sizeof(hostbuf), "localhost");
		hostbuf[sizeof(hostbuf) - 1] = '\0';
		B.adv_host = kq_xstrdup(hostbuf);
	} else {
		B.adv_host = cfg.listen_host;
	}
	B.adv_port = cfg.adv_port ? cfg.adv_port : port;
	B.listen_port = port;
	if (cfg.zookeeper && zk_register(B.base, errbuf, sizeof(errbuf)) < 0) {
		kq_log_warnx("%s", errbuf);
		return 1;
	}

	sig_term = evsignal_new(B.base, SIGTERM, signal_cb, NULL);
	sig_int = evsignal_new(B.base, SIGINT, signal_cb, NULL);
	evsignal_add(sig_term, NULL);
	evsignal_add(sig_int, NULL);
	sig_hup = evsignal_new(B.base, SIGHUP, sighup_cb, NULL);
	evsignal_add(sig_hup, NULL);
	ck_timer = watch_event_new(B.base, -1, EV_PERSIST, checkpoint_cb, NULL, "checkpoint timer");
	tv.tv_sec = cfg.checkpoint_interval_ms / 1000;
	tv.tv_usec = (cfg.checkpoint_interval_ms % 1000) * 1000;
	evtimer_add(ck_timer, &tv);

	/* A log line like the others: stamped, and JSON under --log-format json. */
	kq_log_info("ready on %s:%d (node %d, %s, data %s)", cfg.listen_host, port,
		    cfg.node_id, cfg.zookeeper ? "cluster" : "standalone", cfg.data_dir);
	event_base_dispatch(B.base);
	return 0;
}

int
main(int argc, char **argv)
{
	struct opts o;

	kq_cli_init("kq-broker");
	parse_opts(argc, argv, &o);
	kq_log_init("kq-broker", o.verbose, o.json);
	build_config(&o);
	free(o.props);
	if (o.check_config) {
		printf("kq-broker: configuration OK (listen %s:%d, data %s, node %d)\n",
		       cfg.listen_host, cfg.listen_port, cfg.data_dir, cfg.node_id);
		return 0;
	}
	return run();
}
