/*
 * admin.c - shared pieces of the admin tools (see admin.h).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../net/client.h"
#include "admin.h"

int kq_cli_exit_status;

void
kq_cli_set_status(int code)
{
	if (kq_cli_exit_status == 0)
		kq_cli_exit_status = code;
}

static const struct {
	int err, status;
} exit_of[] = {
	{ KQ_E_UNKNOWN_TOPIC_OR_PARTITION, KQ_EXIT_NOTFOUND },
	{ KQ_E_GROUP_ID_NOT_FOUND, KQ_EXIT_NOTFOUND },
	{ KQ_E_TOPIC_ALREADY_EXISTS, KQ_EXIT_CONFLICT },
	{ KQ_E_NON_EMPTY_GROUP, KQ_EXIT_CONFLICT },
	{ KQ_E_GROUP_SUBSCRIBED_TO_TOPIC, KQ_EXIT_CONFLICT },
	{ KQ_E_TOPIC_AUTHORIZATION_FAILED, KQ_EXIT_DENIED },
	{ KQ_E_GROUP_AUTHORIZATION_FAILED, KQ_EXIT_DENIED },
	{ KQ_E_CLUSTER_AUTHORIZATION_FAILED, KQ_EXIT_DENIED },
	{ KQ_E_SASL_AUTHENTICATION_FAILED, KQ_EXIT_DENIED },
	{ KQ_ERR_TIMEOUT, KQ_EXIT_UNAVAILABLE },
	{ KQ_ERR_IO, KQ_EXIT_UNAVAILABLE },
	{ KQ_ERR_CLOSED, KQ_EXIT_UNAVAILABLE },
	{ KQ_E_REQUEST_TIMED_OUT, KQ_EXIT_UNAVAILABLE },
	{ KQ_E_BROKER_NOT_AVAILABLE, KQ_EXIT_UNAVAILABLE },
	{ KQ_E_LEADER_NOT_AVAILABLE, KQ_EXIT_UNAVAILABLE },
	{ KQ_E_NOT_CONTROLLER, KQ_EXIT_UNAVAILABLE },
	{ KQ_E_COORDINATOR_NOT_AVAILABLE, KQ_EXIT_UNAVAILABLE },
	{ KQ_E_COORDINATOR_LOAD_IN_PROGRESS, KQ_EXIT_UNAVAILABLE },
	{ KQ_E_NOT_COORDINATOR, KQ_EXIT_UNAVAILABLE },
};

int
kq_cli_exit_for(int err)
{
	size_t i;

	for (i = 0; i < KQ_ARRAY_LEN(exit_of); i++)
		if (exit_of[i].err == err)
			return exit_of[i].status;
	return KQ_EXIT_FAIL;
}

void
kq_cli_die_client(struct kq_client *cl, int err)
{
	const char *text = kq_client_errstr(cl);
	char t[32];

	if (err == KQ_ERR_TIMEOUT && text[0]) {
		kq_cli_fmt_duration(t, sizeof(t), kq_client_timeout(cl));
		kq_die(KQ_EXIT_UNAVAILABLE, "%s; gave up after --timeout %s", text, t);
	}
	if (err > 0 || err == KQ_E_UNKNOWN_SERVER_ERROR || !text[0])
		kq_die(kq_cli_exit_for(err), "%s", kq_err_str(err));
	kq_die(kq_cli_exit_for(err), "%s", text);
}

struct kq_client *
kq_cli_connect(const char *brokers, int64_t timeout_ms)
{
	struct kq_client *cl;
	struct kq_conn *conn;
	char err[256];
	int r;

	cl = kq_client_new(brokers, kq_cli_progname(), timeout_ms, err, sizeof(err));
	if (!cl)
		kq_usage_error("%s", err);
	kq_client_set_warn(cl, kq_cli_client_warn, NULL);
	if (timeout_ms)
		kq_client_set_request_timeout(cl, timeout_ms);
	r = kq_client_connect(cl);
	if (r < 0)
		kq_cli_die_client(cl, r);
	if (kq_cli_verbosity >= 1 && kq_client_any_conn(cl, &conn) == 0)
		kq_debug("connected to %s", kq_conn_name(conn));
	return cl;
}

bool
kq_cli_confirm(bool yes, const char *question)
{
	char line[64];

	if (yes)
		return true;
	/* A script must say -y: a prompt nobody can answer would hang it. */
	if (!isatty(STDIN_FILENO) || !isatty(STDERR_FILENO))
		kq_usage_error("refusing to delete without -y (stdin or stderr is not a terminal)");
	fprintf(stderr, "%s: %s [y/N] ", kq_cli_progname(), question);
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	return strcmp(line, "y\n") == 0 || strcmp(line, "Y\n") == 0 ||
	       strcmp(line, "yes\n") == 0;
}

void
kq_cli_json_line(struct kq_buf *b)
{
	kq_buf_addc(b, '\n');
	fwrite(b->buf, 1, b->len, stdout);
	kq_buf_reset(b);
}

void
kq_cli_fmt_duration(char *buf, size_t len, int64_t ms)
{
	if (ms == 0)
		snprintf(buf, len, "0");
	else if (ms % 3600000 == 0)
		snprintf(buf, len, "%lldh", (long long)(ms / 3600000));
	else if (ms % 60000 == 0)
		snprintf(buf, len, "%lldm", (long long)(ms / 60000));
	else if (ms % 1000 == 0)
		snprintf(buf, len, "%llds", (long long)(ms / 1000));
	else
		snprintf(buf, len, "%lldms", (long long)ms);
}
