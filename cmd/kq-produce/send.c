/*
 * send.c - batching and delivery.  Each partition has one open batch that
 * records are appended to, a queue of closed batches, and at most one batch
 * in flight: while it waits for its acknowledgement (which, under the
 * broker's default flush policy, waits for an fsync) the open batch keeps
 * growing, so batches get larger exactly when the broker is the bottleneck.
 * One in flight per partition also keeps records in order across retries
 * without idempotence.
 *
 * Ready batches of every partition a broker leads travel in one Produce
 * request.  A failed connection or a retriable error puts the batches back
 * at the head of their queues; the metadata is refreshed with backoff, and
 * after --timeout without progress everything left is reported undelivered
 * (exit 6).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "murmur2.h"
#include "produce.h"

#define REQ_BYTES_MAX (32 * 1024 * 1024)	/* one Produce request */
#define BATCH_OVERHEAD 128		/* batch header and record framing slack */
#define GROW_MAX 4096			/* partitions JSON input may grow a topic to */

struct batch {
	struct batch *next;
	struct part *part;
	int32_t count;
	size_t raw_bytes;		/* counted in sender.buffered */
	uint64_t bseq;			/* order within its partition */
	struct kq_buf data;		/* the finished batch */
	uint64_t *seqs;			/* input order of its records (--print-offsets) */
};

struct part {
	int32_t id;
	int32_t leader;
	struct kq_batch_builder bb;
	int64_t open_ms;		/* monotonic time of the first record; 0 = empty */
	size_t open_raw;
	uint64_t *seqs;
	size_t nseq, capseq;
	struct batch *q_head, *q_tail;	/* closed, waiting, in bseq order */
	int inflight;			/* batches sent and not yet answered */
	uint64_t next_bseq;
	int32_t next_seq;		/* idempotence: first sequence of the next batch */
	bool reseq;			/* a batch failed for good: renumber the rest */
	int32_t reseq_from;		/* the failed batch's sequence */
};

struct req {
	struct req *next;
	int n;
	struct batch *b[];
};

struct node {
	int32_t id;
	int16_t version;		/* Produce version; -1 = not yet known */
	struct req *head, *tail;	/* in flight, in send order */
	int nreq;
};

/* --print-offsets: results in input order. */
struct slot {
	int32_t partition;		/* -2 = not yet known, -1 = failed */
	int64_t offset;
};

struct sender {
	struct kq_client *cl;
	int32_t nparts;
	struct part **parts;		/* pointers: batches point at their part */
	bool grow;			/* this run created the topic: it may grow */
	struct node *nodes;
	int nnodes;
	int32_t sticky;
	size_t buffered;
	size_t batch_limit;
	int64_t max_record;
	uint64_t next_seq;
	uint64_t pending, acked, failed, bytes_acked;
	int failed_exit;		/* exit status the failures call for */
	int64_t producer_id;		/* -1: not idempotent */
	int16_t producer_epoch;
	struct slot *slots;		/* slots[i] is seq slot_base + i */
	size_t nslots, capslots;
	uint64_t slot_base;
	size_t slot_head;
	struct kq_buf out;
	bool out_gone;
	/* retries */
	bool need_refresh;
	int attempt;
	int64_t first_fail_ms, retry_at_ms, last_warn_ms;
	char why[256];
	struct kq_arena arena;
};

volatile uint64_t g_unacked;	/* for the second-signal message */

/* ---- small helpers ---- */

static void
update_unacked(struct sender *s)
{
	g_unacked = s->pending;
}

static struct node *
node_get(struct sender *s, int32_t id)
{
	int i;

	for (i = 0; i < s->nnodes; i++)
		if (s->nodes[i].id == id)
			return &s->nodes[i];
	s->nodes = kq_xrealloc(s->nodes, (size_t)(s->nnodes + 1) * sizeof(*s->nodes));
	memset(&s->nodes[s->nnodes], 0, sizeof(*s->nodes));
	s->nodes[s->nnodes].id = id;
	s->nodes[s->nnodes].version = -1;
	return &s->nodes[s->nnodes++];
}

/* A failure that is worth retrying: remember when they began, warn. */
static void
note_failure(struct sender *s, const char *what)
{
	int64_t now = kq_mono_ms();

	snprintf(s->why, sizeof(s->why), "%s", what);
	if (!s->first_fail_ms)
		s->first_fail_ms = now;
	if (!s->need_refresh) {
		s->need_refresh = true;
		s->retry_at_ms = now + kq_backoff_ms(s->attempt++);
	}
	if (!s->last_warn_ms || now - s->last_warn_ms >= 30000) {
		kq_warn("%s; retrying", what);
		s->last_warn_ms = now;
	} else {
		kq_debug("%s; retrying", what);
	}
}

static void
progress_made(struct sender *s)
{
	s->first_fail_ms = 0;
	s->attempt = 0;
	s->last_warn_ms = 0;
}

/* ---- --print-offsets ---- */

static void
out_flush(struct sender *s)
{
	if (s->out.len == 0)
		return;
	if (!s->out_gone && (fwrite(s->out.buf, 1, s->out.len, stdout) != s->out.len ||
			     fflush(stdout) != 0)) {
		if (errno != EPIPE)
			kq_error("write error: %s", strerror(errno));
		s->out_gone = true;
	}
	kq_buf_reset(&s->out);
}

static struct slot *
slot_of(struct sender *s, uint64_t seq)
{
	return &s->slots[s->slot_head + (size_t)(seq - s->slot_base)];
}

