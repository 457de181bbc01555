package lakehouse.delta.log;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

import org.apache.parquet.example.data.Group;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.hadoop.api.ReadSupport;
import org.apache.parquet.hadoop.example.GroupReadSupport;
import org.apache.parquet.io.DelegatingSeekableInputStream;
import org.apache.parquet.io.InputFile;
import org.apache.parquet.io.SeekableInputStream;
import org.apache.parquet.schema.GroupType;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.Type;

/**
 * Reads the actions the sink keeps (txn, metaData, protocol, add, remove) from a Parquet log
 * checkpoint written by any engine (delta-rs, Spark, Kernel, this sink), turning them into the
 * same maps a JSON commit line parses to. Only those columns are read.
 */
final class CheckpointReader {
    private static final List<String> WANTED = List.of("txn", "metaData", "protocol", "add", "remove");

    private CheckpointReader() {}

    static void read(byte[] data, Consumer<Map<String, Object>> sink) throws IOException {
        if (data == null) {
            throw new IOException("a checkpoint part vanished while the log was read");
        }
        InputFile file = new BytesInputFile(data);
        MessageType full;
        try (org.apache.parquet.hadoop.ParquetFileReader reader = org.apache.parquet.hadoop.ParquetFileReader.open(file)) {
            full = reader.getFooter().getFileMetaData().getSchema();
        }
        List<Type> fields = new ArrayList<>();
        for (Type field : full.getFields()) {
            if (WANTED.contains(field.getName())) {
                fields.add(withoutParsedColumns(field));
            }
        }
        MessageType projection = new MessageType(full.getName(), fields);
        try (ParquetReader<Group> reader = new Builder(file).set(ReadSupport.PARQUET_READ_SCHEMA, projection.toString()).build()) {
            Group row;
            while ((row = reader.read()) != null) {
                Map<String, Object> action = new LinkedHashMap<>();
                for (Type field : projection.getFields()) {
                    if (row.getFieldRepetitionCount(field.getName()) > 0) {
                        action.put(field.getName(), toValue(row.getGroup(field.getName(), 0)));
                    }
                }
                if (!action.isEmpty()) {
                    sink.accept(action);
                }
            }
        }
    }

    /** Spark's typed copies of stats and partition values (stats_parsed, ...) are not needed: skip them. */
    private static Type withoutParsedColumns(Type field) {
        if (field.isPrimitive()) {
            return field;
        }
        GroupType group = field.asGroupType();
        List<Type> kept = new ArrayList<>();
        for (Type child : group.getFields()) {
            if (!child.getName().endsWith("_parsed")) {
                kept.add(child);
            }
        }
        return kept.size() == group.getFieldCount() ? field : group.withNewFields(kept);
    }

    /** A struct becomes a map; a Parquet LIST (any nesting convention) a list; leaves Java values. */
    private static Object toValue(Group group) {
        GroupType type = group.getType();
        if (type.getLogicalTypeAnnotation() instanceof org.apache.parquet.schema.LogicalTypeAnnotation.MapLogicalTypeAnnotation) {
            Map<String, Object> map = new LinkedHashMap<>();
            for (int r = 0; r < group.getFieldRepetitionCount(0); r++) {
                Group entry = group.getGroup(0, r);
                String key = entry.getString("key", 0);
                map.put(key, entry.getFieldRepetitionCount("value") > 0 ? entry.getValueToString(entry.getType().getFieldIndex("value"), 0) : null);
            }
            return map;
        }
        if (isList(type)) {
            List<Object> items = new ArrayList<>();
            collectListItems(group, items);
            return items;
        }
        Map<String, Object> out = new LinkedHashMap<>();
        for (int i = 0; i < type.getFieldCount(); i++) {
            Type field = type.getType(i);
            if (group.getFieldRepetitionCount(i) == 0) {
                continue;
            }
            out.put(field.getName(), field.isPrimitive() ? leaf(group, i, 0) : toValue(group.getGroup(i, 0)));
        }
        return out;
    }

    private static boolean isList(GroupType type) {
        return type.getLogicalTypeAnnotation() instanceof org.apache.parquet.schema.LogicalTypeAnnotation.ListLogicalTypeAnnotation;
    }

    private static void collectListItems(Group group, List<Object> items) {
        GroupType type = group.getType();
        for (int i = 0; i < type.getFieldCount(); i++) {
            Type field = type.getType(i);
            for (int r = 0; r < group.getFieldRepetitionCount(i); r++) {
                if (field.isPrimitive()) {
                    items.add(leaf(group, i, r));
                } else {
                    Group inner = group.getGroup(i, r);
                    if (inner.getType().getFieldCount() == 1 && inner.getType().getType(0).isPrimitive()) {
                        if (inner.getFieldRepetitionCount(0) > 0) {
                            items.add(leaf(inner, 0, 0));
                        }
                    } else {
                        items.add(toValue(inner));
                    }
                }
            }
        }
    }

    private static Object leaf(Group group, int field, int index) {
        switch (group.getType().getType(field).asPrimitiveType().getPrimitiveTypeName()) {
            case INT32: return (long) group.getInteger(field, index);
            case INT64: return group.getLong(field, index);
            case BOOLEAN: return group.getBoolean(field, index);
            case DOUBLE: return group.getDouble(field, index);
            case FLOAT: return (double) group.getFloat(field, index);
            default: return group.getValueToString(field, index);
        }
    }

    private static final class Builder extends ParquetReader.Builder<Group> {
        Builder(InputFile file) {
            super(file);
        }

        @Override
        protected ReadSupport<Group> getReadSupport() {
            return new GroupReadSupport();
        }
    }

    /** A checkpoint held in memory (they are small next to the data: one row per live file). */
    private static final class BytesInputFile implements InputFile {
        private final byte[] data;

        BytesInputFile(byte[] data) {
            this.data = data;
        }

        @Override
        public long getLength() {
            return data.length;
        }

        @Override
        public SeekableInputStream newStream() {
            return new DelegatingSeekableInputStream(new Positioned(data)) {
                @Override
                public long getPos() {
                    return ((Positioned) getStream()).position();
                }

                @Override
                public void seek(long newPos) {
                    ((Positioned) getStream()).seek((int) newPos);
                }
            };
        }
    }

    private static final class Positioned extends ByteArrayInputStream {
        Positioned(byte[] data) {
            super(data);
        }

        long position() {
            return pos;
        }

        void seek(int newPos) {
            pos = newPos;
        }
    }
}
