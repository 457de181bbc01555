package lakehouse.delta.sink;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.time.Instant;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import lakehouse.delta.log.Json;
import lakehouse.delta.store.ObjectStore;
import org.apache.flink.api.connector.sink2.Committer;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.types.logical.BigIntType;
import org.apache.flink.table.types.logical.BooleanType;
import org.apache.flink.table.types.logical.DateType;
import org.apache.flink.table.types.logical.DoubleType;
import org.apache.flink.table.types.logical.IntType;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.RowType;
import org.apache.flink.table.types.logical.TimestampType;
import org.apache.flink.table.types.logical.VarCharType;

/**
 * Drives the sink's writer and committer outside a Flink job, the way a job does per checkpoint:
 * rows from a JSON-lines file are written in batches, each batch handed over as one committable
 * (app id, version) and committed; {@code --deliveries 2} delivers each committable twice, as a
 * restore does. The project's tests use it to check the files and log against Delta readers.
 *
 * <pre>
 * java -cp ... lakehouse.delta.sink.AppendTool --table PATH --columns "a STRING, b TIMESTAMP(3)"
 *     --rows rows.jsonl [--partition dt] [--app-id ID] [--version N] [--batches K] [--deliveries D]
 *     [--checkpoint-interval N] [--s3-endpoint URL]
 * </pre>
 * Prints one JSON line per delivery: batch, delivery, committables, how many were skipped as
 * already committed, and the committer's time in ms (the first one includes reading the log).
 */
public final class AppendTool {
    private AppendTool() {}

    public static void main(String[] args) throws Exception {
        Map<String, String> opts = new LinkedHashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            opts.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        }
        RowType rowType = parseColumns(require(opts, "columns"));
        List<String> partitions = opts.containsKey("partition") ? Arrays.asList(opts.get("partition").split(",")) : List.of();
        ObjectStore.Config store = new ObjectStore.Config(require(opts, "table"), opts.get("s3-endpoint"), "us-east-1", true, null, null);
        String appId = opts.getOrDefault("app-id", "append-tool");
        long version = Long.parseLong(opts.getOrDefault("version", "1"));
        int batches = Integer.parseInt(opts.getOrDefault("batches", "1"));
        int deliveries = Integer.parseInt(opts.getOrDefault("deliveries", "1"));

        List<RowData> rows = new ArrayList<>();
        for (String line : Files.readAllLines(Paths.get(require(opts, "rows")), StandardCharsets.UTF_8)) {
            if (!line.isBlank()) {
                rows.add(toRow(Json.parseObject(line), rowType));
            }
        }
        int checkpointEvery = Integer.parseInt(opts.getOrDefault("checkpoint-interval", "0"));
        DeltaCommitter committer = new DeltaCommitter(store, rowType.getFieldNames(), partitions, opts.getOrDefault("name", appId),
                checkpointEvery);
        DeltaWriter writer = new DeltaWriter(rowType, partitions, store, 128L << 20, appId, 0, version - 1);
        try {
            int perBatch = Math.max(1, (rows.size() + batches - 1) / batches);
            for (int b = 0; b < batches; b++) {
                for (RowData row : rows.subList(Math.min(rows.size(), b * perBatch), Math.min(rows.size(), (b + 1) * perBatch))) {
                    writer.write(row, null);
                }
                Collection<DeltaCommittable> committables = writer.prepareCommit();
                writer.snapshotState(version - 1 + b + 1);
                for (int d = 0; d < deliveries; d++) {
                    List<Request> requests = new ArrayList<>();
                    for (DeltaCommittable c : committables) {
                        requests.add(new Request(c));
                    }
                    long started = System.nanoTime();
                    committer.commit(new ArrayList<>(requests));
                    double millis = (System.nanoTime() - started) / 1e6;
                    long skipped = requests.stream().filter(r -> r.skipped).count();
                    System.out.println("{\"batch\":" + b + ",\"delivery\":" + d + ",\"committables\":" + requests.size()
                            + ",\"skipped\":" + skipped + ",\"commit_ms\":" + millis + "}");
                }
            }
        } finally {
            writer.close();
            committer.close();
        }
    }

    private static String require(Map<String, String> opts, String key) {
        String value = opts.get(key);
        if (value == null) {
            throw new IllegalArgumentException("missing --" + key);
        }
        return value;
    }

    static RowType parseColumns(String spec) {
        List<RowType.RowField> fields = new ArrayList<>();
        for (String column : spec.split(",")) {
            String[] parts = column.trim().split("\\s+", 2);
            fields.add(new RowType.RowField(parts[0].replace("`", ""), type(parts[1].trim().toUpperCase())));
        }
        return new RowType(fields);
    }

    private static LogicalType type(String name) {
        switch (name) {
            case "STRING": return new VarCharType(VarCharType.MAX_LENGTH);
            case "BIGINT": return new BigIntType();
            case "INT": return new IntType();
            case "DOUBLE": return new DoubleType();
            case "BOOLEAN": return new BooleanType();
            case "DATE": return new DateType();
            case "TIMESTAMP(3)": return new TimestampType(3);
            default: throw new IllegalArgumentException("unsupported type " + name);
        }
    }

    private static RowData toRow(Map<String, Object> json, RowType rowType) {
        GenericRowData row = new GenericRowData(rowType.getFieldCount());
        for (int i = 0; i < rowType.getFieldCount(); i++) {
            Object v = json.get(rowType.getFieldNames().get(i));
            if (v == null) {
                continue;
            }
            switch (rowType.getTypeAt(i).getTypeRoot()) {
                case VARCHAR: row.setField(i, StringData.fromString(v.toString())); break;
                case BIGINT: row.setField(i, ((Number) v).longValue()); break;
                case INTEGER: row.setField(i, ((Number) v).intValue()); break;
                case DOUBLE: row.setField(i, v instanceof String ? Double.parseDouble((String) v) : ((Number) v).doubleValue()); break;
                case BOOLEAN: row.setField(i, v); break;
                case DATE: row.setField(i, (int) LocalDate.parse(v.toString()).toEpochDay()); break;
                default:
                    row.setField(i, v instanceof Number ? TimestampData.fromEpochMillis(((Number) v).longValue())
                            : TimestampData.fromInstant(Instant.parse(v.toString())));
            }
        }
        return row;
    }

    private static final class Request implements Committer.CommitRequest<DeltaCommittable> {
        private final DeltaCommittable committable;
        boolean skipped;

        Request(DeltaCommittable committable) {
            this.committable = committable;
        }

        @Override
        public DeltaCommittable getCommittable() {
            return committable;
        }

        @Override
        public int getNumberOfRetries() {
            return 0;
        }

        @Override
        public void signalFailedWithKnownReason(Throwable t) {
            throw new IllegalStateException(t);
        }

        @Override
        public void signalFailedWithUnknownReason(Throwable t) {
            throw new IllegalStateException(t);
        }

        @Override
        public void retryLater() {
            throw new IllegalStateException("retryLater");
        }

        @Override
        public void updateAndRetryLater(DeltaCommittable c) {
            throw new IllegalStateException("updateAndRetryLater");
        }

        @Override
        public void signalAlreadyCommitted() {
            skipped = true;
        }
    }

}
