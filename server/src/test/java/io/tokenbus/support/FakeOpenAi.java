package io.tokenbus.support;

import io.tokenbus.support.UpstreamScript.Answer;
import io.tokenbus.support.UpstreamScript.Fault;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.StringJoiner;

/**
 * A fake OpenAI-compatible server on 127.0.0.1 that answers {@code POST /v1/chat/completions} the
 * way api.openai.com does, byte for byte: {@code data: <chunk>\n\n} lines of
 * {@code chat.completion.chunk} with a role-only first chunk, content chunks (one of them empty),
 * a finish chunk with an empty delta, a usage chunk when {@code stream_options.include_usage} is
 * set, then {@code data: [DONE]}. Tool calls stream as OpenAI streams them: a first chunk naming the
 * function, one chunk per arguments piece, {@code finish_reason} "tool_calls".
 *
 * <p>What it answers is scripted with {@link #respond} / {@link #respondInOrder}: an
 * {@link UpstreamScript.Answer} (faults, continuation, logprobs, tool calls), an
 * {@link UpstreamScript.Status}, or the original {@link Stream}, {@link Status}, {@link Hang} and
 * {@link Raw}. A request continues a partial answer P when its last assistant message is the last
 * message, or is followed only by one user message starting with "Continue" (the continue
 * instruction); P is that assistant content. Only an {@code Answer} continues; a {@code Stream}
 * always starts over.
 */
public final class FakeOpenAi {

  /** How the next requests are answered; every {@link UpstreamScript} behavior is one too. */
  public interface Behavior extends UpstreamScript.Behavior {
  }

  /** Answers 200 {@code text/event-stream} with exactly these bytes, as some servers do. */
  public record Raw(String body) implements Behavior {
  }

  /**
   * Streams {@code tokens}, one chunk each, {@code intervalMs} apart. With {@code hangAfter} ≥ 0 it
   * goes silent after that many tokens and keeps the connection open; with {@code dropAfter} ≥ 0 it
   * resets the connection after that many tokens. A null {@code finishReason} ends the response
   * cleanly after the tokens, with no finish chunk and no [DONE]. It ignores continuations.
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

  /**
   * A request as the fake received it, when its connection closed, and the partial answer it asked
   * to continue (null for a fresh request).
   */
  public record Received(JsonObject body, MultiMap headers, Future<Long> closedAtNanos, String continuedFrom) {
    public JsonArray messages() {
      return body.getJsonArray("messages");
    }
  }

  private static final String ID_MODEL = "\"id\":\"chatcmpl-fake\",\"object\":\"chat.completion.chunk\",\"created\":1732000000,"
      + "\"model\":\"gpt-fake-2024-07-18\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_fake\",";
  private static final String SERVER_ERROR = "data: {\"error\":{\"message\":\"The server had an error while processing your "
      + "request.\",\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n";

  private final Vertx vertx;
  private final UpstreamScript script = new UpstreamScript(Stream.of(List.of("Hi"), 0));
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

  public Future<Void> close() {
    return server.close();
  }

  /** Answers every next request with {@code next}. */
  public void respond(UpstreamScript.Behavior next) {
    respondInOrder(next);
  }

  /** Answers request i with {@code behaviors[i]}; the last one repeats for every later request. */
  public void respondInOrder(UpstreamScript.Behavior... behaviors) {
    for (UpstreamScript.Behavior behavior : behaviors) {
      if (!(behavior instanceof Behavior)) {
        throw new IllegalArgumentException("FakeOpenAi cannot answer with " + behavior);
      }
    }
    script.respondInOrder(behaviors);
  }

  public Recorder<Received> requests() {
    return requests;
  }

