package io.tokenbus.http;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.errors.NotFoundException;
import com.openai.helpers.ChatCompletionAccumulator;
import com.openai.models.FunctionDefinition;
import com.openai.models.FunctionParameters;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionMessageFunctionToolCall;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import io.tokenbus.support.FakeAnthropic;
import io.tokenbus.support.FakeOpenAi;
import io.tokenbus.support.SseClient;
import io.tokenbus.support.SseEvent;
import io.tokenbus.support.TestHub;
import io.tokenbus.support.UpstreamScript.Answer;
import io.tokenbus.support.WsClient;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The official OpenAI SDK through tokenbus to both upstream formats: tool calling, fields passed
 * through both ways, and an Anthropic model spoken to in OpenAI's format.
 */
@ExtendWith(VertxExtension.class)
@DisplayName("The OpenAI SDK through tokenbus to OpenAI-compatible and Anthropic upstreams")
class UpstreamSdkTest {

  private static final List<String> TOKENS = List.of("Hello", " wörld", " 🌍", "\n\n", "你好", ".");

  private FakeOpenAi openai;
  private FakeAnthropic anthropic;
  private TestHub hub;
  private OpenAIClient sdk;

  @BeforeEach
  void start(Vertx vertx) {
    openai = await(FakeOpenAi.start(vertx));
    anthropic = await(FakeAnthropic.start(vertx));
    hub =
        await(
            TestHub.start(
                vertx,
                Map.of(
                    "OPENAI_BASE_URL",
                    openai.baseUrl(),
                    "OPENAI_API_KEY",
                    "sk-openai-test-0123456789",
                    "ANTHROPIC_BASE_URL",
                    anthropic.baseUrl(),
                    "ANTHROPIC_API_KEY",
                    "sk-ant-test-0123456789")));
    sdk =
        OpenAIOkHttpClient.builder()
            .baseUrl("http://127.0.0.1:" + hub.port() + "/v1")
            .apiKey("unused")
            .maxRetries(0)
            .build();
  }

  private static FunctionDefinition weatherTool() {
    return FunctionDefinition.builder()
        .name("get_weather")
        .description("Current weather")
        .parameters(
            FunctionParameters.builder()
                .putAdditionalProperty("type", JsonValue.from("object"))
                .putAdditionalProperty(
                    "properties", JsonValue.from(Map.of("location", Map.of("type", "string"))))
                .build())
        .build();
  }

  private static String streamText(
      StreamResponse<ChatCompletionChunk> stream, ChatCompletionAccumulator accumulator) {
    stream.stream().forEach(accumulator::accumulate);
    return accumulator.chatCompletion().choices().get(0).message().content().orElse("");
  }

  @Test
  @DisplayName(
      "a tool-calling request works through tokenbus with the SDK, streamed and not, and subscribers get tool_call events")
  void toolCalling(Vertx vertx) {
    Answer call =
        Answer.toolCall("call_abc123", "get_weather", List.of("{\"loc", "ation\":", " \"Paris\"}"));
    openai.respond(call);
    ChatCompletionCreateParams params =
        ChatCompletionCreateParams.builder()
            .model("gpt-4o")
            .addUserMessage("Weather in Paris?")
            .addFunctionTool(weatherTool())
            .build();

    ChatCompletion completion = sdk.chat().completions().create(params);
    assertEquals(
        ChatCompletion.Choice.FinishReason.TOOL_CALLS, completion.choices().get(0).finishReason());
    ChatCompletionMessageFunctionToolCall tool =
        completion.choices().get(0).message().toolCalls().orElseThrow().get(0).asFunction();
    assertEquals("call_abc123", tool.id());
    assertEquals("get_weather", tool.function().name());
    assertEquals("{\"location\": \"Paris\"}", tool.function().arguments());
    JsonObject sent = openai.requests().items().get(0).body();
    assertEquals(
        "get_weather",
        sent.getJsonArray("tools").getJsonObject(0).getJsonObject("function").getString("name"),
        "tools reach the upstream unchanged");

    ChatCompletionAccumulator accumulator = ChatCompletionAccumulator.create();
    String generation;
    try (StreamResponse<ChatCompletionChunk> stream =
        sdk.chat().completions().createStreaming(params)) {
      streamText(stream, accumulator);
    }
    ChatCompletion streamed = accumulator.chatCompletion();
    generation = streamed.id();
    ChatCompletionMessageFunctionToolCall streamedTool =
        streamed.choices().get(0).message().toolCalls().orElseThrow().get(0).asFunction();
    assertEquals("{\"location\": \"Paris\"}", streamedTool.function().arguments());
    assertEquals("get_weather", streamedTool.function().name());

    // The same generation, replayed to a subscriber: its tool-call deltas are tool_call events.
    SseClient replay =
        await(
            SseClient.get(
                SseClient.client(vertx),
                hub.port(),
                "/v1/generations/" + generation + "/events",
                Map.of()));
    await(replay.ended());
    List<SseEvent> toolEvents =
        replay.events().items().stream().filter(e -> e.event().equals("tool_call")).toList();
    assertEquals(4, toolEvents.size(), replay.events().items().toString());
    assertEquals(
        "call_abc123",
        toolEvents.get(0).json().getJsonArray("tool_calls").getJsonObject(0).getString("id"));
    assertEquals(
        "tool_calls",
        replay.events().items().get(replay.events().size() - 1).json().getString("finish_reason"));
  }

