package lakehouse.delta.log;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import lakehouse.delta.store.ObjectStore;

/**
 * What the sink needs to know of a Delta table's log, kept current incrementally: the latest
 * version, the partition columns and column names, the protocol, and the last version committed
 * per application id (the {@code txn} actions that make a replayed commit recognisable).
 *
 * <p>{@link #load} lists {@code _delta_log/} once and replays the newest checkpoint plus the JSON
 * commits after it. Afterwards {@link #catchUp} reads only the versions after the one it knows, one
 * GET each, so the cost of a commit does not grow with the table.
 */
public final class DeltaLog {
    public static final String LOG_DIR = "_delta_log/";
    private static final Pattern COMMIT = Pattern.compile("_delta_log/(\\d{20})\\.json");
    private static final Pattern CHECKPOINT = Pattern.compile("_delta_log/(\\d{20})\\.checkpoint(?:\\.(\\d{10})\\.(\\d{10}))?\\.parquet");
    /** Writer features this sink honours when it only appends (it writes no CDC files, no deletion vectors). */
    private static final Set<String> APPEND_SAFE_FEATURES = Set.of("appendOnly", "changeDataFeed", "timestampNtz");

    /** Removes older than this are dropped from checkpoints (Delta's default tombstone retention). */
    private static final long TOMBSTONE_RETENTION_MS = 7L * 24 * 3600 * 1000;

    private final ObjectStore store;
    private long version = -1;
    private final Map<String, Long> transactions = new HashMap<>();
    // The whole state, for writing checkpoints: live files, tombstones, and the latest actions.
    private final Map<String, Map<String, Object>> files = new java.util.LinkedHashMap<>();
    private final Map<String, Map<String, Object>> tombstones = new java.util.LinkedHashMap<>();
    private final Map<String, Map<String, Object>> txnActions = new java.util.LinkedHashMap<>();
    private Map<String, Object> metaDataAction;
    private Map<String, Object> protocolAction;
    private List<String> partitionColumns = Collections.emptyList();
    private Set<String> columns = Collections.emptySet();
    private String metadataId = null;
    private int minWriterVersion = 0;
    private List<String> writerFeatures = Collections.emptyList();

    public DeltaLog(ObjectStore store) {
        this.store = store;
    }

    public static String commitKey(long version) {
        return String.format("%s%020d.json", LOG_DIR, version);
    }

    public long version() {
        return version;
    }

    public long transactionVersion(String appId) {
        return transactions.getOrDefault(appId, -1L);
    }

    public List<String> partitionColumns() {
        return partitionColumns;
    }

    public Set<String> columns() {
        return columns;
    }

    public String metadataId() {
        return metadataId;
    }

    /** Read the table's state from its log; fails with a clear message when it is no Delta table. */
    public void load() throws IOException {
        TreeMap<Long, Boolean> commits = new TreeMap<>();
        TreeMap<Long, List<String>> checkpoints = new TreeMap<>();
        Map<Long, Integer> checkpointParts = new HashMap<>();
        for (String key : store.list(LOG_DIR)) {
            Matcher c = COMMIT.matcher(key);
            if (c.matches()) {
                commits.put(Long.parseLong(c.group(1)), true);
                continue;
            }
            Matcher k = CHECKPOINT.matcher(key);
            if (k.matches()) {
                long v = Long.parseLong(k.group(1));
                checkpoints.computeIfAbsent(v, x -> new ArrayList<>()).add(key);
                checkpointParts.put(v, k.group(3) == null ? 1 : Integer.parseInt(k.group(3)));
            }
        }
        if (commits.isEmpty() && checkpoints.isEmpty()) {
            throw new IOException("no Delta table at " + store.describe() + " (no _delta_log/ commits): create it first");
        }
        resetState();
        long start = 0;
        for (Long v : checkpoints.descendingKeySet()) {
            if (checkpoints.get(v).size() == checkpointParts.get(v)) { // a complete checkpoint
                List<String> parts = new ArrayList<>(checkpoints.get(v));
                Collections.sort(parts);
                for (String part : parts) {
                    CheckpointReader.read(store.read(part), this::apply);
                }
                version = v;
                start = v + 1;
                break;
            }
        }
        if (start == 0 && !commits.containsKey(0L)) {
            throw new IOException("the log of " + store.describe() + " has neither version 0 nor a checkpoint");
        }
        for (long v : commits.tailMap(start).keySet()) {
            if (v != version + 1) {
                throw new IOException("the log of " + store.describe() + " has a gap before version " + v);
            }
            applyCommit(v, store.read(commitKey(v)));
        }
        catchUp();
    }

    /** Read commits written since the last known version (by anyone). */
    public void catchUp() throws IOException {
        while (true) {
            byte[] next = store.read(commitKey(version + 1));
            if (next == null) {
                return;
            }
            applyCommit(version + 1, next);
        }
    }

    /**
     * Write {@code lines} as the next version, if nobody else has. Returns the version written, or
     * -1 when another writer took that version: the caller catches up and decides again.
     */
    public long tryCommit(List<Map<String, Object>> actions) throws IOException {
        checkWritable();
        long next = version + 1;
        StringBuilder out = new StringBuilder();
        for (Map<String, Object> action : actions) {
            out.append(Json.write(action)).append('\n');
        }
        byte[] data = out.toString().getBytes(StandardCharsets.UTF_8);
        if (!store.putIfAbsent(commitKey(next), data)) {
            return -1;
        }
        applyCommit(next, data);
        return next;
    }

    /** Live data files at the known version. */
    public int fileCount() {
        return files.size();
    }

