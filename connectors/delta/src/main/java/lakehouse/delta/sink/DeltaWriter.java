package lakehouse.delta.sink;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import lakehouse.delta.store.ObjectStore;
import lakehouse.delta.store.StreamOutputFile;
import org.apache.flink.api.connector.sink2.CommittingSinkWriter;
import org.apache.flink.api.connector.sink2.StatefulSinkWriter;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.types.logical.RowType;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.hadoop.ParquetFileWriter;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.api.WriteSupport;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.io.OutputFile;

/**
 * Writes rows into Parquet data files of the table, one open file per partition, and hands the
 * finished files to the committer at every checkpoint.
 *
 * <p>Files are written to local temporary storage and uploaded under the table's directory with a
 * unique name before they are handed over, so a file named in a committable is always complete.
 * A file written but never committed (the writer failed before its checkpoint completed) is named
 * by no log version: readers never see it and vacuum removes it.
 *
 * <p>Versions of committables: a writer numbers them after the last checkpoint it took part in
 * (restored: the restored checkpoint), so they grow across checkpoints and restores of one job.
 */
final class DeltaWriter implements CommittingSinkWriter<RowData, DeltaCommittable>, StatefulSinkWriter<RowData, Void> {
    private static final int SIZE_CHECK_EVERY = 1000;

    private final RowType rowType;
    private final int[] dataFields;
    private final int[] partitionFields;
    private final ObjectStore.Config storeConfig;
    private final long targetFileSize;
    private final String appId;
    private final int subtask;
    private final Path tempDir;
    private final Map<String, OpenFile> open = new LinkedHashMap<>();
    private final List<DeltaCommittable.DataFile> finished = new ArrayList<>();
    private ObjectStore store;
    private long lastCheckpoint;
    private long versionsIssued;

    DeltaWriter(RowType rowType, List<String> partitionColumns, ObjectStore.Config storeConfig, long targetFileSize,
                String appId, int subtask, long restoredCheckpoint) throws IOException {
        this.rowType = rowType;
        List<String> names = rowType.getFieldNames();
        List<Integer> data = new ArrayList<>();
        for (int i = 0; i < names.size(); i++) {
            if (!partitionColumns.contains(names.get(i))) {
                data.add(i);
            }
        }
        this.dataFields = data.stream().mapToInt(Integer::intValue).toArray();
        this.partitionFields = partitionColumns.stream().mapToInt(names::indexOf).toArray();
        this.storeConfig = storeConfig;
        this.targetFileSize = targetFileSize;
        this.appId = appId;
        this.subtask = subtask;
        this.lastCheckpoint = restoredCheckpoint;
        this.tempDir = Files.createTempDirectory("lakehouse-delta-");
    }

    @Override
    public void write(RowData row, Context context) throws IOException {
        String partition = partitionPath(row);
        OpenFile file = open.get(partition);
        if (file == null) {
            file = new OpenFile(partition, partitionValues(row));
            open.put(partition, file);
        }
        file.write(row);
        if (file.stats.rows() % SIZE_CHECK_EVERY == 0 && file.writer.getDataSize() >= targetFileSize) {
            finish(open.remove(partition));
        }
    }

    @Override
    public void flush(boolean endOfInput) {}

    @Override
    public Collection<DeltaCommittable> prepareCommit() throws IOException {
        for (OpenFile file : new ArrayList<>(open.values())) {
            finish(file);
        }
        open.clear();
        if (finished.isEmpty()) {
            return Collections.emptyList();
        }
        // Strictly greater than every earlier version of this writer, including before a restore.
        long version = Math.max(lastCheckpoint + 1, versionsIssued + 1);
        versionsIssued = version;
        DeltaCommittable committable = new DeltaCommittable(appId, version, new ArrayList<>(finished));
        finished.clear();
        return Collections.singletonList(committable);
    }

    @Override
    public List<Void> snapshotState(long checkpointId) {
        lastCheckpoint = Math.max(lastCheckpoint, checkpointId);
        return Collections.emptyList();
    }

    @Override
    public void close() throws Exception {
        for (OpenFile file : open.values()) {
            file.abandon();
        }
        open.clear();
        if (store != null) {
            store.close();
        }
        try (var leftovers = Files.list(tempDir)) {
            leftovers.forEach(p -> p.toFile().delete());
        }
        Files.deleteIfExists(tempDir);
    }

