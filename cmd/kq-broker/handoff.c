/*
 * handoff.c - work between the event loop and other threads, in the
 * spirit of redis's bio.c.  A handoff has a job queue to one worker
 * thread (optional) and a completion queue back to the loop, which any
 * thread may push to and which wakes the loop through one libevent event.
 * The loop's done callback runs once per completed job, in order.  Jobs
 * are opaque pointers; the queues own only their links.
 */
#include <pthread.h>
#include <stdlib.h>

#include "broker.h"

struct hnode {
	void *job;
	struct hnode *next;
};

struct hqueue {
	struct hnode *head, **tail;
};

struct handoff {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	bool has_thread, quit;
	struct hqueue todo, done;	/* under mu */
	handoff_fn *work, *finish;
	struct event *ev;
};

static void
hq_push(struct hqueue *q, void *job)
{
	struct hnode *n = kq_xmalloc(sizeof(*n));

	n->job = job;
	n->next = NULL;
	*q->tail = n;
	q->tail = &n->next;
}

static bool
hq_pop(struct hqueue *q, void **job)
{
	struct hnode *n = q->head;

	if (!n)
		return false;
	q->head = n->next;
	if (!q->head)
		q->tail = &q->head;
	*job = n->job;
	free(n);
	return true;
}

static void *
worker_main(void *arg)
{
	struct handoff *h = arg;
	void *job;

	pthread_mutex_lock(&h->mu);
	for (;;) {
		if (!hq_pop(&h->todo, &job)) {
			if (h->quit)
				break;
			pthread_cond_wait(&h->cv, &h->mu);
			continue;
		}
		pthread_mutex_unlock(&h->mu);
		h->work(job);
		handoff_complete(h, job);
		pthread_mutex_lock(&h->mu);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

/* Loop: run finish for every completed job, including ones pushed meanwhile. */
static void
drain(struct handoff *h)
{
	void *job;
	bool got;

	for (;;) {
		pthread_mutex_lock(&h->mu);
		got = hq_pop(&h->done, &job);
		pthread_mutex_unlock(&h->mu);
		if (!got)
			return;
		h->finish(job);
	}
}

static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
	drain(arg);
}

struct handoff *
handoff_new(struct event_base *base, const char *name, handoff_fn *work, handoff_fn *finish)
{
	struct handoff *h = kq_xcalloc(1, sizeof(*h));

	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	h->todo.tail = &h->todo.head;
	h->done.tail = &h->done.head;
	h->work = work;
	h->finish = finish;
	h->ev = watch_event_new(base, -1, 0, wake_cb, h, name);
	if (!h->ev)
		goto fail;
	if (work) {
		if (pthread_create(&h->thread, NULL, worker_main, h) != 0)
			goto fail;
		h->has_thread = true;
	}
	return h;
fail:
	watch_event_free(h->ev);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->mu);
	free(h);
	return NULL;
}

void
handoff_push(struct handoff *h, void *job)
{
	pthread_mutex_lock(&h->mu);
	hq_push(&h->todo, job);
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

void
handoff_complete(struct handoff *h, void *job)
{
	pthread_mutex_lock(&h->mu);
	hq_push(&h->done, job);
	pthread_mutex_unlock(&h->mu);
	event_active(h->ev, EV_READ, 0);
}

void
handoff_free(struct handoff *h)
{
	if (!h)
		return;
	if (h->has_thread) {
		pthread_mutex_lock(&h->mu);
		h->quit = true;
		pthread_cond_signal(&h->cv);
		pthread_mutex_unlock(&h->mu);
		pthread_join(h->thread, NULL);
	}
	/* Completions whose wake-up never ran. */
	drain(h);
	watch_event_free(h->ev);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->mu);
	free(h);
}
