/*
 * producers.c - the idempotent producer (WIRE.md section 7.9): InitProducerId
 * hands out producer ids, and each partition remembers, per producer, its
 * epoch, last sequence and the last five batches it appended, so that a
 * batch resent after a lost answer is recognised and answered with its
 * original offsets instead of being written twice.
 *
 * Producer ids are unique across restarts: blocks of ids are reserved in
 * DATA/producer-id-block before any id of the block is handed out.  The
 * per-partition state is rebuilt at start-up from the batch headers of the
 * log's tail, which is all a retry can refer to.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"

#define PID_BLOCK 1000
#define KEEP_BATCHES 5			/* as Kafka: max.in.flight with idempotence */
#define MAX_PRODUCERS 4096		/* per partition; the least recent goes */
#define REBUILD_OFFSETS 200000		/* how far back start-up looks */

struct pbatch {
	int32_t first_seq, last_seq;
	int64_t first_off, last_off;
};

struct producer {
	int64_t pid;
	int16_t epoch;
	int32_t last_seq;
	int64_t used;			/* recency, for eviction */
	int nb;				/* batches in b[], newest last */
	struct pbatch b[KEEP_BATCHES];
};

struct pstate {
	struct producer *v;
	int n, cap;
	int64_t tick;
};

/* ---- producer ids ---- */

static int64_t next_pid = -1, block_end = -1;

static char *
block_path(void)
{
	return kq_xasprintf("%s/producer-id-block", cfg.data_dir);
}

/* Reserve the next block: persisted before any id of it is used. */
static int
reserve_block(void)
{
	char *path = block_path(), text[64];
	int n, rc;

	if (next_pid < 0) {
		FILE *fp = fopen(path, "r");
		long long v = 0;

		if (fp) {
			if (fscanf(fp, "next=%lld", &v) != 1 || v < 0)
				v = 0;
			fclose(fp);
		}
		next_pid = v;
	}
	n = snprintf(text, sizeof(text), "next=%lld\n", (long long)(next_pid + PID_BLOCK));
	rc = kq_write_file_atomic(path, text, (size_t)n);
	if (rc < 0)
		kq_log_warn("cannot write %s", path);
	else
		block_end = next_pid + PID_BLOCK;
	free(path);
	return rc;
}

int
h_init_producer_id(struct req *rq)
{
	struct kq_InitProducerIdRequest m;
	struct kq_InitProducerIdResponse resp;
	struct kq_buf *w;

	if (kq_InitProducerIdRequest_decode(&rq->body, rq->version, rq->arena, &m))
		return -1;
	kq_InitProducerIdResponse_init(&resp);
	resp.ProducerId = -1;
	resp.ProducerEpoch = -1;
	if (m.TransactionalId.len >= 0) {
		/* No transaction coordinator: a non-retriable answer, so the
		 * client fails at once instead of retrying forever. */
		kq_log_info("%s: transactional id '%.*s' refused: kq has no transactions",
			    conn_peer(rq->conn), m.TransactionalId.len, m.TransactionalId.p);
		resp.ErrorCode = KQ_E_UNSUPPORTED_VERSION;
	} else if ((next_pid < 0 || next_pid >= block_end) && reserve_block() < 0) {
		resp.ErrorCode = KQ_E_KAFKA_STORAGE_ERROR;
	} else {
		resp.ProducerId = next_pid++;
		resp.ProducerEpoch = 0;
	}
	w = api_wbuf();
	kq_InitProducerIdResponse_encode(w, rq->version, &resp);
	respond_buf(rq, w);
	return 0;
}

/* ---- per-partition state ---- */

static struct producer *
find(struct pstate *ps, int64_t pid)
{
	int i;

	if (!ps)
		return NULL;
	for (i = 0; i < ps->n; i++)
		if (ps->v[i].pid == pid)
			return &ps->v[i];
	return NULL;
}

static struct producer *
add(struct partition *p, int64_t pid)
{
	struct pstate *ps = p->producers;
	struct producer *e;
	int i, lru = 0;

	if (!ps)
		ps = p->producers = kq_xcalloc(1, sizeof(*ps));
	if (ps->n == MAX_PRODUCERS) {
		for (i = 1; i < ps->n; i++)
			if (ps->v[i].used < ps->v[lru].used)
				lru = i;
		e = &ps->v[lru];
	} else {
		if (ps->n == ps->cap) {
			ps->cap = ps->cap ? ps->cap * 2 : 8;
			ps->v = kq_xrealloc(ps->v, (size_t)ps->cap * sizeof(*ps->v));
		}
		e = &ps->v[ps->n++];
	}
	memset(e, 0, sizeof(*e));
	e->pid = pid;
	return e;
}

