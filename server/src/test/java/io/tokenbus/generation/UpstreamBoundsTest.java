package io.tokenbus.generation;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.support.FakeAnthropic;
import io.tokenbus.support.FakeOpenAi;
import io.tokenbus.support.FakeUpstream;
import io.tokenbus.support.FakeUpstream.Endless;
import io.tokenbus.support.TestHub;
import io.tokenbus.support.UpstreamScript.Answer;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
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
 * An upstream that sends an endless SSE line or an endless event fails its attempt with a clear
 * {@code upstream_error} and has its connection closed after about the configured bound, the usual
 * retry and recovery policy applies, and the node goes on serving.
 */
@ExtendWith(VertxExtension.class)
@DisplayName("Upstream input bounds: max-event-bytes and max-line-bytes")
class UpstreamBoundsTest {

  private static final int MAX_EVENT = 65_536;
  private static final int MAX_LINE = 16_384;

  /** What an endless fake would send if nobody stopped reading: far more than any bound here. */
  private static final long CAP = 48L * 1024 * 1024;

  /**
   * What may be written before the hub's close reaches the fake: the bound, plus what the socket
   * buffers of both ends and the fake's write queue hold on loopback (a few MiB).
   */
  private static final long AT_MOST_WRITTEN = 12L * 1024 * 1024;

  private static final List<String> TOKENS = List.of("Bounded", " input", " keeps", " nodes", ".");

  /** The two wire formats, each with the model that routes to its fake. */
  enum Format {
    OPENAI("gpt-test", "openai"),
    ANTHROPIC("claude-test", "anthropic");

    final String model;
    final String provider;

    Format(String model, String provider) {
      this.model = model;
      this.provider = provider;
    }
  }

  private Vertx vertx;
  private FakeOpenAi openai;
  private FakeAnthropic anthropic;

  @BeforeEach
  void start(Vertx vertx) {
    this.vertx = vertx;
    openai = await(FakeOpenAi.start(vertx));
    anthropic = await(FakeAnthropic.start(vertx));
  }

  /** A hub on both fakes, small bounds, two attempts per model, fast retries, no circuit. */
  private TestHub hub() {
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
        Map.of(
            "MAX_EVENT_BYTES", String.valueOf(MAX_EVENT),
            "MAX_LINE_BYTES", String.valueOf(MAX_LINE),
            "RETRY_MAX_ATTEMPTS", "2",
            "RETRY_INITIAL_BACKOFF_MS", "10",
            "RETRY_MAX_BACKOFF_MS", "20",
            "CIRCUIT_BREAKER_FAILURE_THRESHOLD", "0");
    perProvider.forEach(
        (key, value) -> {
          env.put("TOKENBUS_PROVIDERS_OPENAI_" + key, value);
          env.put("TOKENBUS_PROVIDERS_ANTHROPIC_" + key, value);
        });
    return await(TestHub.start(vertx, env));
  }

  private FakeUpstream fake(Format format) {
    return format == Format.OPENAI ? openai : anthropic;
  }

  private static JsonObject request(String model) {
    return new JsonObject()
        .put("model", model)
        .put(
            "messages",
            new JsonArray().add(new JsonObject().put("role", "user").put("content", "Go on")));
  }

  /** An event's opening as the format sends it, the endless data starting right after. */
  private static String opening(Format format) {
    return format == Format.OPENAI
        ? "data: {\"id\":\"chatcmpl-fake\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\""
        : "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"";
  }

  /**
   * Each of the two attempts was closed by the hub well before the fake's cap, and a normal request
   * then succeeds.
   */
  private void assertBoundedAndServing(
      TestHub hub, Format format, Endless endless, String key, int bound) {
    HttpResponse<Buffer> failed = await(hub.post("/v1/chat/completions", request(format.model)));
    assertEquals(502, failed.statusCode(), failed.bodyAsString());
    JsonObject error = failed.bodyAsJsonObject().getJsonObject("error");
    assertEquals("upstream_error", error.getString("code"), error.encode());
    assertTrue(
        error
            .getString("message")
            .contains("providers." + format.provider + "." + key + " (" + bound + " bytes)"),
        error.getString("message"));
    FakeUpstream fake = fake(format);
    assertEquals(2, fake.requests().size(), "retried once, as a broken stream is");
    for (FakeUpstream.Received received : fake.requests().items()) {
      await(received.closedAtNanos(), 10, "the hub closing the endless stream");
    }
    long written = endless.written().get();
    assertTrue(
        written < 2 * AT_MOST_WRITTEN,
        "the fake wrote " + written + " bytes to two attempts before they were closed");

    fake.respond(Answer.of(TOKENS));
    HttpResponse<Buffer> served = await(hub.post("/v1/chat/completions", request(format.model)));
    assertEquals(200, served.statusCode(), served.bodyAsString());
    assertEquals(
        String.join("", TOKENS),
        served
            .bodyAsJsonObject()
            .getJsonArray("choices")
            .getJsonObject(0)
            .getJsonObject("message")
            .getString("content"));
  }

