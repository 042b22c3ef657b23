// sarama_legacy.go BROKER TOPIC N CODEC GROUP: Sarama (Debian's
// golang-github-shopify-sarama-dev) with its default protocol version,
// 0.8.2: N keyed messages produced with Produce v0 (MessageSet v0, CODEC
// none|gzip|snappy|lz4), the end offset asked with ListOffsets v0, the
// messages consumed with Fetch v0 and checked, offset N committed with
// OffsetCommit v1 (generation -1, as Sarama's offset manager does by
// default) and read back by a second offset manager.  Prints
// "ok N end=E committed=C" or names the first difference and exits 1.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/Shopify/sarama"
)

var codecs = map[string]sarama.CompressionCodec{
	"none": sarama.CompressionNone, "gzip": sarama.CompressionGZIP,
	"snappy": sarama.CompressionSnappy, "lz4": sarama.CompressionLZ4,
}

func die(format string, a ...interface{}) {
	fmt.Printf(format+"\n", a...)
	os.Exit(1)
}

func main() {
	broker, topic, group := os.Args[1], os.Args[2], os.Args[5]
	n, _ := strconv.Atoi(os.Args[3])
	cfg := sarama.NewConfig() // Version: sarama.V0_8_2_0
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Producer.Compression = codecs[os.Args[4]]
	cfg.Producer.Flush.Messages = n
	cfg.Producer.Flush.Frequency = 10 * time.Millisecond
	client, err := sarama.NewClient([]string{broker}, cfg)
	if err != nil {
		die("client: %v", err)
	}
	defer client.Close()

	prod, err := sarama.NewSyncProducerFromClient(client)
	if err != nil {
		die("producer: %v", err)
	}
	msgs := make([]*sarama.ProducerMessage, n)
	for i := range msgs {
		msgs[i] = &sarama.ProducerMessage{Topic: topic, Partition: 0,
			Key:   sarama.StringEncoder(fmt.Sprintf("k%d", i)),
			Value: sarama.StringEncoder(fmt.Sprintf("sarama-%d", i))}
	}
	if err := prod.SendMessages(msgs); err != nil {
		die("produce: %v", err)
	}
	prod.Close()

	end, err := client.GetOffset(topic, 0, sarama.OffsetNewest)
	if err != nil {
		die("end offset: %v", err)
	}

	cons, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		die("consumer: %v", err)
	}
	pc, err := cons.ConsumePartition(topic, 0, sarama.OffsetOldest)
	if err != nil {
		die("consume: %v", err)
	}
	for i := 0; i < n; i++ {
		select {
		case m := <-pc.Messages():
			k, v := fmt.Sprintf("k%d", i), fmt.Sprintf("sarama-%d", i)
			if m.Offset != int64(i) || string(m.Key) != k || string(m.Value) != v {
				die("message %d: offset %d %q=%q, want %q=%q", i, m.Offset, m.Key,
					m.Value, k, v)
			}
		case err := <-pc.Errors():
			die("consume: %v", err)
		case <-time.After(20 * time.Second):
			die("message %d did not arrive", i)
		}
	}
	pc.Close()
	cons.Close()

	om, err := sarama.NewOffsetManagerFromClient(group, client)
	if err != nil {
		die("offset manager: %v", err)
	}
	pom, err := om.ManagePartition(topic, 0)
	if err != nil {
		die("manage partition: %v", err)
	}
	pom.MarkOffset(int64(n), "")
	pom.Close()
	om.Close() // commits what was marked

	om2, err := sarama.NewOffsetManagerFromClient(group, client)
	if err != nil {
		die("offset manager: %v", err)
	}
	pom2, err := om2.ManagePartition(topic, 0)
	if err != nil {
		die("manage partition: %v", err)
	}
	committed, _ := pom2.NextOffset()
	pom2.Close()
	om2.Close()
	fmt.Printf("ok %d end=%d committed=%d\n", n, end, committed)
	if end != int64(n) || committed != int64(n) {
		os.Exit(1)
	}
}