static int32_t
seq_add(int32_t seq, int32_t n)
{
	return (int32_t)(((int64_t)seq + n) % ((int64_t)INT32_MAX + 1));
}

int
producer_check(struct partition *p, const struct kq_batch_hdr *h, int64_t *dup_first,
	       int64_t *dup_last)
{
	int32_t last_seq = seq_add(h->BaseSequence, h->LastOffsetDelta);
	struct producer *e;
	int i;

	if (h->ProducerId < 0)
		return 0;
	if (h->BaseSequence < 0 || h->ProducerEpoch < 0)
		return KQ_E_INVALID_RECORD;
	e = find(p->producers, h->ProducerId);
	if (!e)
		return 0;	/* unknown here: any sequence starts it */
	if (h->ProducerEpoch < e->epoch)
		return KQ_E_INVALID_PRODUCER_EPOCH;
	if (h->ProducerEpoch > e->epoch)
		return h->BaseSequence == 0 ? 0 : KQ_E_OUT_OF_ORDER_SEQUENCE_NUMBER;
	for (i = 0; i < e->nb; i++)
		if (e->b[i].first_seq == h->BaseSequence && e->b[i].last_seq == last_seq) {
			*dup_first = e->b[i].first_off;
			*dup_last = e->b[i].last_off;
			return PRODUCER_DUPLICATE;
		}
	if (h->BaseSequence != seq_add(e->last_seq, 1))
		return KQ_E_OUT_OF_ORDER_SEQUENCE_NUMBER;
	return 0;
}

void
producer_appended(struct partition *p, const struct kq_batch_hdr *h, int64_t base)
{
	int32_t last_seq = seq_add(h->BaseSequence, h->LastOffsetDelta);
	struct producer *e;

	if (h->ProducerId < 0)
		return;
	e = find(p->producers, h->ProducerId);
	if (!e)
		e = add(p, h->ProducerId);
	if (h->ProducerEpoch != e->epoch)
		e->nb = 0;
	e->epoch = h->ProducerEpoch;
	e->last_seq = last_seq;
	e->used = ++p->producers->tick;
	if (e->nb == KEEP_BATCHES) {
		memmove(e->b, e->b + 1, (KEEP_BATCHES - 1) * sizeof(e->b[0]));
		e->nb--;
	}
	e->b[e->nb].first_seq = h->BaseSequence;
	e->b[e->nb].last_seq = last_seq;
	e->b[e->nb].first_off = base;
	e->b[e->nb].last_off = base + h->LastOffsetDelta;
	e->nb++;
}

void
producer_state_free(struct partition *p)
{
	if (p->producers) {
		free(p->producers->v);
		free(p->producers);
		p->producers = NULL;
	}
}

/*
 * Replay the batch headers of the log's last REBUILD_OFFSETS offsets: what
 * an in-flight retry at the time of a crash can refer to.
 */
void
producer_state_rebuild(struct partition *p)
{
	int64_t off = KQ_MAX(kq_log_start(p->log), kq_log_end(p->log) - REBUILD_OFFSETS);
	int64_t end = kq_log_end(p->log);
	unsigned char hdr[KQ_BATCH_HEADER_SIZE];

	while (off < end) {
		struct kq_slice sl[4];
		int n = 0, i, rc;
		int64_t next = off;

		rc = kq_log_read(p->log, off, end, 1 << 20, true, sl, 4, &n);
		if (rc != 0 || n == 0)
			break;
		for (i = 0; i < n; i++) {
			int64_t pos = sl[i].pos, stop = sl[i].pos + sl[i].len;

			while (pos + KQ_BATCH_HEADER_SIZE <= stop) {
				struct kq_batch_hdr h;

				if (kq_io_pread_all(sl[i].fd, hdr, sizeof(hdr), pos) < 0 ||
				    kq_batch_hdr_parse(hdr, sizeof(hdr), &h) != 0 ||
				    pos + kq_batch_hdr_size(&h) > stop)
					return;
				producer_appended(p, &h, h.BaseOffset);
				next = kq_batch_hdr_last(&h) + 1;
				pos += kq_batch_hdr_size(&h);
			}
		}
		if (next <= off)
			break;
		off = next;
	}
}
