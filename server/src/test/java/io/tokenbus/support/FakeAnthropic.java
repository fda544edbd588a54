package io.tokenbus.support;

import io.tokenbus.support.UpstreamScript.Answer;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Map;

/**
 * A fake Anthropic Messages API on 127.0.0.1 that answers {@code POST /v1/messages} the way
 * api.anthropic.com does, byte for byte: with {@code "stream": true}, {@code event: <type>\ndata:
 * <json>\n\n} events {@code message_start}, {@code content_block_start}, {@code ping}, {@code
 * content_block_delta} per token ({@code text_delta}, or {@code input_json_delta} for a tool call),
 * {@code content_block_stop}, {@code message_delta} with the stop reason and output tokens, {@code
 * message_stop}; without it, one {@code message} JSON. It rejects requests as the real API does: no
 * {@code x-api-key} (401), no {@code anthropic-version}, a missing required field, or a final
 * assistant message ending in whitespace (400), all in Anthropic's error shape.
 *
 * <p>What it answers is scripted with {@link #respond} / {@link #respondInOrder}: an {@link
 * UpstreamScript.Answer}, an {@link UpstreamScript.Status} (see {@link #overloaded()}, {@link
 * #rateLimited(int)}), {@link UpstreamScript#hang()}, or {@link Raw} bytes. A final assistant
 * message is a prefill: the answer continues right after its text, as the real API does.
 */
public final class FakeAnthropic extends FakeUpstream {

  private static final String OVERLOADED =
      "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}";

  private FakeAnthropic(Vertx vertx) {
    super(vertx, "/v1/messages", Answer.of(List.of("Hi")));
  }

  public static Future<FakeAnthropic> start(Vertx vertx) {
    FakeAnthropic fake = new FakeAnthropic(vertx);
    return fake.listen().map(fake);
  }

  /** The API root without {@code /v1}, as the Anthropic SDKs take it. */
  public String baseUrl() {
    return origin();
  }

  /** An error answer in Anthropic's shape. */
  public static UpstreamScript.Status error(int status, String type, String message) {
    return new UpstreamScript.Status(status, errorBody(type, message), Map.of());
  }

  /** The 529 Anthropic answers when it is overloaded. */
  public static UpstreamScript.Status overloaded() {
    return new UpstreamScript.Status(529, OVERLOADED, Map.of());
  }

  /**
   * The 429 Anthropic answers when a rate limit is reached, with its {@code retry-after} header.
   */
  public static UpstreamScript.Status rateLimited(int retryAfterSeconds) {
    return new UpstreamScript.Status(
        429,
        errorBody(
            "rate_limit_error",
            "Number of request tokens has exceeded your "
                + "per-minute rate limit (https://docs.anthropic.com/en/api/rate-limits); see the response headers for current "
                + "usage. Please reduce the prompt length or the maximum tokens requested, or try again later."),
        Map.of("retry-after", String.valueOf(retryAfterSeconds)));
  }

  private static String errorBody(String type, String message) {
    return "{\"type\":\"error\",\"error\":{\"type\":"
        + Json.encode(type)
        + ",\"message\":"
        + Json.encode(message)
        + "}}";
  }

  @Override
  protected UpstreamScript.Status notFound() {
    return error(404, "not_found_error", "Not found");
  }

  /** The text of a final assistant message (a prefill), which the answer continues; else null. */
  @Override
  protected String continuedFrom(JsonObject body) {
    if (!(body.getValue("messages") instanceof JsonArray list)
        || list.isEmpty()
        || !(list.getValue(list.size() - 1) instanceof JsonObject last)) {
      return null;
    }
    return "assistant".equals(last.getString("role")) ? text(last.getValue("content")) : null;
  }

  /** The real API's checks, in its order. */
  @Override
  protected UpstreamScript.Status reject(MultiMap headers, JsonObject body, String prefill) {
    if (headers.get("x-api-key") == null) {
      return error(401, "authentication_error", "x-api-key header is required");
    }
    if (headers.get("anthropic-version") == null) {
      return error(400, "invalid_request_error", "anthropic-version: header is required");
    }
    if (body == null) {
      return error(400, "invalid_request_error", "There was an error parsing the body as JSON");
    }
    for (String field : List.of("model", "messages", "max_tokens")) {
      if (!body.containsKey(field)) {
        return error(400, "invalid_request_error", field + ": Field required");
      }
    }
    if (prefill != null
        && !prefill.isEmpty()
        && Character.isWhitespace(prefill.charAt(prefill.length() - 1))) {
      return error(
          400,
          "invalid_request_error",
          "messages: final assistant content cannot end with trailing whitespace");
    }
    return null;
  }

  @Override
  protected UpstreamScript.Status badContinuation(String message) {
    return error(400, "invalid_request_error", message);
  }

