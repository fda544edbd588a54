package io.tokenbus.support;

import io.tokenbus.support.UpstreamScript.Answer;
import io.tokenbus.support.UpstreamScript.Fault;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
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
 * way api.openai.com does, byte for byte: {@code data: <chunk>\n\n} lines of {@code
 * chat.completion.chunk} with a role-only first chunk, content chunks (one of them empty), a finish
 * chunk with an empty delta, a usage chunk when {@code stream_options.include_usage} is set, then
 * {@code data: [DONE]}. Tool calls stream as OpenAI streams them: a first chunk naming the
 * function, one chunk per arguments piece, {@code finish_reason} "tool_calls".
 *
 * <p>What it answers is scripted with {@link #respond} / {@link #respondInOrder}: an {@link
 * UpstreamScript.Answer} (faults, continuation, logprobs, tool calls), an {@link
 * UpstreamScript.Status}, or the original {@link Stream}, {@link Status}, {@link Hang} and {@link
 * Raw}. A request continues a partial answer P when its last assistant message is the last message,
 * or is followed only by one user message starting with "Continue" (the continue instruction); P is
 * that assistant content. Only an {@code Answer} continues; a {@code Stream} always starts over.
 */
public final class FakeOpenAi extends FakeUpstream {

  /** How the next requests are answered; every {@link UpstreamScript} behavior is one too. */
  public interface Behavior extends UpstreamScript.Behavior {}

  /**
   * Streams {@code tokens}, one chunk each, {@code intervalMs} apart. With {@code hangAfter} ≥ 0 it
   * goes silent after that many tokens and keeps the connection open; with {@code dropAfter} ≥ 0 it
   * resets the connection after that many tokens. A null {@code finishReason} ends the response
   * cleanly after the tokens, with no finish chunk and no [DONE]. It ignores continuations.
   */
  public record Stream(
      List<String> tokens, long intervalMs, String finishReason, int hangAfter, int dropAfter)
      implements Behavior {
    public static Stream of(List<String> tokens, long intervalMs) {
      return new Stream(tokens, intervalMs, "stop", -1, -1);
    }
  }

  /** Answers with an HTTP status and body, as OpenAI does for errors. */
  public record Status(int status, String body) implements Behavior {}

  private static final String ID_MODEL =
      "\"id\":\"chatcmpl-fake\",\"object\":\"chat.completion.chunk\",\"created\":1732000000,"
          + "\"model\":\"gpt-fake-2024-07-18\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_fake\",";
  private static final String SERVER_ERROR =
      "data: {\"error\":{\"message\":\"The server had an error while processing your "
          + "request.\",\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n";

  private FakeOpenAi(Vertx vertx) {
    super(vertx, "/v1/chat/completions", Stream.of(List.of("Hi"), 0));
  }

  public static Future<FakeOpenAi> start(Vertx vertx) {
    FakeOpenAi fake = new FakeOpenAi(vertx);
    return fake.listen().map(fake);
  }

  public String baseUrl() {
    return origin() + "/v1";
  }

  /**
   * A 429 as OpenAI sends it when the requests-per-minute limit is reached, with its retry headers.
   */
  public static UpstreamScript.Status rateLimited(long retryAfterMs) {
    String body =
        "{\"error\":{\"message\":\"Rate limit reached for gpt-4o in organization org-fake on requests per min (RPM): "
            + "Limit 500, Used 500, Requested 1. Please try again in "
            + retryAfterMs
            + "ms. Visit "
            + "https://platform.openai.com/account/rate-limits to learn more.\",\"type\":\"requests\",\"param\":null,"
            + "\"code\":\"rate_limit_exceeded\"}}";
    return new UpstreamScript.Status(
        429,
        body,
        Map.of(
            "retry-after",
            String.valueOf((retryAfterMs + 999) / 1000),
            "retry-after-ms",
            String.valueOf(retryAfterMs),
            "x-ratelimit-limit-requests",
            "500",
            "x-ratelimit-remaining-requests",
            "0",
            "x-ratelimit-reset-requests",
            retryAfterMs + "ms"));
  }

  /** An invalid_request_error in OpenAI's shape, naming the offending {@code param} (or null). */
  private static UpstreamScript.Status invalidRequest(String message, String param) {
    return new UpstreamScript.Status(
        400,
        new JsonObject()
            .put(
                "error",
                new JsonObject()
                    .put("message", message)
                    .put("type", "invalid_request_error")
                    .put("param", param)
                    .putNull("code"))
            .encode());
  }

  @Override
  protected boolean understands(UpstreamScript.Behavior behavior) {
    return behavior instanceof Behavior; // every kind, the original OpenAI-only ones too
  }

  @Override
  protected UpstreamScript.Status notFound() {
    return new UpstreamScript.Status(404, "{\"error\":{\"message\":\"Unknown path\"}}");
  }

