/*
 * h_admin.c - CreateTopics v0-4, DeleteTopics v0-3, CreatePartitions v0-1
 * and DescribeConfigs v0-3.  Standalone, this node is the controller.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"

static char *
adup(struct kq_arena *a, struct kq_str s)
{
	return kq_arena_strndup(a, s.len > 0 ? s.p : "", s.len > 0 ? (size_t)s.len : 0);
}

static struct kq_str
amsg(struct kq_arena *a, const char *msg)
{
	return kq_str_c(kq_arena_strndup(a, msg, strlen(msg)));
}

static bool
replicas_are_self(const int32_t *ids, int32_t n)
{
	return n == 1 && ids[0] == cfg.node_id;
}

/*
 * KQ_PARTITIONS_PER_REQUEST counts the new partitions of the whole request,
 * so a request beyond it is refused whole, before anything is created.
 */
static bool
request_too_big(int64_t total, char *msg, size_t msglen)
{
	if (total <= KQ_PARTITIONS_PER_REQUEST)
		return false;
	snprintf(msg, msglen, "The request asks for %lld new partitions; at most %d may be "
		 "created in one request.", (long long)total, KQ_PARTITIONS_PER_REQUEST);
	return true;
}

static int64_t
create_topics_total(const struct kq_CreateTopicsRequest *m)
{
	int64_t total = 0;
	int32_t i, n;

	for (i = 0; i < m->Topics_count; i++) {
		n = m->Topics[i].Assignments_count > 0 ? m->Topics[i].Assignments_count :
		    m->Topics[i].NumPartitions == -1 ? cfg.num_partitions :
		    m->Topics[i].NumPartitions;
		if (n > 0)
			total += n;
	}
	return total;
}

int
h_create_topics(struct req *rq)
{
	struct kq_CreateTopicsRequest m;
	struct kq_CreateTopicsResponse resp;
	struct kq_buf *w;
	char big[256];
	bool too_big;
	int32_t i, j;

	if (kq_CreateTopicsRequest_decode(&rq->body, rq->version, rq->arena, &m))
		return -1;
	too_big = request_too_big(create_topics_total(&m), big, sizeof(big));
	kq_CreateTopicsResponse_init(&resp);
	resp.Topics = kq_arena_alloc(rq->arena,
		(size_t)(m.Topics_count ? m.Topics_count : 1) * sizeof(*resp.Topics));
	resp.Topics_count = m.Topics_count;
	for (i = 0; i < m.Topics_count; i++) {
		struct kq_CreateTopicsRequest_CreatableTopic *ct = &m.Topics[i];
		struct kq_CreateTopicsResponse_CreatableTopicResult *tr = &resp.Topics[i];
		char msg[512] = "", *name, **keys, **vals;
		int32_t nparts = ct->NumPartitions;
		int16_t rf = ct->ReplicationFactor;
		int rc = 0;

		kq_CreateTopicsResponse_CreatableTopicResult_init(tr);
		tr->Name = ct->Name;
		tr->ErrorMessage = KQ_STR_NULL;
		tr->Configs_count = -1;
		for (j = 0; j < m.Topics_count; j++)
			if (j != i && kq_str_eqs(m.Topics[j].Name, ct->Name))
				break;
		if (j < m.Topics_count) {
			tr->ErrorCode = KQ_E_INVALID_REQUEST;
			tr->ErrorMessage = amsg(rq->arena, "Create topics request from client "
						"contains a duplicate topic name");
			continue;
		}
		if (too_big) {
			tr->ErrorCode = KQ_E_INVALID_PARTITIONS;
			tr->ErrorMessage = amsg(rq->arena, big);
			continue;
		}
		if (ct->Name.len <= 0 || !kq_topic_valid(ct->Name.p, (size_t)ct->Name.len)) {
			tr->ErrorCode = KQ_E_INVALID_TOPIC_EXCEPTION;
			tr->ErrorMessage = amsg(rq->arena, "Topic name is illegal");
			continue;
		}
		name = adup(rq->arena, ct->Name);
		if (ct->Assignments_count > 0) {
			if (nparts != -1 || rf != -1) {
				rc = KQ_E_INVALID_REQUEST;
				snprintf(msg, sizeof(msg), "Both numPartitions or replicationFactor "
					 "and replicasAssignments were set.");
			}
			for (j = 0; j < ct->Assignments_count && !rc; j++) {
				struct kq_CreateTopicsRequest_CreatableReplicaAssignment *as =
					&ct->Assignments[j];

				if (as->PartitionIndex != j ||
				    !replicas_are_self(as->BrokerIds, as->BrokerIds_count)) {
					rc = KQ_E_INVALID_REPLICA_ASSIGNMENT;
					snprintf(msg, sizeof(msg), "Replica assignment must list "
						 "partitions 0..N-1, each on broker %d only",
						 cfg.node_id);
				}
			}
			nparts = ct->Assignments_count;
			rf = 1;
		}
		if (!rc && nparts == -1)
			nparts = cfg.num_partitions;
		if (!rc && rf == -1)
			rf = cfg.default_rf;
		if (!rc && nparts <= 0) {
			rc = KQ_E_INVALID_PARTITIONS;
			snprintf(msg, sizeof(msg), "Number of partitions must be larger than 0.");
		}
		if (!rc && rf != 1) {
			rc = KQ_E_INVALID_REPLICATION_FACTOR;
			snprintf(msg, sizeof(msg), "Replication factor: %d larger than available "
				 "brokers: 1.", rf);
		}
		if (!rc) {
			keys = kq_arena_alloc(rq->arena, (size_t)(ct->Configs_count + 1) * sizeof(char *));
			vals = kq_arena_alloc(rq->arena, (size_t)(ct->Configs_count + 1) * sizeof(char *));
			for (j = 0; j < ct->Configs_count; j++) {
				keys[j] = adup(rq->arena, ct->Configs[j].Name);
				vals[j] = ct->Configs[j].Value.len < 0 ? NULL :
					  adup(rq->arena, ct->Configs[j].Value);
			}
			rc = topic_create(name, nparts, keys, vals, ct->Configs_count,
					  m.validateOnly, msg, sizeof(msg));
		}
		tr->ErrorCode = (int16_t)rc;
		if (rc)
			tr->ErrorMessage = amsg(rq->arena, msg);
	}
	w = api_wbuf();
	kq_CreateTopicsResponse_encode(w, rq->version, &resp);
	respond_buf(rq, w);
	return 0;
}

