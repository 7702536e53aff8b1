import java.time.Duration;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Properties;
import java.util.Random;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;

/**
 * The loop of Kafka's own org.apache.kafka.tools.EndToEndLatency (kafka-tools 4.1.1), with the same
 * client settings (producer linger.ms=0 and the given acks; consumer assigned to every partition at
 * its end, fetch.max.wait.ms=0, no auto-commit, one commitSync at the end),
 * timing each record from send() to the poll() that returned it. The tool prints its percentiles in
 * whole milliseconds (floored: "50th = 0" on a fast broker); this prints them in microseconds.
 *
 *   java -cp "KAFKA_LIB/*" bench/java/EndToEndLatencyNs.java BROKERS TOPIC RECORDS ACKS RECORD_BYTES
 *
 * Output: one line "e2e_ns records=N p50_us=.. p90_us=.. p99_us=.. avg_us=.." (first 10% are warm-up, not counted).
 */
public class EndToEndLatencyNs {
  public static void main(String[] args) throws Exception {
    String brokers = args[0];
    String topic = args[1];
    int records = Integer.parseInt(args[2]);
    String acks = args[3];
    int size = Integer.parseInt(args[4]);
    Properties common = new Properties();
    common.put("bootstrap.servers", brokers);
    try (Admin admin = Admin.create(common)) {
      if (!admin.listTopics().names().get().contains(topic)) {
        admin.createTopics(Collections.singleton(new NewTopic(topic, 1, (short) 1))).all().get();
      }
    }
    Properties cp = new Properties();
    cp.putAll(common);
    cp.put(ConsumerConfig.GROUP_ID_CONFIG, "test-group-" + System.currentTimeMillis());
    cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    cp.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest");
    cp.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, "org.apache.kafka.common.serialization.ByteArrayDeserializer");
    cp.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, "org.apache.kafka.common.serialization.ByteArrayDeserializer");
    cp.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "0");
    Properties pp = new Properties();
    pp.putAll(common);
    pp.put(ProducerConfig.LINGER_MS_CONFIG, "0");
    pp.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, String.valueOf(Long.MAX_VALUE));
    pp.put(ProducerConfig.ACKS_CONFIG, acks);
    pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, "org.apache.kafka.common.serialization.ByteArraySerializer");
    pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, "org.apache.kafka.common.serialization.ByteArraySerializer");
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(cp);
        KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(pp)) {
      List<TopicPartition> partitions =
          consumer.partitionsFor(topic).stream().map(p -> new TopicPartition(p.topic(), p.partition())).collect(Collectors.toList());
      consumer.assign(partitions);
      consumer.seekToEnd(partitions);
      consumer.assignment().forEach(consumer::position);
      byte[] value = new byte[size];
      Arrays.fill(value, (byte) ('a' + new Random(0).nextInt(26)));
      long[] latencies = new long[records];
      for (int i = 0; i < records; i++) {
        long begin = System.nanoTime();
        producer.send(new ProducerRecord<>(topic, value)).get();
        ConsumerRecords<byte[], byte[]> polled = consumer.poll(Duration.ofMillis(60_000));
        long elapsed = System.nanoTime() - begin;
        if (polled.count() != 1) throw new IllegalStateException("expected one record, got " + polled.count());
        latencies[i] = elapsed;
      }
      consumer.commitSync();
      int warm = records / 10;
      long[] counted = Arrays.copyOfRange(latencies, warm, records);
      Arrays.sort(counted);
      double avg = Arrays.stream(counted).average().orElse(0) / 1000.0;
      System.out.printf(
          "e2e_ns records=%d p50_us=%.1f p90_us=%.1f p99_us=%.1f avg_us=%.1f%n",
          counted.length,
          pick(counted, 0.5) / 1000.0,
          pick(counted, 0.9) / 1000.0,
          pick(counted, 0.99) / 1000.0,
          avg);
    }
  }

  private static long pick(long[] sorted, double q) {
    return sorted[Math.min(sorted.length - 1, (int) (q * sorted.length))];
  }
}
