package io.tokenbus.http;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.bus.Creator;
import io.tokenbus.bus.GenerationEvent;
import io.tokenbus.bus.GenerationRequest;
import io.tokenbus.generation.GenerationInfo;
import io.tokenbus.generation.InMemoryGenerationStore;
import io.tokenbus.provider.MockText;
import io.tokenbus.support.Poll;
import io.tokenbus.support.TestHub;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.junit5.VertxExtension;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * What a finished generation may hold on a node: bounded by count, by bytes, and without prompt.
 */
@ExtendWith(VertxExtension.class)
@DisplayName("Retention bounds")
class RetentionTest {

  private static final String ACME = "sk-acme-1234567890abcdef";
  private static final String GLOBEX = "sk-globex-1234567890abcdef";

  /** Runs a generation to its end as acme, non-streaming; returns its id. */
  private static String finished(TestHub hub, int tokens) {
    HttpResponse<Buffer> done =
        await(
            hub.web()
                .post("/v1/chat/completions")
                .putHeader("Authorization", "Bearer " + ACME)
                .sendJsonObject(TestHub.mockRequest(tokens, 1_000_000)));
    assertEquals(200, done.statusCode(), done.bodyAsString());
    return done.getHeader("X-Generation-Id");
  }

  private static String code(TestHub hub, String key, String id) {
    HttpResponse<Buffer> response =
        await(
            hub.web()
                .get("/v1/generations/" + id)
                .putHeader("Authorization", "Bearer " + key)
                .send());
    return response.statusCode() == 200
        ? "ok"
        : response.bodyAsJsonObject().getJsonObject("error").getString("code");
  }

  @Test
  @DisplayName(
      "past generation.max-retained the oldest finished generations are evicted and answer 404"
          + " generation_expired to their tenant, generation_not_found to any other")
  void byCount(Vertx vertx) {
    TestHub hub =
        await(
            TestHub.start(
                vertx,
                Map.of(
                    "TOKENBUS_API_KEYS",
                    "acme:" + ACME + ",globex:" + GLOBEX,
                    "TOKENBUS_GENERATION_MAX_RETAINED",
                    "3")));
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      ids.add(finished(hub, 3));
    }
    assertEquals("generation_expired", code(hub, ACME, ids.get(0)));
    assertEquals("generation_expired", code(hub, ACME, ids.get(1)));
    assertEquals("generation_not_found", code(hub, GLOBEX, ids.get(0)));
    for (String kept : ids.subList(2, 5)) {
      assertEquals("ok", code(hub, ACME, kept));
    }
    assertEquals("generation_not_found", code(hub, ACME, "chatcmpl-never-was"));
  }

  @Test
  @DisplayName("past generation.max-retained-bytes the oldest finished generation is evicted")
  void byBytes(Vertx vertx) {
    TestHub hub =
        await(
            TestHub.start(
                vertx,
                Map.of(
                    "TOKENBUS_API_KEYS",
                    "acme:" + ACME,
                    "TOKENBUS_GENERATION_MAX_RETAINED_BYTES",
                    "1048576")));
    // Answers of about 0.6 MiB each as the store counts them (an event per token: about 96 bytes,
    // plus two a character): one fits in 1 MiB, two do not.
    double charsPerToken = MockText.text(1000).length() / 1000.0;
    int tokens = (int) (0.6 * 1024 * 1024 / (96 + 2 * charsPerToken));
    String first = finished(hub, tokens);
    assertEquals("ok", code(hub, ACME, first));
    String second = finished(hub, tokens);
    assertEquals("generation_expired", code(hub, ACME, first));
    assertEquals("ok", code(hub, ACME, second));
  }

  @Test
  @DisplayName("a finished generation keeps no prompt, only what its status needs")
  void noPromptOnceFinished(Vertx vertx) {
    InMemoryGenerationStore store = new InMemoryGenerationStore(vertx, 60_000);
    JsonObject body =
        new JsonObject()
            .put("model", "mock")
            .put(
                "messages",
                new JsonArray()
                    .add(new JsonObject().put("role", "user").put("content", "x".repeat(900_000))));
    GenerationInfo info =
        new GenerationInfo(
            "gen-1",
            "mock",
            0,
            new GenerationRequest("mock", body, 10, null, new Creator("acme", "acme#1")),
            "node",
            1);
    await(store.create(info));
    assertEquals(body, await(store.info("gen-1")).request().body(), "kept while it runs");
    await(store.append("gen-1", 1, List.of(GenerationEvent.done(1, "stop", null))));
    GenerationInfo after = await(store.info("gen-1"));
    assertFalse(after.request().body().containsKey("messages"), after.request().body().encode());
    assertEquals("acme", after.request().creator().tenant());
    assertEquals(10, after.request().maxTokens());
  }

  @Test
  @DisplayName(
      "a running generation past generation.max-log-bytes is stopped with an error event"
          + " log_limit_reached, its text so far kept")
  void logBound(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx, Map.of("TOKENBUS_GENERATION_MAX_LOG_BYTES", "65536")));
    String id = await(hub.startGeneration(TestHub.mockRequest(100_000, 1_000_000)));
    JsonObject status =
        await(
            Poll.until(
                vertx,
                () -> hub.get("/v1/generations/" + id).map(HttpResponse::bodyAsJsonObject),
                s -> !"running".equals(s.getString("status")),
                20_000));
    assertEquals("failed", status.getString("status"));
    assertEquals("log_limit_reached", status.getJsonObject("error").getString("code"));
    int kept = status.getString("text").length();
    assertTrue(kept > 0 && kept < 65536, "the text so far is kept, within the bound: " + kept);
  }

  @Test
  @DisplayName("a request cannot slow the mock below mock.min-tokens-per-second")
  void mockSpeedFloor(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx, Map.of("TOKENBUS_MOCK_MIN_TOKENS_PER_SECOND", "20")));
    long started = System.nanoTime();
    // 10 tokens asked at 0.001 a second (about three hours) run at the floor: half a second.
    HttpResponse<Buffer> done =
        await(hub.post("/v1/chat/completions", TestHub.mockRequest(10, 0.001)), 10);
    assertEquals(200, done.statusCode(), done.bodyAsString());
    assertEquals(
        MockText.text(10),
        done.bodyAsJsonObject()
            .getJsonArray("choices")
            .getJsonObject(0)
            .getJsonObject("message")
            .getString("content"));
    assertTrue(System.nanoTime() - started < 10_000_000_000L);
  }

  @Test
  @DisplayName(
      "past generation.retention-seconds every finished generation is dropped, in the order they"
          + " finished, and its id is remembered as gone")
  void byTime(Vertx vertx) {
    InMemoryGenerationStore store = new InMemoryGenerationStore(vertx, 200);
    for (String id : List.of("gen-a", "gen-b", "gen-c")) {
      GenerationInfo info =
          new GenerationInfo(
              id,
              "mock",
              0,
              new GenerationRequest(
                  "mock", new JsonObject(), null, null, new Creator("acme", "acme#1")),
              "node",
              1);
      await(store.create(info));
      await(store.append(id, 1, List.of(GenerationEvent.done(1, "stop", null))));
    }
    for (String id : List.of("gen-a", "gen-b", "gen-c")) {
      await(Poll.until(vertx, () -> store.info(id), info -> info == null, 5_000));
      assertEquals("acme", await(store.gone(id)));
    }
  }
}
