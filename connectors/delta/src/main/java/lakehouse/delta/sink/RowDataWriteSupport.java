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
    private final RowType rowType;
    private final int[] fields; // positions in the row of the columns the file holds
    private final MessageType schema;
    private RecordConsumer consumer;

    RowDataWriteSupport(RowType rowType, int[] fields) {
        this.rowType = rowType;
        this.fields = fields;
        Types.MessageTypeBuilder builder = Types.buildMessage();
        for (int f : fields) {
            builder.addField(parquetType(rowType.getFieldNames().get(f), rowType.getTypeAt(f)));
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
            int f = fields[i];
            if (row.isNullAt(f)) {
                continue;
            }
            String name = rowType.getFieldNames().get(f);
            consumer.startField(name, i);
            switch (rowType.getTypeAt(f).getTypeRoot()) {
                case CHAR:
                case VARCHAR:
                    consumer.addBinary(Binary.fromReusedByteArray(row.getString(f).toBytes()));
                    break;
                case BOOLEAN:
                    consumer.addBoolean(row.getBoolean(f));
                    break;
                case TINYINT:
                    consumer.addInteger(row.getByte(f));
                    break;
                case SMALLINT:
                    consumer.addInteger(row.getShort(f));
                    break;
                case INTEGER:
                case DATE:
                    consumer.addInteger(row.getInt(f));
                    break;
                case BIGINT:
                    consumer.addLong(row.getLong(f));
                    break;
                case FLOAT:
                    consumer.addFloat(row.getFloat(f));
                    break;
                case DOUBLE:
                    consumer.addDouble(row.getDouble(f));
                    break;
                default: // timestamps
                    consumer.addLong(micros(row.getTimestamp(f, precision(rowType.getTypeAt(f)))));
            }
            consumer.endField(name, i);
        }
        consumer.endMessage();
    }

    /** A timestamp's precision: it decides how Flink stores it (compact up to 3), so reads must name it. */
    static int precision(LogicalType type) {
        return org.apache.flink.table.types.logical.utils.LogicalTypeChecks.getPrecision(type);
    }

    static long micros(TimestampData ts) {
        return Math.multiplyExact(ts.getMillisecond(), 1000L) + ts.getNanoOfMillisecond() / 1000;
    }
}
