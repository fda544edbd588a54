package io.tokenbus.cluster;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tokenbus.provider.MockText;
import io.tokenbus.support.SseClient;
import io.tokenbus.support.SseEvent;
import io.tokenbus.support.TestCluster;
import io.tokenbus.support.TestHub;
import io.tokenbus.support.WsClient;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Two clustered nodes in this JVM: whatever runs on one is watchable, replayable and resumable from
 * the other.
 */
@ExtendWith(VertxExtension.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 120, timeUnit = TimeUnit.SECONDS)
@DisplayName("Two clustered nodes")
class ClusterTest {

  private final TestCluster cluster = new TestCluster(3); // the third joins later
  private int portA;
  private int portB;

  @BeforeAll
  void startCluster() {
    portA = cluster.start(0);
    portB = cluster.start(1);
  }

  @AfterAll
  void stopCluster() {
    cluster.close();
  }

  private static WebClient web(Vertx vertx, int port) {
    return WebClient.create(
        vertx, new WebClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(port));
  }

  private static String start(Vertx vertx, int port, JsonObject request) {
    var response = await(web(vertx, port).post("/v1/generations").sendJsonObject(request));
    assertEquals(201, response.statusCode(), response.bodyAsString());
    return response.bodyAsJsonObject().getString("id");
  }

  private static JsonObject get(Vertx vertx, int port, String path) {
    return await(web(vertx, port).get(path).send()).bodyAsJsonObject();
  }

  @Test
  @DisplayName(
      "a generation runs on the node that took the request (its own loop's worker), not wherever round-robin falls")
  void runsWhereRequested(Vertx vertx) {
    String nodeA = get(vertx, portA, "/health").getString("node");
    String nodeB = get(vertx, portB, "/health").getString("node");
    for (int i = 0; i < 6; i++) {
      for (int port : new int[] {portA, portB}) {
        var created =
            await(
                web(vertx, port)
                    .post("/v1/generations")
                    .sendJsonObject(TestHub.mockRequest(2, 1000)));
        assertEquals(201, created.statusCode(), created.bodyAsString());
        assertEquals(
            port == portA ? nodeA : nodeB,
            created.bodyAsJsonObject().getString("owner"),
            "request " + i + " on " + port);
      }
    }
  }

  @Test
  @DisplayName(
      "a generation started on A streams to viewers on A and B, replays and resumes on B, with one text")
  void watchReplayResumeAcrossNodes(Vertx vertx) {
    HttpClientAgent client = SseClient.client(vertx);
    String id = start(vertx, portA, TestHub.mockRequest(120, 150));
    String path = "/v1/generations/" + id + "/events";
    SseClient onA = await(SseClient.get(client, portA, path, Map.of()));
    SseClient onB = await(SseClient.get(client, portB, path, Map.of()));
    WsClient wsB = await(WsClient.connect(vertx, portB));
    await(wsB.send(new JsonObject().put("type", "subscribe").put("generation", id)));
    SseClient dropping = await(SseClient.get(client, portB, path, Map.of()));
    List<SseEvent> kept = new ArrayList<>(await(dropping.events().whenCount(30)).subList(0, 30));
    dropping.close();
    SseClient resumed = await(SseClient.get(client, portB, path, Map.of("Last-Event-ID", "30")));

    String expected = MockText.text(120);
    for (SseClient viewer : List.of(onA, onB, resumed)) {
      await(viewer.ended());
    }
    assertEquals(121, onA.events().size());
    assertEquals(onA.events().items(), onB.events().items());
    assertEquals(expected, SseEvent.text(onB.events().items()));
    kept.addAll(resumed.events().items());
    assertEquals(onA.events().items(), kept);
    List<JsonObject> frames =
        await(wsB.frames().when(f -> f.stream().anyMatch(x -> x.getString("type").equals("done"))));
    StringBuilder wsText = new StringBuilder();
    frames.stream()
        .filter(f -> f.getString("type").equals("delta"))
        .forEach(f -> wsText.append(f.getString("text")));
    assertEquals(expected, wsText.toString());

    SseClient lateOnB = await(SseClient.get(client, portB, path, Map.of()));
    await(lateOnB.ended());
    assertEquals(onA.events().items(), lateOnB.events().items());
    JsonObject status = get(vertx, portB, "/v1/generations/" + id);
    assertEquals("completed", status.getString("status"));
    assertEquals(expected, status.getString("text"));
  }

