package io.tokenbus.http;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.tokenbus.support.ScriptedStore;
import io.tokenbus.support.TestHub;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.junit5.VertxExtension;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** {@code GET /health/live} and {@code GET /health/ready} on a real node (NodeHealth). */
@ExtendWith(VertxExtension.class)
@DisplayName("Liveness and readiness probes")
class HealthTest {

  private static final String KEY = "sk-acme-1234567890abcdef";

  private static HttpResponse<Buffer> get(TestHub hub, String path) {
    return await(hub.web().get(path).send(), 10, path);
  }

  /** Each check's status by id, from vertx-health-checks' body. */
  private static Map<String, String> checks(HttpResponse<Buffer> answer) {
    Map<String, String> byId = new TreeMap<>();
    JsonArray checks = answer.bodyAsJsonObject().getJsonArray("checks");
    for (int i = 0; i < checks.size(); i++) {
      JsonObject check = checks.getJsonObject(i);
      byId.put(check.getString("id"), check.getString("status"));
    }
    return byId;
  }

  @Test
  @DisplayName(
      "a serving node is live and ready, each check listed, without a key while auth is on")
  void upWithoutAKey(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx, "TOKENBUS_API_KEYS", "acme:" + KEY));
    HttpResponse<Buffer> live = get(hub, "/health/live");
    assertEquals(200, live.statusCode(), live.bodyAsString());
    assertEquals("application/json;charset=UTF-8", live.getHeader("Content-Type"));
    assertEquals("UP", live.bodyAsJsonObject().getString("status"));
    assertEquals(Map.of("http", "UP"), checks(live));

    HttpResponse<Buffer> ready = get(hub, "/health/ready");
    assertEquals(200, ready.statusCode(), ready.bodyAsString());
    assertEquals(
        Map.of("cluster", "UP", "draining", "UP", "generations", "UP", "sessions", "UP"),
        checks(ready));
    assertEquals(200, await(hub.web().head("/health/ready").send()).statusCode());
    // The old probe is unchanged.
    assertEquals("UP", get(hub, "/health").bodyAsJsonObject().getString("status"));
  }

  @Test
  @DisplayName("a store that does not answer in 2 s makes the node not ready (503), still live")
  void slowStore(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx, Map.of(), new ScriptedStore(vertx).delay(3_000)));
    HttpResponse<Buffer> ready = get(hub, "/health/ready");
    assertEquals(503, ready.statusCode(), ready.bodyAsString());
    assertEquals("DOWN", ready.bodyAsJsonObject().getString("status"));
    assertEquals("DOWN", checks(ready).get("generations"));
    assertEquals("UP", checks(ready).get("sessions"));
    assertEquals(200, get(hub, "/health/live").statusCode());
  }

  @Test
  @DisplayName(
      "once closing (as on SIGTERM), the node answers 503 on /health/ready for"
          + " http.drain-seconds while it serves everything else as before")
  void draining(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx, "TOKENBUS_HTTP_DRAIN_SECONDS", "60"));
    assertEquals(200, get(hub, "/health/ready").statusCode());
    Future<Void> closing = hub.node().close(); // closes in 60 s; the test ends before
    Future<Void> again = hub.node().close();
    assertFalse(again.isComplete(), "a second close is the first one, still draining");
    assertFalse(closing.isComplete());
    HttpResponse<Buffer> ready = get(hub, "/health/ready");
    assertEquals(503, ready.statusCode(), ready.bodyAsString());
    assertEquals("DOWN", checks(ready).get("draining"));
    assertEquals("UP", checks(ready).get("generations"));
    assertEquals(200, get(hub, "/health/live").statusCode());
    HttpResponse<Buffer> answer =
        await(hub.post("/v1/chat/completions", TestHub.mockRequest(3, 1000)));
    assertEquals(200, answer.statusCode(), answer.bodyAsString());
  }
}
