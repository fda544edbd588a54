package io.tokenbus.generation;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.bus.ControlCommand;
import io.tokenbus.support.FakeAnthropic;
import io.tokenbus.support.FakeOpenAi;
import io.tokenbus.support.SseClient;
import io.tokenbus.support.SseEvent;
import io.tokenbus.support.TestHub;
import io.tokenbus.support.UpstreamScript;
import io.tokenbus.support.UpstreamScript.Answer;
import io.tokenbus.support.UpstreamScript.Fault;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.junit5.VertxExtension;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fallback chains, circuit breakers, cancellation and the idle-cancel policy, against fake
 * upstreams.
 */
@ExtendWith(VertxExtension.class)
@DisplayName("Fallbacks, circuit breakers and cancellation")
class FallbackAndCancelTest {

  private static final List<String> TOKENS =
      List.of("Fall", "back", " keeps", " the", " answer", " going", " to", " its", " end", ".");
  private static final String FULL = String.join("", TOKENS);
  private static final UpstreamScript.Status DOWN =
      new UpstreamScript.Status(
          503,
          "{\"error\":{\"message\":\"The engine is currently overloaded\",\"type\":\"server_error\",\"param\":null,\"code\":null}}");

  @TempDir Path dir;
  private Vertx vertx;
  private FakeOpenAi openai;
  private FakeAnthropic anthropic;
  private HttpClientAgent client;

  @BeforeEach
  void start(Vertx vertx) {
    this.vertx = vertx;
    openai = await(FakeOpenAi.start(vertx));
    anthropic = await(FakeAnthropic.start(vertx));
    client = SseClient.client(vertx);
  }

  /**
   * A hub on both fakes: gpt-a falls back to claude-b; fast retries; more settings as env pairs.
   */
  private TestHub hub(String... env) throws IOException {
    Path file = dir.resolve("fallbacks-" + System.nanoTime() + ".yaml");
    Files.writeString(file, "fallbacks:\n  gpt-a: claude-b\n");
    Map<String, String> settings =
        new HashMap<>(
            Map.of(
                "TOKENBUS_CONFIG",
                file.toString(),
                "OPENAI_BASE_URL",
                openai.baseUrl(),
                "ANTHROPIC_BASE_URL",
                anthropic.baseUrl(),
                "ANTHROPIC_API_KEY",
                "sk-ant-test-0123",
                "TOKENBUS_PROVIDERS_OPENAI_RETRY_INITIAL_BACKOFF_MS",
                "5",
                "TOKENBUS_PROVIDERS_OPENAI_RETRY_MAX_BACKOFF_MS",
                "20",
                "TOKENBUS_PROVIDERS_OPENAI_RETRY_MAX_ATTEMPTS",
                "2"));
    for (int i = 0; i < env.length; i += 2) {
      settings.put(env[i], env[i + 1]);
    }
    return await(TestHub.start(vertx, settings));
  }

  private static JsonObject request(String model) {
    return new JsonObject()
        .put("model", model)
        .put(
            "messages",
            new JsonArray().add(new JsonObject().put("role", "user").put("content", "Go on")));
  }

  private List<SseEvent> watch(TestHub hub, String id) {
    SseClient viewer =
        await(SseClient.get(client, hub.port(), "/v1/generations/" + id + "/events", Map.of()));
    await(viewer.ended(), 20, "the generation's end");
    return viewer.events().items();
  }

  @Test
  @DisplayName(
      "a model that keeps failing before its first token falls back to the next model of its chain")
  void fallbackBeforeTheFirstToken() throws IOException {
    TestHub hub = hub();
    openai.respond(DOWN);
    anthropic.respond(Answer.of(TOKENS));
    String id = await(hub.startGeneration(request("gpt-a")));
    List<SseEvent> events = watch(hub, id);
    assertEquals(FULL, SseEvent.text(events));
    assertEquals(2, openai.requests().size(), "retry.max-attempts at gpt-a");
    assertEquals("claude-b", anthropic.requests().items().get(0).body().getString("model"));
    List<String> kinds =
        events.stream()
            .filter(e -> e.event().equals("recovery"))
            .map(e -> e.json().getString("kind"))
            .toList();
    assertEquals(List.of("retry", "fallback"), kinds);
    JsonObject status = await(hub.get("/v1/generations/" + id)).bodyAsJsonObject();
    assertEquals("completed", status.getString("status"));
    assertEquals("claude-b", status.getJsonObject("last_recovery").getString("model"));
    assertEquals("anthropic", status.getJsonObject("last_recovery").getString("provider"));
  }

