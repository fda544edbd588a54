package io.tokenbus.http;

import io.tokenbus.bus.GenerationEvent;
import io.tokenbus.generation.GenerationEncoder;
import io.tokenbus.generation.GenerationSnapshot;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.Map;

/** The JSON views of a generation: its status object and its non-streaming chat completion. */
final class GenerationJson {

  private GenerationJson() {}

  static JsonObject status(GenerationSnapshot snapshot, int subscribers) {
    String id = snapshot.info().id();
    GenerationEvent terminal = snapshot.terminal();
    JsonObject json =
        new JsonObject()
            .put("id", id)
            .put("object", "generation")
            .put("model", snapshot.info().model())
            .put("tenant", snapshot.info().request().creator().tenant())
            .put("created", snapshot.info().created())
            .put("metadata", metadata(snapshot.info().request().metadata()))
            .put("status", snapshot.status().wireName())
            .put("text", snapshot.text())
            .put("seq", snapshot.lastSeq())
            .put("finish_reason", terminal == null ? null : terminal.finishReason())
            .put("usage", terminal == null ? null : GenerationEncoder.usage(terminal.usage()))
            .put("subscribers", subscribers)
            .put("owner", snapshot.info().owner())
            .put("epoch", snapshot.info().epoch())
            .put("recoveries", snapshot.recoveries())
            .put(
                "last_recovery",
                snapshot.lastRecovery() == null
                    ? null
                    : GenerationEncoder.eventData(snapshot.lastRecovery()))
            .put("urls", urls(id));
    if (terminal != null && terminal.failure() != null) {
      json.put(
          "error",
          new JsonObject()
              .put("message", terminal.failure().message())
              .put("type", terminal.failure().type())
              .put("code", terminal.failure().code()));
    }
    return json;
  }

  static JsonObject metadata(Map<String, String> metadata) {
    JsonObject json = new JsonObject();
    metadata.forEach(json::put);
    return json;
  }

  static JsonObject urls(String id) {
    String base = "/v1/generations/" + id;
    return new JsonObject()
        .put("self", base)
        .put("events", base + "/events")
        .put("cancel", base + "/cancel")
        .put("websocket", "/v1/ws");
  }

  static JsonObject chatCompletion(GenerationSnapshot snapshot, JsonArray toolCalls) {
    GenerationEvent terminal = snapshot.terminal();
    JsonObject message =
        new JsonObject()
            .put("role", "assistant")
            .put(
                "content",
                snapshot.text().isEmpty() && !toolCalls.isEmpty() ? null : snapshot.text())
            .putNull("refusal");
    if (!toolCalls.isEmpty()) {
      message.put("tool_calls", toolCalls);
    }
    JsonObject choice =
        new JsonObject()
            .put("index", 0)
            .put("message", message)
            .putNull("logprobs")
            .put("finish_reason", terminal.finishReason());
    return new JsonObject()
        .put("id", snapshot.info().id())
        .put("object", "chat.completion")
        .put("created", snapshot.info().created())
        .put("model", snapshot.info().model())
        .put("choices", new JsonArray().add(choice))
        .put("usage", GenerationEncoder.usage(terminal.usage()));
  }
}