    private ObjectStore store() {
        if (store == null) {
            store = storeConfig.open();
        }
        return store;
    }

    private void finish(OpenFile file) throws IOException {
        file.writer.close();
        long size = Files.size(file.local);
        store().putFile(file.relativePath, file.local);
        Files.deleteIfExists(file.local);
        finished.add(new DeltaCommittable.DataFile(file.relativePath, size, System.currentTimeMillis(), file.stats.rows(),
                file.partitionValues, file.stats.toJson()));
    }

    private String partitionPath(RowData row) {
        if (partitionFields.length == 0) {
            return "";
        }
        StringBuilder path = new StringBuilder();
        for (int p : partitionFields) {
            String value = partitionValue(row, p);
            path.append(rowType.getFieldNames().get(p)).append('=')
                    .append(value == null ? "__HIVE_DEFAULT_PARTITION__" : escape(value)).append('/');
        }
        return path.toString();
    }

    private Map<String, String> partitionValues(RowData row) {
        Map<String, String> values = new LinkedHashMap<>();
        for (int p : partitionFields) {
            values.put(rowType.getFieldNames().get(p), partitionValue(row, p));
        }
        return values;
    }

    private String partitionValue(RowData row, int field) {
        if (row.isNullAt(field)) {
            return null;
        }
        switch (rowType.getTypeAt(field).getTypeRoot()) {
            case CHAR:
            case VARCHAR: return row.getString(field).toString();
            case INTEGER: return Integer.toString(row.getInt(field));
            case BIGINT: return Long.toString(row.getLong(field));
            case DATE: return java.time.LocalDate.ofEpochDay(row.getInt(field)).toString();
            default: throw new UnsupportedOperationException("partition column type " + rowType.getTypeAt(field));
        }
    }

    /** Hive-style escaping of a partition value in a path (what Spark and delta-rs write). */
    private static String escape(String value) {
        StringBuilder out = new StringBuilder();
        for (char c : value.toCharArray()) {
            if (c < 0x20 || "\"#%'*/:=?\\\u007f{[]^".indexOf(c) >= 0) {
                out.append(String.format("%%%02X", (int) c));
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    private final class OpenFile {
        final String relativePath;
        final Map<String, String> partitionValues;
        final Path local;
        final ParquetWriter<RowData> writer;
        final FileStats stats = new FileStats(rowType, dataFields);

        OpenFile(String partition, Map<String, String> partitionValues) throws IOException {
            String name = String.format("part-%05d-%s.snappy.parquet", subtask, UUID.randomUUID());
            // The add action's path is a relative URI: the partition directory's own escapes are
            // percent-encoded once more (a '%' in the name becomes %25).
            this.relativePath = URLEncoder.encode(partition, StandardCharsets.UTF_8).replace("%2F", "/").replace("%3D", "=")
                    .replace("+", "%20") + name;
            this.partitionValues = partitionValues;
            this.local = tempDir.resolve(name);
            StreamOutputFile file = new StreamOutputFile(local.toString(),
                    () -> new java.io.BufferedOutputStream(Files.newOutputStream(local), 1 << 16));
            this.writer = new Builder(file, new RowDataWriteSupport(rowType, dataFields))
                    .withCompressionCodec(CompressionCodecName.SNAPPY)
                    .withWriteMode(ParquetFileWriter.Mode.OVERWRITE)
                    .withConf(new Configuration(false))
                    .build();
        }

        void write(RowData row) throws IOException {
            writer.write(row);
            stats.add(row);
        }

        void abandon() {
            try {
                writer.close();
            } catch (IOException | RuntimeException ignored) {
                // the file is discarded either way
            }
            try {
                Files.deleteIfExists(local);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    private static final class Builder extends ParquetWriter.Builder<RowData, Builder> {
        private final WriteSupport<RowData> support;

        Builder(OutputFile file, WriteSupport<RowData> support) {
            super(file);
            this.support = support;
        }

        @Override
        protected Builder self() {
            return this;
        }

        @Override
        protected WriteSupport<RowData> getWriteSupport(Configuration conf) {
            return support;
        }
    }
}
