/*
 * gen-seeds.c - writes the seed corpora under OUTDIR/<target>/.  Not a
 * fuzz target; build it with the fuzz objects minus libFuzzer:
 *   gen-seeds OUTDIR [tests/fixtures/proto/NAME.hex ...]
 * Request seeds are the captured client frames (size prefix stripped) plus
 * a default-valued body for every API and non-flexible version; response
 * seeds the same defaults; batch seeds one batch per codec; log seeds a
 * few consecutive batches; checkpoint seeds small valid files; message set
 * seeds magic 0 and 1, plain and wrapped.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "proto/proto.h"

static const char *outdir;

static void
put(const char *target, const char *name, const void *p, size_t n)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", outdir, target);
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/%s", outdir, target, name);
	if ((f = fopen(path, "wb")) == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static void
make_batch(struct kq_buf *out, int codec, int nrec, int64_t base_offset)
{
	struct kq_batch_builder bb;
	struct kq_record_header h[2] = {
		{ kq_str_c("trace"), kq_bytes_of("abc", 3) },
		{ kq_str_c("empty"), KQ_BYTES_NULL },
	};
	char key[16], val[64];
	size_t start = out->len;
	int i;

	kq_bb_init(&bb, codec);
	for (i = 0; i < nrec; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		snprintf(val, sizeof(val), "value %d value %d value %d", i, i, i);
		kq_bb_add(&bb, 1700000000000 + i, i == 1 ? KQ_BYTES_NULL : kq_bytes_of(key, strlen(key)),
			  kq_bytes_of(val, strlen(val)), h, i % 3);
	}
	if (kq_bb_finish(&bb, out) != 0)
		exit(1);
	kq_bb_free(&bb);
	kq_put64(out->buf + start, (uint64_t)base_offset);
	/* baseOffset is outside the CRC: no need to recompute it. */
}

static void
fixtures(int argc, char **argv)
{
	struct kq_buf b = { 0 };
	unsigned int x;
	const char *base;
	FILE *f;
	size_t n = 0;
	int16_t k;
	int i;

	for (i = 2; i < argc; i++) {
		if ((f = fopen(argv[i], "r")) == NULL) {
			perror(argv[i]);
			exit(1);
		}
		kq_buf_reset(&b);
		while (fscanf(f, "%2x", &x) == 1)
			kq_buf_addc(&b, (int)x);
		fclose(f);
		base = strrchr(argv[i], '/');
		base = base ? base + 1 : argv[i];
		if (b.len <= 4)
			continue;
		if (strstr(base, "-response") == NULL) {
			put("fuzz-request", base, b.buf + 4, b.len - 4);
			continue;
		}
		/* Responses carry no API key: take it from "Name-vN-response". */
		for (k = 0; k < KQ_API_MAX; k++) {
			n = strlen(kq_api_name(k));
			if (strncmp(base, kq_api_name(k), n) == 0 && strncmp(base + n, "-v", 2) == 0)
				break;
		}
		if (k == KQ_API_MAX)
			continue;
		kq_put16(b.buf, (uint16_t)k);
		kq_put16(b.buf + 2, (uint16_t)atoi(base + n + 2));
		put("fuzz-response", base, b.buf, b.len);
	}
	kq_buf_free(&b);
}

static void
defaults(void)
{
	struct kq_RequestHeader rh;
	struct kq_buf w = { 0 };
	char name[64];
	void *m;
	int16_t k, v;
	int resp;

	kq_RequestHeader_init(&rh);
	rh.ClientId = kq_str_c("fuzz");
	for (k = 0; k < KQ_API_MAX; k++) {
		for (resp = 0; resp < 2; resp++) {
			if (kq_msg_size(k, resp) == 0)
				continue;
			m = calloc(1, kq_msg_size(k, resp));
			kq_msg_init(k, resp, m);
			for (v = 0; v <= kq_api_max_version(k) && v < kq_api_first_flexible(k); v++) {
				kq_buf_reset(&w);
				if (resp) {
					kq_wr_i16(&w, k);
					kq_wr_i16(&w, v);
					kq_wr_i32(&w, 7);	/* CorrelationId */
				} else {
					rh.RequestApiKey = k;
					rh.RequestApiVersion = v;
					rh.CorrelationId = 7;
					kq_RequestHeader_encode(&w, 1, &rh);
				}
				if (kq_msg_encode(k, resp, v, &w, m) != 0)
					continue;
				snprintf(name, sizeof(name), "%s-v%d-default", kq_api_name(k), v);
				put(resp ? "fuzz-response" : "fuzz-request", name, w.buf, w.len);
			}
			free(m);
		}
	}
	kq_buf_free(&w);
}