  @Test
  @DisplayName(
      "mid-stream: when the model cannot continue, its fallback continues from the partial text, seamlessly")
  void fallbackMidStream() throws IOException {
    TestHub hub = hub();
    openai.respondInOrder(Answer.of(TOKENS).interval(5).fault(Fault.DROP, 4), DOWN);
    anthropic.respond(Answer.of(TOKENS));
    String id = await(hub.startGeneration(request("gpt-a")));
    List<SseEvent> events = watch(hub, id);
    for (int i = 0; i < events.size(); i++) {
      assertEquals(i + 1, events.get(i).seq());
    }
    assertEquals(FULL, SseEvent.text(events));
    assertEquals("done", events.get(events.size() - 1).event());
    assertEquals(
        String.join("", TOKENS.subList(0, 4)).stripTrailing(),
        anthropic.requests().items().get(0).continuedFrom());
    List<String> kinds =
        events.stream()
            .filter(e -> e.event().equals("recovery"))
            .map(e -> e.json().getString("kind"))
            .toList();
    assertEquals(List.of("continue", "retry", "fallback"), kinds);
  }

  private static String content(HttpResponse<Buffer> response) {
    return response
        .bodyAsJsonObject()
        .getJsonArray("choices")
        .getJsonObject(0)
        .getJsonObject("message")
        .getString("content");
  }

  private static String code(HttpResponse<Buffer> response) {
    return response.bodyAsJsonObject().getJsonObject("error").getString("code");
  }

  @Test
  @DisplayName(
      "a model's circuit opens after repeated failures: its requests then go straight to the fallback, or fail fast")
  void circuitBreaker() throws IOException {
    TestHub hub =
        hub(
            "TOKENBUS_PROVIDERS_OPENAI_RETRY_MAX_ATTEMPTS",
            "1",
            "TOKENBUS_PROVIDERS_OPENAI_CIRCUIT_BREAKER_FAILURE_THRESHOLD",
            "2",
            "TOKENBUS_PROVIDERS_OPENAI_CIRCUIT_BREAKER_RESET_MS",
            "60000");
    openai.respond(DOWN);
    anthropic.respond(Answer.of(TOKENS));
    for (int i = 0; i < 2; i++) {
      var viaFallback = await(hub.post("/v1/chat/completions", request("gpt-a")));
      assertEquals(200, viaFallback.statusCode(), viaFallback.bodyAsString());
    }
    assertEquals(2, openai.requests().size());

    var viaFallback = await(hub.post("/v1/chat/completions", request("gpt-a")));
    assertEquals(200, viaFallback.statusCode(), viaFallback.bodyAsString());
    assertEquals(FULL, content(viaFallback));
    assertEquals(2, openai.requests().size(), "an open circuit does not call the upstream");
    JsonObject status =
        await(hub.get("/v1/generations/" + viaFallback.getHeader("X-Generation-Id")))
            .bodyAsJsonObject();
    assertEquals("circuit_open", status.getJsonObject("last_recovery").getString("code"));

    // A model without a fallback: its own circuit, counted from zero.
    for (int i = 0; i < 2; i++) {
      var failed = await(hub.post("/v1/chat/completions", request("gpt-other")));
      assertEquals(502, failed.statusCode(), failed.bodyAsString());
    }
    assertEquals(4, openai.requests().size());
    var fast = await(hub.post("/v1/chat/completions", request("gpt-other")));
    assertEquals(503, fast.statusCode(), fast.bodyAsString());
    assertEquals("circuit_open", code(fast));
    assertTrue(
        fast.bodyAsJsonObject()
            .getJsonObject("error")
            .getString("message")
            .contains("model gpt-other at provider openai"),
        fast.bodyAsString());
    assertEquals(4, openai.requests().size());
  }

