package io.slmclassifier.model.hub;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.regex.Pattern;

/**
 * One model repository in the Hugging Face cache, laid out exactly as huggingface_hub lays it out, so that a
 * model fetched by Python is found here and the other way round:
 * <pre>
 * {cache}/models--{owner}--{name}/
 *     blobs/{etag}                      the file contents, named by sha256 (LFS) or git sha1
 *     blobs/{etag}.incomplete           a download in progress, resumed from its length
 *     snapshots/{commit}/{file}         relative symbolic link to ../../blobs/{etag}
 *     refs/{revision}                   the commit hash the revision pointed to when last resolved
 *     .no_exist/{commit}/{file}         empty marker: the repository has no such file at that commit
 * {cache}/.locks/models--{owner}--{name}/{etag}.lock
 * </pre>
 */
public final class HubCache {
    private static final Pattern COMMIT_HASH = Pattern.compile("[0-9a-f]{40}");
    private static final String FOLDER_PREFIX = "models--";
    private static final String SEPARATOR = "--";
    /** FileChannel locks belong to the whole JVM, so threads of one process also take this one. */
    private static final ConcurrentHashMap<Path, ReentrantLock> IN_PROCESS_LOCKS = new ConcurrentHashMap<>();

    private final Path cacheDir;
    private final String repoId;
    private final Path repoDir;

    public HubCache(Path cacheDir, String repoId) {
        this.cacheDir = cacheDir;
        this.repoId = repoId;
        this.repoDir = cacheDir.resolve(folderName(repoId));
    }

    public static String folderName(String repoId) {
        return FOLDER_PREFIX + repoId.replace("/", SEPARATOR);
    }

    /** The repository id of a snapshot directory of this cache layout, for naming a loaded model. */
    public static Optional<String> repoIdOf(Path modelDir) {
        Path dir = modelDir.toAbsolutePath().normalize();
        Path snapshots = dir.getParent();
        Path repo = snapshots == null ? null : snapshots.getParent();
        if (repo == null || !snapshots.getFileName().toString().equals("snapshots")
                || !repo.getFileName().toString().startsWith(FOLDER_PREFIX)) {
            return Optional.empty();
        }
        // Hub ids never contain "--", so the folder name maps back unambiguously.
        return Optional.of(repo.getFileName().toString().substring(FOLDER_PREFIX.length()).replace(SEPARATOR, "/"));
    }

    public static boolean isCommitHash(String revision) {
        return COMMIT_HASH.matcher(revision).matches();
    }

    public String repoId() {
        return repoId;
    }

    public Path cacheDir() {
        return cacheDir;
    }

    public Path repoDir() {
        return repoDir;
    }

    public Path blob(String etag) {
        return repoDir.resolve("blobs").resolve(etag);
    }

    public Path incomplete(String etag) {
        return repoDir.resolve("blobs").resolve(etag + ".incomplete");
    }

    public Path snapshotDir(String commit) {
        return repoDir.resolve("snapshots").resolve(commit);
    }

    public Path pointer(String commit, String file) {
        return snapshotDir(commit).resolve(file);
    }

    /** The commit a revision stands for: itself when it is a commit hash, else what refs/ recorded. */
    public Optional<String> commitFor(String revision) throws IOException {
        if (isCommitHash(revision)) {
            return Optional.of(revision);
        }
        Path ref = repoDir.resolve("refs").resolve(revision);
        if (!Files.isRegularFile(ref)) {
            return Optional.empty();
        }
        String commit = Files.readString(ref, StandardCharsets.UTF_8).strip();
        return commit.isEmpty() ? Optional.empty() : Optional.of(commit);
    }

    /**
     * Written without a trailing newline and only when it changes, like huggingface_hub: a cache shared read-only
     * stays usable.
     */
    public void writeRef(String revision, String commit) throws IOException {
        if (revision.equals(commit)) {
            return;
        }
        Path ref = repoDir.resolve("refs").resolve(revision);
        if (Files.isRegularFile(ref) && Files.readString(ref, StandardCharsets.UTF_8).equals(commit)) {
            return;
        }
        Files.createDirectories(ref.getParent());
        Path temp = Files.createTempFile(ref.getParent(), ".ref-", ".tmp");
        Files.writeString(temp, commit, StandardCharsets.UTF_8);
        Files.move(temp, ref, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Points snapshots/{commit}/{file} at the blob; copies it where the file system has no symbolic links. */
    public Path link(String commit, String file, String etag) throws IOException {
        Path pointer = pointer(commit, file);
        Path blob = blob(etag);
        Files.createDirectories(pointer.getParent());
        Path target = pointer.getParent().relativize(blob);
        if (Files.isSymbolicLink(pointer) && Files.readSymbolicLink(pointer).equals(target)) {
            return pointer;
        }
        Files.deleteIfExists(pointer);
        try {
            Files.createSymbolicLink(pointer, target);
        } catch (FileAlreadyExistsException raced) {
            // Another process linked the same file a moment ago; its link is as good as ours.
        } catch (UnsupportedOperationException | IOException noSymlinks) {
            if (!Files.exists(pointer)) {
                Files.copy(blob, pointer);
            }
        }
        return pointer;
    }

    public void markMissing(String commit, String file) throws IOException {
        Path marker = repoDir.resolve(".no_exist").resolve(commit).resolve(file);
        Files.createDirectories(marker.getParent());
        if (!Files.exists(marker)) {
            Files.createFile(marker);
        }
    }

    public boolean isMarkedMissing(String commit, String file) {
        return Files.exists(repoDir.resolve(".no_exist").resolve(commit).resolve(file));
    }

    /** Held while a blob is downloaded, so two processes never write the same {@code .incomplete} file. */
    public BlobLock lock(String etag) throws IOException {
        Path lockFile = cacheDir.resolve(".locks").resolve(folderName(repoId)).resolve(etag + ".lock");
        Files.createDirectories(lockFile.getParent());
        ReentrantLock inProcess = IN_PROCESS_LOCKS.computeIfAbsent(lockFile.toAbsolutePath(), p -> new ReentrantLock());
        inProcess.lock();
        try {
            FileChannel channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            try {
                return new BlobLock(inProcess, channel, channel.lock());
            } catch (IOException | RuntimeException e) {
                channel.close();
                throw e;
            }
        } catch (IOException | RuntimeException e) {
            inProcess.unlock();
            throw e;
        }
    }

    public static final class BlobLock implements AutoCloseable {
        private final ReentrantLock inProcess;
        private final FileChannel channel;
        private final FileLock fileLock;

        private BlobLock(ReentrantLock inProcess, FileChannel channel, FileLock fileLock) {
            this.inProcess = inProcess;
            this.channel = channel;
            this.fileLock = fileLock;
        }

        @Override
        public void close() throws IOException {
            try {
                fileLock.release();
                channel.close();
            } finally {
                inProcess.unlock();
            }
        }
    }
}