  @Test
  @DisplayName(
      "every field of an upstream chunk reaches the chat client unchanged; unknown request fields reach the upstream")
  void passThrough(Vertx vertx) {
    for (boolean logprobs : List.of(false, true)) {
      passThrough(vertx, logprobs);
    }
  }

  private void passThrough(Vertx vertx, boolean logprobs) {
    openai.respond(Answer.of(TOKENS).logprobs(logprobs));
    JsonObject request =
        new JsonObject()
            .put("model", "gpt-4o")
            .put("stream", true)
            .put("logprobs", true)
            .put("top_logprobs", 0)
            .put("temperature", 0.3)
            .put("response_format", new JsonObject().put("type", "json_object"))
            .put("seed", 7)
            .put(
                "messages",
                new JsonArray().add(new JsonObject().put("role", "user").put("content", "Hi")));
    SseClient stream =
        await(
            SseClient.post(
                SseClient.client(vertx), hub.port(), "/v1/chat/completions", request.encode()));
    await(stream.ended());
    JsonObject sent = openai.requests().items().get(openai.requests().size() - 1).body();
    for (String field :
        List.of("logprobs", "top_logprobs", "temperature", "response_format", "seed")) {
      assertEquals(request.getValue(field), sent.getValue(field), field);
    }
    List<JsonObject> content =
        stream.events().items().stream()
            .filter(e -> !e.data().equals("[DONE]"))
            .map(SseEvent::json)
            .filter(
                c ->
                    !c.getJsonArray("choices").isEmpty()
                        && c.getJsonArray("choices")
                                .getJsonObject(0)
                                .getJsonObject("delta")
                                .getString("content", "")
                                .length()
                            > 0)
            .toList();
    assertEquals(TOKENS.size(), content.size());
    for (int i = 0; i < TOKENS.size(); i++) {
      JsonObject chunk = content.get(i);
      assertEquals("fp_fake", chunk.getString("system_fingerprint"));
      assertEquals("default", chunk.getString("service_tier"));
      if (logprobs) {
        JsonObject logprob =
            chunk
                .getJsonArray("choices")
                .getJsonObject(0)
                .getJsonObject("logprobs")
                .getJsonArray("content")
                .getJsonObject(0);
        assertEquals(TOKENS.get(i), logprob.getString("token"));
      }
      assertEquals(
          stream.headers().get("X-Generation-Id"),
          chunk.getString("id"),
          "the id stays tokenbus's");
    }
  }

