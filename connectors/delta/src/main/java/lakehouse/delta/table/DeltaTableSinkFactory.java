package lakehouse.delta.table;

import java.util.Set;

import lakehouse.delta.sink.DeltaSink;
import lakehouse.delta.store.ObjectStore;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.table.connector.ChangelogMode;
import org.apache.flink.table.connector.sink.DynamicTableSink;
import org.apache.flink.table.connector.sink.SinkV2Provider;
import org.apache.flink.table.factories.DynamicTableSinkFactory;
import org.apache.flink.table.factories.FactoryUtil;
import org.apache.flink.table.types.logical.RowType;

/** {@code 'connector' = 'delta'}: an append-only, exactly-once sink into an existing Delta table. */
public final class DeltaTableSinkFactory implements DynamicTableSinkFactory {
    public static final String IDENTIFIER = "delta";

    @Override
    public String factoryIdentifier() {
        return IDENTIFIER;
    }

    @Override
    public Set<ConfigOption<?>> requiredOptions() {
        return Set.of(DeltaOptions.TABLE_PATH);
    }

    @Override
    public Set<ConfigOption<?>> optionalOptions() {
        return Set.of(DeltaOptions.PARTITION_COLUMNS, DeltaOptions.APP_ID, DeltaOptions.TABLE_NAME, DeltaOptions.TARGET_FILE_SIZE,
                DeltaOptions.LOG_CHECKPOINT_INTERVAL, DeltaOptions.S3_ENDPOINT, DeltaOptions.S3_REGION, DeltaOptions.S3_ACCESS_KEY, DeltaOptions.S3_SECRET_KEY);
    }

    @Override
    public DynamicTableSink createDynamicTableSink(Context context) {
        FactoryUtil.TableFactoryHelper helper = FactoryUtil.createTableFactoryHelper(this, context);
        helper.validate();
        ReadableConfig options = helper.getOptions();
        RowType rowType = (RowType) context.getCatalogTable().getResolvedSchema().toPhysicalRowDataType().getLogicalType();
        String path = options.get(DeltaOptions.TABLE_PATH);
        ObjectStore.Config store = new ObjectStore.Config(path, options.getOptional(DeltaOptions.S3_ENDPOINT).orElse(null),
                options.get(DeltaOptions.S3_REGION), true, options.getOptional(DeltaOptions.S3_ACCESS_KEY).orElse(null),
                options.getOptional(DeltaOptions.S3_SECRET_KEY).orElse(null));
        String name = options.getOptional(DeltaOptions.TABLE_NAME).orElse(path);
        DeltaSink sink = new DeltaSink(rowType, options.get(DeltaOptions.PARTITION_COLUMNS), store,
                options.get(DeltaOptions.TARGET_FILE_SIZE).getBytes(), options.getOptional(DeltaOptions.APP_ID).orElse(path), name,
                options.get(DeltaOptions.LOG_CHECKPOINT_INTERVAL));
        return new Table(sink, name);
    }

    private static final class Table implements DynamicTableSink {
        private final DeltaSink sink;
        private final String name;

        Table(DeltaSink sink, String name) {
            this.sink = sink;
            this.name = name;
        }

        @Override
        public ChangelogMode getChangelogMode(ChangelogMode requestedMode) {
            return ChangelogMode.insertOnly();
        }

        @Override
        public SinkRuntimeProvider getSinkRuntimeProvider(Context context) {
            return SinkV2Provider.of(sink);
        }

        @Override
        public DynamicTableSink copy() {
            return new Table(sink, name);
        }

        @Override
        public String asSummaryString() {
            return "Delta(" + name + ")";
        }
    }
}
