package io.tokenbus.http;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.support.TestHub;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpRequest;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.junit5.VertxExtension;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@code GET /v1/generations}: the generations a caller may see, newest first, filtered by status,
 * model and metadata, paged with {@code after}; a tenant's own, the admin's all.
 */
@ExtendWith(VertxExtension.class)
@DisplayName("GET /v1/generations")
class GenerationListTest {

  private static final String ACME = "sk-acme-1234567890abcdef";
  private static final String GLOBEX = "sk-globex-1234567890abcdef";
  private static final String ADMIN = "sk-admin-1234567890abcdef";

  /** No idle cancel: generations nobody watches keep the status a test gave them. */
  private static final String IDLE_CANCEL = "TOKENBUS_GENERATION_IDLE_CANCEL_SECONDS";

  private static HttpRequest<Buffer> as(String key, HttpRequest<Buffer> request) {
    return key == null ? request : request.putHeader("Authorization", "Bearer " + key);
  }

  private static HttpResponse<Buffer> list(TestHub hub, String key, String query) {
    return await(as(key, hub.web().get("/v1/generations" + query)).send());
  }

  /** The listing's answer, which must be a 200 list. */
  static JsonObject page(TestHub hub, String key, String query) {
    HttpResponse<Buffer> response = list(hub, key, query);
    assertEquals(200, response.statusCode(), query + ": " + response.bodyAsString());
    JsonObject page = response.bodyAsJsonObject();
    assertEquals("list", page.getString("object"));
    return page;
  }

  static List<String> ids(JsonObject page) {
    List<String> ids = new ArrayList<>();
    page.getJsonArray("data").forEach(item -> ids.add(((JsonObject) item).getString("id")));
    return ids;
  }

  private static String start(TestHub hub, String key, JsonObject request) {
    HttpResponse<Buffer> created =
        await(as(key, hub.web().post("/v1/generations")).sendJsonObject(request));
    assertEquals(201, created.statusCode(), created.bodyAsString());
    return created.bodyAsJsonObject().getString("id");
  }

  /** A generation that runs for a minute (until cancelled), tagged with {@code metadata}. */
  private static JsonObject slow(String model, JsonObject metadata) {
    return TestHub.mockRequest(1200, 20).put("model", model).put("metadata", metadata);
  }

  private static String encode(String text) {
    return URLEncoder.encode(text, StandardCharsets.UTF_8);
  }

