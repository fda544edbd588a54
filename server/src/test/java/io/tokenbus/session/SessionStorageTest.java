package io.tokenbus.session;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.support.TestHub;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.junit5.VertxExtension;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;
import java.util.function.Function;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** What all chat sessions may hold together on a node: {@code sessions.max-bytes}. */
@ExtendWith(VertxExtension.class)
@DisplayName("Session storage bound")
public class SessionStorageTest {

  /**
   * Fills a node's (or a cluster's) 1 MiB of session storage through {@code create} and {@code
   * post}: big sessions until one is refused, then big questions until one is refused; checks both
   * refusals. Returns the sessions created.
   */
  public static List<String> fill(
      Function<JsonObject, HttpResponse<Buffer>> create,
      BiFunction<String, JsonObject, HttpResponse<Buffer>> post) {
    List<String> ids = new ArrayList<>();
    HttpResponse<Buffer> refused = null;
    for (int i = 0; i < 300 && refused == null; i++) {
      HttpResponse<Buffer> response =
          create.apply(new JsonObject().put("system", "s".repeat(8000)));
      if (response.statusCode() == 201) {
        ids.add(response.bodyAsJsonObject().getString("id"));
      } else {
        refused = response;
      }
    }
    assertNotNull(refused, "a node holding 1 MiB refuses a new session");
    assertStorageFull(refused);
    assertTrue(ids.size() > 10, "refused only once full: " + ids.size() + " created");
    refused = null;
    for (int i = 0; i < 300 && refused == null; i++) {
      HttpResponse<Buffer> response =
          post.apply(
              ids.get(i % ids.size()),
              new JsonObject().put("author", "Ann").put("content", "q".repeat(8000)));
      if (response.statusCode() != 202) {
        refused = response;
      }
    }
    assertNotNull(refused, "questions are refused once the sessions hold the bound");
    assertStorageFull(refused);
    return ids;
  }

  /**
   * Deleting sessions gives back what they held: after three of the sessions {@link #fill} made are
   * deleted, a big session fits again.
   */
  public static void assertRoomAfterDeleting(
      List<String> ids,
      Function<String, HttpResponse<Buffer>> delete,
      Function<JsonObject, HttpResponse<Buffer>> create) {
    for (String id : ids.subList(0, 3)) {
      assertEquals(204, delete.apply(id).statusCode());
    }
    HttpResponse<Buffer> created = create.apply(new JsonObject().put("system", "s".repeat(8000)));
    assertEquals(201, created.statusCode(), created.bodyAsString());
  }

  public static void assertStorageFull(HttpResponse<Buffer> refused) {
    assertEquals(429, refused.statusCode(), refused.bodyAsString());
    JsonObject error = refused.bodyAsJsonObject().getJsonObject("error");
    assertEquals("session_storage_full", error.getString("code"));
    assertEquals("rate_limit_error", error.getString("type"));
    assertTrue(error.getString("message").contains("sessions.max-bytes"), error.encode());
    assertEquals("60", refused.getHeader("Retry-After"));
  }

  @Test
  @DisplayName(
      "once the sessions hold sessions.max-bytes, new sessions and questions get 429"
          + " session_storage_full with Retry-After; every session can still be read")
  void refusesPastTheBound(Vertx vertx) {
    TestHub hub =
        await(
            TestHub.start(
                vertx,
                "TOKENBUS_SESSIONS_MAX_BYTES",
                "1048576",
                "TOKENBUS_SESSIONS_MAX_MESSAGE_CHARS",
                "8000",
                "TOKENBUS_SESSIONS_MAX_TRANSCRIPT_CHARS",
                "10000000",
                "TOKENBUS_MOCK_TOKENS_PER_SECOND",
                "1000",
                "TOKENBUS_MOCK_DEFAULT_MAX_TOKENS",
                "3"));
    List<String> ids =
        fill(
            body -> await(hub.post("/v1/sessions", body)),
            (id, body) -> await(hub.post("/v1/sessions/" + id + "/messages", body)));
    for (String id : List.of(ids.get(0), ids.get(ids.size() - 1))) {
      assertEquals(200, await(hub.get("/v1/sessions/" + id)).statusCode());
    }
    assertRoomAfterDeleting(
        ids,
        id -> await(hub.web().delete("/v1/sessions/" + id).send()),
        body -> await(hub.post("/v1/sessions", body)));
    assertEquals(
        404,
        await(
                hub.post(
                    "/v1/sessions/sess_missing/messages",
                    new JsonObject().put("author", "Ann").put("content", "hi")))
            .statusCode(),
        "an unknown session is still 404, not 429");
  }
}
