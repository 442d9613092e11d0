package io.slmclassifier.ops;

import io.slmclassifier.config.ServiceConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Option;

/** The configuration flags every service command shares: a properties file and {@code --set key=value}. */
public final class ConfigOptions {

    @Option(names = "--config", description = "Properties file (see processor/processor.properties and trainer/trainer.properties).")
    Path file;

    /** The properties file given with {@code --config}; null for none. */
    public Path file() {
        return file;
    }

    @Option(names = "--set", description = "Override one setting: key=value (repeatable). Every key can also come from "
            + "the environment (SLM_ + the key upper-cased, dots as underscores: SLM_CONSOLE_TOKEN) or from a file "
            + "named by <key>.file (console.token.file=/run/secrets/console-token): pass secrets that way, not here, "
            + "where ps shows them.")
    List<String> overrides = new ArrayList<>();

    public Map<String, String> overrides() {
        return ServiceConfig.parseOverrides(overrides);
    }
}
