package lakehouse.delta.sink;

import java.util.HashMap;
import java.util.List;

import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.RowType;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.hadoop.api.WriteSupport;
import org.apache.parquet.io.api.Binary;
import org.apache.parquet.io.api.RecordConsumer;
import org.apache.parquet.schema.LogicalTypeAnnotation;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.PrimitiveType.PrimitiveTypeName;
import org.apache.parquet.schema.Type;
import org.apache.parquet.schema.Types;

/**
 * Writes Flink rows as Parquet in the types Delta readers expect: strings as UTF-8 binary,
 * timestamps as INT64 microseconds adjusted to UTC (Delta's {@code timestamp}), dates as INT32
 * days. Partition columns are not in the file (Delta keeps them in the path and the add action).
 */
final class RowDataWriteSupport extends WriteSupport<RowData> {
    /** Adds the value at one position of a row to the current Parquet field. */
    private interface FieldWriter {
        void write(RowData row, int pos);
    }

    private final int[] fields; // positions in the row of the columns the file holds
    private final String[] names; // their column names
    private final FieldWriter[] writers; // and how each is written, chosen once from its type
    private final MessageType schema;
    private RecordConsumer consumer;

    RowDataWriteSupport(RowType rowType, int[] fields) {
        this.fields = fields;
        this.names = new String[fields.length];
        this.writers = new FieldWriter[fields.length];
        Types.MessageTypeBuilder builder = Types.buildMessage();
        for (int i = 0; i < fields.length; i++) {
            names[i] = rowType.getFieldNames().get(fields[i]);
            LogicalType type = rowType.getTypeAt(fields[i]);
            builder.addField(parquetType(names[i], type)); // refuses an unsupported type
            writers[i] = writer(type);
        }
        this.schema = builder.named("flink_schema");
    }

    static Type parquetType(String name, LogicalType type) {
        switch (type.getTypeRoot()) {
            case CHAR:
            case VARCHAR:
                return Types.optional(PrimitiveTypeName.BINARY).as(LogicalTypeAnnotation.stringType()).named(name);
            case BOOLEAN:
                return Types.optional(PrimitiveTypeName.BOOLEAN).named(name);
            case TINYINT:
                return Types.optional(PrimitiveTypeName.INT32).as(LogicalTypeAnnotation.intType(8, true)).named(name);
            case SMALLINT:
                return Types.optional(PrimitiveTypeName.INT32).as(LogicalTypeAnnotation.intType(16, true)).named(name);
            case INTEGER:
                return Types.optional(PrimitiveTypeName.INT32).named(name);
            case BIGINT:
                return Types.optional(PrimitiveTypeName.INT64).named(name);
            case FLOAT:
                return Types.optional(PrimitiveTypeName.FLOAT).named(name);
            case DOUBLE:
                return Types.optional(PrimitiveTypeName.DOUBLE).named(name);
            case DATE:
                return Types.optional(PrimitiveTypeName.INT32).as(LogicalTypeAnnotation.dateType()).named(name);
            case TIMESTAMP_WITHOUT_TIME_ZONE:
            case TIMESTAMP_WITH_LOCAL_TIME_ZONE:
                return Types.optional(PrimitiveTypeName.INT64)
                        .as(LogicalTypeAnnotation.timestampType(true, LogicalTypeAnnotation.TimeUnit.MICROS)).named(name);
            default:
                throw new UnsupportedOperationException("column " + name + ": type " + type
                        + " is not supported by the delta sink (strings, booleans, integers, floats, doubles, dates, timestamps)");
        }
    }

    static void checkSupported(RowType rowType) {
        List<String> names = rowType.getFieldNames();
        for (int i = 0; i < names.size(); i++) {
            parquetType(names.get(i), rowType.getTypeAt(i));
        }
    }

    @Override
    public WriteContext init(Configuration configuration) {
        return new WriteContext(schema, new HashMap<>());
    }

    @Override
    public void prepareForWrite(RecordConsumer recordConsumer) {
        this.consumer = recordConsumer;
    }

    @Override
    public void write(RowData row) {
        consumer.startMessage();
        for (int i = 0; i < fields.length; i++) {
            if (row.isNullAt(fields[i])) {
                continue;
            }
            consumer.startField(names[i], i);
            writers[i].write(row, fields[i]);
            consumer.endField(names[i], i);
        }
        consumer.endMessage();
    }

    /** The writer of a column of a type {@link #parquetType} accepts (in the Parquet type it gives). */
    private FieldWriter writer(LogicalType type) {
        switch (type.getTypeRoot()) {
            case CHAR:
            case VARCHAR:
                return (row, f) -> consumer.addBinary(Binary.fromReusedByteArray(row.getString(f).toBytes()));
            case BOOLEAN:
                return (row, f) -> consumer.addBoolean(row.getBoolean(f));
            case TINYINT:
                return (row, f) -> consumer.addInteger(row.getByte(f));
            case SMALLINT:
                return (row, f) -> consumer.addInteger(row.getShort(f));
            case INTEGER:
            case DATE:
                return (row, f) -> consumer.addInteger(row.getInt(f));
            case BIGINT:
                return (row, f) -> consumer.addLong(row.getLong(f));
            case FLOAT:
                return (row, f) -> consumer.addFloat(row.getFloat(f));
            case DOUBLE:
                return (row, f) -> consumer.addDouble(row.getDouble(f));
            default: // timestamps
                int precision = precision(type);
                return (row, f) -> consumer.addLong(micros(row.getTimestamp(f, precision)));
        }
    }

    /** A timestamp's precision: it decides how Flink stores it (compact up to 3), so reads must name it. */
    static int precision(LogicalType type) {
        return org.apache.flink.table.types.logical.utils.LogicalTypeChecks.getPrecision(type);
    }

    static long micros(TimestampData ts) {
        return Math.multiplyExact(ts.getMillisecond(), 1000L) + ts.getNanoOfMillisecond() / 1000;
    }
}
