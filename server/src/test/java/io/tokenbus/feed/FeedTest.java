package io.tokenbus.feed;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.support.TestCluster;
import io.tokenbus.support.TestHub;
import io.tokenbus.support.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.junit5.VertxExtension;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The dashboard feeds over a real {@code /v1/ws}: watch, filters, tenants, a cluster. */
@ExtendWith(VertxExtension.class)
@DisplayName("Dashboard feeds on /v1/ws")
class FeedTest {

  private static final String ADMIN = "sk-admin-1234567890abcdef";
  private static final String ACME = "sk-acme-1234567890abcdef";
  private static final String GLOBEX = "sk-globex-1234567890abcdef";

  private static TestHub hub(Vertx vertx) {
    return await(
        TestHub.start(
            vertx,
            "TOKENBUS_API_KEYS",
            "acme:" + ACME + ",globex:" + GLOBEX,
            "TOKENBUS_ADMIN_KEY",
            ADMIN));
  }

  private static WsClient socket(Vertx vertx, int port, String key) {
    return await(WsClient.connect(vertx, port, "/v1/ws?access_token=" + key));
  }

  private static JsonObject watch(String feed) {
    return new JsonObject().put("type", "watch").put("feed", feed);
  }

  private static Future<String> start(Vertx vertx, int port, String key, JsonObject request) {
    return WebClient.create(vertx)
        .post(port, "127.0.0.1", "/v1/generations")
        .putHeader("Authorization", "Bearer " + key)
        .sendJsonObject(request)
        .map(
            (HttpResponse<Buffer> answer) -> {
              assertEquals(201, answer.statusCode(), answer.bodyAsString());
              return answer.bodyAsJsonObject().getString("id");
            });
  }

  /** The node that runs generation {@code id}, as its status says. */
  private static String owner(Vertx vertx, int port, String id) {
    return await(
            WebClient.create(vertx)
                .get(port, "127.0.0.1", "/v1/generations/" + id)
                .putHeader("Authorization", "Bearer " + ADMIN)
                .send())
        .bodyAsJsonObject()
        .getString("owner");
  }

  /** The first frame of {@code type} about generation {@code id} the socket gets. */
  private static Future<JsonObject> frame(WsClient ws, String type, String id) {
    return ws.frames()
        .whenAny(f -> type.equals(f.getString("type")) && id.equals(f.getString("id")));
  }

  /** The first frame of {@code type} the socket gets. */
  private static Future<JsonObject> frame(WsClient ws, String type) {
    return ws.frames().whenAny(f -> type.equals(f.getString("type")));
  }

  private static List<JsonObject> about(WsClient ws, String id) {
    return ws.frames().items().stream().filter(f -> id.equals(f.getString("id"))).toList();
  }

  private static List<String> types(List<JsonObject> frames) {
    return frames.stream().map(f -> f.getString("type")).toList();
  }

  @Test
  @DisplayName(
      "a tenant's watch gets started, progress (at most once a second) and finished for its own"
          + " generations only; the admin key's gets every tenant's")
  void lifecycleAndTenants(Vertx vertx) {
    TestHub hub = hub(vertx);
    WsClient acme = socket(vertx, hub.port(), ACME);
    WsClient admin = socket(vertx, hub.port(), ADMIN);
    acme.send(watch("generations"));
    admin.send(watch("generations"));
    await(frame(acme, "watching"));
    await(frame(admin, "watching"));

    String mine = await(start(vertx, hub.port(), ACME, TestHub.mockRequest(60, 20)));
    String theirs = await(start(vertx, hub.port(), GLOBEX, TestHub.mockRequest(5, 200)));
    await(frame(acme, "generation.finished", mine), 15, "acme's generation finished");
    await(frame(admin, "generation.finished", mine), 15);

    List<JsonObject> frames = about(acme, mine);
    List<String> types = types(frames);
    assertEquals("generation.started", types.get(0), types.toString());
    assertEquals("generation.finished", types.get(types.size() - 1), types.toString());
    long progress = types.stream().filter("generation.progress"::equals).count();
    // About 3 s at 20 tokens/s: a report a second, never one per token.
    assertTrue(progress >= 1 && progress <= 5, "progress frames: " + progress);
    JsonObject started = frames.get(0);
    assertEquals("mock", started.getString("model"));
    assertEquals("acme", started.getString("tenant"));
    assertEquals(hub.node().id(), started.getString("node"));
    assertNotNull(started.getJsonObject("metadata"));
    JsonObject finished = frames.get(frames.size() - 1);
    assertEquals("completed", finished.getString("status"));
    assertEquals(60, finished.getLong("tokens"));
    assertEquals(60, finished.getJsonObject("usage").getLong("completion_tokens"));
    assertNotNull(finished.getLong("time_to_first_token_ms"));
    assertTrue(finished.getLong("duration_ms") >= 2000, finished.encode());

    assertTrue(about(acme, theirs).isEmpty(), "acme never hears of globex's generation");
    assertEquals(
        "generation.finished",
        await(frame(admin, "generation.finished", theirs)).getString("type"),
        "the admin key sees every tenant");
  }

