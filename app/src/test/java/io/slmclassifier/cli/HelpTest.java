package io.slmclassifier.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

class HelpTest {

    @Test
    void everyOptionOfEveryCommandSaysWhatItIs() {
        List<String> bare = new ArrayList<>();
        collect(new CommandLine(new Main()).getCommandSpec(), bare);
        assertTrue(bare.isEmpty(), "options without a description in --help: " + bare);
    }

    private static void collect(CommandSpec command, List<String> bare) {
        for (OptionSpec option : command.options()) {
            if (String.join("", option.description()).isBlank()) {
                bare.add(command.qualifiedName() + " " + option.longestName());
            }
        }
        command.subcommands().values().forEach(sub -> collect(sub.getCommandSpec(), bare));
    }
}
