package io.slmclassifier.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The README is the short way in (the two commands first, then links) and docs/ holds the rest; text moved
 * between files keeps its relative links and images, so every one of them must still lead somewhere.
 */
class DocumentationTest {

    /** A markdown link or image: [text](target) or ![alt](target); the target has no spaces in our files. */
    private static final Pattern LINK = Pattern.compile("\\]\\(([^)\\s]+)\\)");

    @Test
    void theReadmeOpensWithTheTwoCommands() throws IOException {
        List<String> readme = Files.readAllLines(Path.of("README.md"));
        assertEquals(List.of(
                "```bash",
                "mvn -B -q package -DskipTests && java -jar target/slm-classifier.jar demo",
                "mvn -B verify",
                "```"), readme.subList(2, 6));
    }

    @Test
    void theReadmeStaysShort() throws IOException {
        // Everything else has a file in docs/: the README is what a newcomer reads in one sitting.
        int lines = Files.readAllLines(Path.of("README.md")).size();
        assertTrue(lines <= 150, "README.md has " + lines + " lines; move sections to docs/ and link them");
    }

    @Test
    void everyRelativeLinkAndImageLeadsToAFileAndHeadingThatExist() throws IOException {
        List<Path> pages = new ArrayList<>(List.of(Path.of("README.md")));
        try (Stream<Path> docs = Files.list(Path.of("docs"))) {
            docs.filter(p -> p.toString().endsWith(".md")).sorted().forEach(pages::add);
        }
        List<String> broken = new ArrayList<>();
        int checked = 0;
        for (Path page : pages) {
            Matcher link = LINK.matcher(Files.readString(page));
            while (link.find()) {
                String target = link.group(1);
                if (target.matches("[a-z]+:.*")) continue; // http(s): and other absolute addresses
                checked++;
                int hash = target.indexOf('#');
                String file = hash < 0 ? target : target.substring(0, hash);
                Path resolved = file.isEmpty() ? page : page.resolveSibling(file).normalize();
                if (!Files.exists(resolved)) {
                    broken.add(page + ": " + target + " (no file " + resolved + ")");
                } else if (hash >= 0 && !anchors(resolved).contains(target.substring(hash + 1))) {
                    broken.add(page + ": " + target + " (no heading #" + target.substring(hash + 1) + " in " + resolved + ")");
                }
            }
        }
        assertTrue(checked >= 20, "only " + checked + " relative links found: is the link pattern still right?");
        assertTrue(broken.isEmpty(), "broken links:\n" + String.join("\n", broken));
    }

    /** The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as hyphens. */
    private static List<String> anchors(Path page) throws IOException {
        return Files.readAllLines(page).stream()
                .filter(line -> line.startsWith("#"))
                .map(line -> line.replaceFirst("^#+\\s*", "").toLowerCase(Locale.ROOT)
                        .replaceAll("[^\\p{L}\\p{N} _-]", "").replace(' ', '-'))
                .toList();
    }
}