    /**
     * Write a checkpoint of the known version (call it right after committing that version, when
     * the state is exact), then point {@code _last_checkpoint} at it unless a newer one is there.
     * Returns false when a checkpoint of that version existed already.
     */
    public boolean writeCheckpoint() throws IOException {
        if (protocolAction == null || metaDataAction == null) {
            throw new IOException("cannot checkpoint " + store.describe() + ": no protocol or metadata known");
        }
        List<Map<String, Object>> actions = new ArrayList<>();
        actions.add(Map.of("protocol", protocolAction));
        actions.add(Map.of("metaData", metaDataAction));
        for (Map<String, Object> txn : txnActions.values()) {
            actions.add(Map.of("txn", txn));
        }
        for (Map<String, Object> add : files.values()) {
            actions.add(Map.of("add", add));
        }
        long oldest = System.currentTimeMillis() - TOMBSTONE_RETENTION_MS;
        for (Map<String, Object> remove : tombstones.values()) {
            Object at = remove.get("deletionTimestamp");
            if (!(at instanceof Number) || ((Number) at).longValue() >= oldest) {
                actions.add(Map.of("remove", remove));
            }
        }
        byte[] data = CheckpointWriter.write(actions);
        if (!store.putIfAbsent(String.format("%s%020d.checkpoint.parquet", LOG_DIR, version), data)) {
            return false;
        }
        byte[] current = store.read(LOG_DIR + "_last_checkpoint");
        if (current != null) {
            Object known = Json.parseObject(new String(current, StandardCharsets.UTF_8)).get("version");
            if (known instanceof Number && ((Number) known).longValue() >= version) {
                return true;
            }
        }
        Map<String, Object> last = new java.util.LinkedHashMap<>();
        last.put("version", version);
        last.put("size", (long) actions.size());
        last.put("sizeInBytes", (long) data.length);
        last.put("numOfAddFiles", (long) files.size());
        store.put(LOG_DIR + "_last_checkpoint", Json.write(last).getBytes(StandardCharsets.UTF_8));
        return true;
    }

    /** The sink only appends; refuse tables whose protocol asks writers for more than that. */
    public void checkWritable() throws IOException {
        if (minWriterVersion > 7 || (minWriterVersion > 2 && minWriterVersion < 7)) {
            throw new IOException("table " + store.describe() + " needs writer version " + minWriterVersion
                    + "; this sink writes tables of writer version <= 2, or 7 with features " + APPEND_SAFE_FEATURES);
        }
        for (String feature : writerFeatures) {
            if (!APPEND_SAFE_FEATURES.contains(feature)) {
                throw new IOException("table " + store.describe() + " uses writer feature '" + feature
                        + "', which this sink does not support (supported: " + APPEND_SAFE_FEATURES + ")");
            }
        }
    }

    private void resetState() {
        version = -1;
        transactions.clear();
        files.clear();
        tombstones.clear();
        txnActions.clear();
        metaDataAction = null;
        protocolAction = null;
        partitionColumns = Collections.emptyList();
        columns = Collections.emptySet();
        metadataId = null;
        minWriterVersion = 0;
        writerFeatures = Collections.emptyList();
    }

    private void applyCommit(long v, byte[] data) throws IOException {
        String text = new String(data, StandardCharsets.UTF_8);
        for (String line : text.split("\n")) {
            if (!line.isBlank()) {
                apply(Json.parseObject(line));
            }
        }
        version = v;
    }

    @SuppressWarnings("unchecked")
    void apply(Map<String, Object> action) {
        if (action.get("txn") instanceof Map) {
            Map<String, Object> txn = (Map<String, Object>) action.get("txn");
            String appId = (String) txn.get("appId");
            long v = ((Number) txn.get("version")).longValue();
            if (v >= transactions.getOrDefault(appId, -1L)) {
                transactions.put(appId, v);
                txnActions.put(appId, txn);
            }
        }
        if (action.get("add") instanceof Map) {
            Map<String, Object> add = (Map<String, Object>) action.get("add");
            String path = (String) add.get("path");
            files.put(path, add);
            tombstones.remove(path);
        }
        if (action.get("remove") instanceof Map) {
            Map<String, Object> remove = (Map<String, Object>) action.get("remove");
            String path = (String) remove.get("path");
            files.remove(path);
            tombstones.put(path, remove);
        }
        if (action.get("metaData") instanceof Map) {
            Map<String, Object> meta = (Map<String, Object>) action.get("metaData");
            metaDataAction = meta;
            metadataId = (String) meta.get("id");
            List<String> parts = new ArrayList<>();
            for (Object p : (List<Object>) meta.getOrDefault("partitionColumns", List.of())) {
                parts.add((String) p);
            }
            partitionColumns = parts;
            Set<String> names = new LinkedHashSet<>();
            Object schema = meta.get("schemaString");
            if (schema instanceof String) {
                for (Object field : (List<Object>) Json.parseObject((String) schema).get("fields")) {
                    names.add((String) ((Map<String, Object>) field).get("name"));
                }
            }
            columns = names;
        }
        if (action.get("protocol") instanceof Map) {
            Map<String, Object> protocol = (Map<String, Object>) action.get("protocol");
            protocolAction = protocol;
            minWriterVersion = ((Number) protocol.getOrDefault("minWriterVersion", 0L)).intValue();
            List<String> features = new ArrayList<>();
            for (Object f : (List<Object>) protocol.getOrDefault("writerFeatures", List.of())) {
                features.add((String) f);
            }
            writerFeatures = features;
        }
    }
}