static void
slot_new(struct sender *s)
{
	if (s->slot_head + s->nslots == s->capslots) {
		if (s->slot_head > 0) {
			memmove(s->slots, s->slots + s->slot_head, s->nslots * sizeof(*s->slots));
			s->slot_head = 0;
		}
		if (s->nslots == s->capslots) {
			s->capslots = s->capslots ? s->capslots * 2 : 4096;
			s->slots = kq_xrealloc(s->slots, s->capslots * sizeof(*s->slots));
		}
	}
	s->slots[s->slot_head + s->nslots].partition = -2;
	s->nslots++;
}

static void
slots_print(struct sender *s)
{
	while (s->nslots > 0 && s->slots[s->slot_head].partition != -2) {
		struct slot *sl = &s->slots[s->slot_head];

		if (sl->partition >= 0)
			kq_buf_addf(&s->out, "%d:%lld\n", (int)sl->partition, (long long)sl->offset);
		s->slot_head++;
		s->nslots--;
		s->slot_base++;
	}
	if (s->nslots == 0)
		s->slot_head = 0;
	out_flush(s);
}

/* ---- batches ---- */

static void
batch_free(struct batch *b)
{
	if (!b)
		return;
	kq_buf_free(&b->data);
	free(b->seqs);
	free(b);
}

static void
queue_push_back(struct part *p, struct batch *b)
{
	b->next = NULL;
	if (p->q_tail)
		p->q_tail->next = b;
	else
		p->q_head = b;
	p->q_tail = b;
}

/*
 * Put a batch that must be sent again back in its place: before every
 * batch that came after it, so a partition's records keep their order
 * however the answers to several in-flight batches arrive.
 */
static void
queue_requeue(struct part *p, struct batch *b)
{
	struct batch **pp = &p->q_head;

	while (*pp && (*pp)->bseq < b->bseq)
		pp = &(*pp)->next;
	b->next = *pp;
	*pp = b;
	if (!b->next)
		p->q_tail = b;
}

static struct batch *
queue_pop(struct part *p)
{
	struct batch *b = p->q_head;

	if (b) {
		p->q_head = b->next;
		if (!p->q_head)
			p->q_tail = NULL;
		b->next = NULL;
	}
	return b;
}

static int32_t
seq_add(int32_t seq, int32_t n)
{
	return (int32_t)(((int64_t)seq + n) % ((int64_t)INT32_MAX + 1));
}

/* Close p's open batch into its queue. */
static void
close_open(struct sender *s, struct part *p)
{
	struct batch *b;

	if (p->bb.count == 0)
		return;
	b = kq_xcalloc(1, sizeof(*b));
	b->part = p;
	b->count = p->bb.count;
	b->raw_bytes = p->open_raw;
	b->bseq = p->next_bseq++;
	if (s->producer_id >= 0) {
		/* The sequence travels with the bytes, so a resend is recognised. */
		p->bb.producer_id = s->producer_id;
		p->bb.producer_epoch = s->producer_epoch;
		p->bb.base_sequence = p->next_seq;
		p->next_seq = seq_add(p->next_seq, b->count);
	}
	if (kq_bb_finish(&p->bb, &b->data) != 0)
		kq_die(KQ_EXIT_FAIL, "cannot compress a batch with %s", kq_codec_name(opt.codec));
	kq_bb_reset(&p->bb);
	if (opt.print_offsets) {
		b->seqs = p->seqs;
		p->seqs = NULL;
		p->nseq = p->capseq = 0;
	}
	p->open_ms = 0;
	p->open_raw = 0;
	queue_push_back(p, b);
	/* Unkeyed records move on once the batch they were filling is done. */
	if (p->id == s->sticky && opt.partition < 0 && s->nparts > 1)
		s->sticky = (s->sticky + 1) % s->nparts;
}

/*
 * A batch the broker refused for good leaves a hole in the partition's
 * sequence, so every later batch would be refused as out of order: once
 * nothing of the partition is in flight, the waiting batches (none of them
 * written, the broker having refused everything after the hole) take the
 * sequence numbers from the hole on.
 */
static void
resequence(struct part *p)
{
	struct batch *b;
	int32_t seq = p->reseq_from;

	for (b = p->q_head; b; b = b->next) {
		unsigned char *h = b->data.buf;

		kq_put32(h + KQ_BATCH_OFF_BASE_SEQUENCE, (uint32_t)seq);
		kq_put32(h + KQ_BATCH_OFF_CRC, kq_crc32c(0, h + KQ_BATCH_OFF_ATTRIBUTES,
							 b->data.len - KQ_BATCH_OFF_ATTRIBUTES));
		seq = seq_add(seq, b->count);
	}
	p->next_seq = seq;
	p->reseq = false;
}

/* Every record of b is finished: acknowledged at base (>= 0) or failed. */
static void
batch_done(struct sender *s, struct batch *b, int64_t base, int err, const char *msg)
{
	int32_t i;

	if (err && s->producer_id >= 0 && !b->part->reseq) {
		b->part->reseq = true;
		b->part->reseq_from = (int32_t)kq_be32(b->data.buf + KQ_BATCH_OFF_BASE_SEQUENCE);
	}

	s->buffered -= b->raw_bytes;
	s->pending -= (uint64_t)b->count;
	if (err == 0) {
		s->acked += (uint64_t)b->count;
		s->bytes_acked += b->raw_bytes;
	} else {
		struct kq_batch_iter it;
		struct kq_record rec;
		char text[320];

		s->failed += (uint64_t)b->count;
		snprintf(text, sizeof(text), "%s", msg ? msg : kq_err_str(err));
		kq_error("%d record%s to partition %d not delivered: %s", (int)b->count,
			 b->count == 1 ? "" : "s", (int)b->part->id, text);
		if (err == 29 || err == 31)	/* TOPIC_, CLUSTER_AUTHORIZATION_FAILED */
			s->failed_exit = KQ_EXIT_DENIED;
		else if (!s->failed_exit)
			s->failed_exit = KQ_EXIT_FAIL;
		if (opt.rejects_path &&
		    kq_batch_iter_init(&it, b->data.buf, b->data.len) == 0) {
			while (kq_batch_iter_next(&it, &rec) == 1)
				rejects_write(text, b->part->id, rec.key, rec.value,
					      rec.header_count, rec.headers);
			kq_batch_iter_free(&it);
		}
	}
	if (opt.print_offsets && b->seqs) {
		for (i = 0; i < b->count; i++) {
			struct slot *sl = slot_of(s, b->seqs[i]);

			sl->partition = err == 0 ? b->part->id : -1;
			sl->offset = base >= 0 ? base + i : -1;
		}
		slots_print(s);
	}
	batch_free(b);
	update_unacked(s);
}

