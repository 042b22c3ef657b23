/*
 * h_fetch.c - Fetch v0-11 with long polling.  Records are not copied by
 * kq: kq_log_read gives file ranges, the response headers go into an
 * evbuffer and each range is added as a file segment (libevent maps it and
 * writes from the mapping).  A request that cannot be answered yet is
 * parked with a copy of its body and re-evaluated when a high watermark
 * moves or its max_wait_ms expires.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker.h"

#define MAX_SLICES 8
/*
 * File segments (each a dup'd descriptor, held until the response is
 * written) per response; past them slices are copied, so a fetch of
 * thousands of partitions cannot exhaust RLIMIT_NOFILE.
 */
#define MAX_FILE_SLICES 64
#define MAX_WAIT_CAP_MS 300000

struct fpart {
	int16_t err;
	int64_t hw, lso, start;
	int nslice;
	struct kq_slice sl[MAX_SLICES];
	int64_t bytes;
	struct evbuffer *pb;	/* the records, taken from sl at once */
};

struct pfetch {
	struct conn *conn;
	struct slot *slot;
	int32_t corr;
	int16_t version;
	unsigned char *body;
	size_t body_len;
	struct kq_arena arena;
	struct kq_FetchRequest m;
	struct event *timer;
	struct pfetch *prev, *next;
};

static struct pfetch *parked;
static struct event *wake_ev;
static struct event_base *ev_base;

static int16_t
epoch_check(const struct partition *p, int32_t cur)
{
	if (cur < 0 || cur == p->leader_epoch)
		return 0;
	return cur < p->leader_epoch ? KQ_E_FENCED_LEADER_EPOCH : KQ_E_UNKNOWN_LEADER_EPOCH;
}

/* The file behind a slice, for messages: "/data/t-0/00000000000000000000.log". */
static const char *
slice_path(const struct kq_slice *s, char *buf, size_t n)
{
	char link[64];
	ssize_t r;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", s->fd);
	r = readlink(link, buf, n - 1);
	if (r < 0)
		snprintf(buf, n, "fd %d", s->fd);
	else
		buf[r] = '\0';
	return buf;
}

/* Add bytes [pos, pos+len) of fd; a dup is handed to libevent (it closes it). */
static int
add_slice(struct evbuffer *out, const struct kq_slice *s)
{
	int fd = dup(s->fd);

	if (fd >= 0 && evbuffer_add_file(out, fd, s->pos, s->len) == 0)
		return 0;
	if (fd >= 0)
		close(fd);
	return -1;
}

/* The fallback when a slice cannot be added as a file segment: read it. */
static int
copy_slice(struct evbuffer *out, const struct kq_slice *s)
{
	unsigned char *tmp = kq_xmalloc((size_t)s->len);
	int rc = kq_io_pread_all(s->fd, tmp, (size_t)s->len, s->pos);

	if (rc == 0)
		evbuffer_add(out, tmp, (size_t)s->len);
	free(tmp);
	return rc;
}

/*
 * Put one partition's slices into pb, which the caller sends only after
 * writing its length: every byte there is the log's.  A slice is mapped
 * (add_slice) while *files_left allows, or read (copy_slice).  A file cut or
 * replaced behind the broker's back ends before the slice: a mapping would
 * serve zeros past the end, a read comes up short.  Either, or a failed
 * read, makes the whole partition KAFKA_STORAGE_ERROR, logged with the file
 * and offset.
 */
static int16_t
part_records(struct evbuffer *pb, const struct kq_slice *sl, int n, int *files_left)
{
	char path[PATH_MAX], why[64];
	struct stat st;
	int i, rc;

	for (i = 0; i < n; i++) {
		const struct kq_slice *s = &sl[i];

		if (s->len <= 0)
			continue;
		if (*files_left > 0 && add_slice(pb, s) == 0) {
			--*files_left;
			rc = fstat(s->fd, &st) < 0 ? KQ_ERR_IO : 0;
			if (rc == 0 && s->pos + s->len > (int64_t)st.st_size) {
				snprintf(why, sizeof(why), "the file ends at %lld",
					 (long long)st.st_size);
				rc = KQ_ERR_TRUNCATED;
			}
		} else {
			rc = copy_slice(pb, s);
			snprintf(why, sizeof(why), "short read");
		}
		if (rc == 0)
			continue;
		if (rc == KQ_ERR_TRUNCATED)
			kq_log_warnx("fetch: %s: %lld bytes at offset %lld: %s (changed behind "
				     "the broker's back?)", slice_path(s, path, sizeof(path)),
				     (long long)s->len, (long long)s->pos, why);
		else
			kq_log_warn("fetch: %s: %lld bytes at offset %lld",
				    slice_path(s, path, sizeof(path)), (long long)s->len,
				    (long long)s->pos);
		return KQ_E_KAFKA_STORAGE_ERROR;
	}
	return 0;
}

