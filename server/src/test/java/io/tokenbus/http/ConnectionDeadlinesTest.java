package io.tokenbus.http;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.support.Raw;
import io.tokenbus.support.TestHub;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Connections, as an attacker with raw sockets uses them: heads and bodies that never complete, and
 * idle keep-alive connections.
 */
@ExtendWith(VertxExtension.class)
@DisplayName("Connection deadlines")
class ConnectionDeadlinesTest {

  private static final String HEALTH = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

  private static TestHub hub(Vertx vertx, String... env) {
    return await(TestHub.start(vertx, env));
  }

  @Test
  @DisplayName(
      "a head dribbled a byte at a time is closed at http.header-timeout-seconds, on a new"
          + " connection and on a kept-alive one's next request")
  void headerTimeout(Vertx vertx) {
    TestHub hub =
        hub(
            vertx,
            "TOKENBUS_HTTP_HEADER_TIMEOUT_SECONDS",
            "1",
            "TOKENBUS_HTTP_IDLE_TIMEOUT_SECONDS",
            "30");
    Raw fresh = Raw.open(vertx, hub.port(), null);
    long started = System.nanoTime();
    long dribble = vertx.setPeriodic(200, t -> fresh.socket.write("X"));
    fresh.socket.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
    await(fresh.closed, 5, "a dribbled head closed");
    vertx.cancelTimer(dribble);
    long ms = (System.nanoTime() - started) / 1_000_000;
    assertTrue(ms >= 900 && ms < 4000, "closed after " + ms + " ms");
    assertFalse(fresh.text().contains("HTTP/1.1"), "closed without an answer: " + fresh.text());

    Raw kept = Raw.open(vertx, hub.port(), null);
    kept.socket.write(HEALTH);
    await(kept.received("\"status\":\"UP\""), 5, "the first request answered");
    long second = System.nanoTime();
    long dribble2 = vertx.setPeriodic(200, t -> kept.socket.write("X"));
    kept.socket.write("GET /health HTTP/1.1\r\nX-Slow: ");
    await(kept.closed, 5, "the next request's dribbled head closed");
    vertx.cancelTimer(dribble2);
    long ms2 = (System.nanoTime() - second) / 1_000_000;
    assertTrue(ms2 >= 900 && ms2 < 4000, "closed after " + ms2 + " ms");
  }

  @Test
  @DisplayName(
      "a body shorter than its Content-Length gets 408 request_timeout in OpenAI's shape at"
          + " http.body-timeout-seconds, and its connection is closed")
  void bodyTimeout(Vertx vertx) {
    TestHub hub = hub(vertx, "TOKENBUS_HTTP_BODY_TIMEOUT_SECONDS", "1");
    Raw raw = Raw.open(vertx, hub.port(), null);
    long started = System.nanoTime();
    raw.socket.write(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"model\":");
    await(raw.closed, 5, "the connection closed");
    long ms = (System.nanoTime() - started) / 1_000_000;
    assertTrue(ms >= 900 && ms < 4000, "answered after " + ms + " ms");
    String text = raw.text();
    assertTrue(text.startsWith("HTTP/1.1 408 "), text);
    JsonObject error =
        new JsonObject(text.substring(text.indexOf("\r\n\r\n") + 4)).getJsonObject("error");
    assertEquals("invalid_request_error", error.getString("type"));
    assertEquals("request_timeout", error.getString("code"));
    assertTrue(error.containsKey("param") && error.getValue("param") == null, error.encode());
  }

  @Test
  @DisplayName(
      "a kept-alive connection with nothing in progress is closed at http.idle-timeout-seconds;"
          + " an SSE stream and a WebSocket, quiet but for heartbeats, are not")
  void idleTimeout(Vertx vertx) {
    TestHub hub =
        hub(
            vertx,
            "TOKENBUS_HTTP_IDLE_TIMEOUT_SECONDS",
            "1",
            "TOKENBUS_HTTP_HEADER_TIMEOUT_SECONDS",
            "1",
            "TOKENBUS_VIEWER_HEARTBEAT_SECONDS",
            "1",
            "TOKENBUS_MOCK_MIN_TOKENS_PER_SECOND",
            "0.01");
    Raw idle = Raw.open(vertx, hub.port(), null);
    idle.socket.write(HEALTH);
    await(idle.received("\"status\":\"UP\""), 5, "answered");
    long answered = System.nanoTime();
    await(idle.closed, 5, "the idle connection closed");
    long ms = (System.nanoTime() - answered) / 1_000_000;
    assertTrue(ms >= 900 && ms < 4000, "closed after " + ms + " ms");

    // One token every 100 s: nothing but heartbeats for the whole test.
    String id = await(hub.startGeneration(TestHub.mockRequest(5, 0.01)));
    Raw sse = Raw.open(vertx, hub.port(), null);
    sse.socket.write("GET /v1/generations/" + id + "/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    Raw ws = Raw.open(vertx, hub.port(), null);
    ws.socket.write(
        "GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    await(ws.received("101 Switching Protocols"), 5, "the WebSocket upgraded");
    // Three heartbeats: well past both the idle and the header timeout.
    await(sse.count(": ping", 3), 10, "three SSE heartbeats");
    await(
        ws.count(new String(new byte[] {(byte) 0x89, 0}, StandardCharsets.ISO_8859_1), 3),
        10,
        "three WebSocket pings");
    assertFalse(sse.closed.isComplete(), "the SSE stream is open");
    assertFalse(ws.closed.isComplete(), "the WebSocket is open");
    sse.socket.close();
    ws.socket.close();
  }
}
