package lakehouse.delta.store;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;

/** A table on local disk. */
public final class LocalStore implements ObjectStore {
    private final Path root;

    public LocalStore(Path root) {
        this.root = root.toAbsolutePath();
    }

    @Override
    public byte[] read(String key) throws IOException {
        try {
            return Files.readAllBytes(root.resolve(key));
        } catch (NoSuchFileException absent) {
            return null;
        }
    }

    /** The bytes in a hidden file beside {@code target}, to be linked or moved into place. */
    private static Path writeBeside(Path target, byte[] data) throws IOException {
        Files.createDirectories(target.getParent());
        Path temp = target.resolveSibling("." + target.getFileName() + "." + UUID.randomUUID() + ".tmp");
        Files.write(temp, data);
        return temp;
    }

    @Override
    public boolean putIfAbsent(String key, byte[] data) throws IOException {
        Path target = root.resolve(key);
        Path temp = writeBeside(target, data);
        try {
            // link(2) fails if the name exists: an atomic create-if-absent, unlike exists-then-move.
            Files.createLink(target, temp);
            return true;
        } catch (FileAlreadyExistsException taken) {
            return false;
        } finally {
            Files.deleteIfExists(temp);
        }
    }

    @Override
    public void put(String key, byte[] data) throws IOException {
        Path target = root.resolve(key);
        Path temp = writeBeside(target, data);
        Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    @Override
    public void putFile(String key, Path file) throws IOException {
        Path target = root.resolve(key);
        Files.createDirectories(target.getParent());
        try {
            Files.move(file, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException crossDevice) {
            Path temp = target.resolveSibling("." + target.getFileName() + ".tmp");
            Files.copy(file, temp, StandardCopyOption.REPLACE_EXISTING);
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            Files.deleteIfExists(file);
        }
    }

    @Override
    public List<String> list(String prefix) throws IOException {
        Path dir = root.resolve(prefix);
        List<String> keys = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return keys;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.filter(Files::isRegularFile).forEach(p -> keys.add(root.relativize(p).toString()));
        }
        return keys;
    }

    @Override
    public String describe() {
        return root.toString();
    }
}
