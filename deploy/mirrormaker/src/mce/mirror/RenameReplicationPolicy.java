package mce.mirror;

import java.util.LinkedHashMap;
import java.util.Map;

import org.apache.kafka.connect.mirror.IdentityReplicationPolicy;

/**
 * Keeps topic names across clusters (as IdentityReplicationPolicy does) except the renamed ones: with
 * {@code replication.policy.topic.renames = user-events:events}, {@code user-events} is mirrored as {@code events}
 * and a namespaced {@code user-events.<name>} as {@code events.<name>}, both ways round for upstreamTopic.
 */
public class RenameReplicationPolicy extends IdentityReplicationPolicy {
    public static final String RENAMES_CONFIG = "replication.policy.topic.renames";

    private final Map<String, String> renames = new LinkedHashMap<>();

    @Override
    public void configure(Map<String, ?> props) {
        super.configure(props);
        renames.clear();
        Object value = props.get(RENAMES_CONFIG);
        if (value == null || value.toString().isBlank()) {
            return;
        }
        for (String pair : value.toString().split(",")) {
            String[] names = pair.trim().split(":");
            if (names.length != 2 || names[0].isBlank() || names[1].isBlank()) {
                throw new IllegalArgumentException(RENAMES_CONFIG + ": expected from:to pairs, got " + pair);
            }
            renames.put(names[0].trim(), names[1].trim());
        }
    }

    @Override
    public String formatRemoteTopic(String sourceClusterAlias, String topic) {
        String renamed = swapPrefix(topic, renames);
        return renamed != null ? renamed : super.formatRemoteTopic(sourceClusterAlias, topic);
    }

    @Override
    public String upstreamTopic(String topic) {
        Map<String, String> reverse = new LinkedHashMap<>();
        renames.forEach((from, to) -> reverse.put(to, from));
        String renamed = swapPrefix(topic, reverse);
        return renamed != null ? renamed : super.upstreamTopic(topic);
    }

    /** The topic with a mapped name (or a mapped name's namespace prefix) replaced; null when none applies. */
    private static String swapPrefix(String topic, Map<String, String> names) {
        for (Map.Entry<String, String> entry : names.entrySet()) {
            String from = entry.getKey();
            if (topic.equals(from)) {
                return entry.getValue();
            }
            if (topic.startsWith(from + ".")) {
                return entry.getValue() + topic.substring(from.length());
            }
        }
        return null;
    }
}
