package lakehouse.udfs;

import java.time.Instant;

import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.functions.ScalarFunction;

/**
 * {@code epoch_millis_or_zero(ms, latest)}: {@code ms} when it is a plausible epoch-millisecond
 * time, at or after 1970 and not after {@code latest}; otherwise 0 (also for NULL).
 *
 * <p>The order-events source derives its rowtime from the payload with this: a row the contract
 * rejects gets epoch 0, which never advances the watermark. Written in SQL, the same rule names
 * the parsed timestamp three times, and the planner evaluates (parses the JSON for) each of them;
 * a function takes it once.
 */
public class EpochMillisOrZero extends ScalarFunction {

    private static final long serialVersionUID = 1L;

    public long eval(Long ms, @DataTypeHint("TIMESTAMP_LTZ(3)") Instant latest) {
        if (ms == null || ms < 0 || latest == null || ms > latest.toEpochMilli()) {
            return 0L;
        }
        return ms;
    }

    @Override
    public boolean isDeterministic() {
        return true;
    }
}
