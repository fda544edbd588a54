package io.tokenbus.cluster;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.provider.MockText;
import io.tokenbus.session.SessionStorageTest;
import io.tokenbus.support.Poll;
import io.tokenbus.support.SseClient;
import io.tokenbus.support.SseEvent;
import io.tokenbus.support.TestCluster;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(VertxExtension.class)
@Timeout(value = 120, timeUnit = TimeUnit.SECONDS)
@DisplayName("Chat sessions across cluster nodes")
class ClusterSessionsTest {

  @Test
  @DisplayName(
      "a session created on one node is served by another: posts, the live stream and the transcript agree")
  void servedByEveryNode(Vertx vertx) {
    try (TestCluster cluster = new TestCluster(2)) {
      Map<String, String> env =
          Map.of(
              "TOKENBUS_MOCK_TOKENS_PER_SECOND", "200", "TOKENBUS_MOCK_DEFAULT_MAX_TOKENS", "30");
      int[] ports = {cluster.start(0, env), cluster.start(1, env)};
      WebClient a =
          WebClient.create(
              vertx, new WebClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(ports[0]));
      WebClient b =
          WebClient.create(
              vertx, new WebClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(ports[1]));
      String id =
          await(a.post("/v1/sessions").sendJsonObject(new JsonObject().put("title", "across")))
              .bodyAsJsonObject()
              .getString("id");

      SseClient onB =
          await(
              SseClient.get(
                  SseClient.client(vertx),
                  ports[1],
                  "/v1/sessions/" + id + "/events?author=Bea",
                  Map.of()));
      SseClient onA =
          await(
              SseClient.get(
                  SseClient.client(vertx),
                  ports[0],
                  "/v1/sessions/" + id + "/events?author=Al",
                  Map.of()));
      await(onB.events().whenAny(e -> e.event().equals("state")));
      await(onA.events().whenAny(e -> e.event().equals("state")));
      assertEquals(
          202,
          await(
                  a.post("/v1/sessions/" + id + "/messages")
                      .sendJsonObject(
                          new JsonObject().put("author", "Al").put("content", "hello from A")))
              .statusCode());
      assertEquals(
          202,
          await(
                  b.post("/v1/sessions/" + id + "/messages")
                      .sendJsonObject(
                          new JsonObject().put("author", "Bea").put("content", "hello from B")))
              .statusCode());
      for (SseClient viewer : List.of(onA, onB)) {
        await(
            viewer
                .events()
                .when(events -> events.stream().filter(e -> e.event().equals("done")).count() >= 2),
            30,
            "two answers");
      }
      JsonObject fromB = await(b.get("/v1/sessions/" + id).send()).bodyAsJsonObject();
      JsonObject fromA = await(a.get("/v1/sessions/" + id).send()).bodyAsJsonObject();
      assertEquals(fromA.getJsonArray("messages"), fromB.getJsonArray("messages"));
      assertEquals(
          MockText.text(30), fromB.getJsonArray("messages").getJsonObject(3).getString("content"));
      List<String> seqA =
          onA.events().items().stream()
              .filter(e -> !e.event().equals("state"))
              .map(SseEvent::id)
              .toList();
      List<String> seqB =
          onB.events().items().stream()
              .filter(e -> !e.event().equals("state"))
              .map(SseEvent::id)
              .toList();
      assertEquals(
          seqA.get(seqA.size() - 1),
          seqB.get(seqB.size() - 1),
          "both nodes' viewers reach the same last seq");
      String textA = deltas(onA.events().items());
      assertEquals(textA, deltas(onB.events().items()));
      assertEquals(MockText.text(30) + MockText.text(30), textA);
    }
  }

