package io.slmclassifier.model.hub;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;

/**
 * Where the hub is and where its files go, read from the same environment variables as Python's
 * huggingface_hub so both share one cache: {@code HF_ENDPOINT}, {@code HF_HOME}, {@code HF_HUB_CACHE},
 * {@code HF_TOKEN} (or the token file {@code huggingface-cli login} writes), {@code HF_HUB_OFFLINE},
 * {@code HF_HUB_ETAG_TIMEOUT} and {@code HF_HUB_DOWNLOAD_TIMEOUT}; {@code SLM_HUB_MAX_FILE_BYTES} is this project's.
 *
 * @param token null when no token is configured
 * @param etagTimeout how long the metadata request of a file may take
 * @param downloadTimeout how long a download may go without receiving a byte before it is given up and resumed
 * @param maxFileBytes the most bytes any one file may have ({@code SLM_HUB_MAX_FILE_BYTES}, default 64 GiB): a
 *     larger announcement is refused, and reading stops there when none was made
 */
public record HubSettings(String endpoint, Path cacheDir, String token, boolean offline, Duration etagTimeout,
        Duration downloadTimeout, long maxFileBytes) {
    public static final String DEFAULT_ENDPOINT = "https://huggingface.co";
    /** huggingface_hub's defaults for both timeouts. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);
    public static final long DEFAULT_MAX_FILE_BYTES = 64L << 30;

    public HubSettings {
        endpoint = endpoint.endsWith("/") ? endpoint.substring(0, endpoint.length() - 1) : endpoint;
    }

    /** Never prints the token itself: settings end up in logs and error reports. */
    @Override
    public String toString() {
        return "HubSettings[endpoint=" + endpoint + ", cacheDir=" + cacheDir + ", token="
                + (token == null ? "none" : "set") + ", offline=" + offline + ", etagTimeout=" + etagTimeout
                + ", downloadTimeout=" + downloadTimeout + ", maxFileBytes=" + maxFileBytes + "]";
    }

    public static HubSettings fromEnvironment(Map<String, String> env) {
        Path home = hfHome(env);
        Path cache = firstSet(env, "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE") != null
                ? expandUser(firstSet(env, "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"), env)
                : home.resolve("hub");
        String endpoint = firstSet(env, "HF_ENDPOINT");
        return new HubSettings(endpoint != null ? endpoint : DEFAULT_ENDPOINT, cache, token(env, home),
                isTrue(env.get("HF_HUB_OFFLINE")), seconds(env, "HF_HUB_ETAG_TIMEOUT"),
                seconds(env, "HF_HUB_DOWNLOAD_TIMEOUT"), maxFileBytes(env));
    }

    private static long maxFileBytes(Map<String, String> env) {
        String value = firstSet(env, "SLM_HUB_MAX_FILE_BYTES");
        if (value == null) {
            return DEFAULT_MAX_FILE_BYTES;
        }
        try {
            long bytes = Long.parseLong(value.strip());
            if (bytes > 0) {
                return bytes;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException("SLM_HUB_MAX_FILE_BYTES must be a positive number of bytes, not '" + value + "'");
    }

    /** A timeout in seconds, fractions allowed as in huggingface_hub; a value that is not a positive number is an error. */
    private static Duration seconds(Map<String, String> env, String name) {
        String value = firstSet(env, name);
        if (value == null) {
            return DEFAULT_TIMEOUT;
        }
        try {
            double seconds = Double.parseDouble(value.strip());
            if (seconds > 0 && seconds < 1e9) {
                return Duration.ofNanos(Math.round(seconds * 1e9));
            }
        } catch (NumberFormatException e) {
            // falls through to the error below
        }
        throw new IllegalArgumentException(name + " must be a positive number of seconds, not '" + value + "'");
    }

    /** {@code HF_HOME}, else {@code $XDG_CACHE_HOME/huggingface}, else {@code ~/.cache/huggingface}. */
    static Path hfHome(Map<String, String> env) {
        String hfHome = firstSet(env, "HF_HOME");
        return hfHome != null ? expandUser(hfHome, env) : cacheHome(env).resolve("huggingface");
    }

    /** {@code $XDG_CACHE_HOME}, else {@code ~/.cache}: the root of per-application caches. */
    public static Path cacheHome(Map<String, String> env) {
        String xdg = firstSet(env, "XDG_CACHE_HOME");
        return xdg != null ? expandUser(xdg, env) : userHome(env).resolve(".cache");
    }

    /** HF_TOKEN wins over the token file, as in huggingface_hub; HUGGING_FACE_HUB_TOKEN is its older name. */
    private static String token(Map<String, String> env, Path home) {
        String token = firstSet(env, "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN");
        if (token != null) {
            return token.strip();
        }
        String tokenPath = firstSet(env, "HF_TOKEN_PATH");
        Path file = tokenPath != null ? expandUser(tokenPath, env) : home.resolve("token");
        try {
            if (Files.isRegularFile(file)) {
                String stored = Files.readString(file, StandardCharsets.UTF_8).strip();
                return stored.isEmpty() ? null : stored;
            }
        } catch (IOException unreadable) {
            // An unreadable token file is the same as none: public models still download.
        }
        return null;
    }

    private static boolean isTrue(String value) {
        return value != null && switch (value.strip().toUpperCase(Locale.ROOT)) {
            case "1", "ON", "YES", "TRUE" -> true;
            default -> false;
        };
    }

    private static String firstSet(Map<String, String> env, String... names) {
        for (String name : names) {
            String value = env.get(name);
            if (value != null && !value.isBlank()) {
                return value;
            }
        }
        return null;
    }

    private static Path userHome(Map<String, String> env) {
        String home = firstSet(env, "HOME");
        return Path.of(home != null ? home : System.getProperty("user.home"));
    }

    private static Path expandUser(String path, Map<String, String> env) {
        if (path.equals("~")) {
            return userHome(env);
        }
        if (path.startsWith("~/")) {
            return userHome(env).resolve(path.substring(2));
        }
        return Path.of(path);
    }
}
