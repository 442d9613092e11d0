package io.slmclassifier.ops;

import io.slmclassifier.model.ModelLoadException;
import io.slmclassifier.model.TorchRuntime;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.util.Arrays;
import picocli.CommandLine;

/**
 * How every entry point runs its command line (the application jar's {@code Main} and each service image's):
 * DJL kept offline, the JDK's HTTP servers kept from waiting forever on a request's headers, and the errors a
 * person can act on (a bad setting, a missing file, a model that does not load) printed as one line with exit
 * code 2 instead of a stack trace.
 */
public final class CommandLines {

    private CommandLines() {}

    /** A service image's {@code main}: runs {@code command} (with or without its own name first) and exits. */
    public static void serviceMain(Object command, String name, String[] args) {
        guardHttpServers();
        boolean named = args.length > 0 && args[0].equals(name);
        System.exit(execute(command, named ? Arrays.copyOfRange(args, 1, args.length) : args));
    }

    /**
     * The JDK's HTTP servers (metrics and health, the embedded registry) wait forever for a request's headers unless
     * told otherwise: a client that opens connections and sends nothing would hold their threads.
     */
    public static void guardHttpServers() {
        if (System.getProperty("sun.net.httpserver.maxReqTime") == null) {
            System.setProperty("sun.net.httpserver.maxReqTime", "30");
        }
    }

    /** Runs a command line and returns its exit code. */
    public static int execute(Object command, String... args) {
        TorchRuntime.configureOffline();
        CommandLine cli = new CommandLine(command);
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            if (e instanceof ModelLoadException || e instanceof IllegalArgumentException || e instanceof IOException
                    || e instanceof UncheckedIOException) {
                commandLine.getErr().println("error: " + describe(e instanceof UncheckedIOException u ? u.getCause() : e));
                return 2;
            }
            throw e;
        });
        return cli.execute(args);
    }

    /**
     * The message of an error for a person: the file-system exceptions carry only the path, so the reason is
     * added ("no such file", "directory does not exist", "permission denied").
     */
    public static String describe(Throwable e) {
        if (e instanceof NoSuchFileException missing) {
            Path parent = Path.of(missing.getFile()).toAbsolutePath().getParent();
            return parent != null && !Files.isDirectory(parent)
                    ? "directory " + parent + " does not exist (for " + missing.getFile() + ")"
                    : "no such file: " + missing.getFile();
        }
        if (e instanceof AccessDeniedException denied) {
            return "permission denied: " + denied.getFile();
        }
        if (e instanceof NotDirectoryException notDir) {
            return "not a directory: " + notDir.getFile();
        }
        if (e instanceof FileAlreadyExistsException exists) {
            return "already exists: " + exists.getFile();
        }
        return e.getMessage();
    }
}