  @Test
  @DisplayName(
      "filters by status, model and every metadata.<key> given; items carry id, model, status,"
          + " created, tenant, node and metadata")
  void filters(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx, IDLE_CANCEL, "0"));
    String run = UUID.randomUUID().toString();
    JsonObject teamA = new JsonObject().put("run", run).put("team", "a");
    JsonObject teamB = new JsonObject().put("run", run).put("team", "b");
    String runningA = start(hub, null, slow("mock", teamA.copy().put("desk", "eu")));
    String runningB = start(hub, null, slow("mock-b", teamB));
    String cancelledA = start(hub, null, slow("mock", teamA));
    assertEquals(
        200,
        await(hub.post("/v1/generations/" + cancelledA + "/cancel", new JsonObject()))
            .statusCode());
    HttpResponse<Buffer> chat =
        await(
            hub.post("/v1/chat/completions", TestHub.mockRequest(3, 1000).put("metadata", teamB)));
    assertEquals(200, chat.statusCode(), chat.bodyAsString());
    String completedB = chat.getHeader("X-Generation-Id");
    String untagged = start(hub, null, slow("mock", new JsonObject()));
    String node = await(hub.get("/health")).bodyAsJsonObject().getString("node");

    String ofRun = "?metadata.run=" + run;
    assertEquals(
        List.of(runningA, runningB, cancelledA, completedB).stream().sorted().toList(),
        ids(page(hub, null, ofRun)).stream().sorted().toList());
    assertTrue(ids(page(hub, null, "")).containsAll(List.of(runningA, untagged, completedB)));
    assertEquals(
        List.of(runningA, runningB).stream().sorted().toList(),
        ids(page(hub, null, ofRun + "&status=running")).stream().sorted().toList());
    assertEquals(List.of(completedB), ids(page(hub, null, ofRun + "&status=completed")));
    assertEquals(List.of(cancelledA), ids(page(hub, null, ofRun + "&status=cancelled")));
    assertEquals(List.of(), ids(page(hub, null, ofRun + "&status=failed")));
    assertEquals(List.of(runningB), ids(page(hub, null, ofRun + "&model=mock-b")));
    assertEquals(
        List.of(runningA, cancelledA).stream().sorted().toList(),
        ids(page(hub, null, ofRun + "&metadata.team=a")).stream().sorted().toList());
    assertEquals(
        List.of(runningA), ids(page(hub, null, ofRun + "&metadata.team=a&metadata.desk=eu")));
    assertEquals(List.of(), ids(page(hub, null, ofRun + "&metadata.team=a&metadata.desk=us")));
    assertEquals(List.of(), ids(page(hub, null, ofRun + "&metadata.team=A")));
    assertEquals(List.of(), ids(page(hub, null, ofRun + "&metadata.nobody=a")));

    JsonObject item =
        page(hub, null, ofRun + "&status=running&model=mock").getJsonArray("data").getJsonObject(0);
    assertEquals(runningA, item.getString("id"));
    assertEquals("generation", item.getString("object"));
    assertEquals("mock", item.getString("model"));
    assertEquals("running", item.getString("status"));
    assertEquals("default", item.getString("tenant"));
    assertEquals(node, item.getString("node"));
    assertEquals(node, item.getString("owner"));
    assertTrue(item.getLong("created") > 1_700_000_000L);
    assertEquals(teamA.copy().put("desk", "eu"), item.getJsonObject("metadata"));
    assertEquals("/v1/generations/" + runningA, item.getJsonObject("urls").getString("self"));
    assertFalse(item.containsKey("text"), "no text in a listing");
    JsonObject status = await(hub.get("/v1/generations/" + runningA)).bodyAsJsonObject();
    for (String field :
        List.of("id", "object", "model", "tenant", "created", "metadata", "status")) {
      assertEquals(status.getValue(field), item.getValue(field), field);
    }
    JsonObject none = page(hub, null, "?model=mock-nobody");
    assertEquals(List.of(), ids(none));
    assertNull(none.getString("first_id"));
    assertNull(none.getString("last_id"));
    assertFalse(none.getBoolean("has_more"));
  }

  @Test
  @DisplayName(
      "newest first (id breaking ties), limit per page (20 by default), and after= the last id"
          + " gives the next page until has_more is false")
  void pages(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx, IDLE_CANCEL, "0"));
    String run = UUID.randomUUID().toString();
    List<JsonObject> started = new ArrayList<>();
    for (int i = 0; i < 23; i++) {
      String id = start(hub, null, slow("mock", new JsonObject().put("run", run)));
      started.add(await(hub.get("/v1/generations/" + id)).bodyAsJsonObject());
    }
    List<String> newestFirst =
        started.stream()
            .sorted(
                Comparator.comparingLong((JsonObject g) -> g.getLong("created"))
                    .reversed()
                    .thenComparing(g -> g.getString("id"), Comparator.reverseOrder()))
            .map(g -> g.getString("id"))
            .toList();

    JsonObject first = page(hub, null, "?metadata.run=" + run);
    assertEquals(newestFirst.subList(0, 20), ids(first));
    assertTrue(first.getBoolean("has_more"));
    assertEquals(newestFirst.get(0), first.getString("first_id"));
    assertEquals(newestFirst.get(19), first.getString("last_id"));

    List<String> walked = new ArrayList<>();
    String after = null;
    boolean more = true;
    int pages = 0;
    while (more) {
      JsonObject page =
          page(
              hub, null, "?limit=5&metadata.run=" + run + (after == null ? "" : "&after=" + after));
      walked.addAll(ids(page));
      after = page.getString("last_id");
      more = page.getBoolean("has_more");
      pages++;
    }
    assertEquals(5, pages);
    assertEquals(newestFirst, walked);
    JsonObject last =
        page(hub, null, "?limit=3&metadata.run=" + run + "&after=" + newestFirst.get(20));
    assertEquals(newestFirst.subList(21, 23), ids(last));
    assertFalse(last.getBoolean("has_more"));
    JsonObject empty = page(hub, null, "?metadata.run=" + run + "&after=" + newestFirst.get(22));
    assertEquals(List.of(), ids(empty));
    assertFalse(empty.getBoolean("has_more"));
    assertEquals(newestFirst, ids(page(hub, null, "?limit=100&metadata.run=" + run)));
  }

  @Test
  @DisplayName("anything malformed or unknown in the query is a 400 naming the parameter")
  void badQueries(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx));
    Map<String, String> bad =
        Map.ofEntries(
            Map.entry("?status=done", "status"),
            Map.entry("?status=RUNNING", "status"),
            Map.entry("?status=", "status"),
            Map.entry("?status=running&status=failed", "status"),
            Map.entry("?limit=0", "limit"),
            Map.entry("?limit=101", "limit"),
            Map.entry("?limit=-1", "limit"),
            Map.entry("?limit=ten", "limit"),
            Map.entry("?limit=2.5", "limit"),
            Map.entry("?limit=", "limit"),
            Map.entry("?model=", "model"),
            Map.entry("?after=", "after"),
            Map.entry("?after=chatcmpl-unknown", "after"),
            Map.entry("?order=asc", "order"),
            Map.entry("?metadata=team", "metadata"),
            Map.entry("?metadata.=a", "metadata."),
            Map.entry("?metadata." + "k".repeat(65) + "=a", "metadata." + "k".repeat(65)),
            Map.entry("?metadata.team=" + "v".repeat(513), "metadata.team"));
    bad.forEach(
        (query, param) -> {
          HttpResponse<Buffer> response = list(hub, null, query);
          assertEquals(400, response.statusCode(), query + ": " + response.bodyAsString());
          JsonObject error = response.bodyAsJsonObject().getJsonObject("error");
          assertEquals("invalid_request_error", error.getString("type"), query);
          assertEquals(param, error.getString("param"), query);
          assertTrue(error.getString("code").startsWith("invalid_"), query);
          assertFalse(response.bodyAsString().contains("Exception"), response.bodyAsString());
        });
    StringBuilder seventeen = new StringBuilder("?");
    for (int i = 0; i < 17; i++) {
      seventeen.append("metadata.k").append(i).append("=v&");
    }
    assertEquals(400, list(hub, null, seventeen.toString()).statusCode());
    assertEquals(200, list(hub, null, "?metadata.team=" + encode("a b&c=d")).statusCode());
  }

  @Test
  @DisplayName(
      "a tenant lists only its own generations (another's id is no cursor); the admin key lists"
          + " every tenant's; a watch token may not list")
  void tenants(Vertx vertx) {
    TestHub hub =
        await(
            TestHub.start(
                vertx,
                Map.of(
                    "TOKENBUS_API_KEYS",
                    "acme:" + ACME + ",globex:" + GLOBEX,
                    "TOKENBUS_ADMIN_KEY",
                    ADMIN,
                    IDLE_CANCEL,
                    "0")));
    String run = UUID.randomUUID().toString();
    JsonObject tag = new JsonObject().put("run", run);
    String acme1 = start(hub, ACME, slow("mock", tag));
    String acme2 = start(hub, ACME, slow("mock", tag));
    String globex = start(hub, GLOBEX, slow("mock", tag));
    String ofRun = "?metadata.run=" + run;

    assertEquals(
        List.of(acme1, acme2).stream().sorted().toList(),
        ids(page(hub, ACME, ofRun)).stream().sorted().toList());
    assertEquals(List.of(globex), ids(page(hub, GLOBEX, ofRun)));
    assertEquals(List.of(globex), ids(page(hub, GLOBEX, "")));
    JsonObject all = page(hub, ADMIN, ofRun);
    assertEquals(
        List.of(acme1, acme2, globex).stream().sorted().toList(),
        ids(all).stream().sorted().toList());
    all.getJsonArray("data")
        .forEach(
            item -> {
              JsonObject g = (JsonObject) item;
              assertEquals(
                  g.getString("id").equals(globex) ? "globex" : "acme", g.getString("tenant"));
            });

    // Another tenant's id is refused as an unknown one is: nothing confirms that it exists.
    JsonObject foreign = list(hub, GLOBEX, "?after=" + acme1).bodyAsJsonObject();
    JsonObject unknown = list(hub, GLOBEX, "?after=chatcmpl-unknown").bodyAsJsonObject();
    assertEquals("after", foreign.getJsonObject("error").getString("param"));
    foreign
        .getJsonObject("error")
        .put(
            "message",
            foreign.getJsonObject("error").getString("message").replace(acme1, "chatcmpl-unknown"));
    assertEquals(unknown, foreign);

    assertEquals(401, list(hub, null, "").statusCode());
    String watchToken =
        await(as(ACME, hub.web().post("/v1/generations")).sendJsonObject(slow("mock", tag)))
            .bodyAsJsonObject()
            .getString("watch_token");
    HttpResponse<Buffer> watching = list(hub, watchToken, "");
    assertEquals(403, watching.statusCode(), watching.bodyAsString());
    assertEquals(
        "permission_denied", watching.bodyAsJsonObject().getJsonObject("error").getString("code"));
  }
}