int
h_delete_topics(struct req *rq)
{
	struct kq_DeleteTopicsRequest m;
	struct kq_DeleteTopicsResponse resp;
	struct kq_buf *w;
	int32_t i;

	if (kq_DeleteTopicsRequest_decode(&rq->body, rq->version, rq->arena, &m))
		return -1;
	kq_DeleteTopicsResponse_init(&resp);
	resp.Responses = kq_arena_alloc(rq->arena,
		(size_t)(m.TopicNames_count ? m.TopicNames_count : 1) * sizeof(*resp.Responses));
	resp.Responses_count = m.TopicNames_count;
	for (i = 0; i < m.TopicNames_count; i++) {
		struct kq_DeleteTopicsResponse_DeletableTopicResult *tr = &resp.Responses[i];
		struct topic *t;

		kq_DeleteTopicsResponse_DeletableTopicResult_init(tr);
		tr->Name = m.TopicNames[i];
		tr->ErrorMessage = KQ_STR_NULL;
		if (!cfg.delete_topic_enable) {
			tr->ErrorCode = rq->version >= 3 ? KQ_E_TOPIC_DELETION_DISABLED :
							   KQ_E_INVALID_REQUEST;
			continue;
		}
		t = topic_find_str(m.TopicNames[i]);
		if (!t) {
			tr->ErrorCode = KQ_E_UNKNOWN_TOPIC_OR_PARTITION;
			continue;
		}
		if (t->internal) {
			/* The coordinator's state lives there. */
			tr->ErrorCode = KQ_E_INVALID_REQUEST;
			continue;
		}
		topic_delete(t);
	}
	w = api_wbuf();
	kq_DeleteTopicsResponse_encode(w, rq->version, &resp);
	respond_buf(rq, w);
	/* Waiters on deleted partitions: failed produces and parked fetches answer now. */
	produce_waiters_check();
	fetch_waiters_wake();
	return 0;
}

