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
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Any OpenAI-compatible Chat Completions server (OpenAI, vLLM, Ollama's /v1, llama.cpp, LM Studio),
 * pulled with Vert.x's non-blocking HTTP client. The client's request goes upstream as it came,
 * with {@code stream: true} and {@code stream_options.include_usage: true} forced so that
 * tokenbus can stream it and report usage. The reply is parsed as the real wire format:
 * {@code data:} lines of {@code chat.completion.chunk} (role-only first chunk, empty-content
 * chunks, the finish chunk, the usage chunk), ending with {@code data: [DONE]}.
 */
final class OpenAiProvider implements Provider {

  private static final Logger LOG = LoggerFactory.getLogger(OpenAiProvider.class);
  private static final int MAX_LINE_BYTES = 4 * 1024 * 1024;
  private static final int MAX_ERROR_BODY_BYTES = 16 * 1024;
  /** Keys of the common providers, also when a message masks part of them. */
  private static final Pattern KEY_LIKE = Pattern.compile("\\b(sk|pk|rk)-[A-Za-z0-9_*.-]{6,}");

  private final Vertx vertx;
  private final TokenbusConfig.OpenAi config;
  private final HttpClientAgent client;
  private final String endpoint;

  OpenAiProvider(Vertx vertx, TokenbusConfig.OpenAi config) {
    this.vertx = vertx;
    this.config = config;
    this.endpoint = config.baseUrl() + "/chat/completions";
    this.client = vertx.createHttpClient(
        new HttpClientOptions().setConnectTimeout(config.connectTimeoutMs()).setKeepAlive(true),
        new PoolOptions().setHttp1MaxSize(256));
  }

  @Override
  public String name() {
    return "openai";
  }

  void close() {
    client.close();
  }

  @Override
  public UpstreamCall start(GenerationRequest request, UpstreamListener listener) {
    return new Call(request, listener).start();
  }

  /** Removes the API key, and anything shaped like one, from text that may reach a client or a log. */
  String redact(String text) {
    if (text == null) {
      return "";
    }
    String redacted = config.apiKey().isEmpty() ? text : text.replace(config.apiKey(), "[redacted]");
    return KEY_LIKE.matcher(redacted).replaceAll("[redacted]");
  }

  static JsonObject upstreamBody(GenerationRequest request) {
    JsonObject body = request.body().copy();
    body.remove("mock_tokens_per_second");
    body.put("stream", true);
    JsonObject options = body.getValue("stream_options") instanceof JsonObject o ? o : new JsonObject();
    body.put("stream_options", options.put("include_usage", true));
    return body;
  }

  /** One upstream call: request, response status, SSE stream, idle watchdog. */
  private final class Call implements UpstreamCall {
    private final GenerationRequest request;
    private final UpstreamListener listener;
    private final SseDecoder decoder;
    private HttpClientRequest httpRequest;
    private long watchdog = -1;
    private long lastActivity = System.nanoTime();
    private boolean ended;
    private String finishReason;
    private Usage usage;
    private long deltas;

    Call(GenerationRequest request, UpstreamListener listener) {
      this.request = request;
      this.listener = listener;
      this.decoder = new SseDecoder(MAX_LINE_BYTES, this::onData, this::onErrorField);
    }

    Call start() {
      long idleNanos = config.idleTimeoutSeconds() * 1_000_000_000L;
      long period = Math.min(1000, config.idleTimeoutSeconds() * 1000L);
      watchdog = vertx.setPeriodic(period, id -> {
        if (System.nanoTime() - lastActivity > idleNanos) {
          fail(Failure.upstreamTimeout("The upstream sent nothing for " + config.idleTimeoutSeconds() + " s"), true);
        }
      });
      RequestOptions options = new RequestOptions().setMethod(HttpMethod.POST).setAbsoluteURI(endpoint)
          .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
          .putHeader(HttpHeaders.ACCEPT, "text/event-stream");
      if (!config.apiKey().isEmpty()) {
        options.putHeader(HttpHeaders.AUTHORIZATION, "Bearer " + config.apiKey());
      }
      client.request(options)
          .compose(req -> {
            httpRequest = req;
            if (ended) {
              req.reset();
            }
            return req.send(upstreamBody(request).toBuffer());
          })
          .onSuccess(this::onResponse)
          .onFailure(e -> {
            LOG.warn("Upstream request to {} failed: {}", config.baseUrl(), redact(e.getMessage()));
            fail(Failure.upstream("The upstream could not be reached: " + e.getClass().getSimpleName()), false);
          });
      return this;
    }

    private void onResponse(HttpClientResponse response) {
      if (ended) {
        return;
      }
      lastActivity = System.nanoTime();
      if (response.statusCode() / 100 != 2) {
        Buffer body = Buffer.buffer();
        response.handler(chunk -> {
          if (body.length() < MAX_ERROR_BODY_BYTES) {
            body.appendBuffer(chunk);
          }
        });
        response.endHandler(v -> fail(statusFailure(response.statusCode(), body), false));
        response.exceptionHandler(e -> fail(statusFailure(response.statusCode(), body), false));
        return;
      }
      response.handler(chunk -> {
        lastActivity = System.nanoTime();
        try {
          decoder.feed(chunk);
        } catch (IllegalStateException e) {
          fail(Failure.upstream("The upstream stream is malformed: " + e.getMessage()), true);
        }
      });
      response.exceptionHandler(e -> fail(Failure.upstream("The upstream connection broke: " + redact(e.getMessage())), true));
      response.endHandler(v -> {
        if (finishReason != null) {
          finish();
        } else {
          fail(Failure.upstream("The upstream stream ended before the answer finished"), false);
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
          fail(Failure.upstream("The upstream stream ended before the answer finished"), true);
        }
        return;
      }
      JsonObject chunk;
      try {
        chunk = new JsonObject(data);
      } catch (DecodeException e) {
        fail(Failure.upstream("The upstream sent a chunk that is not JSON"), true);
        return;
      }
      if (chunk.getValue("error") instanceof JsonObject error) {
        fail(Failure.upstream("The upstream failed mid-stream: " + redact(error.getString("message", error.encode()))), true);
        return;
      }
      if (chunk.getValue("usage") instanceof JsonObject u) {
        usage = new Usage(u.getLong("prompt_tokens", 0L), u.getLong("completion_tokens", 0L), u.getLong("total_tokens", 0L));
      }
      if (chunk.getValue("choices") instanceof JsonArray choices) {
        for (Object c : choices) {
          if (c instanceof JsonObject choice && choice.getInteger("index", 0) == 0) {
            if (choice.getValue("delta") instanceof JsonObject delta
                && delta.getValue("content") instanceof String content && !content.isEmpty()) {
              deltas++;
              listener.onDelta(content);
            }
            if (choice.getValue("finish_reason") instanceof String reason) {
              finishReason = reason;
            }
          }
        }
      }
    }

    /** llama.cpp's {@code error: {"code", "message", "type"}} line. */
    private void onErrorField(String value) {
      String message = value;
      try {
        JsonObject error = new JsonObject(value);
        message = error.getString("message", value);
      } catch (DecodeException | ClassCastException e) {
        // not JSON: keep the text
      }
      fail(Failure.upstream("The upstream failed mid-stream: " + redact(message)), true);
    }

    private void finish() {
      if (ended) {
        return;
      }
      end(false);
      listener.onFinish(finishReason == null ? "stop" : finishReason, usage);
    }

    private void fail(Failure failure, boolean closeConnection) {
      if (ended) {
        return;
      }
      end(closeConnection);
      listener.onFailure(failure);
    }

    private void end(boolean closeConnection) {
      ended = true;
      vertx.cancelTimer(watchdog);
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

    private Failure statusFailure(int status, Buffer body) {
      String message = body.toString();
      try {
        JsonObject json = new JsonObject(body);
        if (json.getValue("error") instanceof JsonObject error && error.getString("message") != null) {
          message = error.getString("message");
        } else if (json.getValue("error") instanceof String text) {
          message = text;
        }
      } catch (DecodeException | ClassCastException e) {
        // not JSON: keep the raw text
      }
      message = redact(message.length() > 500 ? message.substring(0, 500) + "…" : message);
      LOG.warn("Upstream {} answered {}: {}", config.baseUrl(), status, message);
      String text = "The upstream answered " + status + ": " + message;
      return switch (status) {
        case 400, 404, 422 -> new Failure(status, "invalid_request_error", "upstream_rejected_request", text);
        case 401, 403 -> new Failure(502, "upstream_error", "upstream_auth_failed", text);
        case 408 -> Failure.upstreamTimeout(text);
        case 429 -> new Failure(429, "rate_limit_error", "upstream_rate_limited", text);
        default -> Failure.upstream(text);
      };
    }
  }
}
