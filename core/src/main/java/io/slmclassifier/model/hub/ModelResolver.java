package io.slmclassifier.model.hub;

import io.slmclassifier.model.DemoTinyModel;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Turns a {@code --model} value into a model directory: an existing directory is used as it is, {@code demo-tiny}
 * is written on demand, and a Hugging Face id ({@code owner/name}, optionally {@code owner/name@revision}) is
 * taken from the shared Hugging Face cache, downloading what it lacks.
 */
public final class ModelResolver {
    public static final String DEMO_TINY = DemoTinyModel.NAME;
    public static final String DEFAULT_REVISION = "main";
    /** huggingface_hub's rule: word characters, '-' and '.', no "--" or "..", at most 96 characters. */
    private static final Pattern REPO_ID = Pattern.compile("[\\w.-]+/[\\w.-]+");

    private final Map<String, String> environment;
    private final PrintStream messages;
    private final Path demoTinyDir;

    /**
     * @param environment the process environment, or a map standing for it
     * @param messages download progress and notes (stderr for a person), null for none
     */
    public ModelResolver(Map<String, String> environment, PrintStream messages) {
        this(environment, messages, null);
    }

    private ModelResolver(Map<String, String> environment, PrintStream messages, Path demoTinyDir) {
        this.environment = Map.copyOf(environment);
        this.messages = messages;
        this.demoTinyDir = demoTinyDir;
    }

    /** The process environment, messages on stderr. */
    public static ModelResolver fromEnvironment() {
        return new ModelResolver(System.getenv(), System.err);
    }

    /** Resolves a model spec with the process environment: for configuration values such as a model directory key. */
    public static Path resolveSpec(String spec) throws IOException {
        return fromEnvironment().resolve(spec);
    }

    /** The same resolver with demo-tiny written to {@code dir} instead of the user's cache. */
    public ModelResolver withDemoTinyDir(Path dir) {
        return new ModelResolver(environment, messages, dir);
    }

    public Path demoTinyDir() {
        return demoTinyDir != null ? demoTinyDir
                : HubSettings.cacheHome(environment).resolve("slm-classifier").resolve(DEMO_TINY);
    }

    public HubSettings hubSettings() {
        return HubSettings.fromEnvironment(environment);
    }

    public Path resolve(String spec) throws IOException {
        if (spec == null || spec.isBlank()) {
            throw new IllegalArgumentException("no model given: a model directory, a Hugging Face id such as "
                    + "Qwen/Qwen3-0.6B, or " + DEMO_TINY);
        }
        Path local = Path.of(spec);
        if (Files.isDirectory(local)) {
            return local;
        }
        if (spec.equals(DEMO_TINY)) {
            return DemoTinyModel.ensure(demoTinyDir());
        }
        if (isHubId(spec)) {
            int at = spec.indexOf('@');
            String repoId = at < 0 ? spec : spec.substring(0, at);
            String revision = at < 0 ? DEFAULT_REVISION : spec.substring(at + 1);
            HubClient client = new HubClient(hubSettings(), messages);
            try {
                return new ModelSnapshot(client, messages).resolve(repoId, revision);
            } catch (HubException e) {
                if (e.reason() == HubException.Reason.NOT_FOUND) {
                    // A mistyped relative directory looks like an id too.
                    throw new HubException(e.reason(), e.getMessage() + "; there is no directory " + spec
                            + " either", e);
                }
                throw e;
            }
        }
        throw new IllegalArgumentException("model " + spec + ": no such directory, and not a Hugging Face id "
                + "(owner/name) or " + DEMO_TINY);
    }

    /** {@code owner/name} or {@code owner/name@revision}, by huggingface_hub's rules for ids. */
    public static boolean isHubId(String spec) {
        int at = spec.indexOf('@');
        String repoId = at < 0 ? spec : spec.substring(0, at);
        if (at >= 0) {
            String revision = spec.substring(at + 1);
            if (revision.isEmpty() || revision.startsWith("/") || revision.contains("..")) {
                return false;
            }
        }
        return repoId.length() <= 96 && REPO_ID.matcher(repoId).matches() && !repoId.contains("--")
                && !repoId.contains("..") && !repoId.startsWith(".") && !repoId.endsWith(".")
                && !repoId.contains("/.") && !repoId.contains("./");
    }
}
