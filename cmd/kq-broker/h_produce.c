/*
 * h_produce.c - Produce v0-8 (the message sets of v0-2 are converted to a
 * batch by h_legacy.c first).  Batches are validated and
 * appended in place in the request frame; under log.flush=ack the answer
 * waits until the flusher reports every appended partition durable.
 */
#include <stdlib.h>
#include <string.h>

#include "broker.h"

struct pwait {
	struct partition *p;	/* NULL once satisfied or dropped */
	int64_t need;		/* HW must reach this */
	struct kq_ProduceResponse_PartitionProduceResponse *pr;
};

struct pprod {
	struct slot *slot;
	int32_t corr;
	int16_t version;
	struct kq_arena arena;
	struct kq_ProduceResponse resp;
	struct pwait *w;
	int nw, left;
	struct pprod *next;
};

static struct pprod *pending;

/*
 * Where compressed batches are inflated to be checked: one for the broker
 * (the loop thread owns it), kept between batches up to INFLATE_KEEP so the
 * steady state allocates nothing; a bigger one (up to KQ_BATCH_INFLATE_MAX)
 * is freed after its request.
 */
static struct kq_buf inflate_buf;
#define INFLATE_KEEP ((size_t)4 << 20)

static void
pprod_answer(struct pprod *pp)
{
	struct kq_buf *w = api_wbuf();

	kq_ProduceResponse_encode(w, pp->version, &pp->resp);
	slot_finish(pp->slot, pp->corr, w->buf, w->len);
	kq_arena_free(&pp->arena);
	free(pp->w);
	free(pp);
}

void
produce_waiters_check(void)
{
	struct pprod **pp = &pending, *x;

	while ((x = *pp) != NULL) {
		int i;

		for (i = 0; i < x->nw; i++) {
			struct pwait *pw = &x->w[i];

			if (!pw->p)
				continue;
			if (pw->p->hw >= pw->need) {
				pw->p = NULL;
				x->left--;
			} else if (pw->p->flush_err) {
				pw->pr->ErrorCode = (int16_t)pw->p->flush_err;
				pw->pr->BaseOffset = -1;
				pw->p = NULL;
				x->left--;
			}
		}
		if (x->left == 0) {
			*pp = x->next;
			pprod_answer(x);
		} else {
			pp = &x->next;
		}
	}
	group_appends_check();
}

void
produce_waiters_drop(struct partition *p)
{
	struct pprod *x;
	int i;

	for (x = pending; x; x = x->next)
		for (i = 0; i < x->nw; i++)
			if (x->w[i].p == p) {
				x->w[i].pr->ErrorCode = KQ_E_UNKNOWN_TOPIC_OR_PARTITION;
				x->w[i].pr->BaseOffset = -1;
				x->w[i].p = NULL;
				x->left--;
			}
	/* Answered by the next produce_waiters_check (flush completion or kick). */
}

/*
 * Validate and append one partition's batch.  *base is its first offset and
 * *end the offset the HW must pass before the answer (a duplicate from an
 * idempotent producer's retry gets the offsets it was first given).
 */
static int16_t
produce_one(struct req *rq, struct kq_str tname, struct kq_bytes rec, struct partition *p,
	    int64_t *base, int64_t *end, int64_t *append_ms)
{
	struct kq_batch_hdr h;
	struct topic *t;
	int64_t dup_first, dup_last;
	int32_t keyless;
	int rc;

	if (!p)
		return KQ_E_UNKNOWN_TOPIC_OR_PARTITION;
	t = p->topic;
	if (t->internal)
		return KQ_E_INVALID_TOPIC_EXCEPTION;
	if (p->role != ROLE_LEADER)
		return KQ_E_NOT_LEADER_OR_FOLLOWER;
	if (rec.len <= 0)
		return KQ_E_INVALID_RECORD;
	if (rq->version < 3 && (rc = legacy_produce_convert(rq, t, &rec)) != 0)
		return (int16_t)rc;
	/* The one parse of this batch's header; checks and append share it. */
	rc = kq_batch_validate(rec.p, (size_t)rec.len, (size_t)t->tc.max_message_bytes, &h);
	if (rc)
		return (int16_t)(rc > 0 ? rc : KQ_E_CORRUPT_MESSAGE);
	if (rq->version < 7 && (h.Attributes & KQ_ATTR_CODEC_MASK) == KQ_CODEC_ZSTD)
		return KQ_E_UNSUPPORTED_COMPRESSION_TYPE;
	/* Every record, as Kafka's LogValidator: what is stored can be read. */
	rc = kq_batch_check_records(rec.p, (size_t)rec.len, &h, &inflate_buf,
				    KQ_BATCH_INFLATE_MAX, &keyless);
	if (rc)
		return (int16_t)rc;
	/* Kafka's rule; clients before v8 do not know INVALID_RECORD. */
	if ((t->tc.cleanup_policy & POLICY_COMPACT) && keyless > 0)
		return rq->version >= 8 ? KQ_E_INVALID_RECORD : KQ_E_CORRUPT_MESSAGE;
	rc = producer_check(p, &h, &dup_first, &dup_last);
	if (rc == PRODUCER_DUPLICATE) {
		*base = dup_first;
		*end = dup_last + 1;
		return 0;
	}
	if (rc)
		return (int16_t)rc;
	if (t->tc.log_append_time) {
		/* Like Kafka: the timestamp type bit, the broker's time as MaxTimestamp. */
		unsigned char *b = (unsigned char *)rec.p;

		*append_ms = kq_now_ms();
		h.Attributes |= KQ_ATTR_LOG_APPEND_TIME;
		h.MaxTimestamp = *append_ms;
		kq_put16(b + KQ_BATCH_OFF_ATTRIBUTES, (uint16_t)h.Attributes);
		kq_put64(b + KQ_BATCH_OFF_MAX_TIMESTAMP, (uint64_t)h.MaxTimestamp);
		h.Crc = kq_crc32c(0, b + KQ_BATCH_OFF_ATTRIBUTES,
				  (size_t)rec.len - KQ_BATCH_OFF_ATTRIBUTES);
		kq_put32(b + KQ_BATCH_OFF_CRC, h.Crc);
	}
	/* The frame is the connection's writable input buffer (evbuffer_pullup). */
	rc = partition_append(p, (unsigned char *)rec.p, (size_t)rec.len, &h, base);
	if (rc == 0) {
		producer_appended(p, &h, *base);
		*end = kq_log_end(p->log);
	}
	return (int16_t)rc;
}