  @ParameterizedTest
  @EnumSource(Format.class)
  @DisplayName(
      "an endless data line fails the attempt at max-line-bytes, closes it, and the node serves on")
  void endlessLine(Format format) {
    TestHub hub = hub();
    Endless endless = new Endless(opening(format), "x", CAP);
    fake(format).respond(endless);
    assertBoundedAndServing(hub, format, endless, "max-line-bytes", MAX_LINE);
  }

  @ParameterizedTest
  @EnumSource(Format.class)
  @DisplayName(
      "an endless event of short data lines fails the attempt at max-event-bytes, closes it, and the node serves on")
  void endlessEvent(Format format) {
    TestHub hub = hub();
    Endless endless = new Endless(opening(format) + "\n", "data: " + "y".repeat(58) + "\n", CAP);
    fake(format).respond(endless);
    assertBoundedAndServing(hub, format, endless, "max-event-bytes", MAX_EVENT);
  }

  @Test
  @DisplayName(
      "an endless event after some text is a break like any other: the answer is continued to its end")
  void endlessEventMidAnswerIsRecovered() {
    TestHub hub = hub();
    String firstTokens =
        FakeOpenAi.chunk("{\"role\":\"assistant\",\"content\":\"\"}", null)
            + FakeOpenAi.chunk(new JsonObject().put("content", TOKENS.get(0)).encode(), null)
            + FakeOpenAi.chunk(new JsonObject().put("content", TOKENS.get(1)).encode(), null);
    Endless endless = new Endless(firstTokens, "data: " + "z".repeat(58) + "\n", CAP);
    openai.respondInOrder(endless, Answer.of(TOKENS));
    HttpResponse<Buffer> answered = await(hub.post("/v1/chat/completions", request("gpt-test")));
    assertEquals(200, answered.statusCode(), answered.bodyAsString());
    assertEquals(
        String.join("", TOKENS),
        answered
            .bodyAsJsonObject()
            .getJsonArray("choices")
            .getJsonObject(0)
            .getJsonObject("message")
            .getString("content"));
    assertEquals(2, openai.requests().size());
    assertEquals(
        TOKENS.get(0) + TOKENS.get(1),
        openai.requests().items().get(1).continuedFrom(),
        "the second request continues the partial answer");
    await(openai.requests().items().get(0).closedAtNanos(), 10, "the endless stream closing");
    assertTrue(endless.written().get() < AT_MOST_WRITTEN, endless.written() + " bytes written");
  }

  @Test
  @DisplayName(
      "an endless error body is read up to 16 KiB for its message, then its connection is closed")
  void endlessErrorBody() {
    TestHub hub = hub();
    Endless endless =
        Endless.errorBody(500, "{\"error\":{\"message\":\"", "The server had an error. ", CAP);
    openai.respond(endless);
    HttpResponse<Buffer> failed = await(hub.post("/v1/chat/completions", request("gpt-test")));
    assertEquals(502, failed.statusCode(), failed.bodyAsString());
    assertEquals(2, openai.requests().size(), "a 500 is retried");
    for (FakeUpstream.Received received : openai.requests().items()) {
      await(received.closedAtNanos(), 10, "the hub closing the endless error body");
    }
    assertTrue(endless.written().get() < 2 * AT_MOST_WRITTEN, endless.written() + " bytes written");
    assertTrue(
        failed
            .bodyAsJsonObject()
            .getJsonObject("error")
            .getString("message")
            .contains("The server had an error."),
        failed.bodyAsString());
  }
}
