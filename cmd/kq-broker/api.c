/*
 * api.c - the API table (what ApiVersions advertises is exactly what is
 * dispatched), request header parsing and ApiVersions itself.
 */
#include <stdio.h>
#include <string.h>

#include "broker.h"

/* Every non-flexible version Kafka 3.9 serves, old message formats included (h_legacy.c). */
const struct api api_table[KQ_API_MAX] = {
	[KQ_API_PRODUCE] = { 0, 8, h_produce },
	[KQ_API_FETCH] = { 0, 11, h_fetch },
	[KQ_API_LIST_OFFSETS] = { 0, 5, h_list_offsets },
	[KQ_API_METADATA] = { 0, 8, h_metadata },
	[KQ_API_OFFSET_COMMIT] = { 0, 7, h_group },
	[KQ_API_OFFSET_FETCH] = { 0, 5, h_group },
	[KQ_API_FIND_COORDINATOR] = { 0, 2, h_group },
	[KQ_API_JOIN_GROUP] = { 0, 5, h_group },
	[KQ_API_HEARTBEAT] = { 0, 3, h_group },
	[KQ_API_LEAVE_GROUP] = { 0, 3, h_group },
	[KQ_API_SYNC_GROUP] = { 0, 3, h_group },
	[KQ_API_DESCRIBE_GROUPS] = { 0, 4, h_group },
	[KQ_API_LIST_GROUPS] = { 0, 2, h_group },
	[KQ_API_API_VERSIONS] = { 0, 2, h_api_versions },
	[KQ_API_CREATE_TOPICS] = { 0, 4, h_create_topics },
	[KQ_API_DELETE_TOPICS] = { 0, 3, h_delete_topics },
	[KQ_API_DELETE_RECORDS] = { 0, 1, h_delete_records },
	[KQ_API_INIT_PRODUCER_ID] = { 0, 1, h_init_producer_id },
	[KQ_API_DESCRIBE_CONFIGS] = { 0, 3, h_describe_configs },
	[KQ_API_ALTER_CONFIGS] = { 0, 1, h_alter_configs },
	[KQ_API_CREATE_PARTITIONS] = { 0, 1, h_create_partitions },
	[KQ_API_DELETE_GROUPS] = { 0, 1, h_group },
	[KQ_API_INCREMENTAL_ALTER_CONFIGS] = { 0, 0, h_incremental_alter_configs },
	[KQ_API_OFFSET_DELETE] = { 0, 0, h_group },
};

static struct kq_arena arena;
static struct kq_buf wbuf;

void
respond_buf(struct req *rq, struct kq_buf *w)
{
	struct slot *s = slot_new(rq->conn);

	slot_finish(s, rq->corr, w->buf, w->len);
}

static void
fill_api_keys(struct kq_ApiVersionsResponse *m, struct kq_arena *a, bool only_self)
{
	int i, n = 0;

	m->ApiKeys = kq_arena_alloc(a, KQ_API_MAX * sizeof(*m->ApiKeys));
	for (i = 0; i < KQ_API_MAX; i++) {
		if (!api_table[i].fn || (only_self && i != KQ_API_API_VERSIONS))
			continue;
		m->ApiKeys[n].ApiKey = (int16_t)i;
		m->ApiKeys[n].MinVersion = api_table[i].min;
		m->ApiKeys[n].MaxVersion = api_table[i].max;
		n++;
	}
	m->ApiKeys_count = n;
}

int
h_api_versions(struct req *rq)
{
	struct kq_ApiVersionsRequest m;
	struct kq_ApiVersionsResponse resp;

	if (kq_ApiVersionsRequest_decode(&rq->body, rq->version, rq->arena, &m))
		return -1;
	kq_ApiVersionsResponse_init(&resp);
	fill_api_keys(&resp, rq->arena, false);
	kq_buf_reset(&wbuf);
	kq_ApiVersionsResponse_encode(&wbuf, rq->version, &resp);
	respond_buf(rq, &wbuf);
	return 0;
}

/*
 * ApiVersions above what kq speaks (the v3 probe): answer in v0 format with
 * UNSUPPORTED_VERSION and the ApiVersions range, without parsing the
 * flexible header, and keep the connection (WIRE.md 4.2).
 */
static void
api_versions_unsupported(struct conn *conn, int32_t corr)
{
	struct kq_ApiVersionsResponse resp;
	struct slot *s;

	kq_ApiVersionsResponse_init(&resp);
	resp.ErrorCode = KQ_E_UNSUPPORTED_VERSION;
	fill_api_keys(&resp, &arena, true);
	kq_buf_reset(&wbuf);
	kq_ApiVersionsResponse_encode(&wbuf, 0, &resp);
	s = slot_new(conn);
	slot_finish(s, corr, wbuf.buf, wbuf.len);
	kq_arena_reset(&arena);
}

void
api_dispatch(struct conn *conn, unsigned char *frame, size_t n)
{
	struct req rq;
	struct kq_rd r;
	const struct api *api;
	char cid[64];
	int rc;

	kq_rd_init(&r, frame, n);
	memset(&rq, 0, sizeof(rq));
	rq.conn = conn;
	rq.key = kq_rd_i16(&r);
	rq.version = kq_rd_i16(&r);
	rq.corr = kq_rd_i32(&r);
	rq.frame = frame;
	rq.frame_len = n;
	if (rq.key == KQ_API_API_VERSIONS && rq.version > api_table[KQ_API_API_VERSIONS].max) {
		api_versions_unsupported(conn, rq.corr);
		return;
	}
	rq.client_id = kq_rd_str(&r, true);
	if (r.err) {
		kq_log_info("%s: malformed request header; closing", conn_peer(conn));
		conn_fail(conn);
		return;
	}
	snprintf(cid, sizeof(cid), "%.*s", rq.client_id.len > 0 ? (int)rq.client_id.len : 0,
		 rq.client_id.len > 0 ? rq.client_id.p : "");
	api = rq.key >= 0 && rq.key < KQ_API_MAX ? &api_table[rq.key] : NULL;
	if (!api || !api->fn || rq.version < api->min || rq.version > api->max) {
		kq_log_info("%s: unsupported request key %d version %d (client '%s'); closing",
			    conn_peer(conn), rq.key, rq.version, cid);
		conn_fail(conn);
		return;
	}
	rq.body = r;
	rq.arena = &arena;
	kq_log_debug("%s: %s v%d corr %d client '%s'", conn_peer(conn), kq_api_name(rq.key),
		     rq.version, rq.corr, cid);
	watch_request(&rq, cid);
	rc = api->fn(&rq);
	watch_request_done(&rq);
	if (rc == -2) {
		conn_fail(conn);	/* the handler said why */
	} else if (rc < 0) {
		kq_log_info("%s: cannot decode %s v%d (client '%s'); closing", conn_peer(conn),
			    kq_api_name(rq.key), rq.version, cid);
		conn_fail(conn);
	}
	kq_arena_reset(&arena);
}

struct kq_buf *
api_wbuf(void)
{
	kq_buf_reset(&wbuf);
	return &wbuf;
}