/* ---- adding records ---- */

static int32_t
choose(struct sender *s, const struct in_rec *r)
{
	if (opt.partition >= 0)
		return opt.partition;
	if (r->partition >= 0)
		return r->partition;
	if (r->key.len >= 0)
		return (int32_t)((kq_murmur2(r->key.p, (size_t)r->key.len) & 0x7fffffff) %
				 (uint32_t)s->nparts);
	return s->sticky;
}

void
sender_add(struct sender *s, const struct in_rec *r, int64_t now_ms)
{
	struct part *p = s->parts[choose(s, r)];
	size_t rs = kq_record_size(r->key, r->value, r->headers, r->nheaders);

	if (p->bb.count > 0 && kq_bb_size(&p->bb) + rs > s->batch_limit)
		close_open(s, p);
	if (p->bb.count == 0)
		p->open_ms = kq_mono_ms();
	kq_bb_add(&p->bb, r->timestamp >= 0 ? r->timestamp : now_ms, r->key, r->value,
		  r->headers, r->nheaders);
	p->open_raw += rs;
	s->buffered += rs;
	s->pending++;
	if (opt.print_offsets) {
		if (p->nseq == p->capseq) {
			p->capseq = p->capseq ? p->capseq * 2 : 256;
			p->seqs = kq_xrealloc(p->seqs, p->capseq * sizeof(*p->seqs));
		}
		p->seqs[p->nseq++] = s->next_seq;
		slot_new(s);
	}
	s->next_seq++;
	if (kq_bb_size(&p->bb) >= s->batch_limit)
		close_open(s, p);
	update_unacked(s);
}

size_t
sender_buffered(const struct sender *s)
{
	return s->buffered;
}

uint64_t
sender_pending(const struct sender *s)
{
	return s->pending;
}

void
sender_stats(const struct sender *s, uint64_t *acked, uint64_t *failed, uint64_t *bytes)
{
	*acked = s->acked;
	*failed = s->failed;
	*bytes = s->bytes_acked;
}

/* Room for partitions [nparts, n), without a leader until take_leaders. */
static void
parts_extend(struct sender *s, int32_t n)
{
	int32_t i;

	if (n <= s->nparts)
		return;
	s->parts = kq_xrealloc(s->parts, (size_t)n * sizeof(*s->parts));
	for (i = s->nparts; i < n; i++) {
		struct part *p = kq_xcalloc(1, sizeof(*p));

		p->id = i;
		p->leader = -1;
		kq_bb_init(&p->bb, opt.codec);
		s->parts[i] = p;
	}
	s->nparts = n;
}

int64_t
sender_max_record(const struct sender *s)
{
	return s->max_record;
}

/* Nothing in flight on n will be answered: back to the queues. */
static void
requeue_node(struct node *n)
{
	struct req *rq;
	int i;

	while ((rq = n->head)) {
		n->head = rq->next;
		for (i = 0; i < rq->n; i++) {
			struct part *p = rq->b[i]->part;

			queue_requeue(p, rq->b[i]);
			p->inflight--;
		}
		free(rq);
	}
	n->tail = NULL;
	n->nreq = 0;
}

/* ---- metadata ---- */

KQ_NORETURN static void
give_up(struct sender *s, const char *why)
{
	int32_t i;
	uint64_t lost = s->pending;

	/* Everything still held is undelivered: report it, then exit 6. */
	for (i = 0; i < s->nnodes; i++)
		requeue_node(&s->nodes[i]);
	for (i = 0; i < s->nparts; i++) {
		struct part *p = s->parts[i];
		struct batch *b;

		close_open(s, p);
		while ((b = queue_pop(p)))
			batch_done(s, b, -1, KQ_E_NETWORK_EXCEPTION, why);
	}
	slots_print(s);
	rejects_close();
	if (lost == 0)
		kq_die(KQ_EXIT_UNAVAILABLE, "%s; gave up after --timeout", why);
	kq_die(KQ_EXIT_UNAVAILABLE, "%s; gave up after --timeout, %llu record%s not delivered",
	       why, (unsigned long long)lost, lost == 1 ? "" : "s");
}

static void
take_leaders(struct sender *s, const struct kq_md_topic *t)
{
	int32_t i;

	for (i = 0; i < s->nparts; i++) {
		const struct kq_md_partition *mp = kq_md_partition(t, i);

		s->parts[i]->leader = mp && mp->err != KQ_E_LEADER_NOT_AVAILABLE ? mp->leader : -1;
	}
}

