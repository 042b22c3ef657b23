/*
 * client.h - the client side of the Kafka protocol for kq's CLIs: one
 * broker connection (struct kq_conn) and a cluster view (struct kq_client)
 * with bootstrap, metadata, lazily opened per-node connections and helpers
 * such as ListOffsets.  Plain POSIX sockets, no event library.
 *
 * Two ways to use a connection:
 *  - blocking: kq_conn_call() = encode, send, wait, decode;
 *  - pipelined / non-blocking (kq-produce): kq_conn_enqueue() any number of
 *    requests, then poll() on kq_conn_fd() (POLLOUT while
 *    kq_conn_want_write()), kq_conn_flush_nb() and kq_conn_recv_nb(), which
 *    return KQ_ERR_AGAIN when they would block.  Responses come back in
 *    request order (Kafka guarantees it per connection) and carry the
 *    caller's tag.
 *
 * Errors are 0, a Kafka code (> 0, from a response), or a KQ_ERR_* (< 0):
 * KQ_ERR_TIMEOUT, KQ_ERR_IO (errno-ish detail in the error text),
 * KQ_ERR_CLOSED (peer hung up), KQ_ERR_CORRUPT / KQ_ERR_TOO_LARGE (bad
 * frame from the broker), KQ_ERR_UNSUPPORTED (no common API version).
 * After any I/O or framing error the connection is broken for good
 * (kq_conn_broken()); close it, or let kq_client replace it.  Error text is
 * one lower-case line without a trailing period, e.g. "127.0.0.1:9092:
 * connection refused", from kq_conn_errstr() / kq_client_errstr().
 *
 * Nothing here prints or exits.  Not thread-safe: one thread per kq_client
 * (and its connections).
 */
#ifndef KQ_CLIENT_H
#define KQ_CLIENT_H

#include "../base/base.h"
#include "../proto/proto.h"

/* Largest response frame accepted (a fetch response can be large). */
#define KQ_CLIENT_FRAME_MAX (256 * 1024 * 1024)

/* ---- one connection ---- */

struct kq_conn;

/* A received response; body is a view valid until the next recv on conn. */
struct kq_resp {
	int32_t corr_id;
	int16_t api_key, version;
	void *tag;			/* as given to kq_conn_enqueue */
	const unsigned char *body;	/* after the response header */
	size_t len;
};

/*
 * Connect to host:port (name resolution, non-blocking connect, all
 * addresses tried) and do the ApiVersions v0 handshake, all within
 * timeout_ms (<= 0: 10 s).  client_id may be NULL.  On success *out is a
 * new connection the caller owns (kq_conn_close).  On failure returns
 * KQ_ERR_IO / KQ_ERR_TIMEOUT / KQ_ERR_CORRUPT... with errbuf set to e.g.
 * "localhost:9092: connection refused".
 */
int kq_conn_open(struct kq_conn **out, const char *host, int port, const char *client_id,
		 int64_t timeout_ms, char *errbuf, size_t errlen);
/* Close the socket and free everything; NULL is fine.  Pending work is lost. */
void kq_conn_close(struct kq_conn *conn);

/*
 * Version to use for api: min(our_max, broker's max), or -1 if the broker
 * does not support api or only versions above our_max.
 */
int kq_conn_version(const struct kq_conn *conn, int16_t api_key, int16_t our_max);

int kq_conn_fd(const struct kq_conn *conn);
const char *kq_conn_name(const struct kq_conn *conn);	/* "host:port" */
int32_t kq_conn_node(const struct kq_conn *conn);	/* node id, -1 bootstrap */
const char *kq_conn_errstr(const struct kq_conn *conn);	/* last error text, or "" */
bool kq_conn_broken(const struct kq_conn *conn);
/*
 * Mark conn broken with err (e.g. after giving up on a response you will
 * not wait for: its answer would arrive out of turn).  kq_client replaces a
 * broken connection on the next *_conn call.
 */
void kq_conn_fail(struct kq_conn *conn, int err);
/* Record which broker conn talks to (kq_client does this). */
void kq_conn_set_node(struct kq_conn *conn, int32_t node);
/* Requests sent or queued whose responses have not been received yet. */
int kq_conn_inflight(const struct kq_conn *conn);
/* Encoded bytes not yet written to the socket. */
size_t kq_conn_unsent(const struct kq_conn *conn);
static inline bool kq_conn_want_write(const struct kq_conn *conn) { return kq_conn_unsent(conn) > 0; }

/*
 * Encode a request (header v1: api key, version, correlation id, client
 * id; then req, a struct kq_<Api>Request) into the send queue.  No I/O.
 * A Produce request with Acks == 0 expects no response and is not counted
 * in flight.  Returns the correlation id (>= 0), KQ_ERR_UNSUPPORTED for a
 * flexible or unknown version, or the sticky error of a broken connection.
 */
