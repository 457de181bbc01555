package lakehouse.udfs;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonFactory;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonParser;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonToken;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.catalog.DataTypeFactory;
import org.apache.flink.table.functions.TableFunction;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.inference.CallContext;
import org.apache.flink.table.types.inference.StaticArgument;
import org.apache.flink.table.types.inference.TypeInference;
import org.apache.flink.types.Row;

/**
 * {@code json_object_fields(text, 'a,b:integer,c:string')}: parses a JSON text once and emits exactly
 * one row {@code (is_object BOOLEAN, a STRING, b STRING, c STRING, wrong_type STRING, bad_text STRING)}.
 *
 * <p>Why a Java table function: Flink's JSON_VALUE parses the whole document on every call, and
 * the planner inlines a view's expressions into every place that uses them, so checking one order
 * event with JSON_VALUE cost about fifty parses. A table function runs once per input row (a
 * Correlate node, which the planner does not inline), and its typed columns cost nothing to read.
 *
 * <p>Values follow JSON_VALUE's defaults: a string gives its unescaped text, a number its text as
 * written, a boolean "true" or "false"; JSON null, an object, an array or a missing key gives
 * NULL; a repeated key keeps its last value. Text that is not one complete JSON object (invalid
 * JSON, an array, trailing content, SQL NULL) gives is_object = false and every field NULL.
 *
 * <p>A field may declare the JSON type its value must have ({@code :string}, {@code :integer} (a
 * number without fraction or exponent), {@code :number} or {@code :boolean}). A present, non-null
 * value of another type gives NULL for that field, and {@code wrong_type} names the first such field
 * in the list's order, so the contract can say "wrong type" rather than "missing". {@code bad_text}
 * names the first field whose string is not valid Unicode (an unpaired surrogate escape such as
 * {@code \ud800}, which no UTF-8 column can store); that field's value is NULL too.
 */
public class JsonObjectFields extends TableFunction<Row> {

    private static final long serialVersionUID = 1L;

    private transient JsonFactory factory;
    private transient String namesSeen;
    private transient Map<String, Integer> positions;
    private transient Map<String, String> types;

    public void eval(String text, String names) {
        if (factory == null) {
            factory = new JsonFactory();
        }
        if (!names.equals(namesSeen)) {
            positions = new HashMap<>();
            types = new HashMap<>();
            List<String> list = fieldNames(names);
            for (int i = 0; i < list.size(); i++) {
                String[] nameAndType = list.get(i).split(":", 2);
                positions.put(nameAndType[0], i + 1);
                types.put(nameAndType[0], nameAndType.length == 2 ? nameAndType[1] : ANY);
            }
            namesSeen = names;
        }
        int fields = positions.size();
        Object[] values = new Object[fields + 3];
        // Per field position, the problem of its (last) value: 0 none, 1 wrong type, 2 bad text.
        int[] problems = new int[fields + 1];
        boolean isObject = text != null && parse(text, values, problems);
        if (!isObject) {
            Arrays.fill(values, null);
        } else {
            values[fields + 1] = nameAt(first(problems, 1));
            values[fields + 2] = nameAt(first(problems, 2));
        }
        values[0] = isObject;
        collect(Row.of(values));
    }

    private static int first(int[] problems, int kind) {
        for (int i = 1; i < problems.length; i++) {
            if (problems[i] == kind) {
                return i;
            }
        }
        return -1;
    }

    private String nameAt(int position) {
        for (Map.Entry<String, Integer> entry : positions.entrySet()) {
            if (entry.getValue() == position) {
                return entry.getKey();
            }
        }
        return null;
    }

    private static boolean hasType(String type, JsonToken token) {
        switch (type) {
            case "string":
                return token == JsonToken.VALUE_STRING;
            case "integer":
                return token == JsonToken.VALUE_NUMBER_INT;
            case "number":
                return token == JsonToken.VALUE_NUMBER_INT || token == JsonToken.VALUE_NUMBER_FLOAT;
            case "boolean":
                return token == JsonToken.VALUE_TRUE || token == JsonToken.VALUE_FALSE;
            default:
                return true;
        }
    }