/* Fetch metadata until the topic has a leader for every partition. */
static const struct kq_md_topic *
lookup(struct sender *s, bool refresh)
{
	const char *topics[1] = { opt.topic };
	const struct kq_metadata *md;
	const struct kq_md_topic *t;
	int r;

	r = refresh ? kq_client_refresh(s->cl, &md) :
		kq_client_metadata(s->cl, topics, 1, false, &md);
	if (r == KQ_ERR_TIMEOUT)
		give_up(s, kq_client_errstr(s->cl));
	if (r != 0) {
		note_failure(s, kq_client_errstr(s->cl)[0] ? kq_client_errstr(s->cl) :
			     kq_err_str(r));
		return NULL;
	}
	t = kq_md_topic(md, opt.topic);
	if (!t || t->err == KQ_E_UNKNOWN_TOPIC_OR_PARTITION)
		return NULL;
	return t;
}

static bool
create_topic(struct sender *s)
{
	struct kq_CreateTopicsRequest req;
	struct kq_CreateTopicsResponse resp;
	struct kq_CreateTopicsRequest_CreatableTopic ct;
	struct kq_conn *conn;
	int v, r;

	r = kq_client_controller_conn(s->cl, &conn);
	if (r != 0)
		return false;
	v = kq_conn_version(conn, KQ_API_CREATE_TOPICS, 4);
	if (v < 0)
		kq_die(KQ_EXIT_FAIL, "the broker cannot create topics");
	kq_CreateTopicsRequest_CreatableTopic_init(&ct);
	ct.Name = kq_str_c(opt.topic);
	ct.NumPartitions = v >= 4 ? -1 : 1;
	ct.ReplicationFactor = v >= 4 ? -1 : 1;
	kq_CreateTopicsRequest_init(&req);
	req.Topics = &ct;
	req.Topics_count = 1;
	req.timeoutMs = 30000;
	r = kq_conn_call(conn, KQ_API_CREATE_TOPICS, (int16_t)v, &req, &s->arena, &resp,
			 opt.request_timeout_ms);
	if (r != 0)
		return false;
	if (resp.Topics_count == 1 && resp.Topics[0].ErrorCode == KQ_E_TOPIC_ALREADY_EXISTS)
		return true;	/* someone else's: never grown implicitly */
	if (resp.Topics_count == 1 && resp.Topics[0].ErrorCode != 0)
		kq_die(KQ_EXIT_FAIL, "cannot create topic '%s': %s", opt.topic,
		       kq_err_str(resp.Topics[0].ErrorCode));
	kq_note("created topic '%s'", opt.topic);
	s->grow = true;
	return true;
}

/*
 * CreatePartitions: the topic to count partitions.  0, or the error with
 * its text in msg.  A blocking call needs a connection with nothing in
 * flight; the controller's may carry produces, then any other will do (a
 * standalone broker is always the controller).
 */
static int
add_partitions(struct sender *s, int32_t count, char *msg, size_t len)
{
	struct kq_CreatePartitionsRequest req;
	struct kq_CreatePartitionsRequest_CreatePartitionsTopic tp;
	struct kq_CreatePartitionsResponse resp;
	struct kq_conn *conn;
	int v, r;

	r = kq_client_controller_conn(s->cl, &conn);
	if (r == 0 && (kq_conn_inflight(conn) > 0 || kq_conn_want_write(conn)))
		r = kq_client_any_conn(s->cl, &conn);
	if (r == 0 && (kq_conn_inflight(conn) > 0 || kq_conn_want_write(conn))) {
		snprintf(msg, len, "no idle connection to the controller");
		return KQ_ERR_AGAIN;
	}
	if (r != 0) {
		snprintf(msg, len, "%s", kq_client_errstr(s->cl));
		return r;
	}
	v = kq_conn_version(conn, KQ_API_CREATE_PARTITIONS, 1);
	if (v < 0) {
		snprintf(msg, len, "the broker cannot add partitions");
		return KQ_ERR_UNSUPPORTED;
	}
	kq_CreatePartitionsRequest_CreatePartitionsTopic_init(&tp);
	tp.Name = kq_str_c(opt.topic);
	tp.Count = count;
	tp.Assignments = NULL;
	tp.Assignments_count = -1;
	kq_CreatePartitionsRequest_init(&req);
	req.Topics = &tp;
	req.Topics_count = 1;
	req.TimeoutMs = (int32_t)KQ_MIN(opt.request_timeout_ms, INT32_MAX);
	r = kq_conn_call(conn, KQ_API_CREATE_PARTITIONS, (int16_t)v, &req, &s->arena, &resp,
			 opt.request_timeout_ms);
	if (r != 0) {
		snprintf(msg, len, "%s", kq_conn_errstr(conn));
	} else if (resp.Results_count != 1) {
		snprintf(msg, len, "malformed CreatePartitions response");
		r = KQ_ERR_CORRUPT;
	} else if ((r = resp.Results[0].ErrorCode) != 0) {
		char *em = kq_str_dup(resp.Results[0].ErrorMessage);

		snprintf(msg, len, "%s%s%s", kq_err_str(r), em ? ": " : "", em ? em : "");
		free(em);
	}
	kq_arena_reset(&s->arena);
	return r;
}

/* The topic, if the metadata shows count partitions, the new ones with a leader. */
static const struct kq_md_topic *
shown(struct sender *s, int32_t count)
{
	const struct kq_metadata *md;
	const struct kq_md_topic *t;
	int32_t i;

	if (kq_client_refresh(s->cl, &md) != 0)
		return NULL;
	t = kq_md_topic(md, opt.topic);
	if (!t || t->err || t->n_parts < count)
		return NULL;
	for (i = s->nparts; i < count; i++) {
		const struct kq_md_partition *mp = kq_md_partition(t, i);

		if (!mp || mp->leader < 0 || mp->err == KQ_E_LEADER_NOT_AVAILABLE)
			return NULL;
	}
	return t;
}