  /** A 429 as OpenAI sends it when the requests-per-minute limit is reached, with its retry headers. */
  public static UpstreamScript.Status rateLimited(long retryAfterMs) {
    String body = "{\"error\":{\"message\":\"Rate limit reached for gpt-4o in organization org-fake on requests per min (RPM): "
        + "Limit 500, Used 500, Requested 1. Please try again in " + retryAfterMs + "ms. Visit "
        + "https://platform.openai.com/account/rate-limits to learn more.\",\"type\":\"requests\",\"param\":null,"
        + "\"code\":\"rate_limit_exceeded\"}}";
    return new UpstreamScript.Status(429, body, Map.of(
        "retry-after", String.valueOf((retryAfterMs + 999) / 1000),
        "retry-after-ms", String.valueOf(retryAfterMs),
        "x-ratelimit-limit-requests", "500",
        "x-ratelimit-remaining-requests", "0",
        "x-ratelimit-reset-requests", retryAfterMs + "ms"));
  }

  private void handle(HttpServerRequest request) {
    if (!request.path().equals("/v1/chat/completions")) {
      request.response().setStatusCode(404).end("{\"error\":{\"message\":\"Unknown path\"}}");
      return;
    }
    Promise<Long> closed = Promise.promise();
    request.connection().closeHandler(v -> closed.tryComplete(System.nanoTime()));
    request.body().onSuccess(body -> answer(request, body.toJsonObject(), closed.future()));
  }

  private void answer(HttpServerRequest request, JsonObject body, Future<Long> closed) {
    String partial = continuedFrom(body.getJsonArray("messages"));
    requests.add(new Received(body, request.headers(), closed, partial));
    HttpServerResponse response = request.response();
    UpstreamScript.Behavior current = script.next();
    if (current instanceof Status status) {
      response.setStatusCode(status.status()).putHeader("content-type", "application/json").end(status.body());
    } else if (current instanceof UpstreamScript.Status status) {
      UpstreamScript.reply(response, status);
    } else if (current instanceof Stream stream) {
      stream(response, body, legacy(stream), stream.tokens());
    } else if (current instanceof Answer answer) {
      continueAnswer(response, body, answer, partial);
    } else if (current instanceof Raw raw) {
      response.putHeader("content-type", "text/event-stream").end(raw.body());
    }
    // Hang: say nothing
  }

  private void continueAnswer(HttpServerResponse response, JsonObject body, Answer answer, String partial) {
    List<String> pieces = answer.remainder(partial);
    if (pieces == null) {
      String message = "FakeOpenAi: the continuation does not match the scripted answer. Partial text sent: "
          + Json.encode(partial) + "; scripted answer: " + Json.encode(answer.text());
      response.setStatusCode(400).putHeader("content-type", "application/json")
          .end(new JsonObject().put("error", new JsonObject().put("message", message)
              .put("type", "invalid_request_error").put("param", "messages").putNull("code")).encode());
      return;
    }
    stream(response, body, answer, pieces);
  }

  /** The original Stream, as the Answer that sends the same bytes. */
  private static Answer legacy(Stream stream) {
    Answer answer = new Answer(stream.tokens(), stream.intervalMs(), stream.finishReason(), Fault.NONE, 0, 0, 0);
    int hang = stream.hangAfter();
    int drop = stream.dropAfter();
    if (hang >= 0 && (drop < 0 || hang <= drop)) {
      return answer.fault(Fault.HANG, hang);
    }
    return drop >= 0 ? answer.fault(Fault.DROP, drop) : answer;
  }

  /**
   * The partial answer a request asks to continue: the content of the last assistant message when
   * it is the last message or only the continue instruction follows it; else null.
   */
  static String continuedFrom(JsonArray messages) {
    if (messages == null || messages.isEmpty()) {
      return null;
    }
    int assistant = messages.size() - 1;
    while (assistant >= 0 && !"assistant".equals(messages.getJsonObject(assistant).getString("role"))) {
      assistant--;
    }
    int after = messages.size() - 1 - assistant;
    if (assistant < 0 || after > 1) {
      return null;
    }
    JsonObject last = messages.getJsonObject(messages.size() - 1);
    if (after == 1 && !("user".equals(last.getString("role")) && text(last.getValue("content")).startsWith("Continue"))) {
      return null;
    }
    return text(messages.getJsonObject(assistant).getValue("content"));
  }

