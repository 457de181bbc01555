package lakehouse.delta.sink;

import java.io.IOException;
import java.util.Collection;
import java.util.List;

import lakehouse.delta.store.ObjectStore;
import org.apache.flink.api.connector.sink2.Committer;
import org.apache.flink.api.connector.sink2.CommitterInitContext;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.StatefulSinkWriter;
import org.apache.flink.api.connector.sink2.SupportsCommitter;
import org.apache.flink.api.connector.sink2.SupportsWriterState;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.streaming.api.connector.sink2.CommittableMessage;
import org.apache.flink.streaming.api.connector.sink2.CommittableMessageTypeInfo;
import org.apache.flink.streaming.api.connector.sink2.SupportsPreCommitTopology;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.types.logical.RowType;

/**
 * An exactly-once Delta Lake sink (Sink V2): {@link DeltaWriter} writes Parquet files and hands
 * them over per checkpoint; {@link DeltaCommitter} commits them to the log when the checkpoint
 * completes. The writer keeps no state of its own (its files are in the committables, which Flink
 * keeps in the committer's state); it is "stateful" only to learn checkpoint ids. Between them,
 * {@link CommittableFunnel} sends every writer's committables to one committer subtask, so each
 * checkpoint is one log version whatever the parallelism.
 */
public final class DeltaSink implements Sink<RowData>, SupportsCommitter<DeltaCommittable>, SupportsWriterState<RowData, Void>,
        SupportsPreCommitTopology<DeltaCommittable, DeltaCommittable> {
    private static final long serialVersionUID = 1L;

    private final RowType rowType;
    private final List<String> partitionColumns;
    private final ObjectStore.Config storeConfig;
    private final long targetFileSize;
    private final String appId;
    private final String tableName;
    private final int logCheckpointInterval;

    public DeltaSink(RowType rowType, List<String> partitionColumns, ObjectStore.Config storeConfig, long targetFileSize,
                     String appId, String tableName, int logCheckpointInterval) {
        RowDataWriteSupport.checkSupported(rowType);
        for (String column : partitionColumns) {
            if (!rowType.getFieldNames().contains(column)) {
                throw new IllegalArgumentException("partition column " + column + " is not a column of " + tableName);
            }
        }
        this.rowType = rowType;
        this.partitionColumns = partitionColumns;
        this.storeConfig = storeConfig;
        this.targetFileSize = targetFileSize;
        this.appId = appId;
        this.tableName = tableName;
        this.logCheckpointInterval = logCheckpointInterval;
    }

    @Override
    public StatefulSinkWriter<RowData, Void> createWriter(WriterInitContext context) throws IOException {
        return restoreWriter(context, List.of());
    }

    @Override
    public StatefulSinkWriter<RowData, Void> restoreWriter(WriterInitContext context, Collection<Void> state) throws IOException {
        int subtask = context.getTaskInfo().getIndexOfThisSubtask();
        String writerAppId = appId + "/" + context.getJobInfo().getJobId() + "/" + subtask;
        long restored = context.getRestoredCheckpointId().orElse(0L);
        return new DeltaWriter(rowType, partitionColumns, storeConfig, targetFileSize, writerAppId, subtask, restored);
    }

    @Override
    public SimpleVersionedSerializer<Void> getWriterStateSerializer() {
        return new SimpleVersionedSerializer<Void>() {
            @Override
            public int getVersion() {
                return 1;
            }

            @Override
            public byte[] serialize(Void obj) {
                return new byte[0];
            }

            @Override
            public Void deserialize(int version, byte[] serialized) {
                return null;
            }
        };
    }

    @Override
    public DataStream<CommittableMessage<DeltaCommittable>> addPreCommitTopology(DataStream<CommittableMessage<DeltaCommittable>> committables) {
        return committables
                .global()
                .transform("Delta committables: " + tableName, CommittableMessageTypeInfo.of(DeltaCommittableSerializer::new),
                        new CommittableFunnel())
                .setParallelism(1)
                .setMaxParallelism(1)
                .global();
    }

    @Override
    public SimpleVersionedSerializer<DeltaCommittable> getWriteResultSerializer() {
        return new DeltaCommittableSerializer();
    }

    @Override
    public Committer<DeltaCommittable> createCommitter(CommitterInitContext context) {
        return new DeltaCommitter(storeConfig, rowType.getFieldNames(), partitionColumns, tableName, logCheckpointInterval);
    }

    @Override
    public SimpleVersionedSerializer<DeltaCommittable> getCommittableSerializer() {
        return new DeltaCommittableSerializer();
    }
}
