package io.tokenbus.generation;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.support.FakeAnthropic;
import io.tokenbus.support.FakeOpenAi;
import io.tokenbus.support.SseClient;
import io.tokenbus.support.SseEvent;
import io.tokenbus.support.TestHub;
import io.tokenbus.support.UpstreamScript;
import io.tokenbus.support.UpstreamScript.Answer;
import io.tokenbus.support.UpstreamScript.Fault;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Every upstream fault, on both wire formats, as generation subscribers see it: the whole answer
 * with no seam (the text the upstream would have produced without the fault, seq without gaps), or
 * one terminal error with the partial text kept, as configured.
 */
@ExtendWith(VertxExtension.class)
@DisplayName("Upstream faults: retries, timeouts and partial-response recovery")
class UpstreamRecoveryTest {

  private static final List<String> TOKENS =
      List.of(
          "The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog", ".",
          "\n\n", "Then", " it", " sleeps", " 😴", ".");
  private static final String FULL = String.join("", TOKENS);

  /** The two wire formats, each with the model that routes to its fake. */
  enum Format {
    OPENAI("gpt-test"),
    ANTHROPIC("claude-test");

    final String model;

    Format(String model) {
      this.model = model;
    }
  }

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
   * A hub on both fakes with fast retries and short timeouts; {@code extra} sets more (KEY=VALUE,
   * provider keys for both).
   */
  private TestHub hub(String... extra) {
    Map<String, String> env =
        new HashMap<>(
            Map.of(
                "OPENAI_BASE_URL",
                openai.baseUrl(),
                "ANTHROPIC_BASE_URL",
                anthropic.baseUrl(),
                "ANTHROPIC_API_KEY",
                "sk-ant-test-0123456789"));
    Map<String, String> perProvider =
        new HashMap<>(
            Map.of(
                "RETRY_INITIAL_BACKOFF_MS",
                "10",
                "RETRY_MAX_BACKOFF_MS",
                "50",
                "TIMEOUTS_FIRST_TOKEN_MS",
                "600",
                "TIMEOUTS_IDLE_MS",
                "400",
                "CIRCUIT_BREAKER_FAILURE_THRESHOLD",
                "0"));
    for (String setting : extra) {
      String[] kv = setting.split("=", 2);
      if (kv[0].startsWith("TOKENBUS_")) {
        env.put(kv[0], kv[1]);
      } else {
        perProvider.put(kv[0], kv[1]);
      }
    }
    perProvider.forEach(
        (key, value) -> {
          env.put("TOKENBUS_PROVIDERS_OPENAI_" + key, value);
          env.put("TOKENBUS_PROVIDERS_ANTHROPIC_" + key, value);
        });
    return await(TestHub.start(vertx, env));
  }

  private void script(Format format, UpstreamScript.Behavior... behaviors) {
    if (format == Format.OPENAI) {
      openai.respondInOrder(behaviors);
    } else {
      anthropic.respondInOrder(behaviors);
    }
  }

  private int requests(Format format) {
    return format == Format.OPENAI ? openai.requests().size() : anthropic.requests().size();
  }

  private String continuedFrom(Format format, int request) {
    return format == Format.OPENAI
        ? openai.requests().items().get(request).continuedFrom()
        : anthropic.requests().items().get(request).continuedFrom();
  }

  private Future<Long> closed(Format format, int request) {
    return format == Format.OPENAI
        ? openai.requests().items().get(request).closedAtNanos()
        : anthropic.requests().items().get(request).closedAtNanos();
  }

  private static JsonObject request(String model) {
    return new JsonObject()
        .put("model", model)
        .put(
            "messages",
            new JsonArray()
                .add(new JsonObject().put("role", "user").put("content", "Tell me about the fox")));
  }

  /** Starts a generation and watches it to the end; returns its events and its final status. */
  private Watched watch(TestHub hub, String model) {
    String id = await(hub.startGeneration(request(model)));
    SseClient viewer =
        await(SseClient.get(client, hub.port(), "/v1/generations/" + id + "/events", Map.of()));
    await(viewer.ended(), 20, "the generation's end");
    JsonObject status = await(hub.get("/v1/generations/" + id)).bodyAsJsonObject();
    return new Watched(id, viewer.events().items(), status);
  }

