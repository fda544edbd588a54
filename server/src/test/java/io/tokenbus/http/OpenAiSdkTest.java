package io.tokenbus.http;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.errors.RateLimitException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import io.tokenbus.support.SseClient;
import io.tokenbus.support.SseEvent;
import io.tokenbus.support.TestHub;
import io.tokenbus.support.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The official OpenAI Java SDK, unchanged, with tokenbus as its base URL. */
@ExtendWith(VertxExtension.class)
@DisplayName("The official OpenAI SDK against tokenbus")
class OpenAiSdkTest {

  private static OpenAIClient sdk(TestHub hub) {
    return OpenAIOkHttpClient.builder()
        .baseUrl("http://127.0.0.1:" + hub.port() + "/v1")
        .apiKey("unused")
        .maxRetries(0)
        .build();
  }

  private static ChatCompletionCreateParams params(long tokens, double rate) {
    return ChatCompletionCreateParams.builder()
        .model("mock")
        .addUserMessage("Tell everyone")
        .maxCompletionTokens(tokens)
        .putAdditionalBodyProperty("mock_tokens_per_second", JsonValue.from(rate))
        .build();
  }

  @Test
  @DisplayName(
      "the SDK streams a completion while SSE, WebSocket, late and reconnecting viewers all end with its exact text")
  void sdkStreamsWhileOthersWatch(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx));
    HttpClientAgent http = SseClient.client(vertx);
    OpenAIClient sdk = sdk(hub);
    StringBuilder sdkText = new StringBuilder();
    String id = null;
    Future<SseClient> sse = null;
    Future<WsClient> ws = null;
    Future<SseClient> late = null;
    Future<SseClient> dropping = null;
    int chunks = 0;
    try (StreamResponse<ChatCompletionChunk> stream =
        sdk.chat().completions().createStreaming(params(60, 60))) {
      for (ChatCompletionChunk chunk : (Iterable<ChatCompletionChunk>) stream.stream()::iterator) {
        chunks++;
        if (id == null) {
          id = chunk.id();
          String path = "/v1/generations/" + id + "/events";
          sse = SseClient.get(http, hub.port(), path, Map.of());
          String generation = id;
          ws =
              WsClient.connect(vertx, hub.port())
                  .compose(
                      client ->
                          client
                              .send(
                                  new JsonObject()
                                      .put("type", "subscribe")
                                      .put("generation", generation))
                              .map(client));
          dropping = SseClient.get(http, hub.port(), path, Map.of());
        }
        assertEquals(id, chunk.id());
        chunk.choices().forEach(choice -> choice.delta().content().ifPresent(sdkText::append));
        if (chunks == 25) {
          late = SseClient.get(http, hub.port(), "/v1/generations/" + id + "/events", Map.of());
        }
      }
    }
    String expected = sdkText.toString();
    assertTrue(expected.length() > 100, expected);
    String path = "/v1/generations/" + id + "/events";

    SseClient fromStart = await(sse);
    await(fromStart.ended());
    assertEquals(expected, SseEvent.text(fromStart.events().items()));

    WsClient socket = await(ws);
    String generation = id;
    List<JsonObject> frames =
        await(
            socket
                .frames()
                .when(list -> list.stream().anyMatch(f -> f.getString("type").equals("done"))));
    StringBuilder wsText = new StringBuilder();
    frames.stream()
        .filter(
            f ->
                f.getString("type").equals("delta") && generation.equals(f.getString("generation")))
        .forEach(f -> wsText.append(f.getString("text")));
    assertEquals(expected, wsText.toString());

    SseClient lateJoiner = await(late);
    await(lateJoiner.ended());
    assertEquals(expected, SseEvent.text(lateJoiner.events().items()));

    // The reconnecting viewer: keep the first 10 events, drop, and come back with Last-Event-ID.
    SseClient first = await(dropping);
    List<SseEvent> kept = new ArrayList<>(await(first.events().whenCount(10)).subList(0, 10));
    first.close();
    SseClient again =
        await(SseClient.get(http, hub.port(), path, Map.of("Last-Event-ID", kept.get(9).id())));
    await(again.ended());
    kept.addAll(again.events().items());
    for (int i = 0; i < kept.size(); i++) {
      assertEquals(i + 1, kept.get(i).seq());
    }
    assertEquals(expected, SseEvent.text(kept));
  }

  @Test
  @DisplayName("a non-streaming SDK call gets one chat.completion whose id is the generation's")
  void sdkNonStreaming(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx));
    ChatCompletion completion = sdk(hub).chat().completions().create(params(12, 1000));
    String text = completion.choices().get(0).message().content().orElseThrow();
    JsonObject status = await(hub.get("/v1/generations/" + completion.id())).bodyAsJsonObject();
    assertEquals(text, status.getString("text"));
    assertEquals(12, completion.usage().orElseThrow().completionTokens());
  }

  @Test
  @DisplayName(
      "over its tenant's limits the SDK raises its own RateLimitException and BadRequestException,"
          + " with OpenAI's code, param and headers")
  void sdkSeesTheLimits(Vertx vertx) {
    String key = "sk-acme-1234567890abcdef";
    TestHub hub =
        await(
            TestHub.start(
                vertx,
                "TOKENBUS_API_KEYS",
                "acme:" + key,
                "TOKENBUS_LIMITS_REQUESTS_PER_MINUTE",
                "2",
                "TOKENBUS_LIMITS_MAX_TOKENS",
                "10"));
    OpenAIClient sdk =
        OpenAIOkHttpClient.builder()
            .baseUrl("http://127.0.0.1:" + hub.port() + "/v1")
            .apiKey(key)
            .maxRetries(0)
            .build();
    BadRequestException tooMany =
        assertThrows(
            BadRequestException.class, () -> sdk.chat().completions().create(params(11, 1000)));
    assertEquals("max_tokens_exceeded", tooMany.code().orElse(null));
    assertEquals("max_completion_tokens", tooMany.param().orElse(null));
    assertEquals(
        10, sdk.chat().completions().create(params(10, 1000)).usage().get().completionTokens());
    RateLimitException limited =
        assertThrows(
            RateLimitException.class, () -> sdk.chat().completions().create(params(5, 1000)));
    assertEquals("rate_limit_exceeded", limited.code().orElse(null));
    assertEquals("2", limited.headers().values("x-ratelimit-limit-requests").get(0));
    assertTrue(Integer.parseInt(limited.headers().values("retry-after").get(0)) >= 1);
  }
}
