package io.tokenbus.provider;

import io.tokenbus.bus.Failure;
import io.tokenbus.bus.GenerationRequest;
import io.tokenbus.bus.Usage;
import io.tokenbus.config.TokenbusConfig;
import io.vertx.core.Vertx;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.HashMap;
import java.util.Map;

/**
 * Anthropic's Messages API ({@code POST /v1/messages}, streamed). Clients keep speaking OpenAI's
 * format to tokenbus; {@link AnthropicTranslation} turns the request around (system prompts, stop
 * sequences, tools) and this class reads the real event stream: {@code message_start} (input
 * tokens), {@code content_block_start} / {@code content_block_delta} / {@code content_block_stop}
 * (text, tool use, thinking), {@code message_delta} (stop reason, output tokens), {@code
 * message_stop}, {@code ping} and {@code error}. A continuation prefills the assistant turn with
 * the partial text, and Claude carries on right after it.
 */
final class AnthropicProvider implements Provider {

  private final StreamingCall.Http http;

  AnthropicProvider(Vertx vertx, String name, TokenbusConfig.Provider config, int maxConnections) {
    this.http = StreamingCall.Http.create(vertx, name, config, "/v1/messages", maxConnections);
  }

  @Override
  public String name() {
    return http.name();
  }

  /** A prefilled assistant turn: Claude carries on right after it, repeating nothing. */
  @Override
  public boolean continuesExactly() {
    return true;
  }

  /** The prefill is sent without its trailing white space, which Claude then writes again. */
  @Override
  public String rewrites(Continuation from) {
    return from.text().substring(from.text().stripTrailing().length());
  }

  @Override
  public UpstreamCall start(
      GenerationRequest request, String model, Continuation from, UpstreamListener listener) {
    Call call = new Call(http, listener);
    JsonObject body;
    try {
      body =
          AnthropicTranslation.request(
              request, model, from, http.config().anthropic().defaultMaxTokens());
    } catch (
        RuntimeException
            e) { // IllegalArgumentException, or a client's malformed JSON (tool arguments, say)
      call.endUnsent();
      listener.onFailure(
          UpstreamFailure.fatal(
              Failure.invalidRequest(
                  "unsupported_for_model",
                  "The request cannot be sent to an Anthropic model: " + e.getMessage())));
      return call;
    }
    RequestOptions auth =
        new RequestOptions().putHeader("anthropic-version", http.config().anthropic().version());
    if (!http.config().apiKey().isEmpty()) {
      auth.putHeader("x-api-key", http.config().apiKey());
    }
    return call.send(body, auth);
  }

  /** One upstream attempt: the Messages event stream. */
  private static final class Call extends StreamingCall {
    /** Anthropic content-block index → OpenAI tool-call index. */
    private final Map<Integer, Integer> toolIndexes = new HashMap<>();

    private String stopReason;
    private long inputTokens;
    private long outputTokens = -1;
    private long deltas;

    Call(StreamingCall.Http http, UpstreamListener listener) {
      super(http, listener);
    }

    @Override
    protected void onBodyEnd() {
      fail(
          UpstreamFailure.broken(
              Failure.upstream(
                  "The upstream stream ended before the answer finished (no message_stop)")),
          false);
    }

    @Override
    protected void onData(String data) {
      JsonObject event;
      try {
        event = new JsonObject(data);
      } catch (DecodeException e) {
        fail(
            UpstreamFailure.broken(Failure.upstream("The upstream sent an event that is not JSON")),
            true);
        return;
      }
      switch (event.getString("type", "")) {
        case "message_start" -> {
          JsonObject usage =
              event
                  .getJsonObject("message", new JsonObject())
                  .getJsonObject("usage", new JsonObject());
          inputTokens =
              usage.getLong("input_tokens", 0L)
                  + usage.getLong("cache_creation_input_tokens", 0L)
                  + usage.getLong("cache_read_input_tokens", 0L);
        }
        case "content_block_start" ->
            onBlockStart(
                event.getInteger("index", 0),
                event.getJsonObject("content_block", new JsonObject()));
        case "content_block_delta" ->
            onBlockDelta(
                event.getInteger("index", 0), event.getJsonObject("delta", new JsonObject()));
        case "message_delta" -> {
          if (event.getJsonObject("delta", new JsonObject()).getValue("stop_reason")
              instanceof String reason) {
            stopReason = reason;
          }
          if (event.getValue("usage") instanceof JsonObject usage
              && usage.getValue("output_tokens") instanceof Number n) {
            outputTokens = n.longValue();
          }
        }
        case "message_stop" -> finish(AnthropicTranslation.finishReason(stopReason), usageSoFar());
        case "error" -> {
          JsonObject error = event.getJsonObject("error", new JsonObject());
          String message = redact(error.getString("message", "unknown error"));
          int status = AnthropicTranslation.statusOf(error.getString("type", "api_error"));
          fail(
              UpstreamFailure.status(status, error.getString("type", "error") + ": " + message, -1),
              true);
        }
        default -> {
          // ping, content_block_stop, and event types added later: nothing to do
        }
      }
    }

    private void onBlockStart(int index, JsonObject block) {
      switch (block.getString("type", "")) {
        case "text" -> {
          String text = block.getString("text", "");
          if (!text.isEmpty()) {
            deltas++;
            listener.onDelta(text, null);
          }
        }
        case "tool_use" -> {
          int toolIndex = toolIndexes.size();
          toolIndexes.put(index, toolIndex);
          JsonObject call =
              new JsonObject()
                  .put("index", toolIndex)
                  .put("id", block.getString("id"))
                  .put("type", "function")
                  .put(
                      "function",
                      new JsonObject().put("name", block.getString("name")).put("arguments", ""));
          deltas++;
          listener.onToolCall(toolChunk(call).encode());
        }
        default -> {}
      }
    }

    private void onBlockDelta(int index, JsonObject delta) {
      switch (delta.getString("type", "")) {
        case "text_delta" -> {
          String text = delta.getString("text", "");
          if (!text.isEmpty()) {
            deltas++;
            listener.onDelta(text, null);
          }
        }
        case "input_json_delta" -> {
          Integer toolIndex = toolIndexes.get(index);
          if (toolIndex != null) {
            deltas++;
            listener.onToolCall(
                toolChunk(
                        new JsonObject()
                            .put("index", toolIndex)
                            .put(
                                "function",
                                new JsonObject()
                                    .put("arguments", delta.getString("partial_json", ""))))
                    .encode());
          }
        }
        case "thinking_delta" -> {
          deltas++;
          listener.onDelta(
              "",
              new JsonObject()
                  .put(
                      "choices",
                      new JsonArray()
                          .add(
                              new JsonObject()
                                  .put(
                                      "delta",
                                      new JsonObject()
                                          .put(
                                              "reasoning_content",
                                              delta.getString("thinking", "")))))
                  .encode());
        }
        default -> {}
      }
    }

    private JsonObject toolChunk(JsonObject toolCall) {
      return new JsonObject()
          .put(
              "choices",
              new JsonArray()
                  .add(
                      new JsonObject()
                          .put(
                              "delta",
                              new JsonObject().put("tool_calls", new JsonArray().add(toolCall)))));
    }

    @Override
    public Usage usageSoFar() {
      return Usage.of(inputTokens, outputTokens >= 0 ? outputTokens : deltas);
    }
  }
}