int
h_create_partitions(struct req *rq)
{
	struct kq_CreatePartitionsRequest m;
	struct kq_CreatePartitionsResponse resp;
	struct kq_buf *w;
	int64_t total = 0;
	char big[256];
	bool too_big;
	int32_t i, j;

	if (kq_CreatePartitionsRequest_decode(&rq->body, rq->version, rq->arena, &m))
		return -1;
	for (i = 0; i < m.Topics_count; i++) {
		struct topic *t = topic_find_str(m.Topics[i].Name);

		if (t && m.Topics[i].Count > t->nparts)
			total += m.Topics[i].Count - t->nparts;
	}
	too_big = request_too_big(total, big, sizeof(big));
	kq_CreatePartitionsResponse_init(&resp);
	resp.Results = kq_arena_alloc(rq->arena,
		(size_t)(m.Topics_count ? m.Topics_count : 1) * sizeof(*resp.Results));
	resp.Results_count = m.Topics_count;
	for (i = 0; i < m.Topics_count; i++) {
		struct kq_CreatePartitionsRequest_CreatePartitionsTopic *ct = &m.Topics[i];
		struct kq_CreatePartitionsResponse_CreatePartitionsTopicResult *tr = &resp.Results[i];
		struct topic *t = topic_find_str(ct->Name);
		char msg[512] = "";
		int rc = 0;

		kq_CreatePartitionsResponse_CreatePartitionsTopicResult_init(tr);
		tr->Name = ct->Name;
		tr->ErrorMessage = KQ_STR_NULL;
		for (j = 0; j < m.Topics_count; j++)
			if (j != i && kq_str_eqs(m.Topics[j].Name, ct->Name))
				break;
		if (j < m.Topics_count) {
			rc = KQ_E_INVALID_REQUEST;
			snprintf(msg, sizeof(msg), "Duplicate topic in request.");
		} else if (!t) {
			rc = KQ_E_UNKNOWN_TOPIC_OR_PARTITION;
			snprintf(msg, sizeof(msg), "The topic does not exist.");
		} else if (t->internal) {
			/* Groups are placed by hash modulo its partition count. */
			rc = KQ_E_INVALID_REQUEST;
			snprintf(msg, sizeof(msg), "Internal topics cannot grow.");
		} else if (ct->Count <= t->nparts) {
			rc = KQ_E_INVALID_PARTITIONS;
			snprintf(msg, sizeof(msg), "Topic currently has %d partitions, which is "
				 "higher than the requested %d.", t->nparts, ct->Count);
		} else if (too_big) {
			rc = KQ_E_INVALID_PARTITIONS;
			snprintf(msg, sizeof(msg), "%s", big);
		} else if (ct->Assignments_count >= 0) {
			if (ct->Assignments_count != ct->Count - t->nparts) {
				rc = KQ_E_INVALID_REPLICA_ASSIGNMENT;
				snprintf(msg, sizeof(msg), "Increasing the number of partitions by "
					 "%d but %d assignments provided.", ct->Count - t->nparts,
					 ct->Assignments_count);
			}
			for (j = 0; j < ct->Assignments_count && !rc; j++)
				if (!replicas_are_self(ct->Assignments[j].BrokerIds,
						       ct->Assignments[j].BrokerIds_count)) {
					rc = KQ_E_INVALID_REPLICA_ASSIGNMENT;
					snprintf(msg, sizeof(msg), "Each new partition must be "
						 "assigned to broker %d only.", cfg.node_id);
				}
		}
		if (!rc && !m.ValidateOnly)
			rc = topic_add_partitions(t, ct->Count, msg, sizeof(msg));
		tr->ErrorCode = (int16_t)rc;
		if (rc)
			tr->ErrorMessage = amsg(rq->arena, msg);
	}
	w = api_wbuf();
	kq_CreatePartitionsResponse_encode(w, rq->version, &resp);
	respond_buf(rq, w);
	return 0;
}

/* ---- DescribeConfigs ---- */

struct dc {
	struct kq_arena *a;
	int16_t version;
	bool synonyms;
	const struct kq_DescribeConfigsRequest_DescribeConfigsResource *res;
	struct kq_DescribeConfigsResponse_DescribeConfigsResourceResult *out;
	int n, cap;
};

static bool
dc_wanted(const struct dc *d, const char *key)
{
	int32_t i;

	if (d->res->ConfigurationKeys_count < 0)
		return true;
	for (i = 0; i < d->res->ConfigurationKeys_count; i++)
		if (kq_str_eq(d->res->ConfigurationKeys[i], key))
			return true;
	return false;
}

