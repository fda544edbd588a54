package io.tokenbus.provider;

import io.tokenbus.bus.Failure;
import io.tokenbus.bus.GenerationRequest;
import io.tokenbus.bus.Usage;
import io.tokenbus.config.TokenbusConfig;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.HashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Anthropic's Messages API ({@code POST /v1/messages}, streamed). Clients keep speaking OpenAI's
 * format to tokenbus; {@link AnthropicTranslation} turns the request around (system prompts, stop
 * sequences, tools) and this class reads the real event stream: {@code message_start} (input
 * tokens), {@code content_block_start} / {@code content_block_delta} / {@code content_block_stop}
 * (text, tool use, thinking), {@code message_delta} (stop reason, output tokens),
 * {@code message_stop}, {@code ping} and {@code error}. A continuation prefills the assistant turn
 * with the partial text, and Claude carries on right after it.
 */
final class AnthropicProvider implements Provider {

  private static final Logger LOG = LoggerFactory.getLogger(AnthropicProvider.class);
  private static final int MAX_LINE_BYTES = 4 * 1024 * 1024;
  private static final int MAX_ERROR_BODY_BYTES = 16 * 1024;

  private final String name;
  private final TokenbusConfig.Provider config;
  private final HttpClientAgent client;
  private final String endpoint;
  private final Redactor redactor;

  AnthropicProvider(Vertx vertx, String name, TokenbusConfig.Provider config, int maxConnections) {
    this.name = name;
    this.config = config;
    this.endpoint = config.effectiveBaseUrl() + "/v1/messages";
    this.redactor = new Redactor(config);
    this.client = vertx.createHttpClient(
        new HttpClientOptions().setConnectTimeout(config.timeouts().connectMs()).setKeepAlive(true),
        new PoolOptions().setHttp1MaxSize(maxConnections));
  }

  @Override
  public String name() {
    return name;
  }

  void close() {
    client.close();
  }

  @Override
  public UpstreamCall start(GenerationRequest request, String model, Continuation from, UpstreamListener listener) {
    JsonObject body;
    try {
      body = AnthropicTranslation.request(request, model, from, config.anthropic().defaultMaxTokens());
    } catch (RuntimeException e) { // IllegalArgumentException, or a client's malformed JSON (tool arguments, say)
      listener.onFailure(UpstreamFailure.fatal(Failure.invalidRequest("unsupported_for_model",
          "The request cannot be sent to an Anthropic model: " + e.getMessage())));
      return new Call(null, listener);
    }
    return new Call(body, listener).start();
  }

  /** One upstream attempt: request, response status, event stream. */
  private final class Call implements UpstreamCall {
    private final JsonObject body;
    private final UpstreamListener listener;
    private final SseDecoder decoder;
    /** Anthropic content-block index → OpenAI tool-call index. */
    private final Map<Integer, Integer> toolIndexes = new HashMap<>();
    private HttpClientRequest httpRequest;
    private boolean ended;
    private String stopReason;
    private long inputTokens;
    private long outputTokens = -1;
    private long deltas;

    Call(JsonObject body, UpstreamListener listener) {
      this.body = body;
      this.listener = listener;
      this.decoder = new SseDecoder(MAX_LINE_BYTES, this::onData, v -> { });
      this.ended = body == null;
    }

    Call start() {
      RequestOptions options = new RequestOptions().setMethod(HttpMethod.POST).setAbsoluteURI(endpoint)
          .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
          .putHeader(HttpHeaders.ACCEPT, "text/event-stream")
          .putHeader("anthropic-version", config.anthropic().version());
      config.headers().forEach(options::putHeader);
      if (!config.apiKey().isEmpty()) {
        options.putHeader("x-api-key", config.apiKey());
      }
      client.request(options)
          .compose(req -> {
            httpRequest = req;
            if (ended) {
              req.reset();
            }
            return req.send(body.toBuffer());
          })
          .onSuccess(this::onResponse)
          .onFailure(e -> {
            LOG.warn("Upstream {} ({}) could not be reached: {}", name, config.effectiveBaseUrl(), redactor.redact(e.getMessage()));
            fail(UpstreamFailure.broken(Failure.upstream("The upstream could not be reached: " + e.getClass().getSimpleName())), false);
          });
      return this;
    }

