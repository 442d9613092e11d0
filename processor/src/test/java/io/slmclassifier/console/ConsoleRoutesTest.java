package io.slmclassifier.console;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.slmclassifier.console.ConsoleRoutes.PageFile;
import io.slmclassifier.console.ConsoleRoutes.PlotRequest;
import io.slmclassifier.console.ConsoleRoutes.Route;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Which path is which route with which method, the page's files, and the plots a path may name. */
class ConsoleRoutesTest {

    @Test
    void everyApiPathHasItsRouteAndMethod() {
        assertEquals(Route.STATE, ConsoleRoutes.route("/api/state"));
        assertEquals(Route.EVENTS, ConsoleRoutes.route("/api/events"));
        assertEquals(Route.LABEL, ConsoleRoutes.route("/api/labels"));
        assertEquals(Route.ADAPTER_COMMAND, ConsoleRoutes.route("/api/adapters"));
        assertEquals(Route.PLOT, ConsoleRoutes.route("/api/plots/3/reliability.svg"));
        assertEquals("GET", Route.STATE.method);
        assertEquals("GET", Route.EVENTS.method);
        assertEquals("POST", Route.LABEL.method);
        assertEquals("POST", Route.ADAPTER_COMMAND.method);
        assertEquals("GET", Route.PLOT.method);
    }

    @Test
    void anUnknownPathIsThePagesWhichHasNoFileForIt() {
        assertEquals(Route.PAGE, ConsoleRoutes.route("/api/nothing"));
        assertEquals(Route.PAGE, ConsoleRoutes.route("/secret.txt"));
        assertEquals(Optional.empty(), ConsoleRoutes.pageFile("/api/nothing"));
        assertEquals(Optional.empty(), ConsoleRoutes.pageFile("/secret.txt"));
        assertTrue(ConsoleRoutes.isApi("/api/state"));
        assertTrue(!ConsoleRoutes.isApi("/console.js"));
    }

    @Test
    void thePageFilesHaveTheirContentTypes() {
        assertEquals(Optional.of(new PageFile("index.html", "text/html; charset=utf-8")), ConsoleRoutes.pageFile("/"));
        assertEquals(Optional.of(new PageFile("index.html", "text/html; charset=utf-8")),
                ConsoleRoutes.pageFile("/index.html"));
        assertEquals(Optional.of(new PageFile("console.js", "text/javascript; charset=utf-8")),
                ConsoleRoutes.pageFile("/console.js"));
        assertEquals(Optional.of(new PageFile("console.css", "text/css; charset=utf-8")),
                ConsoleRoutes.pageFile("/console.css"));
        // Browsers ask for /favicon.ico whatever the page says: they get the SVG.
        assertEquals(Optional.of(new PageFile("favicon.svg", "image/svg+xml")), ConsoleRoutes.pageFile("/favicon.ico"));
        for (String path : new String[] {"/", "/console.js", "/console.css", "/favicon.svg"}) {
            String resource = ConsoleRoutes.pageFile(path).orElseThrow().resource();
            assertTrue(ConsoleServer.class.getResource("/console/" + resource) != null, resource + " on the classpath");
        }
    }

    @Test
    void aPlotPathNamesAVersionAndAKindTheConsoleDraws() {
        assertEquals(Optional.of(new PlotRequest(12, "reliability")), ConsoleRoutes.plot("/api/plots/12/reliability.svg"));
        assertEquals(Optional.of(new PlotRequest(1, "coverage")), ConsoleRoutes.plot("/api/plots/1/coverage.svg"));
        assertEquals(Optional.of(new PlotRequest(7, "confusion")), ConsoleRoutes.plot("/api/plots/7/confusion.svg"));
        assertEquals(Optional.empty(), ConsoleRoutes.plot("/api/plots/7/histogram.svg"));
        assertEquals(Optional.empty(), ConsoleRoutes.plot("/api/plots/v7/confusion.svg"));
        assertEquals(Optional.empty(), ConsoleRoutes.plot("/api/plots/7/confusion.png"));
        // More digits than a long holds is no version at all, not an overflow.
        assertEquals(Optional.empty(), ConsoleRoutes.plot("/api/plots/1234567890123456789/confusion.svg"));
    }
}
