package io.tokenbus.provider;

import io.tokenbus.bus.Failure;
import io.tokenbus.bus.GenerationRequest;
import io.tokenbus.bus.Usage;
import io.tokenbus.config.TokenbusConfig;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * Any OpenAI-compatible Chat Completions server (OpenAI, vLLM, Ollama's /v1, llama.cpp, LM Studio),
 * pulled with Vert.x's non-blocking HTTP client. The client's request goes upstream as it came
 * (every field, {@code tools} and {@code response_format} included), with {@code stream: true} and
 * {@code stream_options.include_usage: true} forced so that tokenbus can stream it and report
 * usage. The reply is parsed as the real wire format: {@code data:} lines of {@code
 * chat.completion.chunk} (role-only first chunk, empty-content chunks, the finish chunk, the usage
 * chunk), ending with {@code data: [DONE]}; llama.cpp's {@code error:} line too. Whatever a chunk
 * carries besides text is kept (see {@link ChunkExtras}) so that Chat Completions clients get it
 * unchanged.
 *
 * <p>A continuation sends the partial answer as a last, assistant, message, followed by the
 * configured continue instruction as a user message when there is one.
 */
final class OpenAiProvider implements Provider {

  private final StreamingCall.Http http;

  OpenAiProvider(Vertx vertx, String name, TokenbusConfig.Provider config, int maxConnections) {
    this.http = StreamingCall.Http.create(vertx, name, config, "/chat/completions", maxConnections);
  }

  @Override
  public String name() {
    return http.name();
  }

  @Override
  public UpstreamCall start(
      GenerationRequest request, String model, Continuation from, UpstreamListener listener) {
    RequestOptions auth = new RequestOptions();
    if (!http.config().apiKey().isEmpty()) {
      auth.putHeader(HttpHeaders.AUTHORIZATION, "Bearer " + http.config().apiKey());
    }
    return new Call(http, listener)
        .send(upstreamBody(request, model, from, http.config().recovery()), auth);
  }

  /**
   * With {@code recovery.continue-final-message}, the server continues the final assistant message
   * as it stands (vLLM's and SGLang's {@code continue_final_message}), so nothing is trimmed.
   */
  @Override
  public boolean continuesExactly() {
    return http.config().recovery().continueFinalMessage();
  }

  static JsonObject upstreamBody(
      GenerationRequest request,
      String model,
      Continuation from,
      TokenbusConfig.Recovery recovery) {
    String instruction = recovery.continueFinalMessage() ? "" : recovery.continueInstruction();
    JsonObject body = request.body().copy();
    body.remove("mock_tokens_per_second");
    body.put("model", model);
    body.put("stream", true);
    JsonObject options =
        body.getValue("stream_options") instanceof JsonObject o ? o : new JsonObject();
    body.put("stream_options", options.put("include_usage", true));
    if (from != null && !from.text().isEmpty()) {
      JsonArray messages = body.getJsonArray("messages").copy();
      messages.add(new JsonObject().put("role", "assistant").put("content", from.text()));
      if (!instruction.isBlank()) {
        messages.add(new JsonObject().put("role", "user").put("content", instruction));
      }
      body.put("messages", messages);
      if (recovery.continueFinalMessage()) {
        body.put("continue_final_message", true).put("add_generation_prompt", false);
      }
    }
    return body;
  }

  /**
   * The HTTP status an OpenAI error {@code type} stands for; unknown kinds count as a server error.
   */
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

  /** One upstream attempt: the Chat Completions chunk stream. */
  private static final class Call extends StreamingCall {
    private String finishReason;
    private Usage usage;
    private long deltas;

    Call(StreamingCall.Http http, UpstreamListener listener) {
      super(http, listener);
    }

    @Override
    protected void onBodyEnd() {
      if (finishReason != null) {
        finish(finishReason, usage);
      } else {
        fail(
            UpstreamFailure.broken(
                Failure.upstream("The upstream stream ended before the answer finished")),
            false);
      }
    }

    @Override
    protected void onData(String data) {
      if (data.equals("[DONE]")) {
        if (finishReason != null) {
          finish(finishReason, usage);
        } else {
          fail(
              UpstreamFailure.broken(
                  Failure.upstream("The upstream stream ended before the answer finished")),
              true);
        }
        return;
      }
      JsonObject chunk;
      try {
        chunk = new JsonObject(data);
      } catch (DecodeException e) {
        fail(
            UpstreamFailure.broken(Failure.upstream("The upstream sent a chunk that is not JSON")),
            true);
        return;
      }
      if (chunk.getValue("error") instanceof JsonObject error) {
        String message = redact(error.getString("message", error.encode()));
        // Servers put a status in "code" (vLLM, llama.cpp); OpenAI puts a name there and the kind
        // in "type".
        int status =
            error.getValue("code") instanceof Number code
                ? code.intValue()
                : statusOfType(error.getString("type", ""));
        fail(
            status >= 400 && status < 600
                ? UpstreamFailure.status(status, message, -1)
                : UpstreamFailure.broken(
                    Failure.upstream("The upstream failed mid-stream: " + message)),
            true);
        return;
      }
      if (chunk.getValue("usage") instanceof JsonObject u) {
        usage =
            new Usage(
                u.getLong("prompt_tokens", 0L),
                u.getLong("completion_tokens", 0L),
                u.getLong("total_tokens", 0L));
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
        if (ended()) {
          return;
        }
        if (choice.getValue("finish_reason") instanceof String reason) {
          finishReason = reason;
        }
      }
    }

    /** llama.cpp's {@code error: {"code", "message", "type"}} line. */
    @Override
    protected void onErrorField(String value) {
      String message = value;
      int status = 500;
      try {
        JsonObject error = new JsonObject(value);
        message = error.getString("message", value);
        status = error.getValue("code") instanceof Number code ? code.intValue() : 500;
      } catch (DecodeException | ClassCastException e) {
        // not JSON: keep the text
      }
      fail(
          UpstreamFailure.status(status >= 400 && status < 600 ? status : 500, redact(message), -1),
          true);
    }

    @Override
    public Usage usageSoFar() {
      return usage != null ? usage : Usage.of(0, deltas);
    }
  }
}
