package lakehouse.delta.sink;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.flink.core.io.SimpleVersionedSerializer;

/** Committables in checkpoints and savepoints. Version 1; bump it and keep reading 1 on change. */
public final class DeltaCommittableSerializer implements SimpleVersionedSerializer<DeltaCommittable> {
    private static final int VERSION = 1;

    @Override
    public int getVersion() {
        return VERSION;
    }

    @Override
    public byte[] serialize(DeltaCommittable c) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeUTF(c.appId);
            out.writeLong(c.version);
            out.writeInt(c.files.size());
            for (DeltaCommittable.DataFile f : c.files) {
                out.writeUTF(f.path);
                out.writeLong(f.size);
                out.writeLong(f.modificationTime);
                out.writeLong(f.rows);
                out.writeInt(f.partitionValues.size());
                for (Map.Entry<String, String> e : f.partitionValues.entrySet()) {
                    out.writeUTF(e.getKey());
                    out.writeBoolean(e.getValue() != null);
                    if (e.getValue() != null) {
                        out.writeUTF(e.getValue());
                    }
                }
                byte[] stats = f.stats.getBytes(java.nio.charset.StandardCharsets.UTF_8);
                out.writeInt(stats.length);
                out.write(stats);
            }
        }
        return bytes.toByteArray();
    }

    @Override
    public DeltaCommittable deserialize(int version, byte[] serialized) throws IOException {
        if (version != VERSION) {
            throw new IOException("unknown committable version " + version + " (this connector reads " + VERSION + ")");
        }
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(serialized))) {
            String appId = in.readUTF();
            long v = in.readLong();
            int count = in.readInt();
            List<DeltaCommittable.DataFile> files = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
                String path = in.readUTF();
                long size = in.readLong();
                long mtime = in.readLong();
                long rows = in.readLong();
                int parts = in.readInt();
                Map<String, String> values = new LinkedHashMap<>();
                for (int p = 0; p < parts; p++) {
                    String key = in.readUTF();
                    values.put(key, in.readBoolean() ? in.readUTF() : null);
                }
                byte[] stats = new byte[in.readInt()];
                in.readFully(stats);
                files.add(new DeltaCommittable.DataFile(path, size, mtime, rows, values, new String(stats, java.nio.charset.StandardCharsets.UTF_8)));
            }
            return new DeltaCommittable(appId, v, files);
        }
    }
}