  @Override
  protected void send(
      HttpServerResponse response, JsonObject body, Answer answer, List<String> pieces) {
    String model = Json.encode(body.getValue("model"));
    if (body.getBoolean("stream", false)) {
      response.putHeader("cache-control", "no-cache").putHeader("request-id", "req_fake01");
      stream(response, answer, pieces, new EventWriter(response, answer, model));
      return;
    }
    long generationMs = answer.firstTokenDelayMs() + answer.intervalMs() * pieces.size();
    if (generationMs > 0) {
      vertx.setTimer(generationMs, t -> whole(response, model, answer, pieces));
    } else {
      whole(response, model, answer, pieces);
    }
  }

  /**
   * The non-streaming answer, sent after the time streaming would take. A fault that would strike
   * within the answer applies to it as a whole: DROP resets, HANG never answers, ERROR_EVENT
   * answers 529 overloaded, GARBAGE sends a truncated body and keeps the connection open, NO_FINISH
   * answers the text up to the fault with a null stop_reason.
   */
  private static void whole(
      HttpServerResponse response, String model, Answer answer, List<String> pieces) {
    if (response.closed()) {
      return;
    }
    int sent = pieces.size();
    String stopReason = stopReason(answer.finishReason());
    if (answer.fault() != UpstreamScript.Fault.NONE && answer.faultAfter() <= pieces.size()) {
      switch (answer.fault()) {
        case DROP -> response.reset();
        case ERROR_EVENT -> UpstreamScript.reply(response, overloaded());
        case GARBAGE ->
            response
                .setChunked(true)
                .putHeader("content-type", "application/json")
                .write(
                    "{\"id\":\"msg_fake01\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[{");
        default -> {
          // HANG never answers; NO_FINISH answers the cut text below
        }
      }
      if (answer.fault() != UpstreamScript.Fault.NO_FINISH) {
        return;
      }
      sent = answer.faultAfter();
      stopReason = null;
    }
    String text = String.join("", pieces.subList(0, sent));
    response
        .putHeader("content-type", "application/json")
        .putHeader("request-id", "req_fake01")
        .end(
            "{\"id\":\"msg_fake01\",\"type\":\"message\",\"role\":\"assistant\",\"model\":"
                + model
                + ",\"content\":["
                + block(answer, text)
                + "],\"stop_reason\":"
                + Json.encode(stopReason)
                + ",\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"output_tokens\":"
                + sent
                + "}}");
  }

  /** The content block of a whole answer: the text, or the tool call with its parsed input. */
  private static String block(Answer answer, String text) {
    if (answer.toolCall() == null) {
      return "{\"type\":\"text\",\"text\":" + Json.encode(text) + "}";
    }
    JsonObject input;
    try {
      input = new JsonObject(text);
    } catch (DecodeException e) {
      input = new JsonObject(); // arguments cut short by a fault
    }
    return "{\"type\":\"tool_use\",\"id\":"
        + Json.encode(answer.toolCall().id())
        + ",\"name\":"
        + Json.encode(answer.toolCall().name())
        + ",\"input\":"
        + input.encode()
        + "}";
  }

  /** The Anthropic stop reason for an OpenAI finish reason; Anthropic values pass unchanged. */
  static String stopReason(String finishReason) {
    if (finishReason == null) {
      return null;
    }
    return switch (finishReason) {
      case "stop" -> "end_turn";
      case "length" -> "max_tokens";
      case "tool_calls" -> "tool_use";
      default -> finishReason;
    };
  }

  /** The server-sent events of one streamed answer. */
  private record EventWriter(HttpServerResponse response, Answer answer, String model)
      implements UpstreamScript.Wire {

    @Override
    public void preamble() {
      event(
          "message_start",
          "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_fake01\",\"type\":\"message\","
              + "\"role\":\"assistant\",\"model\":"
              + model
              + ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,"
              + "\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}");
      String block =
          answer.toolCall() == null
              ? "{\"type\":\"text\",\"text\":\"\"}"
              : "{\"type\":\"tool_use\",\"id\":"
                  + Json.encode(answer.toolCall().id())
                  + ",\"name\":"
                  + Json.encode(answer.toolCall().name())
                  + ",\"input\":{}}";
      event(
          "content_block_start",
          "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":" + block + "}");
      event("ping", "{\"type\": \"ping\"}"); // sic: the real API puts a space here
    }

    @Override
    public void token(int index, String piece) {
      String delta =
          answer.toolCall() == null
              ? "{\"type\":\"text_delta\",\"text\":" + Json.encode(piece) + "}"
              : "{\"type\":\"input_json_delta\",\"partial_json\":" + Json.encode(piece) + "}";
      event(
          "content_block_delta",
          "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":" + delta + "}");
    }

    @Override
    public void finish(int sent) {
      event("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}");
      event(
          "message_delta",
          "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
              + Json.encode(stopReason(answer.finishReason()))
              + ",\"stop_sequence\":null},\"usage\":{\"output_tokens\":"
              + sent
              + "}}");
      response.end("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
    }

    @Override
    public void garbage() {
      response.write(
          "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\n\n");
    }

    @Override
    public void errorEvent() {
      response.end("event: error\ndata: " + OVERLOADED + "\n\n");
    }

    private void event(String type, String json) {
      response.write("event: " + type + "\ndata: " + json + "\n\n");
    }
  }
}