  /** A message's text: its string content, or its text parts joined. */
  private static String text(Object content) {
    if (content instanceof String s) {
      return s;
    }
    StringBuilder text = new StringBuilder();
    if (content instanceof JsonArray parts) {
      for (Object part : parts) {
        if (part instanceof JsonObject p && "text".equals(p.getString("type"))) {
          text.append(p.getString("text", ""));
        }
      }
    }
    return text.toString();
  }

  private void stream(HttpServerResponse response, JsonObject request, Answer answer, List<String> pieces) {
    boolean usage = request.getJsonObject("stream_options", new JsonObject()).getBoolean("include_usage", false);
    response.setChunked(true).putHeader("content-type", "text/event-stream; charset=utf-8");
    ChunkWriter wire = new ChunkWriter(response, answer, usage);
    wire.preamble();
    UpstreamScript.play(vertx, response, answer, pieces, wire);
  }

  /** The chat.completion.chunk lines of one streamed answer. */
  private record ChunkWriter(HttpServerResponse response, Answer answer, boolean usage) implements UpstreamScript.Wire {

    void preamble() {
      if (answer.toolCall() != null) {
        String call = "{\"index\":0,\"id\":" + Json.encode(answer.toolCall().id()) + ",\"type\":\"function\","
            + "\"function\":{\"name\":" + Json.encode(answer.toolCall().name()) + ",\"arguments\":\"\"}}";
        response.write(chunk("{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[" + call + "],\"refusal\":null}", null));
      } else {
        response.write(chunk("{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null}", logprobs(null), null));
      }
    }

    @Override
    public void token(int index, String piece) {
      if (answer.toolCall() != null) {
        response.write(chunk("{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":" + Json.encode(piece) + "}}]}", null));
        return;
      }
      response.write(chunk(new JsonObject().put("content", piece).encode(), logprobs(piece), null));
      if (index == 0) {
        response.write(chunk("{\"content\":\"\"}", logprobs(null), null)); // servers do send empty-content chunks
      }
    }

    @Override
    public void finish(int sent) {
      response.write(chunk("{}", answer.finishReason()));
      if (usage) {
        response.write("data: {" + ID_MODEL + "\"choices\":[],"
            + "\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":" + sent + ",\"total_tokens\":"
            + (11 + sent) + ",\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},"
            + "\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,\"accepted_prediction_tokens\":0,"
            + "\"rejected_prediction_tokens\":0}}}\n\n");
      }
      response.end("data: [DONE]\n\n");
    }

    @Override
    public void garbage() {
      response.write("data: {\"id\":\"chatcmpl-fake\",\"choices\":[{\n\n");
    }

    @Override
    public void errorEvent() {
      response.end(SERVER_ERROR);
    }

    /** The logprobs field of a chunk carrying {@code token} (null: no token). */
    private String logprobs(String token) {
      if (!answer.logprobs()) {
        return "null";
      }
      if (token == null) {
        return "{\"content\":[],\"refusal\":null}";
      }
      StringJoiner bytes = new StringJoiner(",", "[", "]");
      for (byte b : token.getBytes(StandardCharsets.UTF_8)) {
        bytes.add(String.valueOf(b & 0xff));
      }
      return "{\"content\":[{\"token\":" + Json.encode(token) + ",\"logprob\":-0.1,\"bytes\":" + bytes
          + ",\"top_logprobs\":[]}],\"refusal\":null}";
    }
  }

  /** One chunk line, byte for byte as OpenAI sends it. */
  public static String chunk(String delta, String finishReason) {
    return chunk(delta, "null", finishReason);
  }

  private static String chunk(String delta, String logprobs, String finishReason) {
    return "data: {" + ID_MODEL + "\"choices\":[{\"index\":0,\"delta\":" + delta + ",\"logprobs\":" + logprobs
        + ",\"finish_reason\":" + (finishReason == null ? "null" : "\"" + finishReason + "\"") + "}],\"usage\":null}\n\n";
  }
}
