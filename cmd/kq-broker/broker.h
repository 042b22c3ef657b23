/*
 * broker.h - shared state of kq-broker.  One libevent loop thread owns every
 * structure here; other threads (flusher, cleaner) get and return work only
 * through a handoff (handoff.c).
 */
#ifndef KQ_BROKER_H
#define KQ_BROKER_H

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "../../common/base/base.h"
#include "../../common/log/log.h"
#include "../../common/proto/proto.h"

/* ---- configuration (config.c) ---- */

struct broker_config {
	char *listen_host;
	int listen_port;
	char *adv_host;		/* NULL = listen host */
	int adv_port;		/* 0 = the real listening port */
	char *data_dir;
	int32_t node_id;
	char *zookeeper;
	int32_t zk_session_ms;		/* zookeeper.session.timeout.ms */
	int32_t reserved_broker_max_id;	/* reserved.broker.max.id */
	int32_t num_partitions;
	int32_t max_partitions;	/* kq.max.partitions: all topics together */
	int16_t default_rf;
	bool auto_create;
	bool delete_topic_enable;
	int flush_mode;		/* KQ_FLUSH_ACK / KQ_FLUSH_OS */
	int64_t segment_bytes;
	int64_t segment_ms;
	int64_t retention_ms;
	int64_t retention_bytes;
	int32_t message_max_bytes;
	int32_t socket_request_max_bytes;
	int32_t index_interval_bytes;
	int32_t segment_index_bytes;
	int32_t min_insync_replicas;
	int32_t max_connections;
	int32_t connections_max_idle_ms;
	int32_t request_read_timeout_ms;	/* kq.request.read.timeout.ms */
	int32_t listen_backlog;		/* socket.listen.backlog.size */
	int32_t loop_stall_ms;		/* kq.loop.stall.ms */
	int32_t checkpoint_interval_ms;
	/* Retention and compaction defaults (cleaner.c). */
	int64_t retention_check_ms;	/* log.retention.check.interval.ms */
	int cleanup_policy;		/* log.cleanup.policy: POLICY_* bits */
	bool cleaner_enable;		/* log.cleaner.enable */
	int64_t cleaner_backoff_ms;	/* log.cleaner.backoff.ms */
	double cleaner_min_ratio;	/* log.cleaner.min.cleanable.ratio */
	int64_t cleaner_delete_retention_ms;
	int64_t cleaner_min_lag_ms;	/* log.cleaner.min.compaction.lag.ms */
	int64_t cleaner_max_lag_ms;	/* log.cleaner.max.compaction.lag.ms */
	int64_t flush_messages;		/* log.flush.interval.messages */
	int64_t flush_ms;		/* log.flush.interval.ms */
	int32_t offsets_partitions;	/* offsets.topic.num.partitions */
	int32_t group_min_session_ms;
	int32_t group_max_session_ms;
	int32_t group_initial_delay_ms;
	int32_t group_max_size;
	int32_t offset_metadata_max;
};

extern struct broker_config cfg;

void config_defaults(struct broker_config *c);
/* Set one server.properties key.  1 = set, 0 = unknown key (warned), -1 = bad value (msg set). */
int config_set(struct broker_config *c, const char *key, const char *value, char *msg, size_t msglen);
/* Read a properties file; -1 with msg on a bad value or unreadable file. */
int config_load_file(struct broker_config *c, const char *path, char *msg, size_t msglen);
/* Broker config for DescribeConfigs: calls fn for each key with its current value. */
void config_each(const struct broker_config *c,
		 void (*fn)(void *arg, const char *key, const char *value), void *arg);