/*
 * Grow the topic this run created to count partitions and wait, within
 * --timeout, until the metadata shows them.  The input waits meanwhile, so
 * records keep their order.  On failure the topic is not grown again.
 */
static bool
grow(struct sender *s, int32_t count)
{
	char msg[300];
	int err = add_partitions(s, count, msg, sizeof(msg));
	const struct kq_md_topic *t;
	int64_t start = kq_mono_ms();
	int attempt = 0;

	/* An error may mean that someone else grew it: look once anyway. */
	while (!(t = shown(s, count))) {
		if (!err && opt.timeout_ms > 0 && kq_mono_ms() - start >= opt.timeout_ms) {
			snprintf(msg, sizeof(msg), "not in the metadata after --timeout");
			err = KQ_ERR_TIMEOUT;
		}
		if (err) {
			kq_warn("cannot grow topic '%s' to %d partitions: %s", opt.topic,
				(int)count, msg);
			s->grow = false;
			return false;
		}
		usleep((useconds_t)kq_backoff_ms(attempt++) * 1000);
	}
	kq_note("topic '%s' now has %d partitions", opt.topic, (int)t->n_parts);
	parts_extend(s, t->n_parts);
	take_leaders(s, t);
	return true;
}

bool
sender_has_partition(struct sender *s, int32_t id)
{
	if (id < s->nparts)
		return true;
	if (!s->grow || id >= GROW_MAX)
		return false;
	return grow(s, id + 1);
}

/* The topic's max.message.bytes, or -1 when the broker does not say. */
static int64_t
topic_max_message(struct sender *s)
{
	struct kq_DescribeConfigsRequest req;
	struct kq_DescribeConfigsRequest_DescribeConfigsResource res;
	struct kq_DescribeConfigsResponse resp;
	struct kq_str key = kq_str_c("max.message.bytes");
	struct kq_conn *conn;
	int64_t v = -1;
	int ver;

	if (kq_client_any_conn(s->cl, &conn) != 0)
		return -1;
	ver = kq_conn_version(conn, KQ_API_DESCRIBE_CONFIGS, 3);
	if (ver < 0)
		return -1;
	kq_DescribeConfigsRequest_DescribeConfigsResource_init(&res);
	res.ResourceType = 2;
	res.ResourceName = kq_str_c(opt.topic);
	res.ConfigurationKeys = &key;
	res.ConfigurationKeys_count = 1;
	kq_DescribeConfigsRequest_init(&req);
	req.Resources = &res;
	req.Resources_count = 1;
	if (kq_conn_call(conn, KQ_API_DESCRIBE_CONFIGS, (int16_t)ver, &req, &s->arena, &resp,
			 opt.request_timeout_ms) != 0)
		return -1;
	if (resp.Results_count == 1 && resp.Results[0].ErrorCode == 0 &&
	    resp.Results[0].Configs_count >= 1) {
		char *txt = kq_str_dup(resp.Results[0].Configs[0].Value);

		if (txt && kq_cli_parse_int(txt, 1, INT32_MAX, &v) != 0)
			v = -1;
		free(txt);
	}
	kq_arena_reset(&s->arena);
	return v;
}

/*
 * Idempotence (WIRE.md 7.9): a producer id from the broker, when it hands
 * them out, lets it drop a batch resent after a lost answer.
 */
static void
init_producer_id(struct sender *s)
{
	struct kq_InitProducerIdRequest req;
	struct kq_InitProducerIdResponse resp;
	struct kq_conn *conn;
	int v;

	if (kq_client_any_conn(s->cl, &conn) != 0)
		return;
	v = kq_conn_version(conn, KQ_API_INIT_PRODUCER_ID, 1);
	if (v < 0) {
		kq_debug("the broker has no idempotent producers; retries may duplicate");
		return;
	}
	kq_InitProducerIdRequest_init(&req);
	req.TransactionalId = KQ_STR_NULL;
	req.TransactionTimeoutMs = 60000;
	if (kq_conn_call(conn, KQ_API_INIT_PRODUCER_ID, (int16_t)v, &req, &s->arena, &resp,
			 opt.request_timeout_ms) != 0 || resp.ErrorCode != 0) {
		kq_warn("no producer id from the broker (%s); retries may duplicate records",
			resp.ErrorCode ? kq_err_str(resp.ErrorCode) : kq_conn_errstr(conn));
		return;
	}
	s->producer_id = resp.ProducerId;
	s->producer_epoch = resp.ProducerEpoch;
	kq_debug("producer id %lld, epoch %d", (long long)s->producer_id, s->producer_epoch);
}

