/* err.c - the one table of error codes: Kafka's (positive, and -1) and kq's local ones. */
#include <stddef.h>

#include "base.h"

static const struct errinfo {
	int code;
	bool retriable;
	const char *name;
	const char *text;
} errs[] = {
	{ KQ_E_UNKNOWN_SERVER_ERROR, 0, "UNKNOWN_SERVER_ERROR", "unexpected server error" },
	{ KQ_E_NONE, 0, "NONE", "success" },
	{ KQ_E_OFFSET_OUT_OF_RANGE, 0, "OFFSET_OUT_OF_RANGE", "offset out of range" },
	{ KQ_E_CORRUPT_MESSAGE, 1, "CORRUPT_MESSAGE", "corrupt message (CRC mismatch or truncated batch)" },
	{ KQ_E_UNKNOWN_TOPIC_OR_PARTITION, 1, "UNKNOWN_TOPIC_OR_PARTITION", "unknown topic or partition" },
	{ KQ_E_INVALID_FETCH_SIZE, 0, "INVALID_FETCH_SIZE", "invalid fetch size" },
	{ KQ_E_LEADER_NOT_AVAILABLE, 1, "LEADER_NOT_AVAILABLE", "leader not available" },
	{ KQ_E_NOT_LEADER_OR_FOLLOWER, 1, "NOT_LEADER_OR_FOLLOWER", "not the leader for that partition" },
	{ KQ_E_REQUEST_TIMED_OUT, 1, "REQUEST_TIMED_OUT", "request timed out" },
	{ KQ_E_BROKER_NOT_AVAILABLE, 0, "BROKER_NOT_AVAILABLE", "broker not available" },
	{ KQ_E_REPLICA_NOT_AVAILABLE, 1, "REPLICA_NOT_AVAILABLE", "replica not available" },
	{ KQ_E_MESSAGE_TOO_LARGE, 0, "MESSAGE_TOO_LARGE", "record batch too large" },
	{ KQ_E_OFFSET_METADATA_TOO_LARGE, 0, "OFFSET_METADATA_TOO_LARGE", "offset metadata too large" },
	{ KQ_E_NETWORK_EXCEPTION, 1, "NETWORK_EXCEPTION", "network error" },
	{ KQ_E_COORDINATOR_LOAD_IN_PROGRESS, 1, "COORDINATOR_LOAD_IN_PROGRESS", "coordinator is loading" },
	{ KQ_E_COORDINATOR_NOT_AVAILABLE, 1, "COORDINATOR_NOT_AVAILABLE", "coordinator not available" },
	{ KQ_E_NOT_COORDINATOR, 1, "NOT_COORDINATOR", "not the coordinator" },
	{ KQ_E_INVALID_TOPIC_EXCEPTION, 0, "INVALID_TOPIC_EXCEPTION", "invalid topic" },
	{ KQ_E_RECORD_LIST_TOO_LARGE, 0, "RECORD_LIST_TOO_LARGE", "record list too large" },
	{ KQ_E_NOT_ENOUGH_REPLICAS, 1, "NOT_ENOUGH_REPLICAS", "not enough in-sync replicas" },
	{ KQ_E_NOT_ENOUGH_REPLICAS_AFTER_APPEND, 1, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", "not enough in-sync replicas after append" },
	{ KQ_E_INVALID_REQUIRED_ACKS, 0, "INVALID_REQUIRED_ACKS", "invalid required acks" },
	{ KQ_E_ILLEGAL_GENERATION, 0, "ILLEGAL_GENERATION", "illegal generation" },
	{ KQ_E_INCONSISTENT_GROUP_PROTOCOL, 0, "INCONSISTENT_GROUP_PROTOCOL", "inconsistent group protocol" },
	{ KQ_E_INVALID_GROUP_ID, 0, "INVALID_GROUP_ID", "invalid group id" },
	{ KQ_E_UNKNOWN_MEMBER_ID, 0, "UNKNOWN_MEMBER_ID", "unknown member id" },
	{ KQ_E_INVALID_SESSION_TIMEOUT, 0, "INVALID_SESSION_TIMEOUT", "invalid session timeout" },
	{ KQ_E_REBALANCE_IN_PROGRESS, 0, "REBALANCE_IN_PROGRESS", "rebalance in progress" },
	{ KQ_E_INVALID_COMMIT_OFFSET_SIZE, 0, "INVALID_COMMIT_OFFSET_SIZE", "invalid commit offset size" },
	{ KQ_E_TOPIC_AUTHORIZATION_FAILED, 0, "TOPIC_AUTHORIZATION_FAILED", "not authorized to access the topic" },
	{ KQ_E_GROUP_AUTHORIZATION_FAILED, 0, "GROUP_AUTHORIZATION_FAILED", "not authorized to access the group" },
	{ KQ_E_CLUSTER_AUTHORIZATION_FAILED, 0, "CLUSTER_AUTHORIZATION_FAILED", "not authorized for the cluster action" },
	{ KQ_E_INVALID_TIMESTAMP, 0, "INVALID_TIMESTAMP", "invalid timestamp" },
	{ KQ_E_UNSUPPORTED_SASL_MECHANISM, 0, "UNSUPPORTED_SASL_MECHANISM", "unsupported SASL mechanism" },
	{ KQ_E_ILLEGAL_SASL_STATE, 0, "ILLEGAL_SASL_STATE", "illegal SASL state" },
	{ KQ_E_UNSUPPORTED_VERSION, 0, "UNSUPPORTED_VERSION", "unsupported version" },
	{ KQ_E_TOPIC_ALREADY_EXISTS, 0, "TOPIC_ALREADY_EXISTS", "topic already exists" },
	{ KQ_E_INVALID_PARTITIONS, 0, "INVALID_PARTITIONS", "invalid number of partitions" },
	{ KQ_E_INVALID_REPLICATION_FACTOR, 0, "INVALID_REPLICATION_FACTOR", "invalid replication factor" },
	{ KQ_E_INVALID_REPLICA_ASSIGNMENT, 0, "INVALID_REPLICA_ASSIGNMENT", "invalid replica assignment" },
	{ KQ_E_INVALID_CONFIG, 0, "INVALID_CONFIG", "invalid configuration" },
	{ KQ_E_NOT_CONTROLLER, 1, "NOT_CONTROLLER", "not the controller" },
	{ KQ_E_INVALID_REQUEST, 0, "INVALID_REQUEST", "invalid request" },
	{ KQ_E_UNSUPPORTED_FOR_MESSAGE_FORMAT, 0, "UNSUPPORTED_FOR_MESSAGE_FORMAT", "unsupported message format" },
	{ KQ_E_POLICY_VIOLATION, 0, "POLICY_VIOLATION", "policy violation" },
	{ KQ_E_OUT_OF_ORDER_SEQUENCE_NUMBER, 0, "OUT_OF_ORDER_SEQUENCE_NUMBER", "out of order sequence number" },
	{ KQ_E_DUPLICATE_SEQUENCE_NUMBER, 0, "DUPLICATE_SEQUENCE_NUMBER", "duplicate sequence number" },
	{ KQ_E_INVALID_PRODUCER_EPOCH, 0, "INVALID_PRODUCER_EPOCH", "invalid producer epoch" },
	{ KQ_E_KAFKA_STORAGE_ERROR, 1, "KAFKA_STORAGE_ERROR", "storage error on the broker" },
	{ KQ_E_SASL_AUTHENTICATION_FAILED, 0, "SASL_AUTHENTICATION_FAILED", "SASL authentication failed" },
	{ KQ_E_UNKNOWN_PRODUCER_ID, 0, "UNKNOWN_PRODUCER_ID", "unknown producer id" },
	{ KQ_E_NON_EMPTY_GROUP, 0, "NON_EMPTY_GROUP", "group is not empty" },
	{ KQ_E_GROUP_ID_NOT_FOUND, 0, "GROUP_ID_NOT_FOUND", "group not found" },
	{ KQ_E_FETCH_SESSION_ID_NOT_FOUND, 1, "FETCH_SESSION_ID_NOT_FOUND", "fetch session not found" },
	{ KQ_E_TOPIC_DELETION_DISABLED, 0, "TOPIC_DELETION_DISABLED", "topic deletion is disabled" },
	{ KQ_E_FENCED_LEADER_EPOCH, 1, "FENCED_LEADER_EPOCH", "fenced leader epoch" },
	{ KQ_E_UNKNOWN_LEADER_EPOCH, 1, "UNKNOWN_LEADER_EPOCH", "unknown leader epoch" },
	{ KQ_E_UNSUPPORTED_COMPRESSION_TYPE, 0, "UNSUPPORTED_COMPRESSION_TYPE", "unsupported compression type" },
	{ KQ_E_OFFSET_NOT_AVAILABLE, 1, "OFFSET_NOT_AVAILABLE", "offset not available" },
	{ KQ_E_MEMBER_ID_REQUIRED, 0, "MEMBER_ID_REQUIRED", "member id required" },
	{ KQ_E_GROUP_MAX_SIZE_REACHED, 0, "GROUP_MAX_SIZE_REACHED", "group is full" },
	{ KQ_E_FENCED_INSTANCE_ID, 0, "FENCED_INSTANCE_ID", "fenced instance id" },
	{ KQ_E_GROUP_SUBSCRIBED_TO_TOPIC, 0, "GROUP_SUBSCRIBED_TO_TOPIC", "group is subscribed to the topic" },
	{ KQ_E_INVALID_RECORD, 0, "INVALID_RECORD", "invalid record" },

	{ KQ_ERR_TRUNCATED, 0, "KQ_ERR_TRUNCATED", "input ended early" },
	{ KQ_ERR_CORRUPT, 0, "KQ_ERR_CORRUPT", "malformed input" },
	{ KQ_ERR_TOO_LARGE, 0, "KQ_ERR_TOO_LARGE", "size over the limit" },
	{ KQ_ERR_IO, 0, "KQ_ERR_IO", "I/O error" },
	{ KQ_ERR_TIMEOUT, 1, "KQ_ERR_TIMEOUT", "timed out" },
	{ KQ_ERR_UNSUPPORTED, 0, "KQ_ERR_UNSUPPORTED", "not supported" },
	{ KQ_ERR_NOT_FOUND, 0, "KQ_ERR_NOT_FOUND", "not found" },
	{ KQ_ERR_EXISTS, 0, "KQ_ERR_EXISTS", "already exists" },
	{ KQ_ERR_INVALID, 0, "KQ_ERR_INVALID", "invalid argument" },
	{ KQ_ERR_CLOSED, 1, "KQ_ERR_CLOSED", "connection closed" },
	{ KQ_ERR_AGAIN, 1, "KQ_ERR_AGAIN", "try again" },
};

static const struct errinfo *
find(int code)
{
	size_t i;

	for (i = 0; i < KQ_ARRAY_LEN(errs); i++)
		if (errs[i].code == code)
			return &errs[i];
	return NULL;
}

const char *
kq_err_name(int err)
{
	const struct errinfo *e = find(err);

	return e ? e->name : "UNKNOWN_ERROR_CODE";
}

const char *
kq_err_str(int err)
{
	const struct errinfo *e = find(err);

	return e ? e->text : "unknown error code";
}

bool
kq_err_retriable(int err)
{
	const struct errinfo *e = find(err);

	return e && e->retriable;
}