/*
 * Evaluate a fetch.  Returns the response body, or NULL when it should wait
 * (not forced, no error, fewer than min_bytes available).
 */
static struct evbuffer *
fetch_eval(int16_t version, const struct kq_FetchRequest *m, bool force)
{
	struct fpart *fp;
	struct evbuffer *out;
	struct kq_buf *w;
	int32_t i, j, nparts = 0;
	int64_t total = 0, remaining;
	bool any_err = false, session_err;
	int k, files_left = MAX_FILE_SLICES;

	if (version < 4)	/* message sets, down-converted: never zero-copy */
		return legacy_fetch_eval(version, m, force);
	session_err = version >= 7 && m->SessionId != 0;
	for (i = 0; i < m->Topics_count; i++)
		nparts += m->Topics[i].Partitions_count;
	fp = kq_xcalloc((size_t)(nparts ? nparts : 1), sizeof(*fp));
	remaining = m->MaxBytes > 0 ? m->MaxBytes : 0;
	k = 0;
	for (i = 0; i < m->Topics_count && !session_err; i++) {
		const struct kq_FetchRequest_FetchTopic *ft = &m->Topics[i];

		for (j = 0; j < ft->Partitions_count; j++) {
			const struct kq_FetchRequest_FetchPartition *rp = &ft->Partitions[j];
			struct fpart *f = &fp[k++];
			struct partition *p = partition_find(ft->Topic, rp->Partition);
			int64_t limit;
			int rc;

			f->hw = f->lso = f->start = -1;
			if (!p) {
				f->err = KQ_E_UNKNOWN_TOPIC_OR_PARTITION;
			} else if (version >= 9 && (f->err = epoch_check(p, rp->CurrentLeaderEpoch))) {
				;
			} else if (p->role != ROLE_LEADER) {
				f->err = KQ_E_NOT_LEADER_OR_FOLLOWER;
			} else {
				f->hw = f->lso = p->hw;
				f->start = kq_log_start(p->log);
				limit = KQ_MIN((int64_t)rp->PartitionMaxBytes, remaining);
				if (limit < 0)
					limit = 0;
				if (limit > 0 || total == 0) {
					rc = kq_log_read(p->log, rp->FetchOffset, p->hw, limit,
							 total == 0, f->sl, MAX_SLICES, &f->nslice);
					if (rc) {
						f->err = (int16_t)(rc > 0 ? rc : KQ_E_KAFKA_STORAGE_ERROR);
						f->nslice = 0;
					}
				}
				for (rc = 0; rc < f->nslice; rc++)
					f->bytes += f->sl[rc].len;
				/*
				 * Slice fds last only until the next log call (the
				 * log's descriptor LRU may close them): take the
				 * records now, before the next partition is read.
				 */
				if (f->bytes > 0) {
					f->pb = evbuffer_new();
					if (!f->pb)
						kq_fatalx("out of memory");
					/* It ends up in a socket's output: file
					 * segments added now go out with sendfile. */
					evbuffer_set_flags(f->pb, EVBUFFER_FLAG_DRAINS_TO_FD);
					if ((f->err = part_records(f->pb, f->sl, f->nslice, &files_left)) != 0) {
						evbuffer_free(f->pb);
						f->pb = NULL;
						f->bytes = 0;
					}
				}
				total += f->bytes;
				remaining -= f->bytes;
			}
			if (f->err)
				any_err = true;
		}
	}
	if (!force && !any_err && !session_err && total < m->MinBytes) {
		for (k = 0; k < nparts; k++)
			if (fp[k].pb)
				evbuffer_free(fp[k].pb);
		free(fp);
		return NULL;
	}

	out = evbuffer_new();
	if (!out)
		kq_fatalx("out of memory");
	w = api_wbuf();
	kq_wr_i32(w, 0);			/* throttle_time_ms */
	if (version >= 7) {
		kq_wr_i16(w, session_err ? KQ_E_FETCH_SESSION_ID_NOT_FOUND : 0);
		kq_wr_i32(w, 0);		/* session_id */
	}
	kq_wr_i32(w, session_err ? 0 : m->Topics_count);
	k = 0;
	for (i = 0; i < m->Topics_count && !session_err; i++) {
		const struct kq_FetchRequest_FetchTopic *ft = &m->Topics[i];

		kq_wr_str(w, ft->Topic);
		kq_wr_i32(w, ft->Partitions_count);
		for (j = 0; j < ft->Partitions_count; j++) {
			struct fpart *f = &fp[k++];
			struct evbuffer *pb = f->pb;

			kq_wr_i32(w, ft->Partitions[j].Partition);
			kq_wr_i16(w, f->err);
			kq_wr_i64(w, f->hw);
			kq_wr_i64(w, f->lso);
			if (version >= 5)
				kq_wr_i64(w, f->start);
			kq_wr_i32(w, m->IsolationLevel == 1 ? 0 : -1);	/* aborted_transactions */
			if (version >= 11)
				kq_wr_i32(w, -1);	/* preferred_read_replica */
			kq_wr_i32(w, (int32_t)f->bytes);
			if (!pb)
				continue;
			evbuffer_add(out, w->buf, w->len);
			kq_buf_reset(w);
			evbuffer_add_buffer(out, pb);
			evbuffer_free(pb);
		}
	}
	evbuffer_add(out, w->buf, w->len);
	free(fp);
	return out;
}

