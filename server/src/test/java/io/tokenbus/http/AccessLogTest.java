package io.tokenbus.http;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.tokenbus.support.Poll;
import io.tokenbus.support.SseClient;
import io.tokenbus.support.TestHub;
import io.tokenbus.support.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.junit5.VertxExtension;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.slf4j.LoggerFactory;

/** The access log ({@code http.access-log}): one line per request, streams at their end. */
@ExtendWith(VertxExtension.class)
@DisplayName("Access log")
class AccessLogTest {

  private static final Pattern LINE =
      Pattern.compile("(\\S+) (\\S+) (\\d+)( unfinished)? (\\d+)\\.(\\d{3}) ms (\\d+) B(.*)");

  private final ListAppender<ILoggingEvent> lines = new ListAppender<>();
  private final Logger access = (Logger) LoggerFactory.getLogger("io.tokenbus.access");

  @BeforeEach
  void capture() {
    lines.start();
    access.addAppender(lines);
  }

  @AfterEach
  void release() {
    access.detachAppender(lines);
  }

  private Future<List<String>> linesFor(Vertx vertx, String pathPart, int count) {
    return Poll.until(
        vertx,
        () -> {
          synchronized (lines.list) {
            return Future.succeededFuture(
                lines.list.stream()
                    .map(ILoggingEvent::getFormattedMessage)
                    .filter(l -> l.contains(pathPart))
                    .toList());
          }
        },
        found -> found.size() >= count,
        10_000);
  }

  @Test
  @DisplayName(
      "a refused WebSocket handshake (a wrong key) has its line, and an accepted socket its 101"
          + " line when it closes")
  void webSocketLines(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx, "TOKENBUS_API_KEYS", "acme:sk-acme-1234567890abcdef"));
    Throwable refused =
        await(
            WsClient.connect(vertx, hub.port(), "/v1/ws?access_token=sk-wrong-wrong-wrong")
                .map(socket -> (Throwable) null)
                .recover(Future::succeededFuture));
    assertTrue(refused != null, "the wrong key was upgraded");
    String line = await(linesFor(vertx, "/v1/ws", 1)).get(0);
    assertTrue(line.startsWith("GET /v1/ws 401 "), line);
    assertFalse(line.contains("sk-wrong"), line);

    WsClient socket =
        await(WsClient.connect(vertx, hub.port(), "/v1/ws?access_token=sk-acme-1234567890abcdef"));
    await(socket.close());
    String closed = await(linesFor(vertx, "/v1/ws", 2)).get(1);
    assertTrue(closed.startsWith("GET /v1/ws 101 "), closed);
    assertTrue(closed.endsWith(" tenant=acme"), closed);
  }

  @Test
  @DisplayName("a path cannot forge a line: control characters are escaped, a long path is cut")
  void printablePaths() {
    assertEquals(
        "/v1/a\\x0d\\x0aGET /x\\x1b[2J\\x5c", AccessLog.printable("/v1/a\r\nGET /x\u001b[2J\\"));
    String longPath = "/" + "a".repeat(5_000);
    String cut = AccessLog.printable(longPath);
    assertEquals(AccessLog.MAX_PATH + 3, cut.length());
    assertTrue(cut.endsWith("..."));
  }

  @Test
  @DisplayName(
      "a replayed SSE stream's line counts the bytes the client received; a 404 and a query-less"
          + " path are logged too")
  void streamBytes(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx));
    String id = await(hub.startGeneration(TestHub.mockRequest(40, 2000)));
    SseClient viewer =
        await(
            SseClient.get(
                SseClient.client(vertx),
                hub.port(),
                "/v1/generations/" + id + "/events?x=secret",
                Map.of()));
    await(viewer.ended());
    long received = viewer.raw().getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
    String line = await(linesFor(vertx, "/events", 1)).get(0);
    Matcher m = LINE.matcher(line);
    assertTrue(m.matches(), line);
    assertEquals("GET", m.group(1));
    assertEquals("/v1/generations/" + id + "/events", m.group(2), "no query in " + line);
    assertEquals("200", m.group(3));
    assertEquals(received, Long.parseLong(m.group(7)), line);

    assertEquals(404, await(hub.web().get("/v1/generations/nope").send()).statusCode());
    String missing = await(linesFor(vertx, "/v1/generations/nope", 1)).get(0);
    assertTrue(missing.startsWith("GET /v1/generations/nope 404 "), missing);
  }
}
