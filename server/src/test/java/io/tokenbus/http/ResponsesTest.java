package io.tokenbus.http;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseOutputMessage;
import com.openai.models.responses.ResponseStatus;
import com.openai.models.responses.ResponseStreamEvent;
import io.tokenbus.provider.MockText;
import io.tokenbus.support.FakeOpenAi;
import io.tokenbus.support.SseClient;
import io.tokenbus.support.SseEvent;
import io.tokenbus.support.TestHub;
import io.tokenbus.support.UpstreamScript;
import io.tokenbus.support.UpstreamScript.Answer;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** POST /v1/responses with the official OpenAI Java SDK, unchanged. */
@ExtendWith(VertxExtension.class)
@DisplayName("The Responses API with the official OpenAI SDK")
class ResponsesTest {

  private static OpenAIClient sdk(TestHub hub) {
    return OpenAIOkHttpClient.builder()
        .baseUrl("http://127.0.0.1:" + hub.port() + "/v1")
        .apiKey("unused")
        .maxRetries(0)
        .build();
  }

  private static ResponseCreateParams params(long tokens) {
    return ResponseCreateParams.builder()
        .model("mock")
        .instructions("Be brief.")
        .input("Tell everyone")
        .maxOutputTokens(tokens)
        .putAdditionalBodyProperty("mock_tokens_per_second", JsonValue.from(2000))
        .build();
  }

  private static String text(Response response) {
    StringBuilder text = new StringBuilder();
    response.output().stream()
        .flatMap(item -> item.message().stream())
        .flatMap(message -> message.content().stream())
        .flatMap(content -> content.outputText().stream())
        .forEach(part -> text.append(part.text()));
    return text.toString();
  }