  private record Watched(String id, List<SseEvent> events, JsonObject status) {
    SseEvent last() {
      return events.get(events.size() - 1);
    }

    List<SseEvent> ofType(String type) {
      return events.stream().filter(e -> e.event().equals(type)).toList();
    }

    /** Seq 1, 2, 3, … with no gap and no repeat. */
    void assertGapFree() {
      for (int i = 0; i < events.size(); i++) {
        assertEquals(i + 1, events.get(i).seq(), "seq at " + i + " of " + events);
      }
    }

    void assertWhole(String text) {
      assertGapFree();
      assertEquals("done", last().event(), events.toString());
      assertEquals(text, SseEvent.text(events));
      assertEquals(text, status.getString("text"));
      assertEquals("completed", status.getString("status"));
    }

    /**
     * Failed with the text it had: gap-free, one terminal error, and the status agrees; the text is
     * returned.
     */
    String assertFailedWithText() {
      assertGapFree();
      assertEquals("error", last().event(), events.toString());
      assertEquals("failed", status.getString("status"));
      String text = SseEvent.text(events);
      assertEquals(text, status.getString("text"));
      return text;
    }
  }

  @ParameterizedTest
  @EnumSource(Fault.class)
  @DisplayName(
      "OpenAI format: a stream that breaks after 4 tokens, however, is continued seamlessly")
  void openAiBreaksAreContinued(Fault fault) {
    breakIsContinued(Format.OPENAI, fault);
  }

  @ParameterizedTest
  @EnumSource(Fault.class)
  @DisplayName(
      "Anthropic format: a stream that breaks after 4 tokens, however, is continued seamlessly")
  void anthropicBreaksAreContinued(Fault fault) {
    breakIsContinued(Format.ANTHROPIC, fault);
  }

  private void breakIsContinued(Format format, Fault fault) {
    TestHub hub = hub();
    Answer answer = Answer.of(TOKENS).interval(5);
    script(format, answer.fault(fault, 4), answer);
    Watched watched = watch(hub, format.model);
    watched.assertWhole(FULL);
    String partial = String.join("", TOKENS.subList(0, 4));
    if (fault == Fault.NONE) {
      assertEquals(1, requests(format));
      assertEquals(0, watched.status().getInteger("recoveries"));
      return;
    }
    assertEquals(2, requests(format), "one continuation");
    assertEquals(
        format == Format.ANTHROPIC ? partial.stripTrailing() : partial, continuedFrom(format, 1));
    if (fault != Fault.NO_FINISH) { // a response that ended cleanly leaves a reusable connection
      await(closed(format, 0), 5, "the broken connection is closed");
    }
    List<SseEvent> recoveries = watched.ofType("recovery");
    assertEquals(1, recoveries.size());
    assertEquals("continue", recoveries.get(0).json().getString("kind"));
    assertEquals(1, watched.status().getInteger("recoveries"));
    assertEquals("continue", watched.status().getJsonObject("last_recovery").getString("kind"));
  }

  @Test
  @DisplayName(
      "the words an instruction-continued answer repeats of the partial answer are trimmed at the"
          + " seam")
  void overlapIsTrimmed() {
    TestHub hub = hub();
    Answer answer = Answer.of(TOKENS).interval(5);
    script(Format.OPENAI, answer.fault(Fault.DROP, 7), answer.overlap(" jumps over the".length()));
    watch(hub, Format.OPENAI.model).assertWhole(FULL);
  }

