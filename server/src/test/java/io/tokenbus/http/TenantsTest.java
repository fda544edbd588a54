package io.tokenbus.http;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import io.tokenbus.support.Poll;
import io.tokenbus.support.TestHub;
import io.tokenbus.support.WsClient;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpRequest;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.junit5.VertxExtension;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Tenants: what one tenant starts, another cannot see, watch, cancel or join, and is told exactly
 * what it would be told for an id that does not exist.
 */
@ExtendWith(VertxExtension.class)
@DisplayName("Tenant isolation")
class TenantsTest {

  private static final String ACME = "sk-acme-1234567890abcdef";
  private static final String ACME_2 = "sk-acme-second-key-0000";
  private static final String GLOBEX = "sk-globex-1234567890abcdef";
  private static final String ADMIN = "sk-admin-1234567890abcdef";

  private static TestHub hub(Vertx vertx) {
    return await(
        TestHub.start(
            vertx,
            Map.of(
                "TOKENBUS_API_KEYS",
                "acme:" + ACME + ",acme:" + ACME_2 + ",globex:" + GLOBEX,
                "TOKENBUS_ADMIN_KEY",
                ADMIN)));
  }

  private static HttpRequest<Buffer> as(String key, HttpRequest<Buffer> request) {
    return request.putHeader("Authorization", "Bearer " + key);
  }

  private static HttpResponse<Buffer> get(TestHub hub, String key, String path) {
    return await(as(key, hub.web().get(path)).send());
  }

  private static HttpResponse<Buffer> post(TestHub hub, String key, String path, JsonObject body) {
    return await(as(key, hub.web().post(path)).sendJsonObject(body));
  }

  /** The answer is a 404 with the code an unknown id gets, and names nothing else. */
  private static void assertUnknown(String code, HttpResponse<Buffer> response) {
    assertEquals(404, response.statusCode(), response.bodyAsString());
    JsonObject error = response.bodyAsJsonObject().getJsonObject("error");
    assertEquals(code, error.getString("code"));
    assertEquals("invalid_request_error", error.getString("type"));
  }

  private static JsonObject errorFrame(WsClient socket, String kind, String id) {
    return await(
        socket
            .frames()
            .whenAny(
                f ->
                    "error".equals(f.getString("type"))
                        && id.equals(f.getString(kind))
                        && !f.containsKey("seq")));
  }

  @Test
  @DisplayName(
      "another tenant gets 404 on every generation endpoint and WebSocket frame; the owner's"
          + " other key and the admin see it, and its status names the tenant")
  void generations(Vertx vertx) {
    TestHub hub = hub(vertx);
    HttpResponse<Buffer> created = post(hub, ACME, "/v1/generations", TestHub.mockRequest(400, 50));
    assertEquals(201, created.statusCode(), created.bodyAsString());
    String id = created.bodyAsJsonObject().getString("id");
    assertEquals("acme", created.bodyAsJsonObject().getString("tenant"));
    String base = "/v1/generations/" + id;

    assertUnknown("generation_not_found", get(hub, GLOBEX, "/v1/generations/gen-does-not-exist"));
    assertUnknown("generation_not_found", get(hub, GLOBEX, base));
    assertUnknown("generation_not_found", get(hub, GLOBEX, base + "/events"));
    assertUnknown("generation_not_found", post(hub, GLOBEX, base + "/cancel", new JsonObject()));

    WsClient intruder = await(WsClient.connect(vertx, hub.port(), "/v1/ws?access_token=" + GLOBEX));
    intruder.send(new JsonObject().put("type", "subscribe").put("generation", id));
    assertEquals("generation_not_found", errorFrame(intruder, "generation", id).getString("code"));
    intruder.send(new JsonObject().put("type", "cancel").put("generation", id));
    assertEquals("generation_not_found", errorFrame(intruder, "generation", id).getString("code"));

    // None of that touched it: still running, and visible to its tenant and the admin.
    HttpResponse<Buffer> own = get(hub, ACME_2, base);
    assertEquals(200, own.statusCode());
    assertEquals("running", own.bodyAsJsonObject().getString("status"));
    HttpResponse<Buffer> admin = get(hub, ADMIN, base);
    assertEquals(200, admin.statusCode());
    assertEquals("acme", admin.bodyAsJsonObject().getString("tenant"));

    WsClient owner = await(WsClient.connect(vertx, hub.port(), "/v1/ws?access_token=" + ACME));
    owner.send(new JsonObject().put("type", "subscribe").put("generation", id));
    await(owner.frames().whenAny(f -> "delta".equals(f.getString("type"))));
    HttpResponse<Buffer> cancelled = post(hub, ACME, base + "/cancel", new JsonObject());
    assertEquals(200, cancelled.statusCode(), cancelled.bodyAsString());
    assertEquals("cancelled", cancelled.bodyAsJsonObject().getString("status"));

    // A chat completion is the tenant's too.
    HttpResponse<Buffer> chat =
        post(hub, GLOBEX, "/v1/chat/completions", TestHub.mockRequest(3, 1000));
    assertEquals(200, chat.statusCode());
    String chatId = chat.getHeader("X-Generation-Id");
    assertEquals(
        "globex",
        get(hub, GLOBEX, "/v1/generations/" + chatId).bodyAsJsonObject().getString("tenant"));
    assertUnknown("generation_not_found", get(hub, ACME, "/v1/generations/" + chatId));
  }

