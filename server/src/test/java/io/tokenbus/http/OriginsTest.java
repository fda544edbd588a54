package io.tokenbus.http;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.support.TestHub;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.UpgradeRejectedException;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.net.NetSocket;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.junit5.VertxExtension;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Browser pages: the hub's own, listed origins with CORS, and every other origin refused. */
@ExtendWith(VertxExtension.class)
@DisplayName("CORS and Origin checks")
class OriginsTest {

  private static final String APP = "http://localhost:3000";
  private static final String EVIL = "https://evil.example";
  private static final String KEY = "sk-acme-1234567890abcdef";

  private static TestHub hub(Vertx vertx) {
    return await(
        TestHub.start(
            vertx, Map.of("TOKENBUS_HTTP_CORS_ORIGINS", APP, "TOKENBUS_API_KEYS", "acme:" + KEY)));
  }

  private static HttpResponse<Buffer> preflight(TestHub hub, String origin) {
    return await(
        hub.web()
            .request(HttpMethod.OPTIONS, "/v1/chat/completions")
            .putHeader("Origin", origin)
            .putHeader("Access-Control-Request-Method", "POST")
            .putHeader("Access-Control-Request-Headers", "authorization,content-type")
            .send());
  }

  @Test
  @DisplayName(
      "a listed origin's preflight is answered 204 without credentials, allowing Authorization,"
          + " Content-Type and Last-Event-ID; an unlisted one gets no Access-Control-Allow-Origin")
  void preflights(Vertx vertx) {
    TestHub hub = hub(vertx);
    HttpResponse<Buffer> listed = preflight(hub, APP);
    assertEquals(204, listed.statusCode(), listed.bodyAsString());
    assertEquals(APP, listed.getHeader("Access-Control-Allow-Origin"));
    String allowed = listed.getHeader("Access-Control-Allow-Headers").toLowerCase();
    assertTrue(
        allowed.contains("authorization")
            && allowed.contains("content-type")
            && allowed.contains("last-event-id"),
        allowed);
    HttpResponse<Buffer> unlisted = preflight(hub, EVIL);
    assertNull(unlisted.getHeader("Access-Control-Allow-Origin"));
    assertEquals(403, unlisted.statusCode());
  }

  @Test
  @DisplayName(
      "a listed origin's request may read the answer and its X-Generation-Id; an unlisted"
          + " origin's is refused with 403; the hub's own page and clients without Origin pass")
  void requests(Vertx vertx) {
    TestHub hub = hub(vertx);
    HttpResponse<Buffer> listed = startFrom(hub, APP);
    assertEquals(201, listed.statusCode(), listed.bodyAsString());
    assertEquals(APP, listed.getHeader("Access-Control-Allow-Origin"));
    assertTrue(
        listed.getHeader("Access-Control-Expose-Headers").toLowerCase().contains("x-generation-id"),
        listed.getHeader("Access-Control-Expose-Headers"));

    HttpResponse<Buffer> unlisted = startFrom(hub, EVIL);
    assertEquals(403, unlisted.statusCode());
    assertNull(unlisted.getHeader("Access-Control-Allow-Origin"));
    assertNull(unlisted.getHeader("X-Generation-Id"), "nothing was started");

    HttpResponse<Buffer> own = startFrom(hub, "http://127.0.0.1:" + hub.port());
    assertEquals(201, own.statusCode(), own.bodyAsString());
    assertEquals(200, await(hub.web().get("/health").send()).statusCode());
  }

  /** {@code POST /v1/generations} with a key, as a page on {@code origin} would send it. */
  private static HttpResponse<Buffer> startFrom(TestHub hub, String origin) {
    return await(
        hub.web()
            .post("/v1/generations")
            .putHeader("Origin", origin)
            .putHeader("Authorization", "Bearer " + KEY)
            .sendJsonObject(TestHub.mockRequest(3, 1000)));
  }

  @Test
  @DisplayName(
      "a WebSocket handshake from an unlisted origin is refused with 403; a listed one, the hub's"
          + " own and one without Origin are upgraded")
  void webSocketHandshakes(Vertx vertx) {
    TestHub hub = hub(vertx);
    assertEquals(403, handshake(vertx, hub, EVIL));
    assertEquals(101, handshake(vertx, hub, APP));
    assertEquals(101, handshake(vertx, hub, "http://127.0.0.1:" + hub.port()));
    assertEquals(101, handshake(vertx, hub, null));
  }

  /** The handshake's status: 101 when upgraded, else the status it was refused with. */
  private static int handshake(Vertx vertx, TestHub hub, String origin) {
    WebSocketConnectOptions options =
        new WebSocketConnectOptions()
            .setHost("127.0.0.1")
            .setPort(hub.port())
            .setURI("/v1/ws?access_token=" + KEY)
            .setAllowOriginHeader(origin != null);
    if (origin != null) {
      options.addHeader("Origin", origin);
    }
    return await(
        vertx
            .createWebSocketClient()
            .connect(options)
            .map(socket -> 101)
            .recover(
                e ->
                    e instanceof UpgradeRejectedException rejected
                        ? Future.succeededFuture(rejected.getStatus())
                        : Future.failedFuture(e)));
  }

  @Test
  @DisplayName(
      "with auth off, a request or WebSocket handshake whose Host is not a loopback name is refused"
          + " (DNS rebinding), even as the page's own origin; with keys set, any Host is served")
  void rebinding(Vertx vertx) {
    TestHub open = await(TestHub.start(vertx));
    String rebound = "attacker.example:" + open.port();
    HttpResponse<Buffer> refused =
        await(
            open.web()
                .get("/v1/models")
                .virtualHost("attacker.example")
                .putHeader("Origin", "http://" + rebound)
                .send());
    assertEquals(403, refused.statusCode(), refused.bodyAsString());
    assertEquals(
        "host_not_allowed", refused.bodyAsJsonObject().getJsonObject("error").getString("code"));
    assertEquals(
        200, await(open.web().get("/v1/models").virtualHost("localhost").send()).statusCode());
    assertEquals("HTTP/1.1 403", firstLine(vertx, open.port(), "attacker.example:" + open.port()));
    assertEquals("HTTP/1.1 101", firstLine(vertx, open.port(), "localhost:" + open.port()));
  }

  /** The status line a raw WebSocket handshake with {@code host} as its Host gets. */
  private static String firstLine(Vertx vertx, int port, String host) {
    NetSocket socket = await(vertx.createNetClient().connect(port, "127.0.0.1"));
    Promise<String> line = Promise.promise();
    Buffer received = Buffer.buffer();
    socket.handler(
        chunk -> {
          received.appendBuffer(chunk);
          String text = received.toString();
          if (text.contains("\r\n")) {
            line.tryComplete(text.substring(0, text.indexOf("\r\n")).substring(0, 12));
          }
        });
    socket.write(
        "GET /v1/ws HTTP/1.1\r\nHost: "
            + host
            + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    try {
      return await(line.future());
    } finally {
      socket.close();
    }
  }
}