  @Test
  @DisplayName(
      "continue-final-message: the server is asked to continue the final assistant message, and"
          + " nothing is trimmed, a long repeat included")
  void continueFinalMessage() {
    TestHub hub = hub("RECOVERY_CONTINUE_FINAL_MESSAGE=true");
    // The answer says its last words again on its own: exact continuation keeps them.
    List<String> tokens =
        List.of(
            "I", " said", " jumps over the", " lazy", " dog", " jumps over the", " lazy", " dog");
    Answer answer = Answer.of(tokens).interval(5);
    script(Format.OPENAI, answer.fault(Fault.DROP, 5), answer.overlap(0));
    watch(hub, Format.OPENAI.model).assertWhole(String.join("", tokens));
    JsonObject continued = openai.requests().items().get(1).body();
    assertEquals(true, continued.getBoolean("continue_final_message"));
    assertEquals(false, continued.getBoolean("add_generation_prompt"));
    JsonArray messages = continued.getJsonArray("messages");
    JsonObject last = messages.getJsonObject(messages.size() - 1);
    assertEquals("assistant", last.getString("role"), "no instruction after the partial answer");
    assertEquals("I said jumps over the lazy dog", last.getString("content"));
  }

  @ParameterizedTest
  @EnumSource(Format.class)
  @DisplayName(
      "a continuation that rightly starts with the word the answer broke after keeps it (the seam"
          + " once cut it)")
  void repeatedWordAtTheSeam(Format format) {
    TestHub hub = hub();
    // "…jumps over the" breaks, and the answer goes on with " the" of its own.
    List<String> tokens =
        List.of(
            "The", " quick", " brown", " fox", " jumps", " over", " the", " the", " lazy", " dog.");
    Answer answer = Answer.of(tokens).interval(5);
    script(format, answer.fault(Fault.DROP, 7), answer.overlap(0));
    watch(hub, format.model).assertWhole(String.join("", tokens));
  }

  @ParameterizedTest
  @EnumSource(Format.class)
  @DisplayName("restart strategy: subscribers get a reset, then the new answer, whole")
  void restart(Format format) {
    TestHub hub = hub("RECOVERY_STRATEGY=restart");
    Answer answer = Answer.of(TOKENS).interval(5);
    script(format, answer.fault(Fault.DROP, 5), answer);
    Watched watched = watch(hub, format.model);
    watched.assertWhole(FULL);
    assertEquals(1, watched.ofType("reset").size());
    assertNull(continuedFrom(format, 1), "a restart is a new request, not a continuation");
    assertEquals(
        5 + TOKENS.size(),
        watched.ofType("delta").size(),
        "the void text, then the whole answer again");
  }

  @ParameterizedTest
  @EnumSource(Format.class)
  @DisplayName(
      "restart strategy: a chat-completions stream, which cannot take text back, ends with answer_restarted; the generation goes on")
  void restartEndsAChatStream(Format format) {
    TestHub hub = hub("RECOVERY_STRATEGY=restart");
    Answer answer = Answer.of(TOKENS).interval(20);
    script(format, answer.fault(Fault.DROP, 5), answer);
    SseClient chat =
        await(
            SseClient.post(
                client,
                hub.port(),
                "/v1/chat/completions",
                request(format.model).put("stream", true).encode()));
    await(chat.ended(), 10, "the chat stream's end");
    List<SseEvent> chunks = chat.events().items();
    JsonObject last = chunks.get(chunks.size() - 1).json();
    assertEquals(
        "answer_restarted", last.getJsonObject("error").getString("code"), chunks.toString());
    assertTrue(chunks.stream().noneMatch(e -> e.data().equals("[DONE]")));
    String id = chat.headers().get("X-Generation-Id");
    SseClient viewer =
        await(SseClient.get(client, hub.port(), "/v1/generations/" + id + "/events", Map.of()));
    await(viewer.ended(), 10);
    assertEquals(FULL, SseEvent.text(viewer.events().items()));
  }

  @ParameterizedTest
  @EnumSource(Format.class)
  @DisplayName("fail strategy: one terminal error, the partial text kept")
  void fail(Format format) {
    TestHub hub = hub("RECOVERY_STRATEGY=fail");
    script(format, Answer.of(TOKENS).interval(5).fault(Fault.DROP, 5));
    Watched watched = watch(hub, format.model);
    String text = watched.assertFailedWithText();
    assertTrue(
        watched.last().json().getString("message").contains("text so far is kept"),
        watched.last().data());
    assertEquals(String.join("", TOKENS.subList(0, 5)), text);
    assertEquals(1, requests(format));
  }