int kq_conn_enqueue(struct kq_conn *conn, int16_t api_key, int16_t version, const void *req,
		    void *tag);

/* Write queued bytes without blocking: 0 all sent, KQ_ERR_AGAIN, or an error. */
int kq_conn_flush_nb(struct kq_conn *conn);
/* The same, waiting up to timeout_ms (< 0: forever): 0, KQ_ERR_TIMEOUT, error. */
int kq_conn_flush(struct kq_conn *conn, int64_t timeout_ms);

/*
 * Read without blocking; 0 when a whole response frame is in *resp (the
 * oldest in-flight request's), KQ_ERR_AGAIN if none yet, else an error
 * (KQ_ERR_CLOSED, KQ_ERR_IO, KQ_ERR_TOO_LARGE over KQ_CLIENT_FRAME_MAX,
 * KQ_ERR_CORRUPT on a correlation id mismatch).  Call it until it returns
 * KQ_ERR_AGAIN: several frames may have arrived in one read.  Also flushes
 * queued bytes opportunistically.
 */
int kq_conn_recv_nb(struct kq_conn *conn, struct kq_resp *resp);
/* The same, flushing and waiting up to timeout_ms (< 0: forever). */
int kq_conn_recv(struct kq_conn *conn, int64_t timeout_ms, struct kq_resp *resp);

/*
 * Decode resp's body into out, a struct kq_<Api>Response matching
 * resp->api_key; arrays come from arena a, strings and bytes point into the
 * body (so they die with the next recv on the connection: copy what you
 * keep).  0 or KQ_ERR_TRUNCATED / KQ_ERR_CORRUPT / KQ_ERR_UNSUPPORTED.
 */
int kq_resp_decode(const struct kq_resp *resp, struct kq_arena *a, void *out);

/*
 * Blocking round trip: enqueue, flush, receive, decode into out (struct
 * kq_<Api>Response, arena a) within timeout_ms (< 0: forever).  Requires
 * nothing else in flight on conn (else KQ_ERR_INVALID).  Views in out stay
 * valid until the next request on conn.  Returns 0 or a local error; Kafka
 * error codes are in out for the caller to read.
 */
int kq_conn_call(struct kq_conn *conn, int16_t api_key, int16_t version, const void *req,
		 struct kq_arena *a, void *out, int64_t timeout_ms);

/* ---- the cluster ---- */

struct kq_md_broker {
	int32_t id;
	char *host;
	int port;
};

struct kq_md_partition {
	int32_t id;
	int16_t err;		/* Kafka code */
	int32_t leader;		/* -1 none */
	int32_t leader_epoch;	/* -1 unknown (Metadata < v7) */
	int32_t *replicas, *isr, *offline;
	int n_replicas, n_isr, n_offline;
};

struct kq_md_topic {
	char *name;
	int16_t err;		/* Kafka code; UNKNOWN_TOPIC_OR_PARTITION = missing */
	bool internal;
	struct kq_md_partition *parts;	/* sorted by id */
	int n_parts;
};

/* A metadata snapshot.  Everything lives in arena. */
struct kq_metadata {
	struct kq_md_broker *brokers;
	int n_brokers;
	int32_t controller_id;	/* -1 unknown */
	char *cluster_id;	/* NULL unknown */
	struct kq_md_topic *topics;
	int n_topics;
	struct kq_arena arena;
};

const struct kq_md_topic *kq_md_topic(const struct kq_metadata *md, const char *name);
const struct kq_md_partition *kq_md_partition(const struct kq_md_topic *t, int32_t id);
const struct kq_md_broker *kq_md_broker(const struct kq_metadata *md, int32_t id);

struct kq_client;

/*
 * Parse brokers ("host[:port][,host[:port]...]", port 9092 by default;
 * "[v6addr]:port" also works) and make a client; no I/O yet.  client_id
 * NULL means "kq".  timeout_ms is the give-up deadline for unavailability
 * (0 = retry forever) used by kq_client_connect and for each request.
 * NULL with errbuf set for an empty list or a bad port.
 */
struct kq_client *kq_client_new(const char *brokers, const char *client_id, int64_t timeout_ms,
				char *errbuf, size_t errlen);
void kq_client_free(struct kq_client *cl);	/* closes all connections; NULL fine */

/*
 * How "broker down" warnings reach the user (common/ never prints): fn is
 * called once at the first failure and then at most every 30 s while
 * kq_client_connect keeps retrying, with text like "cannot reach any
 * broker (localhost:9092: connection refused); retrying for up to 30s".
 * kq_cli_client_warn (cli.h) is the usual fn.
 */
