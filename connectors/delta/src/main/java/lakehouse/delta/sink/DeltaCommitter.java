package lakehouse.delta.sink;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import lakehouse.delta.log.DeltaLog;
import lakehouse.delta.store.ObjectStore;
import org.apache.flink.api.connector.sink2.Committer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Commits the data files of completed checkpoints to the Delta log: the second phase of Flink's
 * two-phase commit, run when a checkpoint completes (and again, for the same committables, when a
 * job restores a checkpoint or savepoint).
 *
 * <p>Protocol. A writer hands over, per checkpoint, the Parquet files it finished (already
 * uploaded) as one committable with a transaction identity (app id, version). When the checkpoint
 * completes, this committer writes one new log version holding an add action per file and a
 * {@code txn} action per committable, created with put-if-absent so it cannot overwrite a version
 * another writer (delta-rs maintenance, another job, another committer subtask) wrote.
 *
 * <p>Invariants.
 * <ol>
 *   <li>The Delta log is the only record of progress: a committable is committed iff the table's
 *       last {@code txn} version for its app id is at least the committable's version.</li>
 *   <li>A committable delivered again (restore after the commit succeeded, a retried commit) is
 *       skipped by invariant 1 and logged; nothing is written twice.</li>
 *   <li>Losing the race for a log version means: read the versions written since, re-check
 *       invariant 1 and the table's metadata, then try the next version. A blind append never
 *       conflicts with a compaction's removes; a changed schema or partitioning fails the job
 *       instead of writing files that no longer fit.</li>
 *   <li>A failure other than a lost race fails the job (no "retry later"): committables of one
 *       app id must reach the log in version order, which a restore then guarantees.</li>
 * </ol>
 *
 * <p>Every {@code sink.log-checkpoint-interval} versions, the committer that wrote the version also
 * writes the log checkpoint of that version (its state is exact right after its own commit).
 */
final class DeltaCommitter implements Committer<DeltaCommittable> {
    private static final Logger LOG = LoggerFactory.getLogger(DeltaCommitter.class);
    private static final int MAX_RACES = 50;

    private final ObjectStore.Config storeConfig;
    private final List<String> columns;
    private final List<String> partitionColumns;
    private final String tableName;
    private final int logCheckpointInterval;
    private ObjectStore store;
    private DeltaLog log;

    DeltaCommitter(ObjectStore.Config storeConfig, List<String> columns, List<String> partitionColumns, String tableName,
                   int logCheckpointInterval) {
        this.logCheckpointInterval = logCheckpointInterval;
        this.storeConfig = storeConfig;
        this.columns = columns;
        this.partitionColumns = partitionColumns;
        this.tableName = tableName;
    }

    @Override
    public void commit(Collection<CommitRequest<DeltaCommittable>> requests) throws IOException {
        if (requests.isEmpty()) {
            return;
        }
        if (log == null) {
            store = storeConfig.open();
            log = new DeltaLog(store);
            log.load();
            checkTable();
        } else {
            log.catchUp();
        }
        for (int race = 0; race < MAX_RACES; race++) {
            List<CommitRequest<DeltaCommittable>> pending = new ArrayList<>();
            for (CommitRequest<DeltaCommittable> request : requests) {
                DeltaCommittable c = request.getCommittable();
                long committed = log.transactionVersion(c.appId);
                if (c.version <= committed) {
                    LOG.info("{}: skipping {} (already committed: txn {} is at version {})", tableName, c, c.appId, committed);
                    request.signalAlreadyCommitted();
                } else {
                    pending.add(request);
                }
            }
            if (pending.isEmpty()) {
                return;
            }
            String metadataBefore = log.metadataId();
            long version = log.tryCommit(actions(pending));
            if (version >= 0) {
                long rows = pending.stream().mapToLong(r -> r.getCommittable().rows()).sum();
                LOG.info("{}: committed version {} ({} committables, {} rows)", tableName, version, pending.size(), rows);
                if (logCheckpointInterval > 0 && version % logCheckpointInterval == 0) {
                    checkpoint(version);
                }
                return;
            }
            LOG.info("{}: log version {} was taken by another writer; re-reading the log", tableName, log.version() + 1);
            log.catchUp();
            if (metadataBefore != null && !metadataBefore.equals(log.metadataId())) {
                checkTable();
            }
            requests = pending;
        }
        throw new IOException(tableName + ": lost the race for a log version " + MAX_RACES + " times in a row");
    }

