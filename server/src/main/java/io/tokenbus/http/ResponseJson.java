package io.tokenbus.http;

import io.tokenbus.bus.EventType;
import io.tokenbus.bus.GenerationEvent;
import io.tokenbus.bus.Usage;
import io.tokenbus.generation.GenerationEncoder;
import io.tokenbus.generation.GenerationInfo;
import io.tokenbus.generation.GenerationSnapshot;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/** The Responses API's objects: a response, its one message item, an output text part. */
final class ResponseJson {

  private ResponseJson() {}

  /** What a response echoes of its request. */
  record Echo(
      Object instructions,
      Object maxOutputTokens,
      Object temperature,
      Object topP,
      Object metadata,
      Object tools,
      Object toolChoice) {
    static Echo of(JsonObject body) {
      return new Echo(
          body.getValue("instructions"),
          body.getValue("max_output_tokens"),
          body.getValue("temperature"),
          body.getValue("top_p"),
          body.getValue("metadata"),
          body.getValue("tools"),
          body.getValue("tool_choice"));
    }
  }

  /** The {@code index}th function call of a generation, from its assembled chat tool call. */
  static JsonObject functionCall(String generationId, int index, JsonObject call) {
    JsonObject function = call.getJsonObject("function", new JsonObject());
    return new JsonObject()
        .put("type", "function_call")
        .put("id", GenerationEncoder.responseCallId(generationId, index))
        .put("call_id", call.getString("id"))
        .put("name", function.getString("name"))
        .put("arguments", function.getString("arguments", ""))
        .put("status", "completed");
  }

  static JsonObject text(String text) {
    return new JsonObject()
        .put("type", "output_text")
        .put("text", text)
        .put("annotations", new JsonArray());
  }

  static JsonObject message(String generationId, String status, String text) {
    JsonArray content = new JsonArray();
    if (!status.equals("in_progress")) {
      content.add(text(text));
    }
    return new JsonObject()
        .put("type", "message")
        .put("id", GenerationEncoder.responseItemId(generationId))
        .put("status", status)
        .put("role", "assistant")
        .put("content", content);
  }

  /**
   * A response object in {@code status}, with {@code output} (null: none yet) and {@code usage}
   * (null: none yet).
   */
  static JsonObject response(
      GenerationInfo info, Echo echo, String status, JsonArray output, Usage usage) {
    return new JsonObject()
        .put("id", info.id())
        .put("object", "response")
        .put("created_at", info.created())
        .put("status", status)
        .putNull("error")
        .putNull("incomplete_details")
        .put("instructions", echo.instructions())
        .put("max_output_tokens", echo.maxOutputTokens())
        .put("model", info.model())
        .put("output", output == null ? new JsonArray() : output)
        .put("parallel_tool_calls", true)
        .putNull("previous_response_id")
        .put("reasoning", new JsonObject().putNull("effort").putNull("summary"))
        .put("store", false)
        .put("temperature", echo.temperature() == null ? 1.0 : echo.temperature())
        .put("text", new JsonObject().put("format", new JsonObject().put("type", "text")))
        .put("tool_choice", echo.toolChoice() == null ? "auto" : echo.toolChoice())
        .put("tools", echo.tools() == null ? new JsonArray() : echo.tools())
        .put("top_p", echo.topP() == null ? 1.0 : echo.topP())
        .put("truncation", "disabled")
        .put("usage", usage(usage))
        .putNull("user")
        .put("metadata", echo.metadata() == null ? new JsonObject() : echo.metadata());
  }

  /**
   * The response of a finished generation: {@code completed}; {@code incomplete} when it stopped at
   * its token limit; {@code failed} (with its error) or {@code cancelled} otherwise.
   */
  static JsonObject finished(
      GenerationInfo info,
      Echo echo,
      GenerationSnapshot snapshot,
      JsonArray toolCalls,
      boolean streamed) {
    GenerationEvent terminal = snapshot.terminal();
    boolean done = terminal.type() == EventType.DONE;
    boolean truncated = done && "length".equals(terminal.finishReason());
    String status =
        done
            ? (truncated ? "incomplete" : "completed")
            : terminal.type() == EventType.ERROR ? "failed" : "cancelled";
    JsonArray output = new JsonArray();
    // A stream announced its message item first, whatever followed; a whole response has one
    // only when there is text, or nothing else.
    if (streamed || !snapshot.text().isEmpty() || toolCalls.isEmpty()) {
      output.add(message(info.id(), done ? "completed" : "incomplete", snapshot.text()));
    }
    for (int i = 0; i < toolCalls.size(); i++) {
      output.add(functionCall(info.id(), i, toolCalls.getJsonObject(i)));
    }
    JsonObject response = response(info, echo, status, output, terminal.usage());
    if (truncated) {
      response.put("incomplete_details", new JsonObject().put("reason", "max_output_tokens"));
    }
    if (terminal.failure() != null) {
      response.put(
          "error",
          new JsonObject()
              .put("code", terminal.failure().code())
              .put("message", terminal.failure().message()));
    }
    return response;
  }

  private static JsonObject usage(Usage usage) {
    if (usage == null) {
      return null;
    }
    return new JsonObject()
        .put("input_tokens", usage.promptTokens())
        .put("input_tokens_details", new JsonObject().put("cached_tokens", 0))
        .put("output_tokens", usage.completionTokens())
        .put("output_tokens_details", new JsonObject().put("reasoning_tokens", 0))
        .put("total_tokens", usage.totalTokens());
  }
}
