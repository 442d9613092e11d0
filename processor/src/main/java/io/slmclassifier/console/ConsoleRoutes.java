package io.slmclassifier.console;

import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The console's routes: which path is which part of the API and the method it takes, and which files make the page.
 * Pure: the server asks it what a request is, then does that.
 */
final class ConsoleRoutes {

    /** What a request asks for, and the one method it may use ({@code null}: the page's files, GET or HEAD). */
    enum Route {
        STATE("GET"),
        EVENTS("GET"),
        LABEL("POST"),
        ADAPTER_COMMAND("POST"),
        PLOT("GET"),
        PAGE(null);

        final String method;

        Route(String method) {
            this.method = method;
        }
    }

    /** One of the page's files: its name under {@code /console/} on the classpath, and its content type. */
    record PageFile(String resource, String contentType) {}

    /** One picture of a version's published evaluation: {@code /api/plots/<version>/<kind>.svg}. */
    record PlotRequest(long version, String kind) {}

    private static final Map<String, String> PAGE_FILES = Map.of(
            "/", "index.html",
            "/index.html", "index.html",
            "/console.js", "console.js",
            "/console.css", "console.css",
            "/favicon.svg", "favicon.svg",
            "/favicon.ico", "favicon.svg");
    static final String PLOTS = "/api/plots/";
    private static final Pattern PLOT_PATH = Pattern.compile("/api/plots/(\\d{1,18})/([a-z]+)\\.svg");

    private ConsoleRoutes() {}

    /** Whether the path is the API's, whose requests may name their task. */
    static boolean isApi(String path) {
        return path.startsWith("/api/");
    }

    /** The route of a path; an unknown one is the page's (which answers 404). */
    static Route route(String path) {
        return switch (path) {
            case "/api/state" -> Route.STATE;
            case "/api/events" -> Route.EVENTS;
            case "/api/labels" -> Route.LABEL;
            case "/api/adapters" -> Route.ADAPTER_COMMAND;
            default -> path.startsWith(PLOTS) ? Route.PLOT : Route.PAGE;
        };
    }

    /** The page's file at {@code path}; empty when there is none. */
    static Optional<PageFile> pageFile(String path) {
        String resource = PAGE_FILES.get(path);
        if (resource == null) {
            return Optional.empty();
        }
        String type = resource.endsWith(".html") ? "text/html; charset=utf-8"
                : resource.endsWith(".js") ? "text/javascript; charset=utf-8"
                : resource.endsWith(".svg") ? "image/svg+xml" : "text/css; charset=utf-8";
        return Optional.of(new PageFile(resource, type));
    }

    /** The plot a {@link Route#PLOT} path names; empty when it names no plot the console draws. */
    static Optional<PlotRequest> plot(String path) {
        Matcher m = PLOT_PATH.matcher(path);
        if (!m.matches() || !EvaluationPlots.KINDS.contains(m.group(2))) {
            return Optional.empty();
        }
        return Optional.of(new PlotRequest(Long.parseLong(m.group(1)), m.group(2)));
    }
}