  @Test
  @DisplayName(
      "when the node running an answer leaves, the node that takes the generation over finishes the session's answer")
  void answerSurvivesItsNode(Vertx vertx) {
    try (TestCluster cluster = new TestCluster(2)) {
      Map<String, String> env =
          Map.of(
              "TOKENBUS_MOCK_TOKENS_PER_SECOND", "40", "TOKENBUS_MOCK_DEFAULT_MAX_TOKENS", "120");
      int[] ports = {cluster.start(0, env), cluster.start(1, env)};
      WebClient a =
          WebClient.create(
              vertx, new WebClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(ports[0]));
      String id =
          await(a.post("/v1/sessions").sendJsonObject(new JsonObject()))
              .bodyAsJsonObject()
              .getString("id");
      String generation =
          await(
                  a.post("/v1/sessions/" + id + "/messages")
                      .sendJsonObject(
                          new JsonObject()
                              .put("author", "Al")
                              .put("content", "a long answer please")))
              .bodyAsJsonObject()
              .getString("generation");
      // The answer's id is chosen before its generation starts: wait until it has an owner.
      String owner =
          await(
                  Poll.until(
                      vertx,
                      () -> a.get("/v1/generations/" + generation).send(),
                      r -> r.statusCode() == 200 && r.bodyAsJsonObject().getString("owner") != null,
                      10_000))
              .bodyAsJsonObject()
              .getString("owner");
      int ownerIndex =
          await(a.get("/health").send()).bodyAsJsonObject().getString("node").equals(owner) ? 0 : 1;
      int survivor = ports[1 - ownerIndex];
      SseClient viewer =
          await(
              SseClient.get(
                  SseClient.client(vertx),
                  survivor,
                  "/v1/sessions/" + id + "/events?author=Bea",
                  Map.of()));
      await(
          viewer
              .events()
              .when(events -> events.stream().filter(e -> e.event().equals("delta")).count() >= 10),
          20);

      cluster.stop(ownerIndex);

      await(
          viewer.events().whenAny(e -> e.event().equals("done")),
          40,
          "the answer's end on the survivor");
      WebClient b =
          WebClient.create(
              vertx, new WebClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(survivor));
      JsonObject answer =
          await(b.get("/v1/sessions/" + id).send())
              .bodyAsJsonObject()
              .getJsonArray("messages")
              .getJsonObject(1);
      assertEquals("completed", answer.getString("status"));
      assertEquals(
          MockText.text(120), answer.getString("content"), "every token once, across the takeover");
      List<SseEvent> events = viewer.events().items();
      StringBuilder streamed = new StringBuilder();
      events.stream()
          .filter(e -> e.event().equals("state"))
          .findFirst()
          .ifPresent(
              e ->
                  streamed.append(
                      e.json()
                          .getJsonObject("session")
                          .getJsonArray("messages")
                          .getJsonObject(1)
                          .getString("content")));
      events.stream()
          .filter(e -> e.event().equals("delta"))
          .forEach(e -> streamed.append(e.json().getString("text")));
      assertEquals(
          MockText.text(120), streamed.toString(), "the viewer's stream has no gap or repeat");
    }
  }

  private static String deltas(List<SseEvent> events) {
    StringBuilder text = new StringBuilder();
    events.stream()
        .filter(e -> e.event().equals("delta"))
        .forEach(e -> text.append(e.json().getString("text")));
    return text.toString();
  }

  @Test
  @DisplayName(
      "sessions.max-bytes bounds the whole cluster's sessions: filled through one node, the"
          + " other refuses new sessions and questions too, and still serves every session")
  void storageBoundedAcrossTheCluster(Vertx vertx) {
    try (TestCluster cluster = new TestCluster(2)) {
      Map<String, String> env =
          Map.of(
              "TOKENBUS_SESSIONS_MAX_BYTES",
              "1048576",
              "TOKENBUS_SESSIONS_MAX_MESSAGE_CHARS",
              "8000",
              "TOKENBUS_SESSIONS_MAX_TRANSCRIPT_CHARS",
              "10000000",
              "TOKENBUS_MOCK_TOKENS_PER_SECOND",
              "1000",
              "TOKENBUS_MOCK_DEFAULT_MAX_TOKENS",
              "3");
      int[] ports = {cluster.start(0, env), cluster.start(1, env)};
      WebClient a =
          WebClient.create(
              vertx, new WebClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(ports[0]));
      WebClient b =
          WebClient.create(
              vertx, new WebClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(ports[1]));
      List<String> ids =
          SessionStorageTest.fill(
              body -> await(a.post("/v1/sessions").sendJsonObject(body)),
              (id, body) -> await(a.post("/v1/sessions/" + id + "/messages").sendJsonObject(body)));
      // b learns the cluster's figure at its next sum (every 2 s).
      SessionStorageTest.assertStorageFull(
          await(
              Poll.until(
                  vertx,
                  () ->
                      b.post("/v1/sessions")
                          .sendJsonObject(new JsonObject().put("title", "one more")),
                  r -> r.statusCode() != 201,
                  10_000)));
      SessionStorageTest.assertStorageFull(
          await(
              b.post("/v1/sessions/" + ids.get(0) + "/messages")
                  .sendJsonObject(new JsonObject().put("author", "Bea").put("content", "hi"))));
      assertEquals(200, await(b.get("/v1/sessions/" + ids.get(0)).send()).statusCode());
      // What b deletes is counted out of b's figure at once.
      SessionStorageTest.assertRoomAfterDeleting(
          ids,
          id -> await(b.delete("/v1/sessions/" + id).send()),
          body -> await(b.post("/v1/sessions").sendJsonObject(body)));
    }
  }