int
h_produce(struct req *rq)
{
	struct kq_ProduceRequest m;
	struct kq_ProduceResponse *resp;
	struct pprod *pp;
	int32_t i, j, total = 0;
	int nw = 0;
	bool any_err = false;

	if (kq_ProduceRequest_decode(&rq->body, rq->version, rq->arena, &m))
		return -1;
	for (i = 0; i < m.TopicData_count; i++)
		total += m.TopicData[i].PartitionData_count;

	pp = kq_xcalloc(1, sizeof(*pp));
	pp->corr = rq->corr;
	pp->version = rq->version;
	pp->w = kq_xcalloc((size_t)(total ? total : 1), sizeof(*pp->w));
	resp = &pp->resp;
	kq_ProduceResponse_init(resp);
	resp->Responses = kq_arena_alloc(&pp->arena,
		(size_t)(m.TopicData_count ? m.TopicData_count : 1) * sizeof(*resp->Responses));
	resp->Responses_count = m.TopicData_count;
	for (i = 0; i < m.TopicData_count; i++) {
		struct kq_ProduceRequest_TopicProduceData *td = &m.TopicData[i];
		struct kq_ProduceResponse_TopicProduceResponse *tr = &resp->Responses[i];

		kq_ProduceResponse_TopicProduceResponse_init(tr);
		tr->Name.len = td->Name.len;
		tr->Name.p = td->Name.len > 0 ?
			kq_arena_strndup(&pp->arena, td->Name.p, (size_t)td->Name.len) : "";
		tr->PartitionResponses = kq_arena_alloc(&pp->arena,
			(size_t)(td->PartitionData_count ? td->PartitionData_count : 1) *
			sizeof(*tr->PartitionResponses));
		tr->PartitionResponses_count = td->PartitionData_count;
		for (j = 0; j < td->PartitionData_count; j++) {
			struct kq_ProduceRequest_PartitionProduceData *pd = &td->PartitionData[j];
			struct kq_ProduceResponse_PartitionProduceResponse *pr =
				&tr->PartitionResponses[j];
			struct partition *p = partition_find(td->Name, pd->Index);
			int64_t base = -1, end = -1;
			int16_t err;

			kq_ProduceResponse_PartitionProduceResponse_init(pr);
			pr->Index = pd->Index;
			pr->LogAppendTimeMs = -1;
			pr->RecordErrors_count = 0;
			pr->ErrorMessage = KQ_STR_NULL;
			if (m.Acks != 0 && m.Acks != 1 && m.Acks != -1)
				err = KQ_E_INVALID_REQUIRED_ACKS;
			else
				err = produce_one(rq, td->Name, pd->Records, p, &base, &end,
						  &pr->LogAppendTimeMs);
			pr->ErrorCode = err;
			pr->BaseOffset = err ? -1 : base;
			pr->LogStartOffset = p ? kq_log_start(p->log) : -1;
			if (err) {
				any_err = true;
				kq_log_debug("produce %.*s-%d: %s", td->Name.len > 0 ? td->Name.len : 0,
					     td->Name.p ? td->Name.p : "", pd->Index, kq_err_name(err));
				continue;
			}
			if (p->hw < end) {
				pp->w[nw].p = p;
				pp->w[nw].need = end;
				pp->w[nw].pr = pr;
				nw++;
			}
		}
	}
	if (inflate_buf.cap > INFLATE_KEEP)
		kq_buf_free(&inflate_buf);
	if (m.Acks == 0) {
		/* No response; Kafka closes the connection to signal a failed acks=0 produce. */
		kq_arena_free(&pp->arena);
		free(pp->w);
		free(pp);
		if (any_err)
			conn_fail(rq->conn);
		return 0;
	}
	pp->slot = slot_new(rq->conn);
	pp->nw = pp->left = nw;
	if (nw == 0) {
		pprod_answer(pp);
		return 0;
	}
	pp->next = pending;
	pending = pp;
	return 0;
}
