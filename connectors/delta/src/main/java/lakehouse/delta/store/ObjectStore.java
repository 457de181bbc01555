package lakehouse.delta.store;

import java.io.IOException;
import java.io.Serializable;
import java.nio.file.Path;
import java.util.List;

/**
 * The few storage operations a Delta table needs, with keys relative to the table's root.
 *
 * <p>{@link #putIfAbsent} is the one that makes the log safe next to other writers: it creates the
 * object only if no object has that key, atomically, across processes (a hard link on local disk,
 * {@code If-None-Match: *} on S3), which is what delta-rs relies on too.
 */
public interface ObjectStore extends AutoCloseable {

    /** The object's bytes, or null when there is no such object. */
    byte[] read(String key) throws IOException;

    /** Create the object unless one exists; false when it existed (someone else won the key). */
    boolean putIfAbsent(String key, byte[] data) throws IOException;

    /** Create or replace the object (only for hints such as {@code _last_checkpoint}). */
    void put(String key, byte[] data) throws IOException;

    /** Upload a finished local file as the object (overwriting: data file names are unique). */
    void putFile(String key, Path file) throws IOException;

    /** Keys below the prefix (recursively), relative to the table root. */
    List<String> list(String prefix) throws IOException;

    /** A printable location for messages (no credentials). */
    String describe();

    @Override
    default void close() {}

    /** How to reach a table's storage; serializable so that it travels with the job graph. */
    final class Config implements Serializable {
        private static final long serialVersionUID = 1L;
        public final String tablePath;
        public final String endpoint;
        public final String region;
        public final boolean pathStyle;
        // Only set when the DDL names keys explicitly; otherwise resolved on the task manager.
        public final String accessKey;
        public final String secretKey;

        public Config(String tablePath, String endpoint, String region, boolean pathStyle, String accessKey, String secretKey) {
            this.tablePath = tablePath;
            this.endpoint = endpoint;
            this.region = region;
            this.pathStyle = pathStyle;
            this.accessKey = accessKey;
            this.secretKey = secretKey;
        }

        public ObjectStore open() {
            String path = tablePath;
            if (path.startsWith("s3://") || path.startsWith("s3a://")) {
                return S3Store.open(this);
            }
            if (path.startsWith("file://")) {
                path = java.net.URI.create(path).getPath();
            } else if (path.contains("://")) {
                throw new IllegalArgumentException("unsupported table path " + path + " (expected s3://, s3a://, file:// or a local path)");
            }
            return new LocalStore(java.nio.file.Paths.get(path));
        }

        @Override
        public String toString() {
            return "ObjectStore.Config{" + tablePath + ", endpoint=" + endpoint + "}";
        }
    }
}
