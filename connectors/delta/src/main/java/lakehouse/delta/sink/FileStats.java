package lakehouse.delta.sink;

import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.Map;

import lakehouse.delta.log.Json;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.RowType;

/**
 * Per-file column statistics for the add action (numRecords, minValues, maxValues, nullCount), so
 * that Trino, Spark, delta-rs and DuckDB can skip files. Bounds are exact or safely wide: a string
 * longer than 32 characters keeps its prefix as the minimum and gives no maximum; a column that
 * held NaN or an infinity gives no bounds.
 */
final class FileStats {
    private static final int STRING_PREFIX = 32;
    private static final DateTimeFormatter TIMESTAMP = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

    private final RowType rowType;
    private final int[] fields;
    private final long[] nulls;
    private final Comparable<Object>[] min;
    private final Comparable<Object>[] max;
    private final boolean[] noBounds;
    private long rows;

    @SuppressWarnings("unchecked")
    FileStats(RowType rowType, int[] fields) {
        this.rowType = rowType;
        this.fields = fields;
        this.nulls = new long[fields.length];
        this.min = new Comparable[fields.length];
        this.max = new Comparable[fields.length];
        this.noBounds = new boolean[fields.length];
    }

    long rows() {
        return rows;
    }

    @SuppressWarnings("unchecked")
    void add(RowData row) {
        rows++;
        for (int i = 0; i < fields.length; i++) {
            int f = fields[i];
            if (row.isNullAt(f)) {
                nulls[i]++;
                continue;
            }
            if (noBounds[i]) {
                continue;
            }
            Object raw = value(row, f, rowType.getTypeAt(f));
            if (raw == null) {
                continue;
            }
            Comparable<Object> value = (Comparable<Object>) raw;
            if (raw instanceof Double && (((Double) raw).isNaN() || ((Double) raw).isInfinite())) {
                noBounds[i] = true;
                min[i] = null;
                max[i] = null;
                continue;
            }
            if (min[i] == null || value.compareTo(min[i]) < 0) {
                min[i] = value;
            }
            if (max[i] == null || value.compareTo(max[i]) > 0) {
                max[i] = value;
            }
        }
    }

    private static Comparable<?> value(RowData row, int f, LogicalType type) {
        switch (type.getTypeRoot()) {
            case CHAR:
            case VARCHAR: return row.getString(f).toString();
            case TINYINT: return (long) row.getByte(f);
            case SMALLINT: return (long) row.getShort(f);
            case INTEGER: return (long) row.getInt(f);
            case DATE: return LocalDate.ofEpochDay(row.getInt(f));
            case BIGINT: return row.getLong(f);
            case FLOAT: return (double) row.getFloat(f);
            case DOUBLE: return row.getDouble(f);
            case TIMESTAMP_WITHOUT_TIME_ZONE:
            case TIMESTAMP_WITH_LOCAL_TIME_ZONE: return RowDataWriteSupport.micros(row.getTimestamp(f, RowDataWriteSupport.precision(type)));
            default: return null; // booleans: no bounds
        }
    }

    String toJson() {
        Map<String, Object> mins = new LinkedHashMap<>();
        Map<String, Object> maxs = new LinkedHashMap<>();
        Map<String, Object> nullCount = new LinkedHashMap<>();
        for (int i = 0; i < fields.length; i++) {
            String name = rowType.getFieldNames().get(fields[i]);
            LogicalType type = rowType.getTypeAt(fields[i]);
            nullCount.put(name, nulls[i]);
            if (min[i] == null) {
                continue;
            }
            if ((Object) min[i] instanceof String) {
                String lo = (String) (Object) min[i];
                String hi = (String) (Object) max[i];
                mins.put(name, lo.length() > STRING_PREFIX ? lo.substring(0, STRING_PREFIX) : lo);
                if (hi.length() <= STRING_PREFIX) {
                    maxs.put(name, hi);
                }
                continue;
            }
            mins.put(name, render(min[i], type, false));
            maxs.put(name, render(max[i], type, true));
        }
        Map<String, Object> stats = new LinkedHashMap<>();
        stats.put("numRecords", rows);
        stats.put("minValues", mins);
        stats.put("maxValues", maxs);
        stats.put("nullCount", nullCount);
        return Json.write(stats);
    }

    private static Object render(Object value, LogicalType type, boolean upper) {
        switch (type.getTypeRoot()) {
            case DATE: return value.toString();
            case TIMESTAMP_WITHOUT_TIME_ZONE:
            case TIMESTAMP_WITH_LOCAL_TIME_ZONE:
                long micros = (Long) value;
                // Readers parse millisecond text: round the minimum down and the maximum up.
                long millis = upper ? Math.floorDiv(micros + 999, 1000L) : Math.floorDiv(micros, 1000L);
                micros = millis * 1000L;
                return TIMESTAMP.format(Instant.ofEpochSecond(Math.floorDiv(micros, 1_000_000L), Math.floorMod(micros, 1_000_000L) * 1000L));
            default: return value;
        }
    }
}
