package io.slmclassifier.console;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.Map;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * One request to the console and its answer, which is sent once: what the console's handlers read and write. Every
 * answer carries the headers that keep a browser from sniffing, framing or caching it; an error is a JSON object
 * {@code {"error": "..."}}.
 */
final class ConsoleExchange {
    static final ObjectMapper JSON = new ObjectMapper();
    static final int MAX_BODY_BYTES = 16 * 1024;

    /**
     * A request the console refuses, and the answer it gets: the status, the reason (the error object's text) and any
     * headers the status asks for ({@code Allow}, {@code Retry-After}, {@code WWW-Authenticate}).
     */
    static final class Refused extends Exception {
        final int status;
        final Map<String, String> headers;

        Refused(int status, String reason) {
            this(status, reason, Map.of());
        }

        Refused(int status, String reason, Map<String, String> headers) {
            super(reason, null, false, false);
            this.status = status;
            this.headers = Map.copyOf(headers);
        }
    }

    final Request request;
    final Response response;
    final Callback callback;
    private boolean answered;
    private boolean bodyRead;
    /** The response is the event hub's to complete. */
    private boolean handedOver;

    ConsoleExchange(Request request, Response response, Callback callback) {
        this.request = request;
        this.response = response;
        this.callback = callback;
        setHeader("X-Content-Type-Options", "nosniff");
        setHeader("Referrer-Policy", "no-referrer");
        setHeader("X-Frame-Options", "DENY");
        setHeader("Cache-Control", "no-store");
    }

    String method() {
        return request.getMethod();
    }

    /** The path, decoded and with dot segments resolved. */
    String path() {
        return Request.getPathInContext(request);
    }

    String header(String name) {
        return request.getHeaders().get(name);
    }

    /** A parameter of the query string; null when it has none of that name. */
    String queryParameter(String name) {
        return Request.extractQueryParameters(request).getValue(name);
    }

    String clientAddress() {
        return Request.getRemoteAddr(request);
    }

    void setHeader(String name, String value) {
        response.getHeaders().put(name, value);
    }

    boolean answered() {
        return answered;
    }

    /** From here on the response is another's to write and complete (an event stream's). */
    void handOver() {
        handedOver = true;
    }

    boolean handedOver() {
        return handedOver;
    }

    /** The request's JSON object; refused with 413 when it is too large and 400 when it is not one. */
    JsonNode jsonBody() throws IOException, Refused {
        byte[] bytes = readBody();
        if (bytes.length > MAX_BODY_BYTES) {
            throw new Refused(413, "request body over " + MAX_BODY_BYTES + " bytes");
        }
        try {
            JsonNode node = JSON.readTree(bytes);
            if (node != null && node.isObject()) {
                return node;
            }
        } catch (IOException e) {
            // refused below
        }
        throw new Refused(400, "the body must be a JSON object");
    }

    /** Up to one byte over {@link #MAX_BODY_BYTES} of the request's body; read once. */
    private byte[] readBody() throws IOException {
        bodyRead = true;
        try (InputStream in = Content.Source.asInputStream(request)) {
            return in.readNBytes(MAX_BODY_BYTES + 1);
        }
    }

    /**
     * Answers a refused request, after reading what it sends (up to the limit): a refusal sent while the client is
     * still writing its body would end the connection under it, and the client could see the connection reset
     * instead of the answer.
     */
    void refuse(Refused refusal) throws IOException {
        if (!bodyRead) {
            readBody();
        }
        refusal.headers.forEach(this::setHeader);
        sendError(refusal.status, refusal.getMessage());
    }

    void sendError(int status, String message) throws IOException {
        ObjectNode error = JSON.createObjectNode();
        error.put("error", message);
        sendJson(status, error);
    }

    void sendJson(int status, JsonNode body) throws IOException {
        send(status, "application/json; charset=utf-8", JSON.writeValueAsBytes(body));
    }

    /** The whole answer; Jetty leaves the body out for HEAD. */
    void send(int status, String type, byte[] body) {
        answered = true;
        response.setStatus(status);
        setHeader("Content-Type", type);
        response.getHeaders().put("Content-Length", Integer.toString(body.length));
        response.write(true, ByteBuffer.wrap(body), callback);
    }
}