  @Test
  @DisplayName(
      "a newcomer gets the running generations first, then 'watching', then changes; viewers are"
          + " counted")
  void newcomerGetsStateFirst(Vertx vertx) {
    TestHub hub = hub(vertx);
    String id = await(start(vertx, hub.port(), ACME, TestHub.mockRequest(2000, 20)));
    WsClient viewer = socket(vertx, hub.port(), ACME);
    viewer.send(new JsonObject().put("type", "subscribe").put("generation", id));
    WsClient dashboard = socket(vertx, hub.port(), ACME);
    dashboard.send(watch("generations"));
    List<JsonObject> first =
        await(dashboard.frames().when(frames -> frames.size() >= 2), 10, "state");
    assertEquals("generation.started", first.get(0).getString("type"), first.toString());
    assertEquals(id, first.get(0).getString("id"));
    assertEquals("watching", first.get(1).getString("type"));
    assertEquals(1, first.get(1).getInteger("running"));
    JsonObject watched =
        await(
            dashboard
                .frames()
                .whenAny(
                    f ->
                        "generation.progress".equals(f.getString("type"))
                            && f.getInteger("viewers") == 1
                            && f.getLong("tokens") > 0),
            10,
            "a progress frame counting the viewer");
    assertTrue(watched.getDouble("tokens_per_second") > 0, watched.encode());
    assertEquals(
        200,
        await(
                WebClient.create(vertx)
                    .post(hub.port(), "127.0.0.1", "/v1/generations/" + id + "/cancel")
                    .putHeader("Authorization", "Bearer " + ACME)
                    .send())
            .statusCode());
    JsonObject finished = await(frame(dashboard, "generation.finished"), 10);
    assertEquals("cancelled", finished.getString("status"));
  }

  @Test
  @DisplayName(
      "a filter on model passes only that model's generations; bad frames get error frames")
  void filtersAndErrors(Vertx vertx) {
    TestHub hub = hub(vertx);
    WsClient ws = socket(vertx, hub.port(), ACME);
    ws.send(watch("generations").put("filter", new JsonObject().put("model", "gpt-4o")));
    await(frame(ws, "watching"));
    String mock = await(start(vertx, hub.port(), ACME, TestHub.mockRequest(3, 200)));
    WsClient all = socket(vertx, hub.port(), ACME);
    all.send(watch("generations"));
    await(frame(all, "watching"));
    String later = await(start(vertx, hub.port(), ACME, TestHub.mockRequest(3, 200)));
    await(frame(all, "generation.finished", later));
    assertTrue(about(ws, mock).isEmpty() && about(ws, later).isEmpty(), "filtered out");

    ws.send(watch("generations"));
    ws.send(watch("cluster"));
    ws.send(watch("everything"));
    ws.send(watch("generations").put("filter", new JsonObject().put("tenant", "globex")));
    ws.send(new JsonObject().put("type", "unwatch").put("feed", "generations"));
    ws.send(new JsonObject().put("type", "unwatch").put("feed", "generations"));
    List<JsonObject> errors =
        await(
            ws.frames()
                .when(
                    frames ->
                        frames.stream().filter(f -> "error".equals(f.getString("type"))).count()
                            >= 5),
            10,
            "five error frames");
    List<String> codes =
        errors.stream()
            .filter(f -> "error".equals(f.getString("type")))
            .map(f -> f.getString("code"))
            .toList();
    assertEquals(
        List.of(
            "already_watching",
            "permission_denied",
            "invalid_frame",
            "already_watching",
            "not_watching"),
        codes);
    assertTrue(ws.frames().items().stream().anyMatch(f -> "unwatched".equals(f.getString("type"))));
  }