  @Test
  @DisplayName(
      "failures of one model open its circuit only: another model of the same provider is still served")
  void circuitIsPerModel() throws IOException {
    TestHub hub =
        hub(
            "TOKENBUS_PROVIDERS_OPENAI_RETRY_MAX_ATTEMPTS",
            "1",
            "TOKENBUS_PROVIDERS_OPENAI_CIRCUIT_BREAKER_FAILURE_THRESHOLD",
            "2",
            "TOKENBUS_PROVIDERS_OPENAI_CIRCUIT_BREAKER_RESET_MS",
            "60000");
    openai.respond(DOWN);
    for (int i = 0; i < 2; i++) {
      assertEquals(
          502, await(hub.post("/v1/chat/completions", request("gpt-failing"))).statusCode());
    }
    assertEquals(
        "circuit_open", code(await(hub.post("/v1/chat/completions", request("gpt-failing")))));

    openai.respond(Answer.of(TOKENS));
    var served = await(hub.post("/v1/chat/completions", request("gpt-healthy")));
    assertEquals(200, served.statusCode(), served.bodyAsString());
    assertEquals(FULL, content(served));
    assertEquals("gpt-healthy", openai.requests().items().get(2).body().getString("model"));
    assertEquals(
        "circuit_open",
        code(await(hub.post("/v1/chat/completions", request("gpt-failing")))),
        "the failing model's circuit stays open");
    assertEquals(3, openai.requests().size());
  }

  @Test
  @DisplayName(
      "a burst of requests the upstream refuses as the client's fault (400, 404, 429) or that no provider serves never opens a circuit")
  void clientFaultsNeverOpenTheCircuit() throws IOException {
    TestHub hub =
        hub(
            "TOKENBUS_PROVIDERS_OPENAI_RETRY_MAX_ATTEMPTS",
            "1",
            "TOKENBUS_PROVIDERS_OPENAI_MODELS",
            "gpt-*",
            "TOKENBUS_PROVIDERS_OPENAI_CIRCUIT_BREAKER_FAILURE_THRESHOLD",
            "2",
            "TOKENBUS_PROVIDERS_OPENAI_CIRCUIT_BREAKER_RESET_MS",
            "60000");
    List<UpstreamScript.Status> refusals =
        List.of(
            new UpstreamScript.Status(
                400,
                "{\"error\":{\"message\":\"This model's maximum context length is 128000 tokens. However, your "
                    + "messages resulted in 250000 tokens.\",\"type\":\"invalid_request_error\",\"param\":\"messages\","
                    + "\"code\":\"context_length_exceeded\"}}"),
            new UpstreamScript.Status(
                404,
                "{\"error\":{\"message\":\"The model `gpt-nonexistent` does not exist or you do not have access "
                    + "to it.\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"model_not_found\"}}"),
            FakeOpenAi.rateLimited(0));
    int sent = 0;
    for (UpstreamScript.Status refusal : refusals) {
      openai.respond(refusal);
      for (int i = 0; i < 5; i++) {
        var refused = await(hub.post("/v1/chat/completions", request("gpt-shared")));
        assertEquals(refusal.status(), refused.statusCode(), refused.bodyAsString());
        sent++;
        assertEquals(sent, openai.requests().size(), "each refusal reached the upstream");
      }
    }
    for (int i = 0; i < 5; i++) {
      var unserved = await(hub.post("/v1/chat/completions", request("unserved-model")));
      assertEquals(404, unserved.statusCode(), unserved.bodyAsString());
      assertEquals("model_not_found", code(unserved));
    }

    openai.respond(Answer.of(TOKENS));
    var served = await(hub.post("/v1/chat/completions", request("gpt-shared")));
    assertEquals(200, served.statusCode(), served.bodyAsString());
    assertEquals(FULL, content(served));
  }

  @Test
  @DisplayName(
      "a cancel closes the upstream connection within a second, though it keeps streaming, and reports the usage produced")
  void cancelClosesTheUpstream() throws IOException {
    TestHub hub = hub();
    anthropic.respond(Answer.of(Collections.nCopies(10_000, "word ")).interval(10));
    String id = await(hub.startGeneration(request("claude-long")));
    SseClient viewer =
        await(SseClient.get(client, hub.port(), "/v1/generations/" + id + "/events", Map.of()));
    await(viewer.events().whenCount(5));
    long cancelAt = System.nanoTime();
    assertEquals(
        200, await(hub.post("/v1/generations/" + id + "/cancel", new JsonObject())).statusCode());
    long closedAt =
        await(
            anthropic.requests().items().get(0).closedAtNanos(),
            5,
            "the upstream connection closing");
    assertTrue(
        closedAt - cancelAt < 1_000_000_000L,
        "closed " + (closedAt - cancelAt) / 1_000_000 + " ms after the cancel");
    await(viewer.ended());
    SseEvent last = viewer.events().items().get(viewer.events().size() - 1);
    assertEquals("cancelled", last.event());
    JsonObject usage = last.json().getJsonObject("usage");
    assertEquals(
        25, usage.getInteger("prompt_tokens"), "Anthropic reports the prompt at message_start");
    assertTrue(usage.getInteger("completion_tokens") >= 5, usage.encode());
  }

