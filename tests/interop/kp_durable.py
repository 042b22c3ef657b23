#!/usr/bin/python3
"""kp_durable.py BOOTSTRAP TOPIC OUT: stream records with kafka-python
(acks='all', retries=0) and append "PARTITION OFFSET VALUE" to OUT for each
acknowledged record, flushed at once, so a crash of the broker mid-stream
leaves the exact set of acknowledged records on disk.  Stops when sends have
failed for 3 s in a row (the broker is gone) or after 60 s."""
import sys
import time

from kafka import KafkaProducer


def main():
    bootstrap, topic, out = sys.argv[1], sys.argv[2], sys.argv[3]
    f = open(out, "a")
    state = {"last_ok": time.time(), "fail": 0}

    def ok(val, md):
        f.write("%d %d %s\n" % (md.partition, md.offset, val))
        f.flush()
        state["last_ok"] = time.time()

    def err(_exc):
        state["fail"] += 1

    prod = KafkaProducer(bootstrap_servers=bootstrap, acks="all", retries=0,
                         linger_ms=2, request_timeout_ms=3000, max_block_ms=3000,
                         reconnect_backoff_max_ms=500)
    start = time.time()
    i = 0
    while time.time() - start < 60 and time.time() - state["last_ok"] < 3:
        val = "kp%08d" % i
        try:
            fut = prod.send(topic, value=val.encode())
        except Exception:  # noqa: BLE001 - broker gone: metadata/buffer timeouts
            state["fail"] += 1
            time.sleep(0.05)
            continue
        fut.add_callback(ok, val)
        fut.add_errback(err)
        i += 1
        if i % 200 == 0:
            time.sleep(0.01)
    try:
        prod.close(timeout=5)
    except Exception:  # noqa: BLE001
        pass
    f.close()
    print("kp_durable: sent %d, failures %d" % (i, state["fail"]))


if __name__ == "__main__":
    main()
