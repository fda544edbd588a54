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
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Any OpenAI-compatible Chat Completions server (OpenAI, vLLM, Ollama's /v1, llama.cpp, LM Studio),
 * pulled with Vert.x's non-blocking HTTP client. The client's request goes upstream as it came
 * (every field, {@code tools} and {@code response_format} included), with {@code stream: true} and
 * {@code stream_options.include_usage: true} forced so that tokenbus can stream it and report usage.
 * The reply is parsed as the real wire format: {@code data:} lines of {@code chat.completion.chunk}
 * (role-only first chunk, empty-content chunks, the finish chunk, the usage chunk), ending with
 * {@code data: [DONE]}; llama.cpp's {@code error:} line too. Whatever a chunk carries besides text
 * is kept (see {@link ChunkExtras}) so that Chat Completions clients get it unchanged.
 *
 * <p>A continuation sends the partial answer as a last, assistant, message, followed by the
 * configured continue instruction as a user message when there is one.
 */
final class OpenAiProvider implements Provider {

  private static final Logger LOG = LoggerFactory.getLogger(OpenAiProvider.class);
  private static final int MAX_LINE_BYTES = 4 * 1024 * 1024;
  private static final int MAX_ERROR_BODY_BYTES = 16 * 1024;

  private final String name;
  private final TokenbusConfig.Provider config;
  private final HttpClientAgent client;
  private final String endpoint;
  private final Redactor redactor;

  OpenAiProvider(Vertx vertx, String name, TokenbusConfig.Provider config, int maxConnections) {
    this.name = name;
    this.config = config;
    this.endpoint = config.effectiveBaseUrl() + "/chat/completions";
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
    return new Call(upstreamBody(request, model, from, config.recovery().continueInstruction()), listener).start();
  }

  static JsonObject upstreamBody(GenerationRequest request, String model, Continuation from, String instruction) {
    JsonObject body = request.body().copy();
    body.remove("mock_tokens_per_second");
    body.put("model", model);
    body.put("stream", true);
    JsonObject options = body.getValue("stream_options") instanceof JsonObject o ? o : new JsonObject();
    body.put("stream_options", options.put("include_usage", true));
    if (from != null && !from.text().isEmpty()) {
      JsonArray messages = body.getJsonArray("messages").copy();
      messages.add(new JsonObject().put("role", "assistant").put("content", from.text()));
      if (!instruction.isBlank()) {
        messages.add(new JsonObject().put("role", "user").put("content", instruction));
      }
      body.put("messages", messages);
    }
    return body;
  }

  /** The HTTP status an OpenAI error {@code type} stands for; unknown kinds count as a server error. */
  static int statusOfType(String type) {
    return switch (type) {
      case "invalid_request_error", "BadRequestError" -> 400;
      case "authentication_error" -> 401;
      case "permission_error" -> 403;
      case "not_found_error" -> 404;
      case "rate_limit_error", "requests", "tokens", "insufficient_quota" -> 429;
      default -> 500;
    };
  }

  /** One upstream attempt: request, response status, SSE stream. */
  private final class Call implements UpstreamCall {
    private final JsonObject body;
    private final UpstreamListener listener;
    private final SseDecoder decoder;
    private HttpClientRequest httpRequest;
    private boolean ended;
    private String finishReason;
    private Usage usage;
    private long deltas;

    Call(JsonObject body, UpstreamListener listener) {
      this.body = body;
      this.listener = listener;
      this.decoder = new SseDecoder(MAX_LINE_BYTES, this::onData, this::onErrorField);
    }

    Call start() {
      RequestOptions options = new RequestOptions().setMethod(HttpMethod.POST).setAbsoluteURI(endpoint)
          .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
          .putHeader(HttpHeaders.ACCEPT, "text/event-stream");
      config.headers().forEach(options::putHeader);
      if (!config.apiKey().isEmpty()) {
        options.putHeader(HttpHeaders.AUTHORIZATION, "Bearer " + config.apiKey());
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
        long retryAfter = RetryAfter.parseMillis(response.getHeader(HttpHeaders.RETRY_AFTER), response.getHeader("retry-after-ms"));
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
      response.endHandler(v -> {
        if (finishReason != null) {
          finish();
        } else {
          fail(UpstreamFailure.broken(Failure.upstream("The upstream stream ended before the answer finished")), false);
        }
      });
    }

    private void onData(String data) {
      if (ended) {
        return;
      }
      if (data.equals("[DONE]")) {
        if (finishReason != null) {
          finish();
        } else {
          fail(UpstreamFailure.broken(Failure.upstream("The upstream stream ended before the answer finished")), true);
        }
        return;
      }
      JsonObject chunk;
      try {
        chunk = new JsonObject(data);
      } catch (DecodeException e) {
        fail(UpstreamFailure.broken(Failure.upstream("The upstream sent a chunk that is not JSON")), true);
        return;
      }
      if (chunk.getValue("error") instanceof JsonObject error) {
        String message = redactor.redact(error.getString("message", error.encode()));
        // Servers put a status in "code" (vLLM, llama.cpp); OpenAI puts a name there and the kind in "type".
        int status = error.getValue("code") instanceof Number code ? code.intValue() : statusOfType(error.getString("type", ""));
        fail(status >= 400 && status < 600 ? UpstreamFailure.status(status, message, -1)
            : UpstreamFailure.broken(Failure.upstream("The upstream failed mid-stream: " + message)), true);
        return;
      }
      if (chunk.getValue("usage") instanceof JsonObject u) {
        usage = new Usage(u.getLong("prompt_tokens", 0L), u.getLong("completion_tokens", 0L), u.getLong("total_tokens", 0L));
      }
      if (!(chunk.getValue("choices") instanceof JsonArray choices)) {
        return;
      }
      for (Object c : choices) {
        if (!(c instanceof JsonObject choice) || choice.getInteger("index", 0) != 0) {
          continue;
        }
        JsonObject delta = choice.getValue("delta") instanceof JsonObject d ? d : new JsonObject();
        String content = delta.getValue("content") instanceof String s ? s : "";
        if (delta.getValue("tool_calls") instanceof JsonArray) {
          deltas++;
          listener.onToolCall(ChunkExtras.of(chunk).encode());
        } else {
          JsonObject extras = ChunkExtras.of(chunk);
          if (!content.isEmpty() || ChunkExtras.aboutTheAnswer(extras)) {
            deltas++;
            listener.onDelta(content, extras == null ? null : extras.encode());
          }
        }
        if (ended) {
          return;
        }
        if (choice.getValue("finish_reason") instanceof String reason) {
          finishReason = reason;
        }
      }
    }

    /** llama.cpp's {@code error: {"code", "message", "type"}} line. */
    private void onErrorField(String value) {
      String message = value;
      int status = 500;
      try {
        JsonObject error = new JsonObject(value);
        message = error.getString("message", value);
        status = error.getValue("code") instanceof Number code ? code.intValue() : 500;
      } catch (DecodeException | ClassCastException e) {
        // not JSON: keep the text
      }
      fail(UpstreamFailure.status(status >= 400 && status < 600 ? status : 500, redactor.redact(message), -1), true);
    }

    private void finish() {
      if (ended) {
        return;
      }
      end(false);
      listener.onFinish(finishReason == null ? "stop" : finishReason, usage);
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
      return usage != null ? usage : Usage.of(0, deltas);
    }

    private UpstreamFailure statusFailure(int status, Buffer errorBody, long retryAfterMs) {
      String message = ErrorBodies.message(errorBody);
      message = redactor.redact(message.length() > 500 ? message.substring(0, 500) + "…" : message);
      LOG.warn("Upstream {} ({}) answered {}: {}", name, config.effectiveBaseUrl(), status, message);
      return UpstreamFailure.status(status, message, retryAfterMs);
    }
  }
}
