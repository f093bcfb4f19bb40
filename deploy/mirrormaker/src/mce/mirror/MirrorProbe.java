package mce.mirror;

import java.io.FileInputStream;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.UUID;
import java.util.stream.Collectors;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Readiness of a mirror: sends a unique message to a topic on the source cluster and waits until it is read from
 * the same topic on the target cluster. Usage: MirrorProbe SOURCE_PROPS TARGET_PROPS TOPIC TIMEOUT_SECONDS; exit 0 when
 * it crossed (printing the milliseconds it took on stderr), 1 when it did not in time.
 */
public final class MirrorProbe {
    private MirrorProbe() {}

    public static void main(String[] args) throws Exception {
        Properties source = load(args[0]);
        Properties target = load(args[1]);
        String topic = args[2];
        long deadline = System.currentTimeMillis() + Long.parseLong(args[3]) * 1000;
        String nonce = "probe-" + UUID.randomUUID();
        source.put("key.serializer", StringSerializer.class.getName());
        source.put("value.serializer", StringSerializer.class.getName());
        target.put("key.deserializer", StringDeserializer.class.getName());
        target.put("value.deserializer", StringDeserializer.class.getName());
        // Creating the topic on the target is the mirror's job (with the source's partition count), not the probe's.
        target.put("allow.auto.create.topics", "false");
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(source);
             KafkaConsumer<String, String> consumer = new KafkaConsumer<>(target)) {
            long sent = System.currentTimeMillis();
            producer.send(new ProducerRecord<>(topic, nonce, nonce)).get();
            while (System.currentTimeMillis() < deadline) {
                // The mirror creates the topic on the target when it first copies it: look again until it is there.
                List<TopicPartition> partitions = consumer.partitionsFor(topic, Duration.ofSeconds(5)).stream()
                        .map(info -> new TopicPartition(topic, info.partition()))
                        .collect(Collectors.toList());
                if (partitions.isEmpty()) {
                    Thread.sleep(200);
                    continue;
                }
                consumer.assign(partitions);
                consumer.seekToBeginning(partitions);
                long round = System.currentTimeMillis() + 5000;
                while (System.currentTimeMillis() < Math.min(round, deadline)) {
                    for (ConsumerRecord<String, String> record : consumer.poll(Duration.ofMillis(200))) {
                        if (nonce.equals(record.value())) {
                            System.err.println("probe crossed in " + (System.currentTimeMillis() - sent) + " ms");
                            return;
                        }
                    }
                }
            }
        }
        System.err.println("probe " + nonce + " did not reach the target's " + topic + " in time");
        System.exit(1);
    }

    private static Properties load(String path) throws IOException {
        Properties props = new Properties();
        try (FileInputStream in = new FileInputStream(path)) {
            props.load(in);
        }
        return props;
    }
}