void kq_client_set_warn(struct kq_client *cl, void (*fn)(void *arg, const char *msg), void *arg);
/*
 * Let retries end early (a tool's first SIGINT/SIGTERM): fn(arg) is checked
 * between attempts and when a signal interrupts a backoff sleep; once it is
 * true, kq_client_connect and the calls retrying through it return
 * KQ_ERR_AGAIN (errstr "interrupted").  NULL (the default): retry on.
 */
void kq_client_set_stop(struct kq_client *cl, bool (*fn)(void *arg), void *arg);
/* Per-request timeout (default: the give-up timeout, or 30 s if that is 0). */
void kq_client_set_request_timeout(struct kq_client *cl, int64_t ms);
/* ListOffsets isolation: false = read_uncommitted (default), true = read_committed. */
void kq_client_set_read_committed(struct kq_client *cl, bool on);
const char *kq_client_errstr(const struct kq_client *cl);
int64_t kq_client_timeout(const struct kq_client *cl);

/*
 * Connect to the first reachable bootstrap broker, trying them in turn with
 * backoff (100 ms doubling to 10 s, +-20% jitter) until the timeout: 0, or
 * KQ_ERR_TIMEOUT (the tool exits 6) with errstr "cannot reach any broker
 * (host:port: reason)".  Called implicitly by everything below.
 */
int kq_client_connect(struct kq_client *cl);

/*
 * Fetch metadata (Metadata v1..v8 as the broker allows) for topics[0..n-1],
 * or for all topics if topics is NULL; auto_create asks the broker to
 * create missing ones (v4+; ignored before).  *out points to the client's
 * cached snapshot, valid until the next call that refreshes it
 * (kq_client_metadata, kq_client_refresh, or a *_conn call that has to
 * look up an uncached topic).  Retries on connection failure within the
 * timeout.  0 or a local error; per-topic errors are in the snapshot.
 */
int kq_client_metadata(struct kq_client *cl, const char *const *topics, int n, bool auto_create,
		       const struct kq_metadata **out);
/* Fetch again for the same topic set as last time (after NOT_LEADER etc.). */
int kq_client_refresh(struct kq_client *cl, const struct kq_metadata **out);
/* The cached snapshot, or NULL if none yet. */
const struct kq_metadata *kq_client_cached(const struct kq_client *cl);

/*
 * Connections owned by the client (do not close them).  Opened lazily and
 * reused; a broken one is replaced on the next call.  0 or an error (a
 * Kafka code such as KQ_E_UNKNOWN_TOPIC_OR_PARTITION or
 * KQ_E_LEADER_NOT_AVAILABLE from metadata, or a local connect error).
 *  - node_conn: the broker with that id (from the cached metadata);
 *  - leader_conn: the partition's leader (fetches metadata for topic if it
 *    is not cached, with allow_auto_create false);
 *  - controller_conn: the controller (falls back to any broker when the
 *    controller id is unknown);
 *  - any_conn: whatever broker is connected (the bootstrap one first).
 */
int kq_client_node_conn(struct kq_client *cl, int32_t node_id, struct kq_conn **out);
int kq_client_leader_conn(struct kq_client *cl, const char *topic, int32_t partition,
			  struct kq_conn **out);
int kq_client_controller_conn(struct kq_client *cl, struct kq_conn **out);
int kq_client_any_conn(struct kq_client *cl, struct kq_conn **out);

/* ---- ListOffsets helpers ---- */

#define KQ_OFFSET_LATEST (-1)
#define KQ_OFFSET_EARLIEST (-2)

/* One ListOffsets query and its answer. */
struct kq_lo_req {
	const char *topic;
	int32_t partition;
	int64_t timestamp;	/* KQ_OFFSET_LATEST, KQ_OFFSET_EARLIEST, or Unix ms */
	/* results */
	int err;		/* 0, Kafka code, or local error for this leader */
	int64_t offset;		/* -1 if no record at/after timestamp */
	int64_t result_ts;	/* the record's timestamp, -1 for LATEST/EARLIEST */
};

/*
 * Answer n queries (ListOffsets v1..v5), one request per leader,
 * pipelined across the leaders; the leaders' connections must have nothing
 * else in flight (else those queries fail with KQ_ERR_INVALID).  Leaders come from the cached metadata
 * (fetched for missing topics).  Returns 0 when every query has its own
 * err/offset filled in, or a local error when nothing could be asked.
 */
int kq_client_list_offsets_many(struct kq_client *cl, struct kq_lo_req *reqs, size_t n);
/* One query; 0 with *offset (and *ts if not NULL), or the error. */
int kq_client_list_offsets(struct kq_client *cl, const char *topic, int32_t partition,
			   int64_t timestamp, int64_t *offset, int64_t *ts);

/* Backoff delay for attempt 0, 1, 2...: 100 ms doubling to 10 s, +-20%. */
int64_t kq_backoff_ms(int attempt);

#endif