  @Test
  @DisplayName(
      "another tenant gets 404 on every session endpoint and on a WebSocket join; the session's"
          + " answers belong to its tenant")
  void sessions(Vertx vertx) {
    TestHub hub = hub(vertx);
    HttpResponse<Buffer> created =
        post(hub, ACME, "/v1/sessions", new JsonObject().put("title", "acme only"));
    assertEquals(201, created.statusCode(), created.bodyAsString());
    String id = created.bodyAsJsonObject().getString("id");
    assertEquals("acme", created.bodyAsJsonObject().getString("tenant"));
    String base = "/v1/sessions/" + id;
    JsonObject message = new JsonObject().put("author", "Mallory").put("content", "hi");

    assertUnknown("session_not_found", get(hub, GLOBEX, "/v1/sessions/sess_does_not_exist"));
    assertUnknown("session_not_found", get(hub, GLOBEX, base));
    assertUnknown("session_not_found", get(hub, GLOBEX, base + "/events"));
    assertUnknown("session_not_found", get(hub, GLOBEX, base + "/events?author=Mallory"));
    assertUnknown("session_not_found", post(hub, GLOBEX, base + "/messages", message));
    assertUnknown(
        "session_not_found",
        post(hub, GLOBEX, base + "/typing", new JsonObject().put("author", "Mallory")));
    assertUnknown("session_not_found", post(hub, GLOBEX, base + "/stop", new JsonObject()));

    WsClient intruder = await(WsClient.connect(vertx, hub.port(), "/v1/ws?access_token=" + GLOBEX));
    intruder.send(new JsonObject().put("type", "join").put("session", id).put("author", "Mallory"));
    assertEquals("session_not_found", errorFrame(intruder, "session", id).getString("code"));

    // Nothing landed: no message, nobody present.
    JsonObject session = get(hub, ACME, base).bodyAsJsonObject();
    assertEquals(0, session.getJsonArray("messages").size());
    assertEquals(0, session.getJsonArray("participants").size());
    assertEquals("acme", get(hub, ADMIN, base).bodyAsJsonObject().getString("tenant"));

    HttpResponse<Buffer> posted =
        post(hub, ACME, base + "/messages", message.copy().put("author", "Ann"));
    assertEquals(202, posted.statusCode(), posted.bodyAsString());
    String answer = posted.bodyAsJsonObject().getString("generation");
    assertNotNull(answer);
    // The answer's id is chosen before its generation starts: wait until it exists.
    HttpResponse<Buffer> started =
        await(
            Poll.until(
                vertx,
                () -> as(ACME, hub.web().get("/v1/generations/" + answer)).send(),
                r -> r.statusCode() == 200,
                10_000));
    assertEquals("acme", started.bodyAsJsonObject().getString("tenant"));
    assertUnknown("generation_not_found", get(hub, GLOBEX, "/v1/generations/" + answer));
  }
}
