package io.tokenbus.support;

import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A fake OpenAI-compatible server on 127.0.0.1 that answers {@code POST /v1/chat/completions} the
 * way api.openai.com does, byte for byte: {@code data: <chunk>\n\n} lines of
 * {@code chat.completion.chunk} with a role-only first chunk, content chunks (one of them empty),
 * a finish chunk with an empty delta, a usage chunk when {@code stream_options.include_usage} is
 * set, then {@code data: [DONE]}. What it does next is set with {@link #respond}.
 */
public final class FakeOpenAi {

  /** How the next requests are answered. */
  public sealed interface Behavior permits Stream, Status, Hang, Raw {
  }

  /** Answers 200 {@code text/event-stream} with exactly these bytes, as some servers do. */
  public record Raw(String body) implements Behavior {
  }

  /**
   * Streams {@code tokens}, one chunk each, {@code intervalMs} apart. With {@code hangAfter} ≥ 0 it
   * goes silent after that many tokens and keeps the connection open; with {@code dropAfter} ≥ 0 it
   * resets the connection after that many tokens. A null {@code finishReason} ends the response
   * cleanly after the tokens, with no finish chunk and no [DONE].
   */
  public record Stream(List<String> tokens, long intervalMs, String finishReason, int hangAfter, int dropAfter) implements Behavior {
    public static Stream of(List<String> tokens, long intervalMs) {
      return new Stream(tokens, intervalMs, "stop", -1, -1);
    }
  }

  /** Answers with an HTTP status and body, as OpenAI does for errors. */
  public record Status(int status, String body) implements Behavior {
  }

  /** Accepts the request and never answers. */
  public record Hang() implements Behavior {
  }

  /** A request as the fake received it, and when its connection closed. */
  public record Received(JsonObject body, MultiMap headers, Future<Long> closedAtNanos) {
  }

  private final Vertx vertx;
  private final AtomicReference<Behavior> behavior = new AtomicReference<>(Stream.of(List.of("Hi"), 0));
  private final Recorder<Received> requests = new Recorder<>();
  private HttpServer server;

  private FakeOpenAi(Vertx vertx) {
    this.vertx = vertx;
  }

  public static Future<FakeOpenAi> start(Vertx vertx) {
    FakeOpenAi fake = new FakeOpenAi(vertx);
    fake.server = vertx.createHttpServer().requestHandler(fake::handle);
    return fake.server.listen(0, "127.0.0.1").map(s -> fake);
  }

  public String baseUrl() {
    return "http://127.0.0.1:" + server.actualPort() + "/v1";
  }

  public void respond(Behavior next) {
    behavior.set(next);
  }

  public Recorder<Received> requests() {
    return requests;
  }

  private void handle(HttpServerRequest request) {
    if (!request.path().equals("/v1/chat/completions")) {
      request.response().setStatusCode(404).end("{\"error\":{\"message\":\"Unknown path\"}}");
      return;
    }
    Promise<Long> closed = Promise.promise();
    request.connection().closeHandler(v -> closed.tryComplete(System.nanoTime()));
    request.body().onSuccess(body -> {
      requests.add(new Received(body.toJsonObject(), request.headers(), closed.future()));
      Behavior current = behavior.get();
      if (current instanceof Status status) {
        request.response().setStatusCode(status.status()).putHeader("content-type", "application/json").end(status.body());
      } else if (current instanceof Stream stream) {
        stream(request.response(), stream, body.toJsonObject());
      } else if (current instanceof Raw raw) {
        request.response().putHeader("content-type", "text/event-stream").end(raw.body());
      }
      // Hang: say nothing
    });
  }

  private void stream(HttpServerResponse response, Stream stream, JsonObject request) {
    boolean usage = request.getJsonObject("stream_options", new JsonObject()).getBoolean("include_usage", false);
    response.setChunked(true).putHeader("content-type", "text/event-stream; charset=utf-8");
    response.write(chunk("{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null}", null));
    emit(response, stream, usage, 0);
  }

  private void emit(HttpServerResponse response, Stream stream, boolean usage, int index) {
    if (response.closed()) {
      return;
    }
    if (index == stream.hangAfter()) {
      return;
    }
    if (index == stream.dropAfter()) {
      response.reset();
      return;
    }
    if (index < stream.tokens().size()) {
      String content = new JsonObject().put("content", stream.tokens().get(index)).encode();
      response.write(chunk(content, null));
      if (index == 0) {
        response.write(chunk("{\"content\":\"\"}", null)); // servers do send empty-content chunks
      }
      if (stream.intervalMs() > 0) {
        vertx.setTimer(stream.intervalMs(), t -> emit(response, stream, usage, index + 1));
      } else {
        emit(response, stream, usage, index + 1);
      }
      return;
    }
    if (stream.finishReason() == null) {
      response.end(); // a clean end, but without a finish chunk or [DONE]
      return;
    }
    response.write(chunk("{}", stream.finishReason()));
    if (usage) {
      response.write("data: {\"id\":\"chatcmpl-fake\",\"object\":\"chat.completion.chunk\",\"created\":1732000000,"
          + "\"model\":\"gpt-fake-2024-07-18\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_fake\",\"choices\":[],"
          + "\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":" + stream.tokens().size() + ",\"total_tokens\":"
          + (11 + stream.tokens().size()) + ",\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},"
          + "\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,\"accepted_prediction_tokens\":0,"
          + "\"rejected_prediction_tokens\":0}}}\n\n");
    }
    response.end("data: [DONE]\n\n");
  }

  /** One chunk line, byte for byte as OpenAI sends it. */
  public static String chunk(String delta, String finishReason) {
    return "data: {\"id\":\"chatcmpl-fake\",\"object\":\"chat.completion.chunk\",\"created\":1732000000,"
        + "\"model\":\"gpt-fake-2024-07-18\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_fake\","
        + "\"choices\":[{\"index\":0,\"delta\":" + delta + ",\"logprobs\":null,\"finish_reason\":"
        + (finishReason == null ? "null" : "\"" + finishReason + "\"") + "}],\"usage\":null}\n\n";
  }
}