  @Test
  @DisplayName(
      "a filter on metadata passes the generations whose metadata has every key given, with"
          + " their metadata in each frame")
  void metadataFilter(Vertx vertx) {
    TestHub hub = hub(vertx);
    WsClient teamA = socket(vertx, hub.port(), ACME);
    teamA.send(
        watch("generations")
            .put("filter", new JsonObject().put("metadata", new JsonObject().put("team", "a"))));
    WsClient all = socket(vertx, hub.port(), ACME);
    all.send(watch("generations"));
    await(frame(teamA, "watching"));
    await(frame(all, "watching"));
    String b =
        await(
            start(
                vertx,
                hub.port(),
                ACME,
                TestHub.mockRequest(3, 500).put("metadata", new JsonObject().put("team", "b"))));
    String none = await(start(vertx, hub.port(), ACME, TestHub.mockRequest(3, 500)));
    for (String id : List.of(b, none)) {
      await(frame(all, "generation.finished", id), 10);
    }
    // Started after the board dealt with b and none: on teamA's socket, anything of theirs would
    // come before a's frames.
    JsonObject tags = new JsonObject().put("team", "a").put("desk", "7");
    String a =
        await(start(vertx, hub.port(), ACME, TestHub.mockRequest(3, 500).put("metadata", tags)));
    JsonObject finished = await(frame(teamA, "generation.finished", a), 10);
    assertEquals(tags, finished.getJsonObject("metadata"));
    assertEquals(tags, about(teamA, a).get(0).getJsonObject("metadata"));
    assertTrue(about(teamA, b).isEmpty() && about(teamA, none).isEmpty(), "filtered out");
  }

  @Test
  @DisplayName("the cluster feed (admin only) sends a snapshot of the node once a second")
  void clusterFeed(Vertx vertx) {
    TestHub hub = hub(vertx);
    WsClient admin = socket(vertx, hub.port(), ADMIN);
    admin.send(watch("cluster"));
    List<JsonObject> snapshots =
        await(
            admin
                .frames()
                .when(
                    frames ->
                        frames.stream()
                                .filter(f -> "cluster.node".equals(f.getString("type")))
                                .count()
                            >= 2),
            10,
            "two snapshots");
    JsonObject node =
        snapshots.stream()
            .filter(f -> "cluster.node".equals(f.getString("type")))
            .findFirst()
            .orElseThrow();
    assertEquals(hub.node().id(), node.getString("node"));
    assertEquals(1, node.getInteger("members"));
    assertTrue(node.getInteger("connections") >= 1, node.encode());
    assertTrue(node.getLong("heap_used_bytes") > 0 && node.getLong("heap_max_bytes") > 0);
    for (String key :
        List.of("viewers", "generations", "tokens_per_second", "event_loop_delay_ms", "time")) {
      assertTrue(node.containsKey(key), key + " in " + node.encode());
    }
    assertNull(node.getValue("progress"), "no generation's detail in the cluster feed");
  }

  @Test
  @DisplayName(
      "in a two-node cluster, one node's watch sees generations of both nodes, and both nodes")
  void twoNodes(Vertx vertx) {
    try (TestCluster cluster = new TestCluster(2)) {
      String keys = "acme:" + ACME;
      int a = cluster.start(0, Map.of("TOKENBUS_API_KEYS", keys, "TOKENBUS_ADMIN_KEY", ADMIN));
      int b = cluster.start(1, Map.of("TOKENBUS_API_KEYS", keys, "TOKENBUS_ADMIN_KEY", ADMIN));
      WsClient ws = socket(vertx, a, ADMIN);
      ws.send(watch("generations"));
      ws.send(watch("cluster"));
      await(frame(ws, "watching"));
      // Placement spreads generations over both nodes' workers: start some until both run one.
      Map<String, String> owners = new HashMap<>();
      for (int i = 0; i < 12 && new HashSet<>(owners.values()).size() < 2; i++) {
        String id = await(start(vertx, i % 2 == 0 ? a : b, ACME, TestHub.mockRequest(30, 30)));
        owners.put(id, owner(vertx, a, id));
      }
      assertEquals(
          Set.of(cluster.node(0).id(), cluster.node(1).id()),
          new HashSet<>(owners.values()),
          "generations run on both nodes");
      for (Map.Entry<String, String> generation : owners.entrySet()) {
        String id = generation.getKey();
        await(frame(ws, "generation.finished", id), 20, "finished " + id);
        List<JsonObject> frames = about(ws, id);
        assertEquals("generation.started", frames.get(0).getString("type"));
        assertEquals(generation.getValue(), frames.get(0).getString("node"), "its owner");
        assertTrue(
            types(frames).contains("generation.progress"),
            "each node's progress reaches this one: " + types(frames));
      }
      Set<String> nodes =
          await(
                  ws.frames()
                      .when(
                          frames ->
                              frames.stream()
                                      .filter(f -> "cluster.node".equals(f.getString("type")))
                                      .map(f -> f.getString("node"))
                                      .collect(Collectors.toSet())
                                      .size()
                                  == 2),
                  10)
              .stream()
              .filter(f -> "cluster.node".equals(f.getString("type")))
              .map(f -> f.getString("node"))
              .collect(Collectors.toSet());
      assertEquals(Set.of(cluster.node(0).id(), cluster.node(1).id()), nodes);

      cluster.stop(1);
      JsonObject left = await(frame(ws, "cluster.node_left"), 15);
      assertFalse(left.getString("node").equals(cluster.node(0).id()), "the stopped one left");
    }
  }
}
