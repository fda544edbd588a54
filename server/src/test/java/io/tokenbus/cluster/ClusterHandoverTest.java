package io.tokenbus.cluster;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.support.FakeOpenAi;
import io.tokenbus.support.SseClient;
import io.tokenbus.support.SseEvent;
import io.tokenbus.support.TestCluster;
import io.tokenbus.support.UpstreamScript;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(VertxExtension.class)
@Timeout(value = 120, timeUnit = TimeUnit.SECONDS)
@DisplayName("Handover of an OpenAI-compatible generation")
class ClusterHandoverTest {

  @Test
  @DisplayName(
      "with recovery strategy fail, when its owner stops it ends on the survivor with the partial text kept and an error naming the cause")
  void endsCleanlyWithoutRecovery(Vertx vertx) {
    FakeOpenAi upstream = await(FakeOpenAi.start(vertx));
    upstream.respond(FakeOpenAi.Stream.of(Collections.nCopies(10_000, "word "), 20));
    try (TestCluster cluster = new TestCluster(2)) {
      Map<String, String> env =
          Map.of(
              "OPENAI_BASE_URL",
              upstream.baseUrl(),
              "TOKENBUS_PROVIDERS_OPENAI_RECOVERY_STRATEGY",
              "fail");
      int[] ports = {cluster.start(0, env), cluster.start(1, env)};
      WebClient a =
          WebClient.create(
              vertx, new WebClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(ports[0]));
      JsonObject request =
          new JsonObject()
              .put("model", "gpt-fake")
              .put(
                  "messages",
                  new JsonArray().add(new JsonObject().put("role", "user").put("content", "go")));
      JsonObject created =
          await(a.post("/v1/generations").sendJsonObject(request)).bodyAsJsonObject();
      String owner = created.getString("owner");
      int ownerIndex =
          await(a.get("/health").send()).bodyAsJsonObject().getString("node").equals(owner) ? 0 : 1;
      int survivorPort = ports[1 - ownerIndex];
      SseClient viewer =
          await(
              SseClient.get(
                  SseClient.client(vertx),
                  survivorPort,
                  "/v1/generations/" + created.getString("id") + "/events",
                  Map.of()));
      await(viewer.events().whenCount(5));

      cluster.stop(ownerIndex);

      await(viewer.ended(), 30);
      List<SseEvent> events = viewer.events().items();
      SseEvent last = events.get(events.size() - 1);
      assertEquals("error", last.event());
      assertTrue(last.json().getString("message").contains("left the cluster"), last.data());
      for (int i = 0; i < events.size(); i++) {
        assertEquals(i + 1, events.get(i).seq());
      }
      WebClient survivor =
          WebClient.create(
              vertx,
              new WebClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(survivorPort));
      JsonObject status =
          await(survivor.get("/v1/generations/" + created.getString("id")).send())
              .bodyAsJsonObject();
      assertEquals("failed", status.getString("status"));
      assertEquals(SseEvent.text(events), status.getString("text"));
      assertTrue(
          status.getString("text").startsWith("word word word word word "),
          status.getString("text"));
    }
  }

  @Test
  @DisplayName(
      "with recovery strategy continue (the default), the survivor asks the upstream to continue: viewers see one seamless answer")
  void survivorContinuesTheAnswer(Vertx vertx) {
    FakeOpenAi upstream = await(FakeOpenAi.start(vertx));
    List<String> tokens = IntStream.range(0, 300).mapToObj(i -> " w" + i).toList();
    upstream.respond(UpstreamScript.Answer.of(tokens).interval(15));
    try (TestCluster cluster = new TestCluster(2)) {
      Map<String, String> env = Map.of("OPENAI_BASE_URL", upstream.baseUrl());
      int[] ports = {cluster.start(0, env), cluster.start(1, env)};
      WebClient a =
          WebClient.create(
              vertx, new WebClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(ports[0]));
      JsonObject request =
          new JsonObject()
              .put("model", "gpt-fake")
              .put(
                  "messages",
                  new JsonArray()
                      .add(new JsonObject().put("role", "user").put("content", "count")));
      JsonObject created =
          await(a.post("/v1/generations").sendJsonObject(request)).bodyAsJsonObject();
      int ownerIndex =
          await(a.get("/health").send())
                  .bodyAsJsonObject()
                  .getString("node")
                  .equals(created.getString("owner"))
              ? 0
              : 1;
      int survivorPort = ports[1 - ownerIndex];
      SseClient viewer =
          await(
              SseClient.get(
                  SseClient.client(vertx),
                  survivorPort,
                  "/v1/generations/" + created.getString("id") + "/events",
                  Map.of()));
      await(viewer.events().whenCount(20));

      cluster.stop(ownerIndex);

      await(viewer.ended(), 30);
      List<SseEvent> events = viewer.events().items();
      for (int i = 0; i < events.size(); i++) {
        assertEquals(i + 1, events.get(i).seq());
      }
      assertEquals("done", events.get(events.size() - 1).event());
      assertEquals(
          String.join("", tokens), SseEvent.text(events), "no token lost or repeated at the seam");
      assertEquals(2, upstream.requests().size());
      String partial = upstream.requests().items().get(1).continuedFrom();
      assertTrue(partial.length() > 20 && String.join("", tokens).startsWith(partial), partial);
      assertEquals(1, events.stream().filter(e -> e.event().equals("recovery")).count());
    }
  }
}