static void
produce(void)
{
	struct kq_ProduceRequest pr;
	struct kq_ProduceRequest_TopicProduceData td;
	struct kq_ProduceRequest_PartitionProduceData pd;
	struct kq_RequestHeader rh;
	struct kq_buf w = { 0 }, b = { 0 };

	make_batch(&b, KQ_CODEC_LZ4, 3, 0);
	kq_RequestHeader_init(&rh);
	rh.RequestApiKey = KQ_API_PRODUCE;
	rh.RequestApiVersion = 7;
	rh.CorrelationId = 1;
	rh.ClientId = kq_str_c("fuzz");
	kq_ProduceRequest_init(&pr);
	kq_ProduceRequest_TopicProduceData_init(&td);
	kq_ProduceRequest_PartitionProduceData_init(&pd);
	pd.Index = 0;
	pd.Records = kq_bytes_of(b.buf, b.len);
	td.Name = kq_str_c("t1");
	td.PartitionData = &pd;
	td.PartitionData_count = 1;
	pr.Acks = -1;
	pr.TimeoutMs = 30000;
	pr.TopicData = &td;
	pr.TopicData_count = 1;
	kq_RequestHeader_encode(&w, 1, &rh);
	kq_ProduceRequest_encode(&w, 7, &pr);
	put("fuzz-request", "Produce-v7-lz4-batch", w.buf, w.len);
	kq_buf_free(&w);
	kq_buf_free(&b);
}

static void
batches(void)
{
	struct kq_buf b = { 0 };
	char name[64];
	int codec;

	for (codec = KQ_CODEC_NONE; codec <= KQ_CODEC_ZSTD; codec++) {
		kq_buf_reset(&b);
		kq_buf_addc(&b, 0);	/* flag byte: keep the CRC as built */
		make_batch(&b, codec, 4, 0);
		snprintf(name, sizeof(name), "batch-%s", kq_codec_name(codec));
		put("fuzz-batch", name, b.buf, b.len);
	}
	kq_buf_reset(&b);
	kq_buf_addc(&b, 1);	/* flag byte: recompute the CRC */
	make_batch(&b, KQ_CODEC_NONE, 1, 0);
	put("fuzz-batch", "batch-one-fixcrc", b.buf, b.len);

	kq_buf_reset(&b);
	make_batch(&b, KQ_CODEC_NONE, 3, 0);
	make_batch(&b, KQ_CODEC_GZIP, 2, 3);
	make_batch(&b, KQ_CODEC_NONE, 1, 5);
	put("fuzz-log-recover", "three-batches", b.buf, b.len);
	b.len -= 10;
	put("fuzz-log-recover", "torn-tail", b.buf, b.len);
	kq_buf_reset(&b);
	make_batch(&b, KQ_CODEC_ZSTD, 5, 0);
	put("fuzz-log-recover", "one-zstd", b.buf, b.len);
	kq_buf_free(&b);
}

static void
msgsets(void)
{
	static const char *const codecs[] = { "none", "gzip", "snappy", "lz4" };
	struct kq_buf b = { 0 }, inner = { 0 }, z = { 0 };
	char key[16], val[32], name[64];
	int magic, c, i;

	for (magic = 0; magic <= 1; magic++)
		for (c = 0; c < 4; c++) {
			kq_buf_reset(&inner);
			for (i = 0; i < 3; i++) {
				snprintf(key, sizeof(key), "k%d", i);
				snprintf(val, sizeof(val), "value %d", i);
				kq_msg_write(&inner, magic ? i : 0, magic, 0, 1700000000000 + i,
					     i == 1 ? KQ_BYTES_NULL : kq_bytes_of(key, strlen(key)),
					     kq_bytes_of(val, strlen(val)));
			}
			kq_buf_reset(&b);
			kq_buf_addc(&b, magic << 1);	/* flag byte: CRCs as built */
			if (c == 0) {
				kq_buf_add(&b, inner.buf, inner.len);
			} else {
				kq_buf_reset(&z);
				if (kq_compress(c, inner.buf, inner.len, &z) != 0)
					exit(1);
				kq_msg_write(&b, 2, magic, c, 1700000000000, KQ_BYTES_NULL,
					     kq_bytes_of(z.buf, z.len));
			}
			snprintf(name, sizeof(name), "m%d-%s", magic, codecs[c]);
			put("fuzz-msgset", name, b.buf, b.len);
		}
	kq_buf_reset(&b);
	kq_buf_addc(&b, 1);	/* flag byte: recompute the CRCs */
	make_batch(&b, KQ_CODEC_GZIP, 3, 7);	/* a stored batch for the down-converter */
	put("fuzz-msgset", "batch-gzip", b.buf, b.len);
	kq_buf_free(&b);
	kq_buf_free(&inner);
	kq_buf_free(&z);
}

static void
checkpoints(void)
{
	static const char *files[] = {
		"0\n0\n",
		"0\n1\nt1 0 42\n",
		"0\n3\nt1 0 42\nt1 1 -1\nmy.topic_x-2 7 9223372036854775807\n",
	};
	char name[32];
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(name, sizeof(name), "ckpt-%zu", i);
		put("fuzz-checkpoint", name, files[i], strlen(files[i]));
	}
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: gen-seeds OUTDIR [FIXTURE.hex ...]\n");
		return 2;
	}
	outdir = argv[1];
	if (mkdir(outdir, 0755) < 0 && errno != EEXIST) {
		perror(outdir);
		return 1;
	}
	fixtures(argc, argv);
	defaults();
	produce();
	batches();
	msgsets();
	checkpoints();
	return 0;
}