    private void onResponse(HttpClientResponse response) {
      if (ended) {
        return;
      }
      if (response.statusCode() / 100 != 2) {
        Buffer errorBody = Buffer.buffer();
        long retryAfter = RetryAfter.parseMillis(response.getHeader(HttpHeaders.RETRY_AFTER), null);
        response.handler(chunk -> {
          if (errorBody.length() < MAX_ERROR_BODY_BYTES) {
            errorBody.appendBuffer(chunk);
          }
        });
        response.endHandler(v -> fail(statusFailure(response.statusCode(), errorBody, retryAfter), false));
        response.exceptionHandler(e -> fail(statusFailure(response.statusCode(), errorBody, retryAfter), false));
        return;
      }
      response.handler(chunk -> {
        try {
          decoder.feed(chunk);
        } catch (IllegalStateException e) {
          fail(UpstreamFailure.broken(Failure.upstream("The upstream stream is malformed: " + e.getMessage())), true);
        }
      });
      response.exceptionHandler(e -> fail(UpstreamFailure.broken(
          Failure.upstream("The upstream connection broke: " + redactor.redact(e.getMessage()))), true));
      response.endHandler(v -> fail(UpstreamFailure.broken(
          Failure.upstream("The upstream stream ended before the answer finished (no message_stop)")), false));
    }

    private void onData(String data) {
      if (ended) {
        return;
      }
      JsonObject event;
      try {
        event = new JsonObject(data);
      } catch (DecodeException e) {
        fail(UpstreamFailure.broken(Failure.upstream("The upstream sent an event that is not JSON")), true);
        return;
      }
      switch (event.getString("type", "")) {
        case "message_start" -> {
          JsonObject usage = event.getJsonObject("message", new JsonObject()).getJsonObject("usage", new JsonObject());
          inputTokens = usage.getLong("input_tokens", 0L) + usage.getLong("cache_creation_input_tokens", 0L)
              + usage.getLong("cache_read_input_tokens", 0L);
        }
        case "content_block_start" -> onBlockStart(event.getInteger("index", 0), event.getJsonObject("content_block", new JsonObject()));
        case "content_block_delta" -> onBlockDelta(event.getInteger("index", 0), event.getJsonObject("delta", new JsonObject()));
        case "message_delta" -> {
          if (event.getJsonObject("delta", new JsonObject()).getValue("stop_reason") instanceof String reason) {
            stopReason = reason;
          }
          if (event.getValue("usage") instanceof JsonObject usage && usage.getValue("output_tokens") instanceof Number n) {
            outputTokens = n.longValue();
          }
        }
        case "message_stop" -> finish();
        case "error" -> {
          JsonObject error = event.getJsonObject("error", new JsonObject());
          String message = redactor.redact(error.getString("message", "unknown error"));
          int status = AnthropicTranslation.statusOf(error.getString("type", "api_error"));
          fail(UpstreamFailure.status(status, error.getString("type", "error") + ": " + message, -1), true);
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
          JsonObject call = new JsonObject().put("index", toolIndex).put("id", block.getString("id"))
              .put("type", "function").put("function", new JsonObject().put("name", block.getString("name")).put("arguments", ""));
          deltas++;
          listener.onToolCall(toolChunk(call).encode());
        }
        default -> {
        }
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
            listener.onToolCall(toolChunk(new JsonObject().put("index", toolIndex)
                .put("function", new JsonObject().put("arguments", delta.getString("partial_json", "")))).encode());
          }
        }
        case "thinking_delta" -> {
          deltas++;
          listener.onDelta("", new JsonObject().put("choices", new JsonArray().add(new JsonObject()
              .put("delta", new JsonObject().put("reasoning_content", delta.getString("thinking", ""))))).encode());
        }
        default -> {
        }
      }
    }

    private JsonObject toolChunk(JsonObject toolCall) {
      return new JsonObject().put("choices", new JsonArray().add(new JsonObject()
          .put("delta", new JsonObject().put("tool_calls", new JsonArray().add(toolCall)))));
    }

    private void finish() {
      if (ended) {
        return;
      }
      end(false);
      listener.onFinish(AnthropicTranslation.finishReason(stopReason), usageSoFar());
    }

    private void fail(UpstreamFailure failure, boolean closeConnection) {
      if (ended) {
        return;
      }
      end(closeConnection);
      listener.onFailure(failure);
    }

    private void end(boolean closeConnection) {
      ended = true;
      if (closeConnection && httpRequest != null) {
        httpRequest.reset();
      }
    }

    @Override
    public void cancel() {
      if (!ended) {
        end(true);
      }
    }

    @Override
    public Usage usageSoFar() {
      return Usage.of(inputTokens, outputTokens >= 0 ? outputTokens : deltas);
    }

    private UpstreamFailure statusFailure(int status, Buffer errorBody, long retryAfterMs) {
      String message = ErrorBodies.message(errorBody);
      message = redactor.redact(message.length() > 500 ? message.substring(0, 500) + "…" : message);
      LOG.warn("Upstream {} ({}) answered {}: {}", name, config.effectiveBaseUrl(), status, message);
      return UpstreamFailure.status(status, message, retryAfterMs);
    }
  }
}