/* Topic-level configs. */
struct topic_config {
	int64_t segment_bytes;
	int64_t segment_ms;
	int64_t retention_ms;
	int64_t retention_bytes;
	int32_t max_message_bytes;
	int32_t min_insync_replicas;
	int32_t index_interval_bytes;
	int32_t segment_index_bytes;
	int cleanup_policy;		/* POLICY_* bits */
	double min_cleanable_ratio;
	int64_t delete_retention_ms;
	int64_t min_compaction_lag_ms;
	int64_t max_compaction_lag_ms;
	int64_t flush_messages;		/* stored; kq's log.flush decides fsyncs */
	int64_t flush_ms;
	bool log_append_time;		/* message.timestamp.type=LogAppendTime */
};
enum { POLICY_DELETE = 1, POLICY_COMPACT = 2 };
/* Validate one topic override: 0 or KQ_E_INVALID_CONFIG with msg. */
int topic_config_check(const char *key, const char *value, char *msg, size_t msglen);
/* Effective config from broker defaults plus overrides (key/value pairs). */
void topic_config_build(struct topic_config *tc, char **keys, char **values, int n);
/* The known topic keys, in DescribeConfigs order; *n set. */
const char *const *topic_config_keys(int *n);
/* Default value of a topic key as text (malloc'd). */
char *topic_config_default(const char *key);
/* DescribeConfigs ConfigSource values kq reports. */
enum {
	KQ_CONFIG_SOURCE_TOPIC = 1,
	KQ_CONFIG_SOURCE_STATIC_BROKER = 4,
	KQ_CONFIG_SOURCE_DEFAULT = 5,
};
/*
 * Where a topic without an override of key gets its value from: STATIC_BROKER
 * when the broker's configuration (file or -X) moved it off the built-in
 * default, else DEFAULT.
 */
int topic_config_default_source(const char *key);

/* ---- partitions (partition.c) ---- */

enum { ROLE_LEADER = 0, ROLE_FOLLOWER = 1 };

struct topic;

struct partition {
	struct topic *topic;
	int32_t id;
	struct kq_log *log;
	int64_t hw;
	int32_t leader_epoch;
	int role;
	bool dirty;		/* appended since the last flush ticket */
	bool flushing;		/* a ticket is with the flusher */
	bool dead;		/* topic deleted; free after the flush returns */
	int flush_err;		/* last flush failure (KQ_E_KAFKA_STORAGE_ERROR) */
	struct partition *dirty_next;
	int64_t ck_recovery, ck_hw, ck_start;	/* last checkpointed values */
	struct pstate *producers;	/* idempotent producers (producers.c) */
};

int partition_open(struct partition **out, struct topic *t, int32_t id, int64_t recovery,
		   int64_t hw, int64_t log_start, bool clean, char *errbuf, size_t errlen);
/* Close (or delete from disk) and free; waiting produces get an error. */
void partition_close(struct partition *p, bool delete);
/*
 * Append validated batches; marks the partition dirty or (flush=os) advances
 * HW.  h: the parsed header when b is one batch (kq_log_append), or NULL.
 */
int partition_append(struct partition *p, unsigned char *b, size_t n, const struct kq_batch_hdr *h,
		     int64_t *base_offset);
/* HW moved: complete produces and wake fetches (deferred to the loop). */
void partition_hw_advanced(struct partition *p);
void partition_set_hw(struct partition *p, int64_t hw);

/* ---- idempotent producers (producers.c) ---- */

#define PRODUCER_DUPLICATE 1
/*
 * Check a validated batch against its producer's sequence: 0 = append it,
 * PRODUCER_DUPLICATE = already appended at [*dup_first, *dup_last] (answer
 * with those, append nothing), or a Kafka error (OUT_OF_ORDER_SEQUENCE_NUMBER,
 * INVALID_PRODUCER_EPOCH, INVALID_RECORD).
 */
int producer_check(struct partition *p, const struct kq_batch_hdr *h, int64_t *dup_first,
		   int64_t *dup_last);
/* Record an appended batch (h its header, base its first offset). */
void producer_appended(struct partition *p, const struct kq_batch_hdr *h, int64_t base);
/* Rebuild from the tail of the log at open; free at close. */
void producer_state_rebuild(struct partition *p);
void producer_state_free(struct partition *p);

/* ---- topics (topics.c) ---- */

/* New partitions one CreateTopics or CreatePartitions request may ask for, in all. */
#define KQ_PARTITIONS_PER_REQUEST 10000

struct topic {
	char *name;
	int32_t nparts;
	struct partition **parts;
	char **ckeys, **cvals;	/* config overrides */
	int nconf;
	struct topic_config tc;
	bool internal;
};

int topics_load(bool clean, char *errbuf, size_t errlen);
struct topic *topic_find(const char *name, size_t len);
struct topic *topic_find_str(struct kq_str s);
struct partition *partition_find(struct kq_str topic, int32_t part);
/*
 * Create a topic: returns 0 or a Kafka error; msg filled on failure.  All
 * or nothing: on failure no partition directory and no registry file is
 * left.  Partitions are created in memory; each log makes its directory
 * and first segment at its first append (common/log), so thousands cost
 * no I/O here.  Beyond kq.max.partitions: POLICY_VIOLATION, before any work.
 */