  @Test
  @DisplayName("responses.create answers the whole response: its text, usage and status")
  void create(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx));
    Response response = sdk(hub).responses().create(params(40));
    assertEquals(MockText.text(40), text(response));
    assertEquals(
        ResponseStatus.INCOMPLETE, response.status().orElseThrow(), "stopped at its limit");
    assertEquals(40, response.usage().orElseThrow().outputTokens());
    assertTrue(response.id().startsWith("chatcmpl-"), "the response is a generation");
    ResponseOutputMessage message = response.output().get(0).message().orElseThrow();
    assertEquals("msg_" + response.id(), message.id());
    // Its id is a generation's: anyone may watch or replay it.
    var status = await(hub.get("/v1/generations/" + response.id())).bodyAsJsonObject();
    assertEquals(MockText.text(40), status.getString("text"));
  }

  @Test
  @DisplayName(
      "responses.createStreaming: created, in progress, item and part added, deltas, done events,"
          + " completed, each numbered after the one before")
  void stream(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx));
    StringBuilder text = new StringBuilder();
    List<String> types = new ArrayList<>();
    Response completed = null;
    String done = null;
    try (StreamResponse<ResponseStreamEvent> stream =
        sdk(hub).responses().createStreaming(params(30))) {
      for (ResponseStreamEvent event : (Iterable<ResponseStreamEvent>) stream.stream()::iterator) {
        event.outputTextDelta().ifPresent(delta -> text.append(delta.delta()));
        if (event.outputTextDone().isPresent()) {
          done = event.outputTextDone().get().text();
        }
        if (event.completed().isPresent()) {
          completed = event.completed().get().response();
        }
        if (event.incomplete().isPresent()) {
          completed = event.incomplete().get().response();
        }
        types.add(type(event));
      }
    }
    assertEquals(MockText.text(30), text.toString());
    assertEquals(text.toString(), done);
    assertEquals(text.toString(), text(completed));
    assertEquals(
        List.of(
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added"),
        types.subList(0, 4));
    assertEquals(
        List.of(
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.incomplete"),
        types.subList(types.size() - 4, types.size()));
  }

  /** The event's type, as the SDK read it. */
  private static String type(ResponseStreamEvent event) {
    if (event.isCreated()) {
      return "response.created";
    } else if (event.isInProgress()) {
      return "response.in_progress";
    } else if (event.isOutputItemAdded()) {
      return "response.output_item.added";
    } else if (event.isContentPartAdded()) {
      return "response.content_part.added";
    } else if (event.isOutputTextDelta()) {
      return "response.output_text.delta";
    } else if (event.isOutputTextDone()) {
      return "response.output_text.done";
    } else if (event.isContentPartDone()) {
      return "response.content_part.done";
    } else if (event.isOutputItemDone()) {
      return "response.output_item.done";
    } else if (event.isCompleted()) {
      return "response.completed";
    } else if (event.isIncomplete()) {
      return "response.incomplete";
    }
    return "other";
  }

  @Test
  @DisplayName("the stream's sequence numbers only grow, and its text is the generation's")
  void sequenceNumbers(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx));
    SseClient sse =
        await(
            SseClient.post(
                SseClient.client(vertx),
                hub.port(),
                "/v1/responses",
                "{\"model\":\"mock\",\"input\":[{\"role\":\"user\",\"content\":[{\"type\":"
                    + "\"input_text\",\"text\":\"hi\"}]}],\"stream\":true,\"max_output_tokens\":20,"
                    + "\"mock_tokens_per_second\":2000}"));
    await(sse.ended());
    long last = -1;
    for (SseEvent event : sse.events().items()) {
      long sequence = event.json().getLong("sequence_number");
      assertTrue(sequence > last, event.data());
      assertEquals(event.event(), event.json().getString("type"));
      last = sequence;
    }
  }

  @Test
  @DisplayName(
      "function tools: the call is a function_call item, streamed as its arguments' deltas; its"
          + " output goes back as a tool message")
  void functionCalls(Vertx vertx) {
    FakeOpenAi upstream = await(FakeOpenAi.start(vertx));
    TestHub hub = await(TestHub.start(vertx, Map.of("OPENAI_BASE_URL", upstream.baseUrl())));
    Answer call =
        Answer.toolCall("call_abc123", "get_weather", List.of("{\"loc", "ation\":", " \"Paris\"}"));
    upstream.respondInOrder(call, call, UpstreamScript.Answer.of(List.of("Sunny", ".")));
    JsonObject tool =
        new JsonObject()
            .put("type", "function")
            .put("name", "get_weather")
            .put("parameters", new JsonObject().put("type", "object"));
    JsonObject request =
        new JsonObject()
            .put("model", "gpt-4o")
            .put("input", "Weather in Paris?")
            .put("tools", new JsonArray().add(tool));

    JsonObject whole = await(hub.post("/v1/responses", request)).bodyAsJsonObject();
    JsonArray output = whole.getJsonArray("output");
    assertEquals(1, output.size(), whole.encode());
    JsonObject item = output.getJsonObject(0);
    assertEquals("function_call", item.getString("type"));
    assertEquals("call_abc123", item.getString("call_id"));
    assertEquals("get_weather", item.getString("name"));
    assertEquals("{\"location\": \"Paris\"}", item.getString("arguments"));
    JsonArray sentTools = upstream.requests().items().get(0).body().getJsonArray("tools");
    assertEquals(
        "get_weather", sentTools.getJsonObject(0).getJsonObject("function").getString("name"));

    SseClient sse =
        await(
            SseClient.post(
                SseClient.client(vertx),
                hub.port(),
                "/v1/responses",
                request.copy().put("stream", true).encode()));
    await(sse.ended());
    StringBuilder arguments = new StringBuilder();
    String done = null;
    for (SseEvent event : sse.events().items()) {
      JsonObject data = event.json();
      switch (event.event()) {
        case "response.function_call_arguments.delta" -> arguments.append(data.getString("delta"));
        case "response.function_call_arguments.done" -> done = data.getString("arguments");
        case "response.completed" ->
            assertEquals(
                "function_call",
                data.getJsonObject("response")
                    .getJsonArray("output")
                    .getJsonObject(1)
                    .getString("type"));
        default -> {}
      }
    }
    assertEquals("{\"location\": \"Paris\"}", arguments.toString());
    assertEquals(arguments.toString(), done);

    JsonObject followUp =
        new JsonObject()
            .put("model", "gpt-4o")
            .put(
                "input",
                new JsonArray()
                    .add(new JsonObject().put("role", "user").put("content", "Weather in Paris?"))
                    .add(item)
                    .add(
                        new JsonObject()
                            .put("type", "function_call_output")
                            .put("call_id", "call_abc123")
                            .put("output", "{\"sky\": \"clear\"}")))
            .put("tools", new JsonArray().add(tool));
    JsonObject answered = await(hub.post("/v1/responses", followUp)).bodyAsJsonObject();
    assertEquals(
        "Sunny.",
        answered
            .getJsonArray("output")
            .getJsonObject(0)
            .getJsonArray("content")
            .getJsonObject(0)
            .getString("text"));
    JsonArray sent = upstream.requests().items().get(2).body().getJsonArray("messages");
    assertEquals("assistant", sent.getJsonObject(1).getString("role"));
    assertEquals(
        "call_abc123",
        sent.getJsonObject(1).getJsonArray("tool_calls").getJsonObject(0).getString("id"));
    assertEquals("tool", sent.getJsonObject(2).getString("role"));
    assertEquals("call_abc123", sent.getJsonObject(2).getString("tool_call_id"));
  }

  @Test
  @DisplayName("what is not served yet, or not a Responses request, is a 400 with its param")
  void refusals(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx));
    BadRequestException refused =
        Assertions.assertThrows(
            BadRequestException.class,
            () ->
                sdk(hub)
                    .responses()
                    .create(
                        ResponseCreateParams.builder()
                            .model("mock")
                            .input("hi")
                            .previousResponseId("chatcmpl-x")
                            .build()));
    assertEquals("previous_response_id", refused.param().orElseThrow());
    for (String body :
        List.of(
            "{\"model\":\"mock\"}",
            "{\"model\":\"mock\",\"input\":3}",
            "{\"model\":\"mock\",\"input\":[{\"role\":\"tool\",\"content\":\"x\"}]}",
            "{\"input\":\"hi\"}")) {
      var response = await(hub.postRaw("/v1/responses", body));
      assertEquals(400, response.statusCode(), body);
      assertTrue(response.bodyAsJsonObject().getJsonObject("error").getString("code") != null);
    }
  }
}