static void
pfetch_free(struct pfetch *pf)
{
	if (pf->prev)
		pf->prev->next = pf->next;
	else
		parked = pf->next;
	if (pf->next)
		pf->next->prev = pf->prev;
	if (pf->timer)
		event_free(pf->timer);
	kq_arena_free(&pf->arena);
	free(pf->body);
	free(pf);
}

/* Cheap pre-check for wake-ups: could anything have changed for this fetch? */
static bool
pfetch_may_answer(const struct kq_FetchRequest *m)
{
	int32_t i, j;

	for (i = 0; i < m->Topics_count; i++)
		for (j = 0; j < m->Topics[i].Partitions_count; j++) {
			const struct kq_FetchRequest_FetchPartition *rp = &m->Topics[i].Partitions[j];
			struct partition *p = partition_find(m->Topics[i].Topic, rp->Partition);

			if (!p || p->hw > rp->FetchOffset || kq_log_start(p->log) > rp->FetchOffset)
				return true;
		}
	return false;
}

static bool
pfetch_try(struct pfetch *pf, bool force)
{
	struct evbuffer *out;

	if (!force && !pfetch_may_answer(&pf->m))
		return false;
	out = fetch_eval(pf->version, &pf->m, force);

	if (!out)
		return false;
	slot_finish_evbuf(pf->slot, pf->corr, out);
	pfetch_free(pf);
	return true;
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	watch_begin("fetch wait timeout");
	pfetch_try(arg, true);
	watch_end();
}

static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pfetch *pf, *next;

	for (pf = parked; pf; pf = next) {
		next = pf->next;
		pfetch_try(pf, false);
	}
}

void
waiters_init(struct event_base *base)
{
	ev_base = base;
	wake_ev = watch_event_new(base, -1, 0, wake_cb, NULL, "fetch wake-up");
	if (!wake_ev)
		kq_fatalx("event_new failed");
}

void
fetch_waiters_wake(void)
{
	/* Deferred: many HW moves in one loop turn cost one pass over the parked fetches. */
	if (wake_ev && parked && !event_pending(wake_ev, EV_READ, NULL))
		event_active(wake_ev, EV_READ, 0);
}

void
fetch_waiters_drop_conn(struct conn *conn)
{
	struct pfetch *pf, *next;

	for (pf = parked; pf; pf = next) {
		next = pf->next;
		if (pf->conn != conn)
			continue;
		slot_drop(pf->slot);
		pfetch_free(pf);
	}
}

int
h_fetch(struct req *rq)
{
	struct kq_FetchRequest m;
	struct evbuffer *out;
	struct pfetch *pf;
	struct timeval tv;
	int32_t wait;
	const unsigned char *body = rq->body.p;
	size_t body_len = kq_rd_left(&rq->body);

	if (kq_FetchRequest_decode(&rq->body, rq->version, rq->arena, &m))
		return -1;
	wait = m.MaxWaitMs < 0 ? 0 : KQ_MIN(m.MaxWaitMs, MAX_WAIT_CAP_MS);
	out = fetch_eval(rq->version, &m, wait == 0);
	if (out) {
		slot_finish_evbuf(slot_new(rq->conn), rq->corr, out);
		return 0;
	}
	/* Park: keep a private copy of the body, since the frame is about to be drained. */
	pf = kq_xcalloc(1, sizeof(*pf));
	pf->conn = rq->conn;
	pf->slot = slot_new(rq->conn);
	pf->corr = rq->corr;
	pf->version = rq->version;
	pf->body_len = body_len;
	pf->body = kq_xmalloc(body_len ? body_len : 1);
	memcpy(pf->body, body, body_len);
	{
		struct kq_rd r;

		kq_rd_init(&r, pf->body, pf->body_len);
		if (kq_FetchRequest_decode(&r, rq->version, &pf->arena, &pf->m))
			kq_fatalx("fetch request decoded once but not twice");
	}
	pf->next = parked;
	if (parked)
		parked->prev = pf;
	parked = pf;
	pf->timer = evtimer_new(ev_base, timer_cb, pf);
	if (!pf->timer)
		kq_fatalx("evtimer_new failed");
	tv.tv_sec = wait / 1000;
	tv.tv_usec = (wait % 1000) * 1000;
	evtimer_add(pf->timer, &tv);
	return 0;
}