  /**
   * The content of the last assistant message when it is the last message or only the continue
   * instruction follows it; else null.
   */
  @Override
  protected String continuedFrom(JsonObject body) {
    JsonArray messages = body.getJsonArray("messages");
    if (messages == null || messages.isEmpty()) {
      return null;
    }
    int assistant = messages.size() - 1;
    while (assistant >= 0
        && !"assistant".equals(messages.getJsonObject(assistant).getString("role"))) {
      assistant--;
    }
    int after = messages.size() - 1 - assistant;
    if (assistant < 0 || after > 1) {
      return null;
    }
    JsonObject last = messages.getJsonObject(messages.size() - 1);
    if (after == 1
        && !("user".equals(last.getString("role"))
            && text(last.getValue("content")).startsWith("Continue"))) {
      return null;
    }
    return text(messages.getJsonObject(assistant).getValue("content"));
  }

  @Override
  protected UpstreamScript.Status reject(MultiMap headers, JsonObject body, String partial) {
    return body == null
        ? invalidRequest("We could not parse the JSON body of your request.", null)
        : null;
  }

  @Override
  protected UpstreamScript.Status badContinuation(String message) {
    return invalidRequest(message, "messages");
  }

  @Override
  protected void answerOwn(
      HttpServerResponse response, JsonObject body, UpstreamScript.Behavior behavior) {
    if (behavior instanceof Status status) {
      UpstreamScript.reply(response, new UpstreamScript.Status(status.status(), status.body()));
    } else if (behavior instanceof Stream stream) {
      send(response, body, legacy(stream), stream.tokens());
    }
  }

  /** The original Stream, as the Answer that sends the same bytes. */
  private static Answer legacy(Stream stream) {
    Answer answer =
        new Answer(
            stream.tokens(), stream.intervalMs(), stream.finishReason(), Fault.NONE, 0, 0, 0);
    int hang = stream.hangAfter();
    int drop = stream.dropAfter();
    if (hang >= 0 && (drop < 0 || hang <= drop)) {
      return answer.fault(Fault.HANG, hang);
    }
    return drop >= 0 ? answer.fault(Fault.DROP, drop) : answer;
  }

  @Override
  protected void send(
      HttpServerResponse response, JsonObject body, Answer answer, List<String> pieces) {
    boolean usage =
        body.getJsonObject("stream_options", new JsonObject()).getBoolean("include_usage", false);
    stream(response, answer, pieces, new ChunkWriter(response, answer, usage));
  }

  /** The chat.completion.chunk lines of one streamed answer. */
  private record ChunkWriter(HttpServerResponse response, Answer answer, boolean usage)
      implements UpstreamScript.Wire {

    @Override
    public void preamble() {
      if (answer.toolCall() != null) {
        String call =
            "{\"index\":0,\"id\":"
                + Json.encode(answer.toolCall().id())
                + ",\"type\":\"function\","
                + "\"function\":{\"name\":"
                + Json.encode(answer.toolCall().name())
                + ",\"arguments\":\"\"}}";
        response.write(
            chunk(
                "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
                    + call
                    + "],\"refusal\":null}",
                null));
      } else {
        response.write(
            chunk(
                "{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null}",
                logprobs(null),
                null));
      }
    }

    @Override
    public void token(int index, String piece) {
      if (answer.toolCall() != null) {
        response.write(
            chunk(
                "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":"
                    + Json.encode(piece)
                    + "}}]}",
                null));
        return;
      }
      response.write(chunk(new JsonObject().put("content", piece).encode(), logprobs(piece), null));
      if (index == 0) {
        response.write(
            chunk(
                "{\"content\":\"\"}",
                logprobs(null),
                null)); // servers do send empty-content chunks
      }
    }

    @Override
    public void finish(int sent) {
      response.write(chunk("{}", answer.finishReason()));
      if (usage) {
        response.write(
            "data: {"
                + ID_MODEL
                + "\"choices\":[],"
                + "\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":"
                + sent
                + ",\"total_tokens\":"
                + (11 + sent)
                + ",\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},"
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
      return "{\"content\":[{\"token\":"
          + Json.encode(token)
          + ",\"logprob\":-0.1,\"bytes\":"
          + bytes
          + ",\"top_logprobs\":[]}],\"refusal\":null}";
    }
  }

  /** One chunk line, byte for byte as OpenAI sends it. */
  public static String chunk(String delta, String finishReason) {
    return chunk(delta, "null", finishReason);
  }

  private static String chunk(String delta, String logprobs, String finishReason) {
    return "data: {"
        + ID_MODEL
        + "\"choices\":[{\"index\":0,\"delta\":"
        + delta
        + ",\"logprobs\":"
        + logprobs
        + ",\"finish_reason\":"
        + (finishReason == null ? "null" : "\"" + finishReason + "\"")
        + "}],\"usage\":null}\n\n";
  }
}