    /** A log checkpoint of the version just committed; it only saves readers work, so a failure is logged, not thrown. */
    private void checkpoint(long version) {
        long started = System.nanoTime();
        try {
            if (log.writeCheckpoint()) {
                LOG.info("{}: wrote the log checkpoint of version {} ({} files) in {} ms", tableName, version,
                        log.fileCount(), (System.nanoTime() - started) / 1_000_000);
            }
        } catch (IOException | RuntimeException error) {
            LOG.warn("{}: could not write the log checkpoint of version {}: {}", tableName, version, error.toString());
        }
    }

    /** The table must still have the columns and partitioning the job writes. */
    private void checkTable() throws IOException {
        log.checkWritable();
        if (!log.partitionColumns().equals(partitionColumns)) {
            throw new IOException(tableName + " at " + store.describe() + " is partitioned by " + log.partitionColumns()
                    + " but the sink writes partitions " + partitionColumns + " (option 'partition-columns')");
        }
        Set<String> expected = new TreeSet<>(columns);
        Set<String> actual = new TreeSet<>(log.columns());
        if (!expected.equals(actual)) {
            throw new IOException(tableName + " at " + store.describe() + " has columns " + actual
                    + " but the sink writes " + expected + ": the schema changed; re-create the table or replay into a new version");
        }
    }

    private List<Map<String, Object>> actions(List<CommitRequest<DeltaCommittable>> pending) {
        List<Map<String, Object>> actions = new ArrayList<>();
        long now = System.currentTimeMillis();
        long rows = 0;
        int files = 0;
        Map<String, Long> txns = new LinkedHashMap<>();
        for (CommitRequest<DeltaCommittable> request : pending) {
            DeltaCommittable c = request.getCommittable();
            txns.merge(c.appId, c.version, Math::max);
            rows += c.rows();
            files += c.files.size();
        }
        Map<String, Object> info = new LinkedHashMap<>();
        info.put("timestamp", now);
        info.put("operation", "STREAMING UPDATE");
        Map<String, Object> parameters = new LinkedHashMap<>();
        parameters.put("outputMode", "Append");
        parameters.put("queryId", String.join(",", txns.keySet()));
        parameters.put("epochId", String.valueOf(txns.values().stream().mapToLong(Long::longValue).max().orElse(0)));
        info.put("operationParameters", parameters);
        info.put("isBlindAppend", true);
        info.put("engineInfo", "lakehouse-delta-flink-sink");
        Map<String, Object> metrics = new LinkedHashMap<>();
        metrics.put("numFiles", String.valueOf(files));
        metrics.put("numOutputRows", String.valueOf(rows));
        info.put("operationMetrics", metrics);
        info.put("lakehouse.table", tableName);
        info.put("lakehouse.rows", String.valueOf(rows));
        info.put("lakehouse.transactions", lakehouse.delta.log.Json.write(new LinkedHashMap<String, Object>(txns)));
        actions.add(Map.of("commitInfo", info));
        for (Map.Entry<String, Long> txn : txns.entrySet()) {
            Map<String, Object> t = new LinkedHashMap<>();
            t.put("appId", txn.getKey());
            t.put("version", txn.getValue());
            t.put("lastUpdated", now);
            actions.add(Map.of("txn", t));
        }
        for (CommitRequest<DeltaCommittable> request : pending) {
            for (DeltaCommittable.DataFile f : request.getCommittable().files) {
                Map<String, Object> add = new LinkedHashMap<>();
                add.put("path", f.path);
                add.put("partitionValues", new LinkedHashMap<String, Object>(f.partitionValues));
                add.put("size", f.size);
                add.put("modificationTime", f.modificationTime);
                add.put("dataChange", true);
                add.put("stats", f.stats);
                actions.add(Map.of("add", add));
            }
        }
        return actions;
    }

    @Override
    public void close() {
        if (store != null) {
            store.close();
        }
    }
}
