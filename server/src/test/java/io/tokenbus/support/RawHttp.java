package io.tokenbus.support;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetSocket;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * One HTTP/1.1 exchange written byte for byte on a fresh connection, for requests no HTTP client
 * sends (invalid UTF-8 in a path or header, bad escapes, broken framing, a head or body cut short).
 * Completes with the parsed answer, or with {@link Answer#NONE} when the hub closes the connection
 * without one; never fails, so a caller can tell a hang (its own timer) from a refusal.
 */
public final class RawHttp {

  /** What the hub answered: its status, headers (names lower-case) and body. */
  public record Answer(int status, Map<String, String> headers, Buffer body, boolean closed) {

    /** No answer: the connection closed (or could not open) before a status line arrived. */
    public static final Answer NONE = new Answer(-1, Map.of(), Buffer.buffer(), true);

    public String header(String name) {
      return headers.get(name.toLowerCase(Locale.ROOT));
    }
  }

  private final NetSocket socket;
  private final Buffer in = Buffer.buffer();
  private final Promise<Answer> answer = Promise.promise();
  private final Promise<Void> closed = Promise.promise();
  private int start; // where the answer's head begins, past any interim answer

  private RawHttp(NetSocket socket) {
    this.socket = socket;
    socket.handler(
        chunk -> {
          in.appendBuffer(chunk);
          parse(false);
        });
    socket.closeHandler(
        v -> {
          parse(true);
          answer.tryComplete(Answer.NONE);
          closed.tryComplete();
        });
  }

  /** Connects and writes {@code request}, as it is. */
  public static Future<RawHttp> send(NetClient client, int port, Buffer request) {
    return client
        .connect(port, "127.0.0.1")
        .map(
            socket -> {
              RawHttp exchange = new RawHttp(socket);
              socket.write(request);
              return exchange;
            });
  }

  public static Future<RawHttp> send(Vertx vertx, int port, Buffer request) {
    return send(vertx.createNetClient(), port, request);
  }

  /**
   * The answer: complete once its body is in (by Content-Length or chunks), or at its head for an
   * event stream or an upgrade, whose body does not end.
   */
  public Future<Answer> answer() {
    return answer.future();
  }

  /** Completes when the connection closes, whichever side closed it. */
  public Future<Void> closed() {
    return closed.future();
  }

  public void close() {
    socket.close();
  }

  private void parse(boolean atClose) {
    if (answer.future().isComplete()) {
      return;
    }
    String text = in.toString(StandardCharsets.ISO_8859_1).substring(start);
    int headEnd = text.indexOf("\r\n\r\n");
    // An interim answer (100 Continue) comes before the answer: skip it.
    while (headEnd >= 0 && text.matches("(?s)HTTP/1\\.[01] 1(?!01).*")) {
      start += headEnd + 4;
      text = text.substring(headEnd + 4);
      headEnd = text.indexOf("\r\n\r\n");
    }
    if (headEnd < 0) {
      return;
    }
    String[] lines = text.substring(0, headEnd).split("\r\n");
    String[] statusLine = lines[0].split(" ", 3);
    int status;
    try {
      status = Integer.parseInt(statusLine[1]);
    } catch (RuntimeException e) {
      answer.tryComplete(new Answer(0, Map.of("status-line", lines[0]), Buffer.buffer(), atClose));
      return;
    }
    Map<String, String> headers = new TreeMap<>();
    for (int i = 1; i < lines.length; i++) {
      int colon = lines[i].indexOf(':');
      if (colon > 0) {
        headers.put(
            lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT),
            lines[i].substring(colon + 1).trim());
      }
    }
    Buffer rest = in.getBuffer(start + headEnd + 4, in.length());
    String type = headers.getOrDefault("content-type", "");
    if (status == 101 || type.startsWith("text/event-stream")) {
      answer.tryComplete(new Answer(status, headers, Buffer.buffer(), atClose));
      return;
    }
    String length = headers.get("content-length");
    if (length != null) {
      int size = Integer.parseInt(length.trim());
      if (rest.length() >= size) {
        answer.tryComplete(new Answer(status, headers, rest.getBuffer(0, size), atClose));
      } else if (atClose) {
        answer.tryComplete(new Answer(status, headers, rest, true)); // cut short
      }
      return;
    }
    if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
      Buffer body = dechunk(rest);
      if (body != null || atClose) {
        answer.tryComplete(new Answer(status, headers, body == null ? rest : body, atClose));
      }
      return;
    }
    if (atClose) {
      answer.tryComplete(new Answer(status, headers, rest, true));
    }
  }

  /** The body of a complete chunked {@code rest}; null while its last chunk has not arrived. */
  private static Buffer dechunk(Buffer rest) {
    Buffer body = Buffer.buffer();
    String text = rest.toString(StandardCharsets.ISO_8859_1);
    int at = 0;
    while (true) {
      int lineEnd = text.indexOf("\r\n", at);
      if (lineEnd < 0) {
        return null;
      }
      String size = text.substring(at, lineEnd);
      int semicolon = size.indexOf(';');
      int length =
          Integer.parseInt((semicolon < 0 ? size : size.substring(0, semicolon)).trim(), 16);
      if (length == 0) {
        return body;
      }
      if (lineEnd + 2 + length + 2 > text.length()) {
        return null;
      }
      body.appendBuffer(rest.getBuffer(lineEnd + 2, lineEnd + 2 + length));
      at = lineEnd + 2 + length + 2;
    }
  }
}
