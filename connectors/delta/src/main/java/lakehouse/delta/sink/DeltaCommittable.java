package lakehouse.delta.sink;

import java.io.Serializable;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * What one writer subtask hands to the committer at a checkpoint: the data files it finished, and
 * the transaction identity that makes committing them idempotent.
 *
 * <p>{@code appId} is "&lt;app id&gt;/&lt;Flink job id&gt;/&lt;writer subtask&gt;" and {@code version}
 * grows with every committable of that writer; the Delta commit carries {@code txn(appId,
 * version)}, so a committable restored from a checkpoint after its commit succeeded is recognised
 * (the table already holds that version or a later one for the app id) and skipped.
 */
public final class DeltaCommittable implements Serializable {
    private static final long serialVersionUID = 1L;

    public final String appId;
    public final long version;
    public final List<DataFile> files;

    public DeltaCommittable(String appId, long version, List<DataFile> files) {
        this.appId = appId;
        this.version = version;
        this.files = Collections.unmodifiableList(files);
    }

    public long rows() {
        long n = 0;
        for (DataFile f : files) {
            n += f.rows;
        }
        return n;
    }

    @Override
    public String toString() {
        return "DeltaCommittable{" + appId + " v" + version + ", " + files.size() + " files, " + rows() + " rows}";
    }

    /** One finished Parquet file of the table: what its add action says. */
    public static final class DataFile implements Serializable {
        private static final long serialVersionUID = 1L;
        public final String path; // relative to the table root, percent-encoded as Delta wants
        public final long size;
        public final long modificationTime;
        public final long rows;
        public final Map<String, String> partitionValues;
        public final String stats; // the add action's JSON statistics string

        public DataFile(String path, long size, long modificationTime, long rows, Map<String, String> partitionValues, String stats) {
            this.path = path;
            this.size = size;
            this.modificationTime = modificationTime;
            this.rows = rows;
            this.partitionValues = partitionValues;
            this.stats = stats;
        }
    }
}