  @Test
  @DisplayName("a node that joins after a generation ended serves its full replay")
  void lateNodeReplays(Vertx vertx) {
    HttpClientAgent client = SseClient.client(vertx);
    String id = start(vertx, portA, TestHub.mockRequest(40, 2000));
    SseClient onA =
        await(SseClient.get(client, portA, "/v1/generations/" + id + "/events", Map.of()));
    await(onA.ended());
    int portC = cluster.start(2);
    SseClient onC =
        await(SseClient.get(client, portC, "/v1/generations/" + id + "/events", Map.of()));
    await(onC.ended());
    assertEquals(onA.events().items(), onC.events().items());
    assertEquals(MockText.text(40), SseEvent.text(onC.events().items()));
  }

  @Test
  @DisplayName(
      "a generation on one node is cancelled from the other, and its viewers on both get cancelled")
  void cancelAcrossNodes(Vertx vertx) {
    HttpClientAgent client = SseClient.client(vertx);
    String id = start(vertx, portA, TestHub.mockRequest(10_000, 50));
    String path = "/v1/generations/" + id + "/events";
    SseClient onA = await(SseClient.get(client, portA, path, Map.of()));
    SseClient onB = await(SseClient.get(client, portB, path, Map.of()));
    await(onB.events().whenCount(3));
    var cancelled = await(web(vertx, portB).post("/v1/generations/" + id + "/cancel").send());
    assertEquals(200, cancelled.statusCode(), cancelled.bodyAsString());
    await(onA.ended());
    await(onB.ended());
    assertEquals("cancelled", onA.events().items().get(onA.events().size() - 1).event());
    assertEquals(onA.events().items(), onB.events().items());
  }

  @Test
  @DisplayName(
      "GET /v1/generations on either node lists what runs or ran on both, filtered and paged alike")
  void listsAcrossNodes(Vertx vertx) {
    String nodeA = get(vertx, portA, "/health").getString("node");
    String nodeB = get(vertx, portB, "/health").getString("node");
    JsonObject tag = new JsonObject().put("run", UUID.randomUUID().toString());
    Map<String, String> nodeOf = new HashMap<>();
    for (int port : new int[] {portA, portB}) {
      String node = port == portA ? nodeA : nodeB;
      nodeOf.put(start(vertx, port, TestHub.mockRequest(1200, 20).put("metadata", tag)), node);
      var chat =
          await(
              web(vertx, port)
                  .post("/v1/chat/completions")
                  .sendJsonObject(TestHub.mockRequest(3, 1000).put("metadata", tag)));
      assertEquals(200, chat.statusCode(), chat.bodyAsString());
      nodeOf.put(chat.getHeader("X-Generation-Id"), node);
    }
    String ofRun = "/v1/generations?metadata.run=" + tag.getString("run");

    JsonObject fromA = get(vertx, portA, ofRun);
    JsonObject fromB = get(vertx, portB, ofRun);
    assertEquals(fromA, fromB);
    List<String> listed = new ArrayList<>();
    for (Object item : fromA.getJsonArray("data")) {
      JsonObject g = (JsonObject) item;
      listed.add(g.getString("id"));
      assertEquals(nodeOf.get(g.getString("id")), g.getString("node"), g.encode());
      assertEquals(tag, g.getJsonObject("metadata"));
    }
    assertEquals(nodeOf.keySet().stream().sorted().toList(), listed.stream().sorted().toList());
    assertEquals(2, get(vertx, portB, ofRun + "&status=running").getJsonArray("data").size());
    assertEquals(2, get(vertx, portA, ofRun + "&status=completed").getJsonArray("data").size());

    // One page at a time, alternating nodes: the cursor is the same on both.
    List<String> walked = new ArrayList<>();
    String after = null;
    for (int i = 0; i < 4; i++) {
      JsonObject page =
          get(
              vertx,
              i % 2 == 0 ? portA : portB,
              ofRun + "&limit=1" + (after == null ? "" : "&after=" + after));
      assertEquals(i < 3, page.getBoolean("has_more"));
      after = page.getString("last_id");
      walked.add(after);
    }
    assertEquals(listed, walked);
  }
}
