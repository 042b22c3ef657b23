/*
 * h_metadata.c - Metadata v0-8.  Standalone: one broker, which is the
 * controller and leads every partition.
 */
#include <stdio.h>
#include <string.h>

#include "broker.h"

static void
fill_topic(struct kq_MetadataResponse_MetadataResponseTopic *mt, struct topic *t,
	   struct kq_arena *a)
{
	int32_t i, *node = kq_arena_alloc(a, sizeof(*node));

	*node = cfg.node_id;
	mt->ErrorCode = 0;
	mt->Name = kq_str_c(t->name);
	mt->IsInternal = t->internal;
	mt->TopicAuthorizedOperations = INT32_MIN;
	mt->Partitions = kq_arena_alloc(a, (size_t)t->nparts * sizeof(*mt->Partitions));
	mt->Partitions_count = t->nparts;
	for (i = 0; i < t->nparts; i++) {
		struct kq_MetadataResponse_MetadataResponsePartition *mp = &mt->Partitions[i];

		kq_MetadataResponse_MetadataResponsePartition_init(mp);
		mp->PartitionIndex = i;
		mp->LeaderId = cfg.node_id;
		mp->LeaderEpoch = t->parts[i]->leader_epoch;
		mp->ReplicaNodes = node;
		mp->ReplicaNodes_count = 1;
		mp->IsrNodes = node;
		mp->IsrNodes_count = 1;
		mp->OfflineReplicas = NULL;
		mp->OfflineReplicas_count = 0;
	}
}

int
h_metadata(struct req *rq)
{
	struct kq_MetadataRequest m;
	struct kq_MetadataResponse resp;
	struct kq_MetadataResponse_MetadataResponseBroker broker;
	struct kq_buf *w;
	bool all;
	int32_t i, n;

	if (kq_MetadataRequest_decode(&rq->body, rq->version, rq->arena, &m))
		return -1;
	kq_MetadataResponse_init(&resp);
	kq_MetadataResponse_MetadataResponseBroker_init(&broker);
	broker.NodeId = cfg.node_id;
	broker.Host = kq_str_c(B.adv_host);
	broker.Port = B.adv_port;
	broker.Rack = KQ_STR_NULL;
	resp.Brokers = &broker;
	resp.Brokers_count = 1;
	resp.ClusterId = kq_str_c(B.cluster_id);
	resp.ControllerId = cfg.node_id;
	resp.ClusterAuthorizedOperations = INT32_MIN;

	all = m.Topics_count < 0 || (rq->version == 0 && m.Topics_count == 0);
	if (all) {
		n = topics_count();
		resp.Topics = kq_arena_alloc(rq->arena, (size_t)(n ? n : 1) * sizeof(*resp.Topics));
		for (i = 0; i < n; i++) {
			kq_MetadataResponse_MetadataResponseTopic_init(&resp.Topics[i]);
			fill_topic(&resp.Topics[i], topic_at(i), rq->arena);
		}
		resp.Topics_count = n;
	} else {
		bool may_create = cfg.auto_create && (rq->version < 4 || m.AllowAutoTopicCreation);

		n = m.Topics_count;
		resp.Topics = kq_arena_alloc(rq->arena, (size_t)(n ? n : 1) * sizeof(*resp.Topics));
		for (i = 0; i < n; i++) {
			struct kq_MetadataResponse_MetadataResponseTopic *mt = &resp.Topics[i];
			struct kq_str name = m.Topics[i].Name;
			struct topic *t;

			kq_MetadataResponse_MetadataResponseTopic_init(mt);
			mt->Name = name;
			mt->TopicAuthorizedOperations = INT32_MIN;
			if (name.len <= 0 || !kq_topic_valid(name.p, (size_t)name.len)) {
				mt->ErrorCode = KQ_E_INVALID_TOPIC_EXCEPTION;
				if (name.len < 0)
					mt->Name = kq_str_c("");
				continue;
			}
			t = topic_find_str(name);
			if (!t && may_create) {
				char *cname = kq_arena_strndup(rq->arena, name.p, (size_t)name.len);
				char msg[256];
				int rc = topic_create(cname, cfg.num_partitions, NULL, NULL, 0, false,
						      msg, sizeof(msg));

				if (rc && rc != KQ_E_TOPIC_ALREADY_EXISTS) {
					kq_log_warnx("auto-create %s: %s", cname, msg);
					mt->ErrorCode = (int16_t)(rc == KQ_E_INVALID_TOPIC_EXCEPTION ?
						rc : KQ_E_LEADER_NOT_AVAILABLE);
					continue;
				}
				t = topic_find_str(name);
			}
			if (!t) {
				mt->ErrorCode = KQ_E_UNKNOWN_TOPIC_OR_PARTITION;
				continue;
			}
			fill_topic(mt, t, rq->arena);
			mt->Name = name;
		}
		resp.Topics_count = n;
	}
	w = api_wbuf();
	kq_MetadataResponse_encode(w, rq->version, &resp);
	respond_buf(rq, w);
	return 0;
}