static void
dc_add(struct dc *d, const char *key, const char *value, int8_t source)
{
	struct kq_DescribeConfigsResponse_DescribeConfigsResourceResult *r;

	if (!dc_wanted(d, key))
		return;
	if (d->n == d->cap) {
		int ncap = d->cap ? d->cap * 2 : 32;
		void *p = kq_arena_alloc(d->a, (size_t)ncap * sizeof(*d->out));

		if (d->n)
			memcpy(p, d->out, (size_t)d->n * sizeof(*d->out));
		d->out = p;
		d->cap = ncap;
	}
	r = &d->out[d->n++];
	kq_DescribeConfigsResponse_DescribeConfigsResourceResult_init(r);
	r->Name = amsg(d->a, key);
	r->Value = amsg(d->a, value);
	r->ReadOnly = false;
	r->IsDefault = source == KQ_CONFIG_SOURCE_DEFAULT;
	r->ConfigSource = source;
	r->IsSensitive = false;
	r->Synonyms_count = 0;
	r->ConfigType = 0;
	r->Documentation = KQ_STR_NULL;
	if (d->synonyms && d->version >= 1) {
		r->Synonyms = kq_arena_alloc(d->a, sizeof(*r->Synonyms));
		kq_DescribeConfigsResponse_DescribeConfigsSynonym_init(&r->Synonyms[0]);
		r->Synonyms[0].Name = r->Name;
		r->Synonyms[0].Value = r->Value;
		r->Synonyms[0].Source = source;
		r->Synonyms_count = 1;
	}
}

static void
dc_broker_cb(void *arg, const char *key, const char *value)
{
	dc_add(arg, key, value, KQ_CONFIG_SOURCE_STATIC_BROKER);
}

int
h_describe_configs(struct req *rq)
{
	struct kq_DescribeConfigsRequest m;
	struct kq_DescribeConfigsResponse resp;
	struct kq_buf *w;
	int32_t i;

	if (kq_DescribeConfigsRequest_decode(&rq->body, rq->version, rq->arena, &m))
		return -1;
	kq_DescribeConfigsResponse_init(&resp);
	resp.Results = kq_arena_alloc(rq->arena,
		(size_t)(m.Resources_count ? m.Resources_count : 1) * sizeof(*resp.Results));
	resp.Results_count = m.Resources_count;
	for (i = 0; i < m.Resources_count; i++) {
		const struct kq_DescribeConfigsRequest_DescribeConfigsResource *res = &m.Resources[i];
		struct kq_DescribeConfigsResponse_DescribeConfigsResult *rr = &resp.Results[i];
		struct dc d = { rq->arena, rq->version, m.IncludeSynonyms, res, NULL, 0, 0 };

		kq_DescribeConfigsResponse_DescribeConfigsResult_init(rr);
		rr->ResourceType = res->ResourceType;
		rr->ResourceName = res->ResourceName;
		rr->ErrorMessage = KQ_STR_NULL;
		if (res->ResourceType == 2) {
			struct topic *t = topic_find_str(res->ResourceName);
			const char *const *keys;
			int nk, k, c;

			if (!t) {
				rr->ErrorCode = KQ_E_UNKNOWN_TOPIC_OR_PARTITION;
				rr->ErrorMessage = amsg(rq->arena, "Topic does not exist");
				continue;
			}
			keys = topic_config_keys(&nk);
			for (k = 0; k < nk; k++) {
				for (c = 0; c < t->nconf; c++)
					if (strcmp(t->ckeys[c], keys[k]) == 0)
						break;
				if (c < t->nconf) {
					dc_add(&d, keys[k], t->cvals[c], KQ_CONFIG_SOURCE_TOPIC);
				} else {
					char *v = topic_config_default(keys[k]);

					dc_add(&d, keys[k], v, (int8_t)topic_config_default_source(keys[k]));
					free(v);
				}
			}
		} else if (res->ResourceType == 4) {
			char idbuf[16];

			snprintf(idbuf, sizeof(idbuf), "%d", cfg.node_id);
			if (res->ResourceName.len > 0 && !kq_str_eq(res->ResourceName, idbuf)) {
				rr->ErrorCode = KQ_E_INVALID_REQUEST;
				rr->ErrorMessage = amsg(rq->arena, "Unknown broker id");
				continue;
			}
			config_each(&cfg, dc_broker_cb, &d);
		} else {
			rr->ErrorCode = KQ_E_INVALID_REQUEST;
			rr->ErrorMessage = amsg(rq->arena, "Unsupported resource type");
			continue;
		}
		rr->Configs = d.out;
		rr->Configs_count = d.n;
	}
	w = api_wbuf();
	kq_DescribeConfigsResponse_encode(w, rq->version, &resp);
	respond_buf(rq, w);
	return 0;
}

/* ---- AlterConfigs / IncrementalAlterConfigs (topic resources only) ---- */

