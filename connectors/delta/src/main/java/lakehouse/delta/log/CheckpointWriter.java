package lakehouse.delta.log;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.List;
import java.util.Map;

import lakehouse.delta.store.StreamOutputFile;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.SimpleGroupFactory;
import org.apache.parquet.hadoop.ParquetFileWriter;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.example.ExampleParquetWriter;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.schema.GroupType;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.MessageTypeParser;

/**
 * Writes a classic single-part Delta checkpoint (the table's state at one version as one Parquet
 * file: protocol, metaData, every txn, every live add, every unexpired remove), in the column
 * layout Spark and delta-rs write, so Trino, Spark, delta-rs, polars and DuckDB read it.
 */
final class CheckpointWriter {
    private static final String MAP = "(MAP) { repeated group key_value { required binary key (STRING); optional binary value (STRING); } }";
    private static final String LIST = "(LIST) { repeated group list { optional binary element (STRING); } }";
    static final MessageType SCHEMA = MessageTypeParser.parseMessageType("message spark_schema {\n"
            + "  optional group txn { optional binary appId (STRING); optional int64 version; optional int64 lastUpdated; }\n"
            + "  optional group add { optional binary path (STRING); optional group partitionValues " + MAP + "\n"
            + "    optional int64 size; optional int64 modificationTime; optional boolean dataChange;\n"
            + "    optional binary stats (STRING); optional group tags " + MAP + " }\n"
            + "  optional group remove { optional binary path (STRING); optional int64 deletionTimestamp;\n"
            + "    optional boolean dataChange; optional boolean extendedFileMetadata; optional group partitionValues " + MAP + "\n"
            + "    optional int64 size; }\n"
            + "  optional group metaData { optional binary id (STRING); optional binary name (STRING);\n"
            + "    optional binary description (STRING); optional group format { optional binary provider (STRING);\n"
            + "    optional group options " + MAP + " } optional binary schemaString (STRING);\n"
            + "    optional group partitionColumns " + LIST + " optional group configuration " + MAP + "\n"
            + "    optional int64 createdTime; }\n"
            + "  optional group protocol { optional int32 minReaderVersion; optional int32 minWriterVersion;\n"
            + "    optional group readerFeatures " + LIST + " optional group writerFeatures " + LIST + " }\n"
            + "}");

    private CheckpointWriter() {}

    /** The checkpoint's bytes and its row count, for the actions given (one row each). */
    static byte[] write(List<Map<String, Object>> actions) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        SimpleGroupFactory factory = new SimpleGroupFactory(SCHEMA);
        // In memory: a checkpoint is uploaded whole.
        StreamOutputFile file = new StreamOutputFile("checkpoint", () -> {
            bytes.reset();
            return bytes;
        });
        try (ParquetWriter<Group> writer = ExampleParquetWriter.builder(file)
                .withType(SCHEMA)
                .withConf(new Configuration(false))
                .withCompressionCodec(CompressionCodecName.SNAPPY)
                .withWriteMode(ParquetFileWriter.Mode.OVERWRITE)
                .build()) {
            for (Map<String, Object> action : actions) {
                Group row = factory.newGroup();
                for (Map.Entry<String, Object> entry : action.entrySet()) {
                    if (SCHEMA.containsField(entry.getKey()) && entry.getValue() instanceof Map) {
                        fill(row.addGroup(entry.getKey()), (Map<?, ?>) entry.getValue());
                    }
                }
                writer.write(row);
            }
        }
        return bytes.toByteArray();
    }

    /** Copy a parsed JSON struct into a group of the schema; fields the schema lacks are left out. */
    private static void fill(Group group, Map<?, ?> values) {
        GroupType type = group.getType();
        for (int i = 0; i < type.getFieldCount(); i++) {
            org.apache.parquet.schema.Type field = type.getType(i);
            Object value = values.get(field.getName());
            if (value == null) {
                continue;
            }
            if (field.isPrimitive()) {
                switch (field.asPrimitiveType().getPrimitiveTypeName()) {
                    case INT64: group.add(i, ((Number) value).longValue()); break;
                    case INT32: group.add(i, ((Number) value).intValue()); break;
                    case BOOLEAN: group.add(i, (Boolean) value); break;
                    default: group.add(i, value.toString());
                }
                continue;
            }
            Group child = group.addGroup(i);
            String annotation = String.valueOf(field.getLogicalTypeAnnotation());
            if (annotation.startsWith("MAP") && value instanceof Map) {
                for (Map.Entry<?, ?> e : ((Map<?, ?>) value).entrySet()) {
                    Group kv = child.addGroup("key_value");
                    kv.add("key", String.valueOf(e.getKey()));
                    if (e.getValue() != null) {
                        kv.add("value", String.valueOf(e.getValue()));
                    }
                }
            } else if (annotation.startsWith("LIST") && value instanceof List) {
                for (Object item : (List<?>) value) {
                    Group element = child.addGroup("list");
                    if (item != null) {
                        element.add("element", item.toString());
                    }
                }
            } else if (value instanceof Map) {
                fill(child, (Map<?, ?>) value);
            }
        }
    }
}