  @Test
  @DisplayName(
      "an Anthropic answer reaches the SDK (streamed and not), SSE and WebSocket subscribers intact, translated both ways")
  void anthropicThroughTheSdk(Vertx vertx) {
    anthropic.respond(Answer.of(TOKENS).interval(20));
    ChatCompletionCreateParams params =
        ChatCompletionCreateParams.builder()
            .model("claude-sonnet-4-5")
            .addSystemMessage("You are terse.")
            .addUserMessage("Greet the world")
            .maxCompletionTokens(300)
            .stop(ChatCompletionCreateParams.Stop.ofString("END"))
            .temperature(0.5)
            .build();

    ChatCompletion completion = sdk.chat().completions().create(params);
    assertEquals(
        String.join("", TOKENS), completion.choices().get(0).message().content().orElseThrow());
    assertEquals(
        ChatCompletion.Choice.FinishReason.STOP, completion.choices().get(0).finishReason());
    assertEquals(25, completion.usage().orElseThrow().promptTokens());
    assertEquals(TOKENS.size(), completion.usage().orElseThrow().completionTokens());
    FakeAnthropic.Received received = anthropic.requests().items().get(0);
    assertEquals("You are terse.", received.systemText());
    assertEquals(300, received.body().getInteger("max_tokens"));
    assertEquals(new JsonArray().add("END"), received.body().getJsonArray("stop_sequences"));
    assertEquals(0.5, received.body().getDouble("temperature"));
    assertEquals("claude-sonnet-4-5", received.body().getString("model"));
    assertEquals(1, received.messages().size(), "the system message is not a message there");
    assertEquals("2023-06-01", received.headers().get("anthropic-version"));
    assertEquals("sk-ant-test-0123456789", received.headers().get("x-api-key"));

    String generation;
    ChatCompletionAccumulator accumulator = ChatCompletionAccumulator.create();
    WsClient ws = await(WsClient.connect(vertx, hub.port()));
    try (StreamResponse<ChatCompletionChunk> stream =
        sdk.chat()
            .completions()
            .createStreaming(
                params.toBuilder()
                    .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build())
                    .build())) {
      var chunks = stream.stream().iterator();
      ChatCompletionChunk first = chunks.next();
      accumulator.accumulate(first);
      generation = first.id();
      await(ws.send(new JsonObject().put("type", "subscribe").put("generation", generation)));
      chunks.forEachRemaining(accumulator::accumulate);
    }
    assertEquals(
        String.join("", TOKENS),
        accumulator.chatCompletion().choices().get(0).message().content().orElseThrow());
    assertEquals(25, accumulator.chatCompletion().usage().orElseThrow().promptTokens());
    List<JsonObject> frames =
        await(ws.frames().when(f -> f.stream().anyMatch(x -> "done".equals(x.getString("type")))));
    StringBuilder wsText = new StringBuilder();
    frames.stream()
        .filter(f -> "delta".equals(f.getString("type")))
        .forEach(f -> wsText.append(f.getString("text")));
    assertEquals(String.join("", TOKENS), wsText.toString());
    SseClient sse =
        await(
            SseClient.get(
                SseClient.client(vertx),
                hub.port(),
                "/v1/generations/" + generation + "/events",
                Map.of()));
    await(sse.ended());
    assertEquals(String.join("", TOKENS), SseEvent.text(sse.events().items()));
  }

  @Test
  @DisplayName(
      "an Anthropic tool call arrives as OpenAI tool calls; GET /v1/models lists what is routed; unknown models are a 404 naming them")
  void anthropicToolsAndModels() {
    anthropic.respond(
        Answer.toolCall("toolu_01", "get_weather", List.of("{\"location\":", " \"Paris\"}")));
    ChatCompletion completion =
        sdk.chat()
            .completions()
            .create(
                ChatCompletionCreateParams.builder()
                    .model("claude-haiku-4-5")
                    .addUserMessage("Weather in Paris?")
                    .addFunctionTool(weatherTool())
                    .build());
    ChatCompletionMessageFunctionToolCall tool =
        completion.choices().get(0).message().toolCalls().orElseThrow().get(0).asFunction();
    assertEquals("toolu_01", tool.id());
    assertEquals("{\"location\": \"Paris\"}", tool.function().arguments());
    assertEquals(
        ChatCompletion.Choice.FinishReason.TOOL_CALLS, completion.choices().get(0).finishReason());
    JsonObject sentTool =
        anthropic.requests().items().get(0).body().getJsonArray("tools").getJsonObject(0);
    assertEquals("get_weather", sentTool.getString("name"));
    assertEquals("object", sentTool.getJsonObject("input_schema").getString("type"));

    List<String> ids = sdk.models().list().data().stream().map(m -> m.id()).toList();
    assertTrue(ids.containsAll(List.of("mock", "mock-*", "*", "claude-*")), ids.toString());

    // Without OpenAI's catch-all '*', a model nobody serves is OpenAI's 404, naming what is served.
    Vertx second = Vertx.vertx();
    try {
      TestHub anthropicOnly =
          await(
              TestHub.start(
                  second,
                  Map.of("ANTHROPIC_BASE_URL", anthropic.baseUrl(), "ANTHROPIC_API_KEY", "k")));
      notFound(anthropicOnly);
    } finally {
      await(second.close());
    }
  }

  private static void notFound(TestHub anthropicOnly) {
    OpenAIClient other =
        OpenAIOkHttpClient.builder()
            .baseUrl("http://127.0.0.1:" + anthropicOnly.port() + "/v1")
            .apiKey("unused")
            .maxRetries(0)
            .build();
    NotFoundException missing =
        Assertions.assertThrows(
            NotFoundException.class,
            () ->
                other
                    .chat()
                    .completions()
                    .create(
                        ChatCompletionCreateParams.builder()
                            .model("gemini-pro")
                            .addUserMessage("hi")
                            .build()));
    assertTrue(
        missing.getMessage().contains("claude-*") && missing.getMessage().contains("not served"),
        missing.getMessage());
  }
}