struct sender *
sender_new(void)
{
	struct sender *s = kq_xcalloc(1, sizeof(*s));
	const struct kq_md_topic *t = NULL;
	char err[256];
	int64_t maxmsg;
	bool created = false;

	s->cl = kq_client_new(opt.brokers, opt.client_id, opt.timeout_ms, err, sizeof(err));
	if (!s->cl)
		kq_usage_error("%s", err);
	kq_client_set_warn(s->cl, kq_cli_client_warn, NULL);
	kq_client_set_request_timeout(s->cl, opt.request_timeout_ms);
	for (;;) {
		t = lookup(s, false);
		if (t && t->n_parts > 0) {
			take_leaders(s, t);
			break;
		}
		if (!t && !s->need_refresh) {
			if (!opt.create)
				kq_die(KQ_EXIT_NOTFOUND,
				       "topic '%s' does not exist (create it: kq-topics create %s)",
				       opt.topic, opt.topic);
			if (!created && create_topic(s)) {
				created = true;
				continue;
			}
			note_failure(s, "waiting for the new topic");
		} else if (t) {
			note_failure(s, kq_err_str(t->err ? t->err : KQ_E_LEADER_NOT_AVAILABLE));
		}
		if (opt.timeout_ms > 0 && kq_mono_ms() - s->first_fail_ms >= opt.timeout_ms)
			kq_die(KQ_EXIT_UNAVAILABLE, "topic '%s': %s; gave up after --timeout",
			       opt.topic, s->why);
		usleep((useconds_t)kq_backoff_ms(s->attempt++) * 1000);
		s->need_refresh = false;
		if (got_signal)
			kq_cli_exit(128 + got_signal);
	}
	s->need_refresh = false;
	progress_made(s);
	if (opt.partition >= t->n_parts)
		kq_die(KQ_EXIT_NOTFOUND, "partition %d of topic '%s' does not exist (it has %d)",
		       (int)opt.partition, opt.topic, (int)t->n_parts);
	parts_extend(s, t->n_parts);
	take_leaders(s, t);
	s->sticky = (int32_t)(kq_mono_us() % (uint64_t)s->nparts);
	s->producer_id = -1;
	if (opt.idempotence && opt.acks != 0)
		init_producer_id(s);

	maxmsg = topic_max_message(s);
	if (maxmsg < 0)
		maxmsg = 1024 * 1024 + 12;	/* Kafka's default message.max.bytes */
	s->max_record = opt.max_record_bytes > 0 ? opt.max_record_bytes :
		KQ_MAX(maxmsg - BATCH_OVERHEAD, 1);
	s->batch_limit = (size_t)KQ_MAX(KQ_MIN(opt.batch_bytes, maxmsg - 16), 1);
	return s;
}

/* ---- requests ---- */

static void
conn_failed(struct sender *s, struct node *n, const char *why)
{
	requeue_node(n);
	n->version = -1;
	note_failure(s, why);
}

static bool
retry_err(int err)
{
	switch (err) {
	case KQ_E_UNKNOWN_TOPIC_OR_PARTITION:	/* maybe a new leader not yet caught up */
	case KQ_E_LEADER_NOT_AVAILABLE:
	case KQ_E_NOT_LEADER_OR_FOLLOWER:
	case KQ_E_REQUEST_TIMED_OUT:
	case KQ_E_NETWORK_EXCEPTION:
	case KQ_E_NOT_ENOUGH_REPLICAS:
	case KQ_E_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
	case KQ_E_KAFKA_STORAGE_ERROR:
	case KQ_E_FENCED_LEADER_EPOCH:
	case KQ_E_UNKNOWN_LEADER_EPOCH:
		return true;
	default:
		return err < 0 || kq_err_retriable(err);
	}
}

static void
handle_response(struct sender *s, struct node *n, struct req *rq, const struct kq_resp *resp)
{
	struct kq_ProduceResponse pr;
	int i, r;
	int32_t t, j;

	kq_arena_reset(&s->arena);
	r = kq_resp_decode(resp, &s->arena, &pr);
	if (r != 0) {
		/* A reply we cannot read: treat the connection as lost. */
		rq->next = n->head;
		n->head = rq;
		if (!n->tail)
			n->tail = rq;
		n->nreq++;
		conn_failed(s, n, "malformed Produce response");
		return;
	}
	for (i = 0; i < rq->n; i++) {
		struct batch *b = rq->b[i];
		struct part *p = b->part;
		const struct kq_ProduceResponse_PartitionProduceResponse *ppr = NULL;
		int err;

		for (t = 0; t < pr.Responses_count && !ppr; t++) {
			if (!kq_str_eq(pr.Responses[t].Name, opt.topic))
				continue;
			for (j = 0; j < pr.Responses[t].PartitionResponses_count; j++)
				if (pr.Responses[t].PartitionResponses[j].Index == p->id)
					ppr = &pr.Responses[t].PartitionResponses[j];
		}
		p->inflight--;
		err = ppr ? ppr->ErrorCode : KQ_E_UNKNOWN_SERVER_ERROR;
		if (err == KQ_E_DUPLICATE_SEQUENCE_NUMBER) {
			/* Written before; the broker does not say where. */
			batch_done(s, b, -1, 0, NULL);
			progress_made(s);
		} else if (err == 0) {
			batch_done(s, b, ppr->BaseOffset, 0, NULL);
			progress_made(s);
		} else if (retry_err(err) || (err == KQ_E_OUT_OF_ORDER_SEQUENCE_NUMBER &&
					       ((p->q_head && p->q_head->bseq < b->bseq) || p->reseq))) {
			/* Out of order behind a batch to be sent again, or behind a
			 * hole: it follows that one, or gets renumbered. */
			queue_requeue(p, b);
			if (retry_err(err))
				note_failure(s, kq_err_str(err));
		} else {
			char msg[256];
			char *em = ppr ? kq_str_dup(ppr->ErrorMessage) : NULL;

			snprintf(msg, sizeof(msg), "%s%s%s", kq_err_str(err), em ? ": " : "",
				 em ? em : "");
			free(em);
			batch_done(s, b, -1, err, msg);
		}
	}
	free(rq);
}

