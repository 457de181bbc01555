package lakehouse.delta.sink;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.apache.flink.streaming.api.connector.sink2.CommittableMessage;
import org.apache.flink.streaming.api.connector.sink2.CommittableSummary;
import org.apache.flink.streaming.api.connector.sink2.CommittableWithLineage;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.BoundedOneInput;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;

/**
 * Gathers every writer subtask's committables of a checkpoint and hands them on as if one writer
 * had made them, so that one committer subtask commits them all in one log version.
 *
 * <p>Sink V2 runs as many committer subtasks as writer subtasks. Left so, each committer subtask
 * writes its own log version per checkpoint, and at parallelism N the N committers race for each
 * version number (the losers re-read the log and try the next). Runs at parallelism 1 between a
 * global (all to subtask 0) edge from the writers and a global edge to the committers: committer
 * subtask 0 receives everything, the others nothing.
 *
 * <p>It keeps no state: with aligned checkpoints a writer's committables of checkpoint N arrive
 * before its barrier N, and this operator hands them on before it forwards the barrier
 * ({@link #prepareSnapshotPreBarrier}). Committables keep their checkpoint id (end of input
 * included); a summary for checkpoint N says one subtask sent this many committables, which is
 * what the committer waits for before committing N.
 */
final class CommittableFunnel extends AbstractStreamOperator<CommittableMessage<DeltaCommittable>>
        implements OneInputStreamOperator<CommittableMessage<DeltaCommittable>, CommittableMessage<DeltaCommittable>>, BoundedOneInput {
    private static final long serialVersionUID = 1L;

    // Built where the operator runs (the field is transient: the operator is shipped serialized).
    private transient Map<Long, List<DeltaCommittable>> pending;

    @Override
    public void open() throws Exception {
        super.open();
        pending = new TreeMap<>();
    }

    @Override
    public void processElement(StreamRecord<CommittableMessage<DeltaCommittable>> element) {
        if (element.getValue() instanceof CommittableWithLineage) {
            CommittableWithLineage<DeltaCommittable> message = (CommittableWithLineage<DeltaCommittable>) element.getValue();
            pendingFor(message.getCheckpointId()).add(message.getCommittable());
        }
        // Summaries of the writers are replaced by one per checkpoint, made when handing on.
    }

    @Override
    public void prepareSnapshotPreBarrier(long checkpointId) {
        handOn();
    }

    @Override
    public void endInput() {
        handOn();
    }

    private List<DeltaCommittable> pendingFor(long checkpointId) {
        return pending.computeIfAbsent(checkpointId, id -> new ArrayList<>());
    }

    private void handOn() {
        for (Map.Entry<Long, List<DeltaCommittable>> entry : pending.entrySet()) {
            long checkpointId = entry.getKey();
            List<DeltaCommittable> committables = entry.getValue();
            output.collect(new StreamRecord<>(new CommittableSummary<>(0, 1, checkpointId, committables.size(), 0)));
            for (DeltaCommittable committable : committables) {
                output.collect(new StreamRecord<>(new CommittableWithLineage<>(committable, checkpointId, 0)));
            }
        }
        pending.clear();
    }
}