    /** True when the string holds an unpaired surrogate (it has no UTF-8 encoding). */
    private static boolean hasLoneSurrogate(String value) {
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (Character.isHighSurrogate(c)) {
                if (i + 1 < value.length() && Character.isLowSurrogate(value.charAt(i + 1))) {
                    i++;
                } else {
                    return true;
                }
            } else if (Character.isLowSurrogate(c)) {
                return true;
            }
        }
        return false;
    }

    private boolean parse(String text, Object[] values, int[] problems) {
        try (JsonParser parser = factory.createParser(text)) {
            if (parser.nextToken() != JsonToken.START_OBJECT) {
                return false;
            }
            JsonToken token;
            while ((token = parser.nextToken()) == JsonToken.FIELD_NAME) {
                String name = parser.currentName();
                Integer position = positions.get(name);
                JsonToken value = parser.nextToken();
                String scalar = null;
                if (value == JsonToken.START_OBJECT || value == JsonToken.START_ARRAY) {
                    parser.skipChildren();
                } else if (value != JsonToken.VALUE_NULL) {
                    scalar = parser.getText();
                }
                if (position != null) {
                    values[position] = scalar;
                    String type = types.get(name);
                    // A repeated key keeps its last value, and only the last value's problem.
                    problems[position] = 0;
                    if (value != JsonToken.VALUE_NULL && !hasType(type, value)) {
                        values[position] = null;
                        problems[position] = 1;
                    } else if (value == JsonToken.VALUE_STRING && hasLoneSurrogate(scalar)) {
                        values[position] = null;
                        problems[position] = 2;
                    }
                }
            }
            // The object must be closed and nothing may follow it.
            return token == JsonToken.END_OBJECT && parser.nextToken() == null;
        } catch (IOException malformed) {
            return false;
        }
    }

    private static final String ANY = "any";
    private static final List<String> TYPES = List.of(ANY, "string", "integer", "number", "boolean");
    private static final List<String> RESERVED = List.of("is_object", "wrong_type", "bad_text");

    /** The declared fields, each "name" or "name:type", checked: distinct names, known types. */
    static List<String> fieldNames(String names) {
        List<String> list = new ArrayList<>();
        List<String> seen = new ArrayList<>();
        for (String item : names.split(",")) {
            String trimmed = item.trim();
            String[] nameAndType = trimmed.split(":", 2);
            String name = nameAndType[0].trim();
            if (name.isEmpty() || RESERVED.contains(name) || seen.contains(name)) {
                throw new IllegalArgumentException(
                        "json_object_fields: field names must be distinct, non-empty and not is_object, wrong_type"
                                + " or bad_text: '" + names + "'");
            }
            String type = nameAndType.length == 2 ? nameAndType[1].trim() : ANY;
            if (!TYPES.contains(type)) {
                throw new IllegalArgumentException(
                        "json_object_fields: unknown type '" + type + "' (expected one of " + TYPES + "): '" + names + "'");
            }
            seen.add(name);
            list.add(type.equals(ANY) ? name : name + ":" + type);
        }
        return list;
    }

    @Override
    public TypeInference getTypeInference(DataTypeFactory typeFactory) {
        return TypeInference.newBuilder()
                .staticArguments(
                        StaticArgument.scalar("text", DataTypes.STRING(), false),
                        StaticArgument.scalar("names", DataTypes.STRING(), false))
                .outputTypeStrategy(JsonObjectFields::outputType)
                .build();
    }

    private static Optional<DataType> outputType(CallContext context) {
        if (!context.isArgumentLiteral(1) || context.isArgumentNull(1)) {
            throw context.newValidationError(
                    "json_object_fields: the second argument must be a string literal of comma-separated field names");
        }
        String names = context.getArgumentValue(1, String.class).orElseThrow();
        List<DataTypes.Field> fields = new ArrayList<>();
        fields.add(DataTypes.FIELD("is_object", DataTypes.BOOLEAN().notNull()));
        try {
            for (String name : fieldNames(names)) {
                fields.add(DataTypes.FIELD(name.split(":", 2)[0], DataTypes.STRING()));
            }
            fields.add(DataTypes.FIELD("wrong_type", DataTypes.STRING()));
            fields.add(DataTypes.FIELD("bad_text", DataTypes.STRING()));
        } catch (IllegalArgumentException bad) {
            throw context.newValidationError(bad.getMessage());
        }
        return Optional.of(DataTypes.ROW(fields));
    }
}