  @ParameterizedTest
  @EnumSource(Format.class)
  @DisplayName(
      "recoveries are bounded: past recovery.max-attempts the generation fails with its text")
  void boundedRecoveries(Format format) {
    TestHub hub = hub("RECOVERY_MAX_ATTEMPTS=2");
    // Each continuation breaks again after 2 more tokens.
    script(format, Answer.of(TOKENS).interval(5).fault(Fault.DROP, 2));
    Watched watched = watch(hub, format.model);
    String text = watched.assertFailedWithText();
    assertEquals(3, requests(format), "the first attempt and two recoveries");
    assertEquals(2, watched.status().getInteger("recoveries"));
    assertFalse(text.isEmpty(), "the text so far is kept");
    assertTrue(FULL.startsWith(text), text);
  }

  @ParameterizedTest
  @EnumSource(Format.class)
  @DisplayName(
      "429 with Retry-After is retried after that delay; a 500 is retried at once; both then succeed")
  void retriesBeforeTheFirstToken(Format format) {
    TestHub hub = hub();
    UpstreamScript.Status limited =
        format == Format.OPENAI ? FakeOpenAi.rateLimited(700) : FakeAnthropic.rateLimited(1);
    UpstreamScript.Status broken =
        new UpstreamScript.Status(
            500,
            format == Format.OPENAI
                ? "{\"error\":{\"message\":\"The server had an error\",\"type\":\"server_error\",\"param\":null,\"code\":null}}"
                : "{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"Internal server error\"}}");
    script(format, limited, broken, Answer.of(TOKENS));
    long started = System.nanoTime();
    Watched watched = watch(hub, format.model);
    watched.assertWhole(FULL);
    assertEquals(3, requests(format));
    assertTrue(System.nanoTime() - started >= 650_000_000L, "Retry-After was honoured");
    List<SseEvent> retries = watched.ofType("recovery");
    assertEquals(2, retries.size());
    assertTrue(retries.stream().allMatch(e -> e.json().getString("kind").equals("retry")));
    assertTrue(retries.get(0).json().getLong("delay_ms") >= 650, retries.get(0).data());
  }

  @ParameterizedTest
  @EnumSource(Format.class)
  @DisplayName("a slow first token times out and is retried; the slow connection is closed")
  void slowFirstToken(Format format) {
    TestHub hub = hub();
    script(format, Answer.of(TOKENS).firstTokenDelay(5_000), Answer.of(TOKENS));
    Watched watched = watch(hub, format.model);
    watched.assertWhole(FULL);
    assertEquals(2, requests(format));
    await(closed(format, 0), 5, "the slow connection is closed");
    assertEquals("upstream_timeout", watched.ofType("recovery").get(0).json().getString("code"));
  }

  @ParameterizedTest
  @EnumSource(Format.class)
  @DisplayName(
      "errors that a retry cannot fix fail at once, with the upstream's message and never the key")
  void fatalErrors(Format format) {
    TestHub hub = hub();
    UpstreamScript.Status rejected =
        format == Format.OPENAI
            ? new UpstreamScript.Status(
                400,
                "{\"error\":{\"message\":\"Invalid value for 'temperature'\",\"type\":\"invalid_request_error\","
                    + "\"param\":\"temperature\",\"code\":null}}")
            : FakeAnthropic.error(
                400,
                "invalid_request_error",
                "temperature: Input should be less than or equal to 1");
    script(format, rejected);
    var response = await(hub.post("/v1/chat/completions", request(format.model)));
    assertEquals(400, response.statusCode(), response.bodyAsString());
    JsonObject error = response.bodyAsJsonObject().getJsonObject("error");
    assertEquals("upstream_rejected_request", error.getString("code"));
    assertTrue(error.getString("message").contains("temperature"), error.encode());
    assertFalse(response.bodyAsString().contains("sk-ant-test"));
    assertEquals(1, requests(format), "not retried");
  }