enum { OP_SET = 0, OP_DELETE = 1, OP_APPEND = 2, OP_SUBTRACT = 3, OP_REPLACE_ALL = -1 };

struct alter {
	const char *name;
	const char *value;	/* NULL for delete */
	int op;
};

/* Does the comma-separated list have item (n bytes)? */
static bool
list_has(const char *list, const char *item, size_t n)
{
	while (*list) {
		size_t len = strcspn(list, ",");

		if (len == n && strncmp(list, item, n) == 0)
			return true;
		list += len + (list[len] == ',');
	}
	return false;
}

/*
 * APPEND / SUBTRACT on a list config: the current value (the override, else
 * the default) with the items of arg added (once each) or removed.
 */
static char *
list_edit(struct kq_arena *a, const char *cur, const char *key, const char *arg, bool append)
{
	char *dflt = cur ? NULL : topic_config_default(key);
	const char *base = cur ? cur : dflt ? dflt : "", *p;
	struct kq_buf b = { 0 };
	char *out;

	for (p = base; *p;) {
		size_t len = strcspn(p, ",");

		if (len && (append || !list_has(arg, p, len))) {
			if (b.len)
				kq_buf_addc(&b, ',');
			kq_buf_add(&b, p, len);
		}
		p += len + (p[len] == ',');
	}
	for (p = append ? arg : ""; *p;) {
		size_t len = strcspn(p, ",");

		if (len && !list_has(kq_buf_cstr(&b), p, len)) {
			if (b.len)
				kq_buf_addc(&b, ',');
			kq_buf_add(&b, p, len);
		}
		p += len + (p[len] == ',');
	}
	out = kq_arena_strndup(a, b.len ? (const char *)b.buf : "", b.len);
	kq_buf_free(&b);
	free(dflt);
	return out;
}

/*
 * Apply one resource's changes.  AlterConfigs (OP_REPLACE_ALL entries)
 * replaces the whole override set; incremental ops edit the current one.
 */
static int
alter_resource(int8_t type, struct kq_str rname, const struct alter *al, int n, bool incremental,
	       bool validate_only, struct kq_arena *a, char *msg, size_t msglen)
{
	struct topic *t;
	char **keys, **vals;
	int nk = 0, i, j;

	if (type == 4) {
		snprintf(msg, msglen, "Dynamic broker configs are not supported by kq; "
			 "use -X or the config file");
		return KQ_E_INVALID_REQUEST;
	}
	if (type != 2) {
		snprintf(msg, msglen, "Unsupported resource type %d", type);
		return KQ_E_INVALID_REQUEST;
	}
	t = topic_find_str(rname);
	if (!t) {
		snprintf(msg, msglen, "Topic does not exist");
		return KQ_E_UNKNOWN_TOPIC_OR_PARTITION;
	}
	keys = kq_arena_alloc(a, (size_t)(t->nconf + n + 1) * sizeof(char *));
	vals = kq_arena_alloc(a, (size_t)(t->nconf + n + 1) * sizeof(char *));
	if (incremental) {
		for (i = 0; i < t->nconf; i++) {
			keys[nk] = t->ckeys[i];
			vals[nk++] = t->cvals[i];
		}
	}
	for (i = 0; i < n; i++) {
		if ((al[i].op == OP_APPEND || al[i].op == OP_SUBTRACT) &&
		    strcmp(al[i].name, "cleanup.policy") != 0) {
			snprintf(msg, msglen, "Config value append/subtract is not allowed for "
				 "config key %s (not a list)", al[i].name);
			return KQ_E_INVALID_CONFIG;
		}
		if (al[i].op > OP_SUBTRACT || al[i].op < OP_REPLACE_ALL) {
			snprintf(msg, msglen, "Unknown config operation %d", al[i].op);
			return KQ_E_INVALID_REQUEST;
		}
		for (j = 0; j < nk; j++)
			if (strcmp(keys[j], al[i].name) == 0)
				break;
		if (al[i].op == OP_DELETE) {
			if (j < nk) {
				keys[j] = keys[nk - 1];
				vals[j] = vals[nk - 1];
				nk--;
			}
			continue;
		}
		if (!al[i].value) {
			snprintf(msg, msglen, "Null value for %s", al[i].name);
			return KQ_E_INVALID_CONFIG;
		}
		keys[j] = (char *)al[i].name;
		if (al[i].op == OP_APPEND || al[i].op == OP_SUBTRACT)
			vals[j] = list_edit(a, j < nk ? vals[j] : NULL, al[i].name, al[i].value,
					    al[i].op == OP_APPEND);
		else
			vals[j] = (char *)al[i].value;
		if (j == nk)
			nk++;
	}
	return topic_set_configs(t, keys, vals, nk, validate_only, msg, msglen);
}

