package io.tokenbus.http;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.support.TestHub;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpRequest;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.junit5.VertxExtension;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@code GET /v1/sessions}: the sessions a caller may see, newest first, paged with {@code after};
 * a tenant's own, the admin's all, a session token's one.
 */
@ExtendWith(VertxExtension.class)
@DisplayName("GET /v1/sessions")
class SessionListTest {

  private static final String ACME = "sk-acme-1234567890abcdef";
  private static final String GLOBEX = "sk-globex-1234567890abcdef";
  private static final String ADMIN = "sk-admin-1234567890abcdef";

  private static TestHub hub(Vertx vertx) {
    return await(
        TestHub.start(
            vertx,
            Map.of(
                "TOKENBUS_API_KEYS",
                "acme:" + ACME + ",globex:" + GLOBEX,
                "TOKENBUS_ADMIN_KEY",
                ADMIN,
                // An answer that runs until the test ends: the listing shows it in progress.
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

  private static HttpResponse<Buffer> list(TestHub hub, String key, String query) {
    return await(as(key, hub.web().get("/v1/sessions" + query)).send());
  }

  /** The listing's answer, which must be a 200 list. */
  private static JsonObject page(TestHub hub, String key, String query) {
    HttpResponse<Buffer> response = list(hub, key, query);
    assertEquals(200, response.statusCode(), query + ": " + response.bodyAsString());
    JsonObject page = response.bodyAsJsonObject();
    assertEquals("list", page.getString("object"));
    return page;
  }

  private static List<String> ids(JsonObject page) {
    List<String> ids = new ArrayList<>();
    page.getJsonArray("data").forEach(item -> ids.add(((JsonObject) item).getString("id")));
    return ids;
  }

  private static JsonObject create(TestHub hub, String key, String title) {
    HttpResponse<Buffer> created =
        await(
            as(key, hub.web().post("/v1/sessions"))
                .sendJsonObject(new JsonObject().put("title", title)));
    assertEquals(201, created.statusCode(), created.bodyAsString());
    return created.bodyAsJsonObject();
  }

  private static void assertRefused(int status, String code, String param, HttpResponse<Buffer> r) {
    assertEquals(status, r.statusCode(), r.bodyAsString());
    JsonObject error = r.bodyAsJsonObject().getJsonObject("error");
    assertEquals(code, error.getString("code"), r.bodyAsString());
    assertEquals(param, error.getString("param"), r.bodyAsString());
  }

  @Test
  @DisplayName(
      "newest first (the id breaking ties), paged with limit and after, has_more until the last"
          + " page; items carry title, model, created, last_message_at, message_count, answering")
  void ordersAndPages(Vertx vertx) {
    TestHub hub = hub(vertx);
    List<JsonObject> created = new ArrayList<>();
    for (int i = 0; i < 7; i++) {
      created.add(create(hub, ACME, "chat " + i));
    }
    String asked = created.get(2).getString("id");
    HttpResponse<Buffer> posted =
        await(
            as(ACME, hub.web().post("/v1/sessions/" + asked + "/messages"))
                .sendJsonObject(new JsonObject().put("author", "Ann").put("content", "hi")));
    assertEquals(202, posted.statusCode(), posted.bodyAsString());

    List<String> expected =
        created.stream()
            .sorted(
                Comparator.comparingLong((JsonObject s) -> s.getLong("created"))
                    .reversed()
                    .thenComparing(s -> s.getString("id"), Comparator.reverseOrder()))
            .map(s -> s.getString("id"))
            .toList();
    JsonObject all = page(hub, ACME, "");
    assertEquals(expected, ids(all), "every session, newest first, by default");
    assertFalse(all.getBoolean("has_more"));
    assertEquals(expected.get(0), all.getString("first_id"));
    assertEquals(expected.get(6), all.getString("last_id"));

    List<String> paged = new ArrayList<>();
    String after = null;
    List<Boolean> more = new ArrayList<>();
    do {
      JsonObject page = page(hub, ACME, "?limit=3" + (after == null ? "" : "&after=" + after));
      assertTrue(page.getJsonArray("data").size() <= 3);
      paged.addAll(ids(page));
      more.add(page.getBoolean("has_more"));
      after = page.getString("last_id");
    } while (more.get(more.size() - 1));
    assertEquals(expected, paged, "the pages, one after another, are the whole list");
    assertEquals(List.of(true, true, false), more);
    JsonObject past = page(hub, ACME, "?after=" + expected.get(6));
    assertEquals(List.of(), ids(past));
    assertNull(past.getString("first_id"));
    assertFalse(past.getBoolean("has_more"));

    JsonObject item =
        all.getJsonArray("data").stream()
            .map(JsonObject.class::cast)
            .filter(s -> s.getString("id").equals(asked))
            .findFirst()
            .orElseThrow();
    assertEquals("session", item.getString("object"));
    assertEquals("chat 2", item.getString("title"));
    assertEquals("mock", item.getString("model"));
    assertEquals(created.get(2).getLong("created"), item.getLong("created"));
    assertEquals(2, item.getInteger("message_count"), "the question and its answer");
    assertTrue(item.getBoolean("answering"));
    assertNotNull(item.getLong("last_message_at"));
    assertTrue(item.getLong("last_message_at") >= item.getLong("created"));
    assertFalse(item.containsKey("messages"), "no transcript");
    assertFalse(item.containsKey("tenant"), "a tenant lists only its own");
    JsonObject quiet =
        all.getJsonArray("data").stream()
            .map(JsonObject.class::cast)
            .filter(s -> !s.getString("id").equals(asked))
            .findFirst()
            .orElseThrow();
    assertEquals(0, quiet.getInteger("message_count"));
    assertFalse(quiet.getBoolean("answering"));
    assertTrue(quiet.containsKey("last_message_at"));
    assertNull(quiet.getValue("last_message_at"));
  }

  @Test
  @DisplayName(
      "a tenant lists only its own, the admin every tenant's with the tenant named, a session"
          + " token only its session; no sessions scope is 403, a bad limit or cursor 400")
  void scopes(Vertx vertx) {
    TestHub hub = hub(vertx);
    JsonObject acme = create(hub, ACME, "acme's");
    JsonObject acmeToo = create(hub, ACME, "acme's too");
    JsonObject globex = create(hub, GLOBEX, "globex's");
    String acmeId = acme.getString("id");
    String globexId = globex.getString("id");

    assertEquals(
        List.of(acmeToo.getString("id"), acmeId).stream().sorted().toList(),
        ids(page(hub, ACME, "")).stream().sorted().toList());
    assertEquals(List.of(globexId), ids(page(hub, GLOBEX, "")));
    JsonObject everyone = page(hub, ADMIN, "");
    assertTrue(ids(everyone).containsAll(List.of(acmeId, acmeToo.getString("id"), globexId)));
    everyone.getJsonArray("data").stream()
        .map(JsonObject.class::cast)
        .forEach(
            s ->
                assertEquals(
                    s.getString("id").equals(globexId) ? "globex" : "acme", s.getString("tenant")));

    for (String token :
        List.of(
            acme.getString("owner_token"),
            acme.getString("join_token"),
            acme.getString("view_token"))) {
      assertEquals(List.of(acmeId), ids(page(hub, token, "")));
      assertEquals(List.of(), ids(page(hub, token, "?after=" + acmeId)));
      assertRefused(
          400, "invalid_cursor", "after", list(hub, token, "?after=" + acmeToo.getString("id")));
    }

    // Another tenant's session is no cursor: refused exactly as an unknown id.
    assertRefused(400, "invalid_cursor", "after", list(hub, GLOBEX, "?after=" + acmeId));
    assertRefused(400, "invalid_cursor", "after", list(hub, ACME, "?after=sess_nope"));
    for (String limit : List.of("0", "101", "ten", "-1", "")) {
      assertRefused(400, "invalid_limit", "limit", list(hub, ACME, "?limit=" + limit));
    }
    assertRefused(400, "invalid_parameter", "status", list(hub, ACME, "?status=running"));
    assertEquals(3, page(hub, ADMIN, "?limit=100").getJsonArray("data").size());

    // A watch token (one generation, no sessions scope) may not list sessions.
    HttpResponse<Buffer> generation =
        await(
            as(ACME, hub.web().post("/v1/generations"))
                .sendJsonObject(TestHub.mockRequest(3, 1000)));
    String watch = generation.bodyAsJsonObject().getString("watch_token");
    assertNotNull(watch, generation.bodyAsString());
    assertRefused(403, "permission_denied", null, list(hub, watch, ""));
    assertEquals(401, await(hub.web().get("/v1/sessions").send()).statusCode());
  }
}
