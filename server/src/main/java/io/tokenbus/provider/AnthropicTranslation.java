package io.tokenbus.provider;

import io.tokenbus.bus.GenerationRequest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * OpenAI's Chat Completions request in Anthropic's Messages terms, and Anthropic's answers back:
 * system and developer messages become {@code system}; {@code stop} becomes {@code stop_sequences};
 * {@code max_tokens} (required there) defaults to the provider's setting; tools, tool calls and
 * tool results are translated; stop reasons and error types are mapped.
 */
final class AnthropicTranslation {

  private AnthropicTranslation() {}

  /**
   * The Messages request for an OpenAI-shaped one.
   *
   * @throws IllegalArgumentException for what the Messages API cannot express (the message says
   *     what)
   */
  static JsonObject request(
      GenerationRequest request, String model, Continuation from, int defaultMaxTokens) {
    JsonObject openai = request.body();
    JsonObject body =
        new JsonObject()
            .put("model", model)
            .put("stream", true)
            .put(
                "max_tokens", request.maxTokens() != null ? request.maxTokens() : defaultMaxTokens);
    StringBuilder system = new StringBuilder();
    JsonArray messages = new JsonArray();
    for (Object m : openai.getJsonArray("messages", new JsonArray())) {
      JsonObject message = (JsonObject) m;
      String role = message.getString("role", "");
      switch (role) {
        case "system", "developer" -> {
          if (!system.isEmpty()) {
            system.append("\n\n");
          }
          system.append(text(message.getValue("content")));
        }
        case "user" ->
            messages.add(
                new JsonObject()
                    .put("role", "user")
                    .put("content", text(message.getValue("content"))));
        case "assistant" -> messages.add(assistant(message));
        case "tool" ->
            messages.add(
                new JsonObject()
                    .put("role", "user")
                    .put(
                        "content",
                        new JsonArray()
                            .add(
                                new JsonObject()
                                    .put("type", "tool_result")
                                    .put("tool_use_id", message.getString("tool_call_id"))
                                    .put("content", text(message.getValue("content"))))));
        default ->
            throw new IllegalArgumentException(
                "Message role '" + role + "' cannot be sent to an Anthropic model");
      }
    }
    if (from != null) {
      // The API refuses a final assistant turn ending in white space; Claude writes it again
      // itself.
      String prefill = from.text().stripTrailing();
      if (!prefill.isEmpty()) {
        messages.add(new JsonObject().put("role", "assistant").put("content", prefill));
      }
    }
    body.put("messages", messages);
    if (!system.isEmpty()) {
      body.put("system", system.toString());
    }
    Object stop = openai.getValue("stop");
    if (stop instanceof String s) {
      body.put("stop_sequences", new JsonArray().add(s));
    } else if (stop instanceof JsonArray a && !a.isEmpty()) {
      body.put("stop_sequences", a.copy());
    }
    for (String field : new String[] {"temperature", "top_p", "top_k"}) {
      if (openai.getValue(field) instanceof Number n) {
        body.put(field, n);
      }
    }
    if (openai.getValue("user") instanceof String user) {
      body.put("metadata", new JsonObject().put("user_id", user));
    }
    if (openai.getValue("tools") instanceof JsonArray tools && !tools.isEmpty()) {
      body.put("tools", tools(tools));
      if (openai.getValue("tool_choice") != null) {
        body.put("tool_choice", toolChoice(openai.getValue("tool_choice")));
      }
    }
    return body;
  }

  private static JsonObject assistant(JsonObject message) {
    JsonArray content = new JsonArray();
    String text = text(message.getValue("content"));
    if (!text.isEmpty()) {
      content.add(new JsonObject().put("type", "text").put("text", text));
    }
    if (message.getValue("tool_calls") instanceof JsonArray calls) {
      for (Object c : calls) {
        JsonObject call = (JsonObject) c;
        JsonObject function = call.getJsonObject("function", new JsonObject());
        String arguments = function.getString("arguments", "{}");
        content.add(
            new JsonObject()
                .put("type", "tool_use")
                .put("id", call.getString("id"))
                .put("name", function.getString("name"))
                .put("input", arguments.isBlank() ? new JsonObject() : new JsonObject(arguments)));
      }
    }
    return new JsonObject().put("role", "assistant").put("content", content);
  }

  private static JsonArray tools(JsonArray tools) {
    JsonArray out = new JsonArray();
    for (Object t : tools) {
      JsonObject function = ((JsonObject) t).getJsonObject("function");
      if (function == null) {
        throw new IllegalArgumentException("Only function tools can be sent to an Anthropic model");
      }
      JsonObject tool =
          new JsonObject()
              .put("name", function.getString("name"))
              .put(
                  "input_schema",
                  function.getJsonObject("parameters", new JsonObject().put("type", "object")));
      if (function.getString("description") != null) {
        tool.put("description", function.getString("description"));
      }
      out.add(tool);
    }
    return out;
  }

  private static JsonObject toolChoice(Object choice) {
    if (choice instanceof JsonObject named && named.getJsonObject("function") != null) {
      return new JsonObject()
          .put("type", "tool")
          .put("name", named.getJsonObject("function").getString("name"));
    }
    return switch (String.valueOf(choice)) {
      case "required" -> new JsonObject().put("type", "any");
      case "none" -> new JsonObject().put("type", "none");
      default -> new JsonObject().put("type", "auto");
    };
  }

  /** A message's text: a string, or the text parts of an array of parts. */
  private static String text(Object content) {
    if (content == null) {
      return "";
    }
    if (content instanceof String s) {
      return s;
    }
    if (content instanceof JsonArray parts) {
      StringBuilder text = new StringBuilder();
      for (Object p : parts) {
        if (p instanceof JsonObject part && "text".equals(part.getString("type"))) {
          text.append(part.getString("text", ""));
        } else {
          throw new IllegalArgumentException(
              "Only text content parts can be sent to an Anthropic model");
        }
      }
      return text.toString();
    }
    throw new IllegalArgumentException(
        "A message's content must be a string or an array of text parts");
  }

  /** Anthropic's stop reason as OpenAI's finish reason. */
  static String finishReason(String stopReason) {
    if (stopReason == null) {
      return "stop";
    }
    return switch (stopReason) {
      case "max_tokens", "model_context_window_exceeded" -> "length";
      case "tool_use" -> "tool_calls";
      case "refusal" -> "content_filter";
      default -> "stop"; // end_turn, stop_sequence, pause_turn
    };
  }

  /**
   * The HTTP status an Anthropic error type stands for (its streamed errors carry only the type).
   */
  static int statusOf(String errorType) {
    return switch (errorType) {
      case "invalid_request_error" -> 400;
      case "authentication_error" -> 401;
      case "permission_error" -> 403;
      case "not_found_error" -> 404;
      case "request_too_large" -> 413;
      case "rate_limit_error" -> 429;
      case "overloaded_error" -> 529;
      default -> 500;
    };
  }
}