int topic_create(const char *name, int32_t nparts, char **keys, char **vals, int nconf,
		 bool validate_only, char *msg, size_t msglen);
int topic_delete(struct topic *t);
/* Replace the topic's overrides (validated first); 0 or a Kafka error with msg. */
int topic_set_configs(struct topic *t, char **keys, char **vals, int n, bool validate_only,
		      char *msg, size_t msglen);
/* Grow to total partitions, all or nothing as topic_create; 0 or a Kafka error with msg. */
int topic_add_partitions(struct topic *t, int32_t total, char *msg, size_t msglen);
/* Iterate all topics in name order. */
int topics_count(void);
struct topic *topic_at(int i);
/* Write the three checkpoint files if anything changed (force: always). */
void topics_checkpoint(bool force);
void topics_close_all(void);

/* ---- orphan partition directories (orphans.c) ---- */

/*
 * After topics_load: rename each partition directory of no topic to
 * TOPIC-P.UNIQUEID-delete (one log line with the count and a few names) and
 * remove every *-delete directory on a detached thread.
 */
void orphans_sweep(void);

/* ---- thread hand-off (handoff.c) ---- */

struct handoff;
typedef void handoff_fn(void *job);

/*
 * A job queue to a worker thread running work (NULL: no thread; any thread
 * then produces completions with handoff_complete) and a completion queue
 * back to the loop, where finish runs for each job in order.  The wake-up
 * event is watch_event_new'd as name.
 */
struct handoff *handoff_new(struct event_base *base, const char *name, handoff_fn *work,
			    handoff_fn *finish);
/* Loop: queue job for the worker. */
void handoff_push(struct handoff *h, void *job);
/* Any thread: job is done; finish(job) runs on the loop soon. */
void handoff_complete(struct handoff *h, void *job);
/* Loop: the worker runs what is queued and exits; pending finishes run here. */
void handoff_free(struct handoff *h);

/* ---- cluster mode: ZooKeeper session and registration (zk.c) ---- */

/*
 * Before the loop: open the session to -z HOST:PORT[,...][/CHROOT], create
 * the chroot, read /cluster/id (created with fresh_id if missing) into
 * *cluster.  -1 with err set on failure or a malformed /cluster/id.
 */
int zk_connect(struct event_base *base, const char *connect, const char *fresh_id,
	       char **cluster, char *err, size_t errlen);
/* A new broker id from /brokers/seqid (Kafka's: version + reserved.broker.max.id). */
int zk_new_broker_id(int *id, char *err, size_t errlen);
/* Before the loop: the ephemeral /brokers/ids/N with the advertised address. */
int zk_register(struct event_base *base, char *err, size_t errlen);
/* The registration's czxid, -1 while unregistered. */
int64_t zk_broker_epoch(void);
/* Close the session (the registration goes with it). */
void zk_stop(void);

/* ---- flusher (flush.c) ---- */

int flush_start(struct event_base *base);
void flush_mark_dirty(struct partition *p);
/* Hand tickets for dirty partitions to the flusher if it is idle. */
void flush_kick(void);
bool flush_busy(void);
void flush_stop(void);
/* Synchronous flush of everything (shutdown). */
void flush_all_sync(void);

/* ---- retention and compaction (cleaner.c) ---- */

/* Periodic retention; compaction passes on a worker thread, swapped in on the loop. */
int cleaner_start(struct event_base *base);
/* Cancel and join the worker (before topics_close_all). */
void cleaner_stop(void);

/* ---- connections and responses (server.c) ---- */

struct conn;

/* One response slot in a connection's ordered queue. */
struct slot {
	struct conn *conn;
	struct slot *next;
	struct evbuffer *buf;	/* the whole frame when ready */
	bool ready;
};

struct req {
	struct conn *conn;
	int16_t key;
	int16_t version;
	int32_t corr;
	struct kq_str client_id;
	struct kq_rd body;	/* reader over the body */
	unsigned char *frame;	/* whole frame (after size), writable */
	size_t frame_len;
	struct kq_arena *arena;	/* lives until the handler returns */
};

int server_listen(struct event_base *base, const char *host, int port, int *real_port,
		  char *errbuf, size_t errlen);
