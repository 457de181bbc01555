package lakehouse.udfs;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.annotation.FunctionHint;
import org.apache.flink.table.functions.TableFunction;
import org.apache.flink.types.Row;

/**
 * {@code raw_record(bytes)}: a message's value as the contract sees it, in one row
 * {@code (payload STRING, is_utf8 BOOLEAN, size_bytes INT)}.
 *
 * <p>The order-events source reads each message as bytes, so nothing is lost before the contract
 * looks at it: valid UTF-8 gives its text; anything else gives {@code "base64:"} followed by the
 * Base64 of the original bytes (is_utf8 = false), which the quarantine keeps as the payload and
 * from which an operator recovers the bytes exactly. A NULL value (a Kafka record without a value)
 * gives a NULL payload, is_utf8 = true and size 0. A table function, so the bytes are decoded once
 * per record however many expressions use the result.
 */
@FunctionHint(output = @DataTypeHint("ROW<payload STRING, is_utf8 BOOLEAN, size_bytes INT>"))
public class RawRecord extends TableFunction<Row> {

    private static final long serialVersionUID = 1L;

    public static final String BASE64_PREFIX = "base64:";

    public void eval(byte[] value) {
        if (value == null) {
            collect(Row.of(null, true, 0));
            return;
        }
        try {
            String text = StandardCharsets.UTF_8
                    .newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(value))
                    .toString();
            collect(Row.of(text, true, value.length));
        } catch (CharacterCodingException notUtf8) {
            collect(Row.of(BASE64_PREFIX + Base64.getEncoder().encodeToString(value), false, value.length));
        }
    }
}
