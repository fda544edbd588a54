package io.tokenbus.http;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.tokenbus.support.Raw;
import io.tokenbus.support.TestHub;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.junit5.VertxExtension;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.slf4j.LoggerFactory;

/**
 * Every answer under {@code /v1} is in OpenAI's error shape, including those Vert.x would give on
 * its own: a request it cannot parse, a path it cannot decode, a body of the wrong kind.
 */
@ExtendWith(VertxExtension.class)
@DisplayName("Errors Vert.x produces are on the API's contract")
class ErrorShapeTest {

  private static void assertShape(int status, String code, HttpResponse<Buffer> response) {
    assertEquals(status, response.statusCode(), response.bodyAsString());
    assertTrue(
        response.getHeader("content-type").startsWith("application/json"),
        response.getHeader("content-type"));
    JsonObject error = response.bodyAsJsonObject().getJsonObject("error");
    assertNotNull(error, response.bodyAsString());
    assertEquals(code, error.getString("code"));
    assertEquals("invalid_request_error", error.getString("type"));
    assertTrue(error.containsKey("message") && error.containsKey("param"), error.encode());
  }

  @Test
  @DisplayName(
      "a path with a bad %-escape is 400, a request line over the limit 414, headers over it 431,"
          + " each in OpenAI's shape")
  void unparsable(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx));
    assertShape(400, "bad_request", await(hub.get("/v1/generations/%zz")));
    assertShape(414, "uri_too_long", await(hub.get("/v1/models?x=" + "a".repeat(9000))));
    assertShape(
        431,
        "request_header_too_large",
        await(hub.web().get("/v1/models").putHeader("X-Big", "a".repeat(9000)).send()));
    // The node still serves.
    assertEquals(200, await(hub.get("/v1/models")).statusCode());
  }

  @Test
  @DisplayName(
      "form-encoded and multipart bodies are 415 before they are read (a long form field was a"
          + " 500)")
  void formBodies(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx));
    MultiMap form = MultiMap.caseInsensitiveMultiMap().add("field", "a".repeat(9000));
    assertShape(
        415,
        "unsupported_media_type",
        await(hub.web().post("/v1/chat/completions").sendForm(form)));
    assertShape(
        415,
        "unsupported_media_type",
        await(
            hub.web()
                .post("/v1/sessions")
                .putHeader("Content-Type", "multipart/form-data; boundary=x")
                .sendBuffer(
                    Buffer.buffer(
                        "--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--x--\r\n"))));
  }

  @Test
  @DisplayName(
      "HEAD is answered as GET without a body where GET answers once; elsewhere 405 with JSON"
          + " headers")
  void head(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx));
    HttpResponse<Buffer> models = await(hub.web().request(HttpMethod.HEAD, "/v1/models").send());
    assertEquals(200, models.statusCode());
    assertEquals(0, models.body() == null ? 0 : models.body().length());
    assertEquals(200, await(hub.web().request(HttpMethod.HEAD, "/health").send()).statusCode());
    HttpResponse<Buffer> chat =
        await(hub.web().request(HttpMethod.HEAD, "/v1/chat/completions").send());
    assertEquals(405, chat.statusCode());
    assertTrue(chat.getHeader("content-type").startsWith("application/json"));
  }

  @Test
  @DisplayName(
      "a chunked body that cannot be decoded is a 400 and the connection closes; nothing is logged"
          + " as an error")
  void badChunk(Vertx vertx) {
    ListAppender<ILoggingEvent> logged = new ListAppender<>();
    Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    logged.start();
    root.addAppender(logged);
    try {
      TestHub hub = await(TestHub.start(vertx));
      for (String path : new String[] {"/v1/generations", "/v1/chat/completions", "/stream"}) {
        Raw raw = Raw.open(vertx, hub.port(), null);
        raw.socket.write(
            "POST "
                + path
                + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                + "Transfer-Encoding: chunked\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n");
        await(raw.closed);
        assertTrue(raw.text().startsWith("HTTP/1.1 400"), path + ": " + raw.text());
        assertTrue(raw.text().contains("\"code\":\"bad_request\""), raw.text());
      }
      assertEquals(200, await(hub.get("/v1/models")).statusCode());
      assertTrue(
          logged.list.stream().noneMatch(e -> e.getLevel() == Level.ERROR),
          "logged as an error: " + logged.list);
    } finally {
      root.detachAppender(logged);
    }
  }

  /** What a raw request on its own connection gets back, once the node closes it. */
  private static String exchange(Vertx vertx, TestHub hub, String head) {
    Raw raw = Raw.open(vertx, hub.port(), null);
    raw.socket.write(head.replace("\n", "\r\n") + "\r\n");
    await(Future.any(raw.closed, raw.received("}")));
    return raw.text();
  }

  @Test
  @DisplayName(
      "a refused WebSocket handshake is answered in the error shape (401, 403, 426, 400), an"
          + " upgrade of another path is that path's answer, and an HTTP/9.9 request is a 400")
  void refusedHandshakes(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx, "TOKENBUS_API_KEYS", "acme:sk-acme-1234567890abcdef"));
    String upgrade =
        "Host: 127.0.0.1\nUpgrade: websocket\nConnection: Upgrade\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\n";
    String key = "Authorization: Bearer sk-acme-1234567890abcdef\n";
    record Case(String head, String status, String code) {}
    for (Case c :
        List.of(
            new Case(
                "GET /v1/ws HTTP/1.1\n" + upgrade + "Sec-WebSocket-Version: 13\n",
                "401",
                "invalid_api_key"),
            new Case(
                "GET /v1/ws HTTP/1.1\n"
                    + upgrade
                    + key
                    + "Origin: https://evil.example\nSec-WebSocket-Version: 13\n",
                "403",
                "origin_not_allowed"),
            new Case(
                "GET /v1/ws HTTP/1.1\n" + upgrade + key + "Sec-WebSocket-Version: 8\n",
                "426",
                "unsupported_websocket_version"),
            new Case(
                "GET /v1/ws HTTP/1.1\nHost: 127.0.0.1\nUpgrade: websocket\n"
                    + "Connection: Upgrade\nSec-WebSocket-Version: 13\n"
                    + key,
                "400",
                "invalid_websocket_handshake"),
            new Case(
                "GET /v1/ws?access_token=%zz HTTP/1.1\n" + upgrade + "Sec-WebSocket-Version: 13\n",
                "400",
                "invalid_query"),
            new Case("GET /v1/models HTTP/9.9\nHost: 127.0.0.1\n" + key, "400", "bad_request"))) {
      String answer = exchange(vertx, hub, c.head());
      // (Netty answers in the request's own version: HTTP/9.9 400.)
      assertTrue(
          answer.matches("(?s)HTTP/\\d\\.\\d " + c.status() + " .*"), c.head() + " -> " + answer);
      assertTrue(answer.contains("\"code\":\"" + c.code() + "\""), answer);
    }
    String models =
        exchange(
            vertx,
            hub,
            "GET /v1/models HTTP/1.1\n" + upgrade + key + "Sec-WebSocket-Version: 13\n");
    assertTrue(models.startsWith("HTTP/1.1 200"), models);
  }

  @Test
  @DisplayName(
      "a request answered before its announced body arrived closes its connection after the"
          + " answer, so what the client sends next is never read as that body")
  void answeredBeforeItsBody(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx));
    // A form body is refused (415) before it is read; the client sends nothing of it.
    String answer =
        exchange(
            vertx,
            hub,
            "POST /v1/chat/completions HTTP/1.1\nHost: 127.0.0.1\n"
                + "Content-Type: application/x-www-form-urlencoded\nContent-Length: 100\n");
    assertTrue(answer.startsWith("HTTP/1.1 415"), answer);
    assertTrue(answer.toLowerCase().contains("connection: close"), answer);
    // Without a body, a kept-alive connection stays open.
    String models = exchange(vertx, hub, "GET /v1/models HTTP/1.1\nHost: 127.0.0.1\n");
    assertFalse(models.toLowerCase().contains("connection: close"), models);
  }
}
