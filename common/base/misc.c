/* misc.c - clocks and topic-name rules. */
#include <string.h>
#include <time.h>

#include "base.h"

int64_t
kq_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
kq_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
kq_mono_ms(void)
{
	return kq_mono_us() / 1000;
}

int64_t
kq_coarse_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Kafka's rules: 1..249 characters from [a-zA-Z0-9._-], not "." or "..".
 * Since "/" and NUL can never pass, a valid name cannot leave the data dir.
 */
bool
kq_topic_valid(const char *name, size_t len)
{
	size_t i;

	if (!name || len == 0 || len > 249)
		return false;
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return false;
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}