void server_stop_accepting(void);
void server_close_all(void);
/* Reserve the next response position for this request. */
struct slot *slot_new(struct conn *conn);
/* Fill a slot with correlation id + body (copied) and send what is in order. */
void slot_finish(struct slot *s, int32_t corr, const void *body, size_t n);
/* Fill a slot with an evbuffer holding the body (taken); header is prepended. */
void slot_finish_evbuf(struct slot *s, int32_t corr, struct evbuffer *body);
/* Unqueue an unfinished slot of a closed connection (waiter dropped). */
void slot_drop(struct slot *s);
/* Close the connection after the current request (decode failure, bad API). */
void conn_fail(struct conn *conn);
const char *conn_peer(const struct conn *conn);

/* ---- API table (api.c) ---- */

/* 0 = handled; -1 = undecodable (logged, connection closed); -2 = close, already logged. */
typedef int (*api_fn)(struct req *rq);
struct api {
	int16_t min, max;
	api_fn fn;
};
extern const struct api api_table[KQ_API_MAX];
/* Decode and dispatch one frame. */
void api_dispatch(struct conn *conn, unsigned char *frame, size_t n);
/* Encode body into a new slot and finish it. */
void respond_buf(struct req *rq, struct kq_buf *w);
/* The shared, emptied response buffer (loop thread only). */
struct kq_buf *api_wbuf(void);

int h_api_versions(struct req *rq);
int h_metadata(struct req *rq);
int h_produce(struct req *rq);
int h_fetch(struct req *rq);
int h_list_offsets(struct req *rq);
int h_delete_records(struct req *rq);
int h_init_producer_id(struct req *rq);
int h_create_topics(struct req *rq);
int h_delete_topics(struct req *rq);
int h_create_partitions(struct req *rq);
int h_describe_configs(struct req *rq);
int h_alter_configs(struct req *rq);
int h_incremental_alter_configs(struct req *rq);
/* Every group API (FindCoordinator, JoinGroup, OffsetCommit, ...). */
int h_group(struct req *rq);

/* ---- old request versions (h_legacy.c) ---- */

/* Produce v0-2: replace *rec (a message set) with one batch; 0 or a Kafka error. */
int legacy_produce_convert(struct req *rq, const struct topic *t, struct kq_bytes *rec);
/* Fetch v0-3, down-converted; NULL = park it (as fetch_eval). */
struct evbuffer *legacy_fetch_eval(int16_t version, const struct kq_FetchRequest *m, bool force);
/* ListOffsets v0: fill pr->OldStyleOffsets. */
void legacy_list_offsets(struct req *rq, int32_t replica, struct partition *p,
			 const struct kq_ListOffsetsRequest_ListOffsetsPartition *rp,
			 struct kq_ListOffsetsResponse_ListOffsetsPartitionResponse *pr);

/* Produce waiters (h_produce.c) and fetch waiters (h_fetch.c). */
void produce_waiters_check(void);
void produce_waiters_drop(struct partition *p);
void fetch_waiters_wake(void);
void fetch_waiters_drop_conn(struct conn *conn);
void waiters_init(struct event_base *base);

/* ---- group coordinator (h_group.c) ---- */

/* Create/replay __consumer_offsets and start the coordinator's timer. */
int group_start(struct event_base *base);
/* After server_close_all: drop the coordinator. */
void group_stop(void);
/* A connection closed: forget its held group requests. */
void group_drop_conn(struct conn *conn);
/* HW moved or a flush failed: finish durable __consumer_offsets appends. */
void group_appends_check(void);

/* ---- loop-latency watchdog (watch.c) ---- */

/* Read the KQ_TEST_STALL hook (tests only) from the environment. */
void watch_init(void);
/* Bracket one loop callback; nested pairs count as one.  what: a static string. */
void watch_begin(const char *what);
void watch_end(void);
/* What the current callback is doing, for the stall log line. */
void watch_request(const struct req *rq, const char *client);
void watch_request_done(const struct req *rq);
void watch_partition(const struct partition *p);
/* A partition or connection is being freed: drop it from the notes. */
void watch_forget(const void *gone);
/* event_new whose callback runs bracketed under the name what. */
struct event *watch_event_new(struct event_base *base, evutil_socket_t fd, short events,
			      event_callback_fn fn, void *arg, const char *what);
void watch_event_free(struct event *ev);

/* ---- global state (main.c) ---- */

struct broker {
	struct event_base *base;
	char *cluster_id;
	char *adv_host;
	int adv_port;
	int listen_port;	/* the real one (port 0 resolved) */
	bool stopping;
};
extern struct broker B;

#endif
