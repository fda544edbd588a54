package io.tokenbus.support;

import io.tokenbus.support.UpstreamScript.Answer;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
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
 * <json>\n\n} events {@code message_start}, {@code content_block_start}, {@code ping},
 * {@code content_block_delta} per token ({@code text_delta}, or {@code input_json_delta} for a tool
 * call), {@code content_block_stop}, {@code message_delta} with the stop reason and output tokens,
 * {@code message_stop}; without it, one {@code message} JSON. It rejects requests as the real API
 * does: no {@code x-api-key} (401), no {@code anthropic-version}, a missing required field, or a final
 * assistant message ending in whitespace (400), all in Anthropic's error shape.
 *
 * <p>What it answers is scripted with {@link #respond} / {@link #respondInOrder}: an
 * {@link UpstreamScript.Answer}, an {@link UpstreamScript.Status} (see {@link #overloaded()},
 * {@link #rateLimited(int)}), {@link UpstreamScript#hang()}, or {@link FakeOpenAi.Raw} bytes. A final
 * assistant message is a prefill: the answer continues right after its text, as the real API does.
 */
public final class FakeAnthropic {

  /**
   * A request as the fake received it (body null if it was not JSON), when its connection closed, and
   * the prefill it asked to continue (null for a fresh request).
   */
  public record Received(JsonObject body, MultiMap headers, Future<Long> closedAtNanos, String continuedFrom) {

    /** The {@code system} field as sent: a string, an array of text blocks, or null. */
    public Object system() {
      return body == null ? null : body.getValue("system");
    }

    /** The system prompt's text, its blocks joined; null when there is none. */
    public String systemText() {
      return system() == null ? null : text(system());
    }

    public JsonArray messages() {
      return body == null ? null : body.getJsonArray("messages");
    }
  }

  private static final String OVERLOADED = "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}";

  private final Vertx vertx;
  private final UpstreamScript script = new UpstreamScript(Answer.of(List.of("Hi")));
  private final Recorder<Received> requests = new Recorder<>();
  private HttpServer server;

  private FakeAnthropic(Vertx vertx) {
    this.vertx = vertx;
  }

  public static Future<FakeAnthropic> start(Vertx vertx) {
    FakeAnthropic fake = new FakeAnthropic(vertx);
    fake.server = vertx.createHttpServer().requestHandler(fake::handle);
    return fake.server.listen(0, "127.0.0.1").map(s -> fake);
  }

  /** The API root without {@code /v1}, as the Anthropic SDKs take it. */
  public String baseUrl() {
    return "http://127.0.0.1:" + server.actualPort();
  }

  public Future<Void> close() {
    return server.close();
  }

  /** Answers every next accepted request with {@code next}. */
  public void respond(UpstreamScript.Behavior next) {
    respondInOrder(next);
  }

  /** Answers accepted request i with {@code behaviors[i]}; the last one repeats for every later request. */
  public void respondInOrder(UpstreamScript.Behavior... behaviors) {
    for (UpstreamScript.Behavior behavior : behaviors) {
      if (!(behavior instanceof Answer || behavior instanceof UpstreamScript.Status
          || behavior instanceof FakeOpenAi.Hang || behavior instanceof FakeOpenAi.Raw)) {
        throw new IllegalArgumentException("FakeAnthropic cannot answer with " + behavior);
      }
    }
    script.respondInOrder(behaviors);
  }

  public Recorder<Received> requests() {
    return requests;
  }

  /** An error answer in Anthropic's shape. */
  public static UpstreamScript.Status error(int status, String type, String message) {
    return new UpstreamScript.Status(status, errorBody(type, message), Map.of());
  }

  /** The 529 Anthropic answers when it is overloaded. */
  public static UpstreamScript.Status overloaded() {
    return new UpstreamScript.Status(529, OVERLOADED, Map.of());
  }

  /** The 429 Anthropic answers when a rate limit is reached, with its {@code retry-after} header. */
  public static UpstreamScript.Status rateLimited(int retryAfterSeconds) {
    return new UpstreamScript.Status(429, errorBody("rate_limit_error", "Number of request tokens has exceeded your "
        + "per-minute rate limit (https://docs.anthropic.com/en/api/rate-limits); see the response headers for current "
        + "usage. Please reduce the prompt length or the maximum tokens requested, or try again later."),
        Map.of("retry-after", String.valueOf(retryAfterSeconds)));
  }

  private static String errorBody(String type, String message) {
    return "{\"type\":\"error\",\"error\":{\"type\":" + Json.encode(type) + ",\"message\":" + Json.encode(message) + "}}";
  }

  private void handle(HttpServerRequest request) {
    if (!request.path().equals("/v1/messages")) {
      UpstreamScript.reply(request.response(), error(404, "not_found_error", "Not found"));
      return;
    }
    Promise<Long> closed = Promise.promise();
    request.connection().closeHandler(v -> closed.tryComplete(System.nanoTime()));
    request.body().onSuccess(buffer -> answer(request, buffer, closed.future()));
  }

  private void answer(HttpServerRequest request, Buffer buffer, Future<Long> closed) {
    JsonObject body = parse(buffer);
    String prefill = body == null ? null : prefill(body.getValue("messages"));
    requests.add(new Received(body, request.headers(), closed, prefill));
    HttpServerResponse response = request.response();
    UpstreamScript.Status rejection = validate(request.headers(), body, prefill);
    if (rejection != null) {
      UpstreamScript.reply(response, rejection);
      return;
    }
    UpstreamScript.Behavior current = script.next();
    if (current instanceof UpstreamScript.Status status) {
      UpstreamScript.reply(response, status);
    } else if (current instanceof Answer answer) {
      continueAnswer(response, body, answer, prefill);
    } else if (current instanceof FakeOpenAi.Raw raw) {
      response.putHeader("content-type", "text/event-stream; charset=utf-8").end(raw.body());
    }
    // Hang: say nothing
  }

  private static JsonObject parse(Buffer buffer) {
    try {
      return buffer.toJsonObject();
    } catch (DecodeException | ClassCastException e) {
      return null;
    }
  }

  /** The real API's checks, in its order; null when the request is acceptable. */
  private static UpstreamScript.Status validate(MultiMap headers, JsonObject body, String prefill) {
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
    if (prefill != null && !prefill.isEmpty() && Character.isWhitespace(prefill.charAt(prefill.length() - 1))) {
      return error(400, "invalid_request_error", "messages: final assistant content cannot end with trailing whitespace");
    }
    return null;
  }

  /** The text of a final assistant message, which the answer continues; else null. */
  private static String prefill(Object messages) {
    if (!(messages instanceof JsonArray list) || list.isEmpty() || !(list.getValue(list.size() - 1) instanceof JsonObject last)) {
      return null;
    }
    return "assistant".equals(last.getString("role")) ? text(last.getValue("content")) : null;
  }

  /** A string, or the text blocks of a content array joined. */
  private static String text(Object content) {
    if (content instanceof String s) {
      return s;
    }
    StringBuilder text = new StringBuilder();
    if (content instanceof JsonArray blocks) {
      for (Object block : blocks) {
        if (block instanceof JsonObject b && "text".equals(b.getString("type"))) {
          text.append(b.getString("text", ""));
        }
      }
    }
    return text.toString();
  }

  private void continueAnswer(HttpServerResponse response, JsonObject body, Answer answer, String prefill) {
    List<String> pieces = answer.remainder(prefill);
    if (pieces == null) {
      UpstreamScript.reply(response, error(400, "invalid_request_error", "FakeAnthropic: the continuation does not match "
          + "the scripted answer. Prefill sent: " + Json.encode(prefill) + "; scripted answer: " + Json.encode(answer.text())));
    } else if (body.getBoolean("stream", false)) {
      stream(response, body, answer, pieces);
    } else {
      long generationMs = answer.firstTokenDelayMs() + answer.intervalMs() * pieces.size();
      if (generationMs > 0) {
        vertx.setTimer(generationMs, t -> whole(response, body, answer, pieces));
      } else {
        whole(response, body, answer, pieces);
      }
    }
  }

  private void stream(HttpServerResponse response, JsonObject body, Answer answer, List<String> pieces) {
    response.setChunked(true).putHeader("content-type", "text/event-stream; charset=utf-8")
        .putHeader("cache-control", "no-cache").putHeader("request-id", "req_fake01");
    EventWriter events = new EventWriter(response, answer);
    events.preamble(Json.encode(body.getValue("model")));
    UpstreamScript.play(vertx, response, answer, pieces, events);
  }

  /**
   * The non-streaming answer, sent after the time streaming would take. A fault that would strike
   * within the answer applies to it as a whole: DROP resets, HANG never answers, ERROR_EVENT answers
   * 529 overloaded, GARBAGE sends a truncated body and keeps the connection open, NO_FINISH answers
   * the text up to the fault with a null stop_reason.
   */
  private static void whole(HttpServerResponse response, JsonObject body, Answer answer, List<String> pieces) {
    if (response.closed()) {
      return;
    }
    int sent = pieces.size();
    String stopReason = stopReason(answer.finishReason());
    if (answer.fault() != UpstreamScript.Fault.NONE && answer.faultAfter() <= pieces.size()) {
      switch (answer.fault()) {
        case DROP -> response.reset();
        case ERROR_EVENT -> UpstreamScript.reply(response, overloaded());
        case GARBAGE -> response.setChunked(true).putHeader("content-type", "application/json")
            .write("{\"id\":\"msg_fake01\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[{");
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
    response.putHeader("content-type", "application/json").putHeader("request-id", "req_fake01")
        .end("{\"id\":\"msg_fake01\",\"type\":\"message\",\"role\":\"assistant\",\"model\":" + Json.encode(body.getValue("model"))
            + ",\"content\":[" + block(answer, text) + "],\"stop_reason\":" + Json.encode(stopReason)
            + ",\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"output_tokens\":" + sent + "}}");
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
    return "{\"type\":\"tool_use\",\"id\":" + Json.encode(answer.toolCall().id()) + ",\"name\":"
        + Json.encode(answer.toolCall().name()) + ",\"input\":" + input.encode() + "}";
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
  private record EventWriter(HttpServerResponse response, Answer answer) implements UpstreamScript.Wire {

    void preamble(String model) {
      event("message_start", "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_fake01\",\"type\":\"message\","
          + "\"role\":\"assistant\",\"model\":" + model + ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,"
          + "\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}");
      String block = answer.toolCall() == null ? "{\"type\":\"text\",\"text\":\"\"}"
          : "{\"type\":\"tool_use\",\"id\":" + Json.encode(answer.toolCall().id()) + ",\"name\":"
              + Json.encode(answer.toolCall().name()) + ",\"input\":{}}";
      event("content_block_start", "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":" + block + "}");
      event("ping", "{\"type\": \"ping\"}"); // sic: the real API puts a space here
    }

    @Override
    public void token(int index, String piece) {
      String delta = answer.toolCall() == null ? "{\"type\":\"text_delta\",\"text\":" + Json.encode(piece) + "}"
          : "{\"type\":\"input_json_delta\",\"partial_json\":" + Json.encode(piece) + "}";
      event("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":" + delta + "}");
    }

    @Override
    public void finish(int sent) {
      event("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}");
      event("message_delta", "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
          + Json.encode(stopReason(answer.finishReason())) + ",\"stop_sequence\":null},\"usage\":{\"output_tokens\":" + sent + "}}");
      response.end("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
    }

    @Override
    public void garbage() {
      response.write("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\n\n");
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