  @Test
  @DisplayName(
      "a break after output without text (reasoning) cannot be continued: bounded, never a retry loop")
  void breakAfterReasoningOnly() {
    String reasoning =
        FakeOpenAi.chunk(
            "{\"reasoning_content\":\"Let me think\"}", null); // then the stream just ends
    openai.respond(new FakeOpenAi.Raw(reasoning));
    Watched continued = watch(hub(), Format.OPENAI.model);
    continued.assertGapFree();
    assertEquals("error", continued.last().event());
    assertTrue(
        continued.last().json().getString("message").contains("cannot be continued"),
        continued.last().data());
    assertEquals(1, requests(Format.OPENAI));
  }

  @Test
  @DisplayName("restarting after output without text is bounded by recovery.max-attempts")
  void restartAfterReasoningOnly() {
    openai.respond(
        new FakeOpenAi.Raw(FakeOpenAi.chunk("{\"reasoning_content\":\"Let me think\"}", null)));
    Watched restarted =
        watch(hub("RECOVERY_STRATEGY=restart", "RECOVERY_MAX_ATTEMPTS=2"), Format.OPENAI.model);
    restarted.assertGapFree();
    assertEquals("error", restarted.last().event());
    assertEquals(2, restarted.ofType("reset").size());
    assertEquals(1 + 2, requests(Format.OPENAI), "one attempt, then two restarts");
  }

  @Test
  @DisplayName("an OpenAI mid-stream error naming a client error is not retried")
  void midStreamClientError() {
    openai.respond(
        new FakeOpenAi.Raw(
            FakeOpenAi.chunk("{\"content\":\"Hi\"}", null)
                + "data: {\"error\":{\"message\":\"This model's maximum context length is 128000 tokens\",\"type\":\"invalid_request_error\","
                + "\"param\":\"messages\",\"code\":\"context_length_exceeded\"}}\n\n"));
    Watched watched = watch(hub(), Format.OPENAI.model);
    assertEquals("error", watched.last().event());
    assertEquals("upstream_rejected_request", watched.last().json().getString("code"));
    assertEquals(1, requests(Format.OPENAI));
    assertEquals("Hi", watched.status().getString("text"));
  }

  @Test
  @DisplayName(
      "a request the Anthropic translation cannot build is a prompt 400 and does not count against the provider's circuit")
  void untranslatableRequest() {
    TestHub hub = hub("CIRCUIT_BREAKER_FAILURE_THRESHOLD=2");
    JsonObject bad =
        new JsonObject()
            .put("model", "claude-test")
            .put(
                "messages",
                new JsonArray()
                    .add(new JsonObject().put("role", "user").put("content", "weather?"))
                    .add(
                        new JsonObject()
                            .put("role", "assistant")
                            .put(
                                "tool_calls",
                                new JsonArray()
                                    .add(
                                        new JsonObject()
                                            .put("id", "call_1")
                                            .put("type", "function")
                                            .put(
                                                "function",
                                                new JsonObject()
                                                    .put("name", "get_weather")
                                                    .put("arguments", "{bad")))))
                    .add(
                        new JsonObject()
                            .put("role", "tool")
                            .put("tool_call_id", "call_1")
                            .put("content", "sunny")));
    for (int i = 0; i < 3; i++) {
      var response = await(hub.post("/v1/chat/completions", bad), 5);
      assertEquals(400, response.statusCode(), response.bodyAsString());
      assertEquals(
          "unsupported_for_model",
          response.bodyAsJsonObject().getJsonObject("error").getString("code"));
    }
    anthropic.respond(Answer.of(TOKENS));
    assertEquals(
        200,
        await(hub.post("/v1/chat/completions", request("claude-test"))).statusCode(),
        "the circuit stayed closed");
    assertEquals(1, requests(Format.ANTHROPIC));
  }
}