  @Test
  @DisplayName(
      "idle cancel: nobody watching for idle-cancel-seconds cancels the generation and closes its upstream connection")
  void idleCancel() throws IOException {
    TestHub hub = hub("TOKENBUS_GENERATION_IDLE_CANCEL_SECONDS", "1");
    openai.respond(Answer.of(Collections.nCopies(10_000, "word ")).interval(10));
    long started = System.nanoTime();
    String id = await(hub.startGeneration(request("gpt-long")));
    long closedAt =
        await(
            openai.requests().whenCount(1).compose(r -> r.get(0).closedAtNanos()),
            10,
            "the idle generation's upstream closing");
    long after = (closedAt - started) / 1_000_000;
    assertTrue(after >= 900 && after < 2500, "closed after " + after + " ms");
    assertEquals(
        "cancelled",
        await(hub.get("/v1/generations/" + id)).bodyAsJsonObject().getString("status"));
  }

  @Test
  @DisplayName(
      "the requester of a chat stream leaving does not cancel a generation someone else watches")
  void requesterLeavesWhileOthersWatch() throws IOException {
    TestHub hub = hub("TOKENBUS_GENERATION_IDLE_CANCEL_SECONDS", "1");
    openai.respond(Answer.of(Collections.nCopies(150, "word ")).interval(15));
    SseClient requester =
        await(
            SseClient.post(
                client,
                hub.port(),
                "/v1/chat/completions",
                request("gpt-long").put("stream", true).encode()));
    String id = requester.headers().get("X-Generation-Id");
    SseClient other =
        await(SseClient.get(client, hub.port(), "/v1/generations/" + id + "/events", Map.of()));
    await(other.events().whenCount(3));
    requester.close();
    await(other.ended(), 20);
    List<SseEvent> events = other.events().items();
    assertEquals(
        "done",
        events.get(events.size() - 1).event(),
        "outlived the requester by more than idle-cancel-seconds");
    assertEquals("word ".repeat(150), SseEvent.text(events));

    // Alone, the requester leaving does cancel it, within idle-cancel-seconds.
    SseClient alone =
        await(
            SseClient.post(
                client,
                hub.port(),
                "/v1/chat/completions",
                request("gpt-long").put("stream", true).encode()));
    String second = alone.headers().get("X-Generation-Id");
    await(alone.events().whenCount(3));
    long leftAt = System.nanoTime();
    alone.close();
    long closedAt =
        await(
            openai.requests().items().get(1).closedAtNanos(),
            5,
            "the abandoned generation's upstream closing");
    assertTrue(closedAt - leftAt < 2_500_000_000L, (closedAt - leftAt) / 1_000_000 + " ms");
    // The upstream closes as the cancel is decided: its terminal event is then on its way to the
    // log.
    List<SseEvent> replay = watch(hub, second);
    assertEquals("cancelled", replay.get(replay.size() - 1).event());
    JsonObject status = await(hub.get("/v1/generations/" + second)).bodyAsJsonObject();
    assertEquals("cancelled", status.getString("status"));
  }

  @Test
  @DisplayName(
      "a generation watched on its own node is never idle-cancelled, even when the viewers' reports are lost (an overloaded loop)")
  void watchedHereIsNeverIdle() throws IOException {
    // Drop every WATCHING report, as an event loop too busy to send them in time would.
    AtomicInteger dropped = new AtomicInteger();
    vertx
        .eventBus()
        .addOutboundInterceptor(
            delivery -> {
              if (delivery.message().body() != ControlCommand.WATCHING) {
                delivery.next();
              } else {
                dropped.incrementAndGet();
              }
            });
    TestHub hub = hub("TOKENBUS_GENERATION_IDLE_CANCEL_SECONDS", "1");
    openai.respond(Answer.of(Collections.nCopies(100, "word ")).interval(25));
    String id = await(hub.startGeneration(request("gpt-long")));
    List<SseEvent> events = watch(hub, id);
    assertEquals(
        "done",
        events.get(events.size() - 1).event(),
        "2.5 s of answer with a viewer here and no report");
    assertTrue(dropped.get() > 0, "the viewers' reports were sent, and lost");
  }
}