int
h_alter_configs(struct req *rq)
{
	struct kq_AlterConfigsRequest m;
	struct kq_AlterConfigsResponse resp;
	struct kq_buf *w;
	int32_t i, j;

	if (kq_AlterConfigsRequest_decode(&rq->body, rq->version, rq->arena, &m))
		return -1;
	kq_AlterConfigsResponse_init(&resp);
	resp.Responses = kq_arena_alloc(rq->arena,
		(size_t)(m.Resources_count ? m.Resources_count : 1) * sizeof(*resp.Responses));
	resp.Responses_count = m.Resources_count;
	for (i = 0; i < m.Resources_count; i++) {
		struct kq_AlterConfigsRequest_AlterConfigsResource *res = &m.Resources[i];
		struct kq_AlterConfigsResponse_AlterConfigsResourceResponse *rr = &resp.Responses[i];
		struct alter *al = kq_arena_alloc(rq->arena,
			(size_t)(res->Configs_count + 1) * sizeof(*al));
		char msg[512] = "";
		int rc;

		kq_AlterConfigsResponse_AlterConfigsResourceResponse_init(rr);
		rr->ResourceType = res->ResourceType;
		rr->ResourceName = res->ResourceName;
		rr->ErrorMessage = KQ_STR_NULL;
		for (j = 0; j < res->Configs_count; j++) {
			al[j].name = adup(rq->arena, res->Configs[j].Name);
			al[j].value = res->Configs[j].Value.len < 0 ? NULL :
				      adup(rq->arena, res->Configs[j].Value);
			al[j].op = OP_REPLACE_ALL;
		}
		rc = alter_resource(res->ResourceType, res->ResourceName, al, res->Configs_count,
				    false, m.ValidateOnly, rq->arena, msg, sizeof(msg));
		rr->ErrorCode = (int16_t)rc;
		if (rc)
			rr->ErrorMessage = amsg(rq->arena, msg);
	}
	w = api_wbuf();
	kq_AlterConfigsResponse_encode(w, rq->version, &resp);
	respond_buf(rq, w);
	return 0;
}

int
h_incremental_alter_configs(struct req *rq)
{
	struct kq_IncrementalAlterConfigsRequest m;
	struct kq_IncrementalAlterConfigsResponse resp;
	struct kq_buf *w;
	int32_t i, j;

	if (kq_IncrementalAlterConfigsRequest_decode(&rq->body, rq->version, rq->arena, &m))
		return -1;
	kq_IncrementalAlterConfigsResponse_init(&resp);
	resp.Responses = kq_arena_alloc(rq->arena,
		(size_t)(m.Resources_count ? m.Resources_count : 1) * sizeof(*resp.Responses));
	resp.Responses_count = m.Resources_count;
	for (i = 0; i < m.Resources_count; i++) {
		struct kq_IncrementalAlterConfigsRequest_AlterConfigsResource *res = &m.Resources[i];
		struct kq_IncrementalAlterConfigsResponse_AlterConfigsResourceResponse *rr =
			&resp.Responses[i];
		struct alter *al = kq_arena_alloc(rq->arena,
			(size_t)(res->Configs_count + 1) * sizeof(*al));
		char msg[512] = "";
		int rc;

		kq_IncrementalAlterConfigsResponse_AlterConfigsResourceResponse_init(rr);
		rr->ResourceType = res->ResourceType;
		rr->ResourceName = res->ResourceName;
		rr->ErrorMessage = KQ_STR_NULL;
		for (j = 0; j < res->Configs_count; j++) {
			al[j].name = adup(rq->arena, res->Configs[j].Name);
			al[j].value = res->Configs[j].Value.len < 0 ? NULL :
				      adup(rq->arena, res->Configs[j].Value);
			al[j].op = res->Configs[j].ConfigOperation;
		}
		rc = alter_resource(res->ResourceType, res->ResourceName, al, res->Configs_count,
				    true, m.ValidateOnly, rq->arena, msg, sizeof(msg));
		rr->ErrorCode = (int16_t)rc;
		if (rc)
			rr->ErrorMessage = amsg(rq->arena, msg);
	}
	w = api_wbuf();
	kq_IncrementalAlterConfigsResponse_encode(w, rq->version, &resp);
	respond_buf(rq, w);
	return 0;
}