/* Poll results for one connection: read every answer that is here. */
static void
node_io(struct sender *s, struct node *n, struct kq_conn *conn, short revents)
{
	struct kq_resp resp;
	int r;

	if (revents & (POLLIN | POLLHUP | POLLERR)) {
		while ((r = kq_conn_recv_nb(conn, &resp)) == 0) {
			struct req *rq = n->head;

			if (!rq || resp.tag != rq) {
				conn_failed(s, n, "unexpected response from the broker");
				kq_conn_fail(conn, KQ_ERR_CORRUPT);
				return;
			}
			n->head = rq->next;
			if (!n->head)
				n->tail = NULL;
			n->nreq--;
			handle_response(s, n, rq, &resp);
		}
		if (r != KQ_ERR_AGAIN) {
			char why[300];

			snprintf(why, sizeof(why), "%s", kq_conn_errstr(conn)[0] ?
				 kq_conn_errstr(conn) : kq_err_str(r));
			conn_failed(s, n, why);
			return;
		}
	}
	if ((revents & POLLOUT) && kq_conn_flush_nb(conn) < 0 && kq_conn_broken(conn))
		conn_failed(s, n, kq_conn_errstr(conn));
}

/* Is p's next batch due: queued, or open and lingered long enough? */
static struct batch *
due_batch(struct sender *s, struct part *p, int64_t now, bool draining)
{
	if (p->inflight >= opt.max_inflight || (p->reseq && p->inflight > 0))
		return NULL;
	if (p->reseq)
		resequence(p);
	if (!p->q_head && p->bb.count > 0 &&
	    (draining || now - p->open_ms >= opt.linger_ms))
		close_open(s, p);
	return p->q_head;
}

static void
req_append(struct node *n, struct req *rq)
{
	rq->next = NULL;
	if (n->tail)
		n->tail->next = rq;
	else
		n->head = rq;
	n->tail = rq;
	n->nreq++;
}

/*
 * Send one request to node n with the next due batch of every partition it
 * leads; false when nothing was due (or the connection failed).
 */
static bool
send_node(struct sender *s, struct node *n, int64_t now, bool draining)
{
	struct kq_ProduceRequest req;
	struct kq_ProduceRequest_TopicProduceData td;
	struct kq_ProduceRequest_PartitionProduceData *pd;
	struct kq_conn *conn;
	struct req *rq;
	size_t bytes = 0;
	int32_t i;
	int cnt = 0, r;

	for (i = 0; i < s->nparts; i++)
		if (s->parts[i]->leader == n->id && due_batch(s, s->parts[i], now, draining))
			cnt++;
	if (cnt == 0)
		return false;
	r = kq_client_node_conn(s->cl, n->id, &conn);
	if (r != 0) {
		note_failure(s, kq_client_errstr(s->cl)[0] ? kq_client_errstr(s->cl) :
			     kq_err_str(r));
		return false;
	}
	/* acks=0: what the socket has not taken is still held, so the
	 * batches wait in their queues (and count against --buffer). */
	if (opt.acks == 0 && kq_conn_unsent(conn) >= s->batch_limit)
		return false;
	if (n->version < 0) {
		n->version = (int16_t)kq_conn_version(conn, KQ_API_PRODUCE, 8);
		if (n->version < 3)
			kq_die(KQ_EXIT_FAIL, "broker %s does not accept record batches (Produce v3+)",
			       kq_conn_name(conn));
		if (opt.codec == KQ_CODEC_ZSTD && n->version < 7)
			kq_die(KQ_EXIT_USAGE, "broker %s does not accept zstd (needs Produce v7)",
			       kq_conn_name(conn));
	}
	rq = kq_xmalloc(sizeof(*rq) + (size_t)cnt * sizeof(rq->b[0]));
	pd = kq_xcalloc((size_t)cnt, sizeof(*pd));
	rq->n = 0;
	rq->next = NULL;
	for (i = 0; i < s->nparts && rq->n < cnt; i++) {
		struct part *p = s->parts[i];
		struct batch *b;

		if (p->leader != n->id || p->inflight >= opt.max_inflight || !p->q_head)
			continue;
		if (rq->n > 0 && bytes + p->q_head->data.len > REQ_BYTES_MAX)
			break;
		b = queue_pop(p);
		p->inflight++;
		bytes += b->data.len;
		kq_ProduceRequest_PartitionProduceData_init(&pd[rq->n]);
		pd[rq->n].Index = p->id;
		pd[rq->n].Records = kq_bytes_of(b->data.buf, b->data.len);
		rq->b[rq->n++] = b;
	}
	kq_ProduceRequest_TopicProduceData_init(&td);
	td.Name = kq_str_c(opt.topic);
	td.PartitionData = pd;
	td.PartitionData_count = rq->n;
	kq_ProduceRequest_init(&req);
	req.Acks = opt.acks;
	req.TimeoutMs = (int32_t)KQ_MIN(opt.request_timeout_ms, INT32_MAX);
	req.TopicData = &td;
	req.TopicData_count = 1;
	r = kq_conn_enqueue(conn, KQ_API_PRODUCE, n->version, &req, opt.acks ? rq : NULL);
	free(pd);
	if (r < 0) {
		req_append(n, rq);
		conn_failed(s, n, kq_conn_errstr(conn)[0] ? kq_conn_errstr(conn) : kq_err_str(r));
		return false;
	}
	if (opt.acks == 0) {
		/* Nothing will answer: the records count as sent once queued. */
		for (i = 0; i < rq->n; i++) {
			rq->b[i]->part->inflight--;
			batch_done(s, rq->b[i], -1, 0, NULL);
		}
		free(rq);
		kq_conn_flush_nb(conn);
		return true;
	}
	req_append(n, rq);
	kq_conn_flush_nb(conn);
	return true;
}

