/*
 * h_offsets.c - ListOffsets v0-5 and DeleteRecords v0-1.
 */
#include <string.h>

#include "broker.h"

static int16_t
leader_epoch_check(const struct partition *p, int32_t cur)
{
	if (cur < 0 || cur == p->leader_epoch)
		return 0;
	return cur < p->leader_epoch ? KQ_E_FENCED_LEADER_EPOCH : KQ_E_UNKNOWN_LEADER_EPOCH;
}

int
h_list_offsets(struct req *rq)
{
	struct kq_ListOffsetsRequest m;
	struct kq_ListOffsetsResponse resp;
	struct kq_buf *w;
	int32_t i, j;

	if (kq_ListOffsetsRequest_decode(&rq->body, rq->version, rq->arena, &m))
		return -1;
	kq_ListOffsetsResponse_init(&resp);
	resp.Topics = kq_arena_alloc(rq->arena,
		(size_t)(m.Topics_count ? m.Topics_count : 1) * sizeof(*resp.Topics));
	resp.Topics_count = m.Topics_count;
	for (i = 0; i < m.Topics_count; i++) {
		struct kq_ListOffsetsRequest_ListOffsetsTopic *rt = &m.Topics[i];
		struct kq_ListOffsetsResponse_ListOffsetsTopicResponse *tr = &resp.Topics[i];

		kq_ListOffsetsResponse_ListOffsetsTopicResponse_init(tr);
		tr->Name = rt->Name;
		tr->Partitions = kq_arena_alloc(rq->arena,
			(size_t)(rt->Partitions_count ? rt->Partitions_count : 1) *
			sizeof(*tr->Partitions));
		tr->Partitions_count = rt->Partitions_count;
		for (j = 0; j < rt->Partitions_count; j++) {
			struct kq_ListOffsetsRequest_ListOffsetsPartition *rp = &rt->Partitions[j];
			struct kq_ListOffsetsResponse_ListOffsetsPartitionResponse *pr =
				&tr->Partitions[j];
			struct partition *p = partition_find(rt->Name, rp->PartitionIndex);
			int64_t off, ts;

			kq_ListOffsetsResponse_ListOffsetsPartitionResponse_init(pr);
			pr->PartitionIndex = rp->PartitionIndex;
			pr->Timestamp = -1;
			pr->Offset = -1;
			pr->LeaderEpoch = -1;
			if (!p) {
				pr->ErrorCode = KQ_E_UNKNOWN_TOPIC_OR_PARTITION;
				continue;
			}
			if (rq->version >= 4 &&
			    (pr->ErrorCode = leader_epoch_check(p, rp->CurrentLeaderEpoch)))
				continue;
			if (p->role != ROLE_LEADER) {
				pr->ErrorCode = KQ_E_NOT_LEADER_OR_FOLLOWER;
				continue;
			}
			pr->LeaderEpoch = p->leader_epoch;
			if (rq->version == 0) {
				legacy_list_offsets(rq, m.ReplicaId, p, rp, pr);
				continue;
			}
			if (rp->Timestamp == -1) {
				pr->Offset = p->hw;
			} else if (rp->Timestamp == -2) {
				pr->Offset = kq_log_start(p->log);
			} else if (kq_log_offset_for_time(p->log, rp->Timestamp, &off, &ts) == 0 &&
				   off < p->hw) {
				pr->Offset = off < kq_log_start(p->log) ? kq_log_start(p->log) : off;
				pr->Timestamp = ts;
			}
		}
	}
	w = api_wbuf();
	kq_ListOffsetsResponse_encode(w, rq->version, &resp);
	respond_buf(rq, w);
	return 0;
}

int
h_delete_records(struct req *rq)
{
	struct kq_DeleteRecordsRequest m;
	struct kq_DeleteRecordsResponse resp;
	struct kq_buf *w;
	int32_t i, j;

	if (kq_DeleteRecordsRequest_decode(&rq->body, rq->version, rq->arena, &m))
		return -1;
	kq_DeleteRecordsResponse_init(&resp);
	resp.Topics = kq_arena_alloc(rq->arena,
		(size_t)(m.Topics_count ? m.Topics_count : 1) * sizeof(*resp.Topics));
	resp.Topics_count = m.Topics_count;
	for (i = 0; i < m.Topics_count; i++) {
		struct kq_DeleteRecordsRequest_DeleteRecordsTopic *rt = &m.Topics[i];
		struct kq_DeleteRecordsResponse_DeleteRecordsTopicResult *tr = &resp.Topics[i];

		kq_DeleteRecordsResponse_DeleteRecordsTopicResult_init(tr);
		tr->Name = rt->Name;
		tr->Partitions = kq_arena_alloc(rq->arena,
			(size_t)(rt->Partitions_count ? rt->Partitions_count : 1) *
			sizeof(*tr->Partitions));
		tr->Partitions_count = rt->Partitions_count;
		for (j = 0; j < rt->Partitions_count; j++) {
			struct kq_DeleteRecordsRequest_DeleteRecordsPartition *rp = &rt->Partitions[j];
			struct kq_DeleteRecordsResponse_DeleteRecordsPartitionResult *pr =
				&tr->Partitions[j];
			struct partition *p = partition_find(rt->Name, rp->PartitionIndex);
			int64_t off;
			int rc;

			kq_DeleteRecordsResponse_DeleteRecordsPartitionResult_init(pr);
			pr->PartitionIndex = rp->PartitionIndex;
			pr->LowWatermark = -1;
			if (!p) {
				pr->ErrorCode = KQ_E_UNKNOWN_TOPIC_OR_PARTITION;
				continue;
			}
			off = rp->Offset == -1 ? p->hw : rp->Offset;
			if (off < 0 || off > p->hw) {
				pr->ErrorCode = KQ_E_OFFSET_OUT_OF_RANGE;
				continue;
			}
			if (off > kq_log_start(p->log)) {
				rc = kq_log_advance_start(p->log, off);
				if (rc) {
					kq_log_warnx("delete records %s: %s", kq_log_dir(p->log),
						     kq_err_str(rc));
					pr->ErrorCode = (int16_t)(rc > 0 ? rc : KQ_E_KAFKA_STORAGE_ERROR);
					continue;
				}
			}
			pr->LowWatermark = kq_log_start(p->log);
		}
	}
	w = api_wbuf();
	kq_DeleteRecordsResponse_encode(w, rq->version, &resp);
	respond_buf(rq, w);
	return 0;
}
