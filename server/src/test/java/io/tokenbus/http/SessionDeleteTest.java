package io.tokenbus.http;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.support.SseClient;
import io.tokenbus.support.SseEvent;
import io.tokenbus.support.TestHub;
import io.tokenbus.support.WsClient;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpRequest;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.junit5.VertxExtension;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@code DELETE /v1/sessions/{id}}: only the owner may; the session is gone for everyone at once,
 * its viewers told and their streams ended, its answer cancelled.
 */
@ExtendWith(VertxExtension.class)
@DisplayName("DELETE /v1/sessions/{id}")
class SessionDeleteTest {

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
                ADMIN,
                // Answers that run until something stops them.
                "TOKENBUS_MOCK_TOKENS_PER_SECOND",
                "20",
                "TOKENBUS_MOCK_DEFAULT_MAX_TOKENS",
                "2000",
                "TOKENBUS_GENERATION_IDLE_CANCEL_SECONDS",
                "0")));
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

  private static HttpResponse<Buffer> delete(TestHub hub, String key, String id) {
    return await(as(key, hub.web().delete("/v1/sessions/" + id)).send());
  }

  private static JsonObject create(TestHub hub, String key) {
    HttpResponse<Buffer> created = post(hub, key, "/v1/sessions", new JsonObject());
    assertEquals(201, created.statusCode(), created.bodyAsString());
    return created.bodyAsJsonObject();
  }

  private static void assertError(int status, String code, HttpResponse<Buffer> response) {
    assertEquals(status, response.statusCode(), response.bodyAsString());
    assertEquals(
        code,
        response.bodyAsJsonObject().getJsonObject("error").getString("code"),
        response.bodyAsString());
  }

  @Test
  @DisplayName(
      "the owner's delete is 204: SSE viewers get 'deleted' and their stream ends, WebSocket"
          + " members a 'deleted' frame and their membership ends, the answer is cancelled, and"
          + " the session answers 404 everywhere and leaves the list")
  void ownerDeletes(Vertx vertx) {
    TestHub hub = hub(vertx);
    JsonObject session = create(hub, ACME);
    String id = session.getString("id");
    String base = "/v1/sessions/" + id;

    SseClient viewer =
        await(
            SseClient.get(
                SseClient.client(vertx),
                hub.port(),
                base + "/events?author=Vi&access_token=" + session.getString("join_token"),
                Map.of()));
    WsClient member =
        await(
            WsClient.connect(
                vertx, hub.port(), "/v1/ws?access_token=" + session.getString("join_token")));
    member.send(new JsonObject().put("type", "join").put("session", id).put("author", "Wes"));
    await(viewer.events().whenAny(e -> e.event().equals("state")));
    await(member.frames().whenAny(f -> "state".equals(f.getString("type"))));

    HttpResponse<Buffer> posted =
        post(
            hub,
            ACME,
            base + "/messages",
            new JsonObject().put("author", "Ann").put("content", "go"));
    assertEquals(202, posted.statusCode(), posted.bodyAsString());
    post(
        hub,
        ACME,
        base + "/messages",
        new JsonObject().put("author", "Ann").put("content", "next"));
    String generation = posted.bodyAsJsonObject().getString("generation");
    await(viewer.events().whenAny(e -> e.event().equals("delta")), 10, "the answer streams");

    assertEquals(204, delete(hub, session.getString("owner_token"), id).statusCode());

    await(viewer.ended(), 10, "the SSE stream ends");
    List<SseEvent> events = viewer.events().items();
    SseEvent last = events.get(events.size() - 1);
    assertEquals("deleted", last.event(), events.toString());
    assertEquals(new JsonObject().put("session", id), last.json());
    assertTrue(
        viewer.raw().endsWith("\n\nevent: deleted\ndata: {\"session\":\"" + id + "\"}\n\n"),
        "a passing event, with no id to resume from: " + viewer.raw());

    JsonObject frame =
        await(member.frames().whenAny(f -> "deleted".equals(f.getString("type"))), 10, "frame");
    assertEquals(new JsonObject().put("type", "deleted").put("session", id), frame);
    member.send(new JsonObject().put("type", "leave").put("session", id));
    assertEquals(
        "invalid_frame",
        await(member.frames().whenAny(f -> "error".equals(f.getString("type")))).getString("code"),
        "the membership ended with the session");
    assertFalse(member.isClosed(), "the socket itself stays open");

    // The cancel was confirmed before the 204: the answer's generation has ended.
    HttpResponse<Buffer> answer = get(hub, ACME, "/v1/generations/" + generation);
    assertEquals(200, answer.statusCode(), answer.bodyAsString());
    assertEquals("cancelled", answer.bodyAsJsonObject().getString("status"));

    assertError(404, "session_not_found", get(hub, ACME, base));
    assertError(
        404,
        "session_not_found",
        post(
            hub,
            ACME,
            base + "/messages",
            new JsonObject().put("author", "Ann").put("content", "hi")));
    assertError(404, "session_not_found", get(hub, ACME, base + "/events"));
    assertError(404, "session_not_found", delete(hub, ACME, id));
    assertEquals(
        List.of(),
        get(hub, ACME, "/v1/sessions").bodyAsJsonObject().getJsonArray("data").getList());
  }

  @Test
  @DisplayName(
      "a participant's or viewer's token, or a credential without the sessions scope, is 403;"
          + " another tenant's key is 404; the tenant's other key and the admin key may delete")
  void onlyTheOwner(Vertx vertx) {
    TestHub hub = hub(vertx);
    JsonObject session = create(hub, ACME);
    String id = session.getString("id");
    JsonObject other = create(hub, ACME);

    assertError(403, "permission_denied", delete(hub, session.getString("join_token"), id));
    assertError(403, "permission_denied", delete(hub, session.getString("view_token"), id));
    assertError(
        403,
        "permission_denied",
        delete(hub, session.getString("join_token"), "sess_does_not_exist"));
    String watch =
        post(hub, ACME, "/v1/generations", TestHub.mockRequest(3, 1000))
            .bodyAsJsonObject()
            .getString("watch_token");
    assertNotNull(watch);
    assertError(403, "permission_denied", delete(hub, watch, id));
    assertError(404, "session_not_found", delete(hub, GLOBEX, id));
    assertError(404, "session_not_found", delete(hub, GLOBEX, "sess_does_not_exist"));
    // An owner token reaches only its own session.
    assertError(
        404,
        "session_not_found",
        delete(hub, session.getString("owner_token"), other.getString("id")));
    assertEquals(200, get(hub, ACME, "/v1/sessions/" + id).statusCode(), "still there");

    assertEquals(204, delete(hub, ACME_2, id).statusCode());
    assertEquals(204, delete(hub, ADMIN, other.getString("id")).statusCode());
    assertError(404, "session_not_found", get(hub, ADMIN, "/v1/sessions/" + id));
    assertError(404, "session_not_found", get(hub, ADMIN, "/v1/sessions/" + other.getString("id")));
  }
}