static void
refresh(struct sender *s)
{
	const struct kq_md_topic *t;

	t = lookup(s, true);
	if (!t) {
		if (!s->need_refresh) {
			/* The topic is gone: nothing left can be delivered. */
			int32_t i;
			struct batch *b;

			for (i = 0; i < s->nparts; i++) {
				struct part *p = s->parts[i];

				close_open(s, p);
				while ((b = queue_pop(p)))
					batch_done(s, b, -1, KQ_E_UNKNOWN_TOPIC_OR_PARTITION,
						   "the topic was deleted");
			}
		}
		return;
	}
	parts_extend(s, t->n_parts);	/* grown meanwhile: keys follow, as in Java */
	take_leaders(s, t);
}

void
sender_step(struct sender *s, int in_fd, bool *in_ready, int64_t timeout_ms, bool draining)
{
	struct pollfd pf[65];
	struct kq_conn *conns[64];
	struct node *pn[64];
	int npf = 0, i, r;
	int64_t now = kq_mono_ms(), wait = timeout_ms;
	int32_t pi;

	*in_ready = false;
	if (s->first_fail_ms && opt.timeout_ms > 0 && now - s->first_fail_ms >= opt.timeout_ms)
		give_up(s, s->why);
	if (s->need_refresh && now >= s->retry_at_ms) {
		s->need_refresh = false;
		refresh(s);
		now = kq_mono_ms();
	}
	/* Send whatever is due. */
	if (!s->need_refresh) {
		for (pi = 0; pi < s->nparts; pi++) {
			struct part *p = s->parts[pi];

			if (p->leader >= 0 && p->inflight < opt.max_inflight &&
			    (p->q_head || p->bb.count))
				node_get(s, p->leader);
			else if (p->leader < 0 && (p->q_head || p->bb.count) &&
				 !s->need_refresh)
				note_failure(s, "a partition has no leader");
		}
		for (i = 0; i < s->nnodes && !s->need_refresh; i++) {
			struct node *n = &s->nodes[i];

			while (n->nreq < opt.max_inflight && !s->need_refresh &&
			       send_node(s, n, now, draining))
				;
		}
	}
	/* Wait: for answers, for room in the socket, for input, for linger. */
	for (i = 0; i < s->nnodes && npf < 64; i++) {
		struct node *n = &s->nodes[i];
		struct kq_conn *c;

		if (!n->head && opt.acks != 0)
			continue;
		if (kq_client_node_conn(s->cl, n->id, &c) != 0)
			continue;
		if (!n->head && !kq_conn_want_write(c))
			continue;
		pf[npf].fd = kq_conn_fd(c);
		pf[npf].events = (short)((n->head ? POLLIN : 0) |
					 (kq_conn_want_write(c) ? POLLOUT : 0));
		pf[npf].revents = 0;
		conns[npf] = c;
		pn[npf] = &s->nodes[i];
		npf++;
	}
	for (pi = 0; pi < s->nparts; pi++) {
		struct part *p = s->parts[pi];

		if (p->inflight < opt.max_inflight && p->bb.count > 0 && !s->need_refresh)
			wait = KQ_MIN(wait, KQ_MAX(p->open_ms + opt.linger_ms - now, 0));
	}
	if (s->need_refresh)
		wait = KQ_MIN(wait, KQ_MAX(s->retry_at_ms - now, 0));
	/* Nothing to wait for (acks=0 at the end of input): do not sleep. */
	if (npf == 0 && in_fd < 0 && s->pending == 0)
		return;
	if (in_fd >= 0) {
		pf[npf].fd = in_fd;
		pf[npf].events = POLLIN;
		pf[npf].revents = 0;
	}
	r = poll(pf, (nfds_t)(npf + (in_fd >= 0)), (int)KQ_MIN(wait, 1000));
	if (r < 0) {
		if (errno != EINTR)
			kq_die_errno(KQ_EXIT_FAIL, "poll");
		return;
	}
	for (i = 0; i < npf; i++)
		if (pf[i].revents)
			node_io(s, pn[i], conns[i], pf[i].revents);
	if (in_fd >= 0 && pf[npf].revents)
		*in_ready = true;
}

int
sender_finish(struct sender *s, int64_t started_ms)
{
	double secs = (double)(kq_mono_ms() - started_ms) / 1000.0;
	int status = s->failed ? (s->failed_exit ? s->failed_exit : KQ_EXIT_FAIL) : 0;

	slots_print(s);
	/* acks=0: make sure the bytes at least left. */
	if (opt.acks == 0) {
		int i;

		for (i = 0; i < s->nnodes; i++) {
			struct kq_conn *c;

			if (kq_client_node_conn(s->cl, s->nodes[i].id, &c) == 0)
				kq_conn_flush(c, opt.request_timeout_ms);
		}
	}
	kq_cli_progress_clear();
	if (opt.verbose || (isatty(2) && !opt.quiet)) {
		kq_note("%llu record%s (%.1f MB) acknowledged in %.1fs%s",
			(unsigned long long)s->acked, s->acked == 1 ? "" : "s",
			(double)s->bytes_acked / 1e6, secs, opt.acks == 0 ? " (acks=0: sent)" : "");
	}
	if (s->failed)
		kq_error("%llu record%s not delivered", (unsigned long long)s->failed,
			 s->failed == 1 ? "" : "s");
	return status;
}

void
sender_free(struct sender *s)
{
	int32_t i;

	if (!s)
		return;
	for (i = 0; i < s->nparts; i++) {
		kq_bb_free(&s->parts[i]->bb);
		free(s->parts[i]->seqs);
		free(s->parts[i]);
	}
	free(s->parts);
	free(s->nodes);
	free(s->slots);
	kq_buf_free(&s->out);
	kq_arena_free(&s->arena);
	kq_client_free(s->cl);
	free(s);
}
