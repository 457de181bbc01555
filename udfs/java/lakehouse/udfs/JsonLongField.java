package lakehouse.udfs;

import java.io.IOException;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonFactory;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonParser;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonToken;
import org.apache.flink.table.functions.ScalarFunction;

/**
 * {@code json_long_field(message, 'name')}: the top-level field {@code name} of a JSON object given
 * as UTF-8 bytes, as a BIGINT: a JSON integer within BIGINT's range, or a string holding one
 * (an optional minus sign and digits); NULL for anything else (a fraction, an exponent, another
 * type, JSON null, a missing key, bytes that do not start a JSON object, a document that breaks
 * off before the object closes). A repeated key keeps its last value; what follows the object is
 * not read.
 *
 * <p>The order-events source takes its rowtime from the payload's {@code ts_ms} with this. It reads
 * the bytes once, as a stream of tokens, without building a document or decoding the message to a
 * string first; {@code JSON_VALUE(CAST(message AS STRING), '$.ts_ms')} decoded the message, parsed
 * it into a tree and walked a JSON path, for every record, in the source's own chain.
 */
public class JsonLongField extends ScalarFunction {

    private static final long serialVersionUID = 1L;

    private transient JsonFactory factory;

    public Long eval(byte[] message, String name) {
        if (message == null || name == null) {
            return null;
        }
        if (factory == null) {
            factory = new JsonFactory();
        }
        try (JsonParser parser = factory.createParser(message)) {
            if (parser.nextToken() != JsonToken.START_OBJECT) {
                return null;
            }
            Long found = null;
            JsonToken token;
            while ((token = parser.nextToken()) == JsonToken.FIELD_NAME) {
                boolean wanted = name.equals(parser.currentName());
                JsonToken value = parser.nextToken();
                if (value == JsonToken.START_OBJECT || value == JsonToken.START_ARRAY) {
                    parser.skipChildren();
                }
                if (wanted) {
                    found = asLong(parser, value);
                }
            }
            return token == JsonToken.END_OBJECT ? found : null;
        } catch (IOException malformed) {
            return null;
        }
    }

    private static Long asLong(JsonParser parser, JsonToken value) throws IOException {
        if (value == JsonToken.VALUE_NUMBER_INT) {
            JsonParser.NumberType type = parser.getNumberType();
            return type == JsonParser.NumberType.INT || type == JsonParser.NumberType.LONG
                    ? parser.getLongValue()
                    : null;
        }
        if (value == JsonToken.VALUE_STRING) {
            return parseLong(parser.getText());
        }
        return null;
    }

    /** Digits with an optional leading minus, within BIGINT; NULL otherwise (no spaces, no plus). */
    static Long parseLong(String text) {
        int start = text.startsWith("-") ? 1 : 0;
        if (text.length() == start || text.length() > 20) {
            return null;
        }
        for (int i = start; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c < '0' || c > '9') {
                return null;
            }
        }
        try {
            return Long.parseLong(text);
        } catch (NumberFormatException outOfRange) {
            return null;
        }
    }

    @Override
    public boolean isDeterministic() {
        return true;
    }
}
