package lakehouse.delta.table;

import java.util.List;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.MemorySize;

/** The options of {@code 'connector' = 'delta'}, declared once: the factory validates DDL against them. */
public final class DeltaOptions {
    private DeltaOptions() {}

    public static final ConfigOption<String> TABLE_PATH = text("table-path",
            "Root of the Delta table: s3://bucket/path, s3a://..., file:///path or a local path."
                    + " The table must exist (its log has version 0); the sink only appends.");

    public static final ConfigOption<List<String>> PARTITION_COLUMNS = ConfigOptions.key("partition-columns").stringType()
            .asList().defaultValues()
            .withDescription("The table's partition columns, in order (';'-separated); checked against the table's log.");

    public static final ConfigOption<String> APP_ID = text("app-id",
            "Prefix of the Delta transaction ids this sink commits with: <app-id>/<job id>/<writer subtask>."
                    + " Default: the table path.");

    public static final ConfigOption<String> TABLE_NAME = text("table-name",
            "A name for logs and commit metadata (default: the table path).");

    public static final ConfigOption<MemorySize> TARGET_FILE_SIZE = ConfigOptions.key("sink.target-file-size").memoryType()
            .defaultValue(MemorySize.parse("128mb"))
            .withDescription("A data file is closed when it reaches this size (Parquet's buffered estimate); every"
                    + " checkpoint also closes the open files. Small files are compacted by table maintenance.");

    public static final ConfigOption<Integer> LOG_CHECKPOINT_INTERVAL = ConfigOptions.key("sink.log-checkpoint-interval")
            .intType().defaultValue(100)
            .withDescription("Write a Parquet log checkpoint every N table versions (0: never), so readers replay one"
                    + " checkpoint and the few commits after it instead of every JSON commit.");

    public static final ConfigOption<String> S3_ENDPOINT = text("s3.endpoint",
            "S3 endpoint URL (MinIO, SeaweedFS, ...); default: the cluster's s3.endpoint, else AWS.");

    public static final ConfigOption<String> S3_REGION = ConfigOptions.key("s3.region").stringType().defaultValue("us-east-1")
            .withDescription("Region used to sign S3 requests.");

    public static final ConfigOption<String> S3_ACCESS_KEY = text("s3.access-key",
            "S3 access key. Prefer leaving it unset: the task managers' AWS_ACCESS_KEY_ID, else the"
                    + " cluster's s3.access-key, is used, so no secret is written into DDL.");

    public static final ConfigOption<String> S3_SECRET_KEY = text("s3.secret-key", "S3 secret key; see s3.access-key.");

    /** A string option without a default (the factory falls back as its description says). */
    private static ConfigOption<String> text(String key, String description) {
        return ConfigOptions.key(key).stringType().noDefaultValue().withDescription(description);
    }
}