  @Test
  @DisplayName(
      "sessions created on one node are listed by another, newest first and paged, each with its"
          + " counts, and deleted from it: the first node's viewers are told")
  void listedAndDeletedByEveryNode(Vertx vertx) {
    try (TestCluster cluster = new TestCluster(2)) {
      Map<String, String> env =
          Map.of(
              "TOKENBUS_MOCK_TOKENS_PER_SECOND", "1000", "TOKENBUS_MOCK_DEFAULT_MAX_TOKENS", "3");
      int[] ports = {cluster.start(0, env), cluster.start(1, env)};
      WebClient a =
          WebClient.create(
              vertx, new WebClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(ports[0]));
      WebClient b =
          WebClient.create(
              vertx, new WebClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(ports[1]));
      List<JsonObject> created = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        created.add(
            await(a.post("/v1/sessions").sendJsonObject(new JsonObject().put("title", "s" + i)))
                .bodyAsJsonObject());
      }
      String asked = created.get(0).getString("id");
      assertEquals(
          202,
          await(
                  a.post("/v1/sessions/" + asked + "/messages")
                      .sendJsonObject(new JsonObject().put("author", "Al").put("content", "hi")))
              .statusCode());
      List<String> expected =
          created.stream()
              .sorted(
                  Comparator.comparingLong((JsonObject s) -> s.getLong("created"))
                      .reversed()
                      .thenComparing(s -> s.getString("id"), Comparator.reverseOrder()))
              .map(s -> s.getString("id"))
              .toList();
      JsonObject first = await(b.get("/v1/sessions?limit=3").send()).bodyAsJsonObject();
      assertTrue(first.getBoolean("has_more"), first.encode());
      JsonObject second =
          await(b.get("/v1/sessions?limit=3&after=" + first.getString("last_id")).send())
              .bodyAsJsonObject();
      assertFalse(second.getBoolean("has_more"), second.encode());
      List<JsonObject> items = new ArrayList<>();
      for (JsonObject page : List.of(first, second)) {
        page.getJsonArray("data").forEach(item -> items.add((JsonObject) item));
      }
      assertEquals(expected, items.stream().map(item -> item.getString("id")).toList());
      JsonObject askedItem =
          items.stream().filter(item -> item.getString("id").equals(asked)).findFirst().get();
      assertEquals("s0", askedItem.getString("title"));
      assertEquals(2, askedItem.getInteger("message_count"));
      assertEquals("default", askedItem.getString("tenant"), "auth off: the caller is the admin");

      // Deleted from b while a's viewer follows it: the viewer is told and its stream ends.
      SseClient onA =
          await(
              SseClient.get(
                  SseClient.client(vertx),
                  ports[0],
                  "/v1/sessions/" + asked + "/events?author=Al",
                  Map.of()));
      await(onA.events().whenAny(e -> e.event().equals("state")));
      assertEquals(204, await(b.delete("/v1/sessions/" + asked).send()).statusCode());
      await(onA.ended(), 10, "a's viewer's stream ends");
      assertEquals("deleted", onA.events().items().get(onA.events().size() - 1).event());
      assertEquals(404, await(a.get("/v1/sessions/" + asked).send()).statusCode());
      assertEquals(404, await(b.delete("/v1/sessions/" + asked).send()).statusCode());
      List<String> left = new ArrayList<>();
      await(a.get("/v1/sessions").send())
          .bodyAsJsonObject()
          .getJsonArray("data")
          .forEach(item -> left.add(((JsonObject) item).getString("id")));
      assertEquals(expected.stream().filter(id -> !id.equals(asked)).toList(), left);
    }
  }
}
