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
import io.tokenbus.support.SseClient;
import io.tokenbus.support.SseEvent;
import io.tokenbus.support.TestHub;
import io.vertx.core.Vertx;
import io.vertx.junit5.VertxExtension;
import java.util.ArrayList;
import java.util.List;
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
