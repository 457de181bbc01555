package lakehouse.udfs;

import java.io.IOException;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonFactory;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonParser;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonToken;
import org.apache.flink.table.functions.ScalarFunction;

/**
 * {@code is_json_object(text)}: true when the text is exactly one JSON object, with nothing but
 * whitespace after it; false for anything else, NULL included.
 *
 * <p>Why not Flink's {@code text IS JSON OBJECT}: it reads the first value and ignores what
 * follows, so {@code {"op":"c",...} trailing} or two objects in a row pass as one object. The change
 * streams (sql/flink/stg_customers.sql, stg_products.sql) are checked with this, as order events
 * are by json_object_fields. JSON has no NaN or Infinity: those literals are not JSON here either.
 */
public class IsJsonObject extends ScalarFunction {

    private static final long serialVersionUID = 1L;

    private transient JsonFactory factory;

    public boolean eval(String text) {
        if (text == null) {
            return false;
        }
        if (factory == null) {
            factory = new JsonFactory();
        }
        try (JsonParser parser = factory.createParser(text)) {
            if (parser.nextToken() != JsonToken.START_OBJECT) {
                return false;
            }
            parser.skipChildren();
            return parser.nextToken() == null;
        } catch (IOException e) {
            return false;
        }
    }

    @Override
    public boolean isDeterministic() {
        return true;
    }
}
