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
import java.util.concurrent.atomic.AtomicLong;

/**
 * A fake upstream's server on a random 127.0.0.1 port: it records each request and answers it from
 * an {@link UpstreamScript}. Subclasses bring only their wire format (path, checks, error bodies,
 * answer bytes).
 */
public abstract class FakeUpstream {

  /** Answers 200 {@code text/event-stream} with exactly these bytes, as some servers do. */
  public record Raw(String body) implements FakeOpenAi.Behavior {}

  /** Accepts the request and never answers. */
  public record Hang() implements FakeOpenAi.Behavior {}

  /**
   * Answers {@code status} ({@code text/event-stream} for 200, else JSON) with {@code preamble},
   * then {@code repeat} over and over, as fast as the socket takes it, until the connection closes
   * or {@code capBytes} were written (then it goes silent, the connection open). {@link #written}
   * counts the bytes handed to the connection, every response of this behavior together: the test
   * of a reader's bound.
   */
  public record Endless(
      int status, String preamble, String repeat, long capBytes, AtomicLong written)
      implements FakeOpenAi.Behavior {

    /** An endless 200 event stream. */
    public Endless(String preamble, String repeat, long capBytes) {
      this(200, preamble, repeat, capBytes, new AtomicLong());
    }

    /** An error answer whose body never ends. */
    public static Endless errorBody(int status, String preamble, String repeat, long capBytes) {
      return new Endless(status, preamble, repeat, capBytes, new AtomicLong());
    }
  }

  /**
   * A request as the fake received it (body null if it was not JSON), when its connection closed,
   * and the partial answer it asked to continue (null for a fresh request).
   */
  public record Received(
      JsonObject body, MultiMap headers, Future<Long> closedAtNanos, String continuedFrom) {

    public JsonArray messages() {
      return body == null ? null : body.getJsonArray("messages");
    }

    /**
     * Anthropic's top-level {@code system} field as sent: a string, an array of text blocks, or
     * null.
     */
    public Object system() {
      return body == null ? null : body.getValue("system");
    }

    /** The system prompt's text, its blocks joined; null when there is none. */
    public String systemText() {
      return system() == null ? null : text(system());
    }
  }

  protected final Vertx vertx;
  private final String path;
  private final UpstreamScript script;
  private final Recorder<Received> requests = new Recorder<>();
  private HttpServer server;

  /** A fake answering {@code POST path}, with {@code first} until a test scripts something else. */
  protected FakeUpstream(Vertx vertx, String path, UpstreamScript.Behavior first) {
    this.vertx = vertx;
    this.path = path;
    this.script = new UpstreamScript(first);
  }

  /** Starts the server on a free 127.0.0.1 port; completes once it listens. */
  protected final Future<Void> listen() {
    server = vertx.createHttpServer().requestHandler(this::handle);
    return server.listen(0, "127.0.0.1").mapEmpty();
  }

  /** The scheme, host and port, which each API extends into the base URL its SDKs take. */
  protected String origin() {
    return "http://127.0.0.1:" + server.actualPort();
  }

  public Future<Void> close() {
    return server.close();
  }

  /** Answers every next accepted request with {@code next}. */
  public void respond(UpstreamScript.Behavior next) {
    respondInOrder(next);
  }

  /**
   * Answers accepted request i with {@code behaviors[i]}; the last one repeats for every later
   * request.
   */
  public void respondInOrder(UpstreamScript.Behavior... behaviors) {
    for (UpstreamScript.Behavior behavior : behaviors) {
      if (!understands(behavior)) {
        throw new IllegalArgumentException(
            getClass().getSimpleName() + " cannot answer with " + behavior);
      }
    }
    script.respondInOrder(behaviors);
  }

  public Recorder<Received> requests() {
    return requests;
  }

  /**
   * Whether this fake can answer with {@code behavior}: by default the kinds every fake answers.
   */
  protected boolean understands(UpstreamScript.Behavior behavior) {
    return behavior instanceof Answer
        || behavior instanceof UpstreamScript.Status
        || behavior instanceof Hang
        || behavior instanceof Raw
        || behavior instanceof Endless;
  }

  /** The 404 for any other path. */
  protected abstract UpstreamScript.Status notFound();

  /**
   * The partial answer a JSON request asks to continue, by this API's rules; null for a fresh
   * request.
   */
  protected abstract String continuedFrom(JsonObject body);

  /**
   * The answer the real API gives a request it refuses (body null: not JSON); null when it accepts
   * it.
   */
  protected abstract UpstreamScript.Status reject(
      MultiMap headers, JsonObject body, String partial);

  /** The 400 for a continuation that the scripted answer does not start with. */
  protected abstract UpstreamScript.Status badContinuation(String message);

  /** Sends {@code pieces} of {@code answer}, all of them or what its fault lets through. */
  protected abstract void send(
      HttpServerResponse response, JsonObject body, Answer answer, List<String> pieces);

  /** Answers a behavior only this fake understands; the shared kinds never get here. */
  protected void answerOwn(
      HttpServerResponse response, JsonObject body, UpstreamScript.Behavior behavior) {}

  /**
   * Streams {@code pieces} as server-sent events written by {@code wire}, with the answer's timing
   * and fault.
   */
  protected void stream(
      HttpServerResponse response, Answer answer, List<String> pieces, UpstreamScript.Wire wire) {
    response.setChunked(true).putHeader("content-type", "text/event-stream; charset=utf-8");
    UpstreamScript.play(vertx, response, answer, pieces, wire);
  }

  /** A message's text: its string content, or the text parts of its content array joined. */
  protected static String text(Object content) {
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

  private void handle(HttpServerRequest request) {
    if (!request.path().equals(path)) {
      UpstreamScript.reply(request.response(), notFound());
      return;
    }
    Promise<Long> closed = Promise.promise();
    request.connection().closeHandler(v -> closed.tryComplete(System.nanoTime()));
    request.body().onSuccess(buffer -> answer(request, parse(buffer), closed.future()));
  }

  private static JsonObject parse(Buffer buffer) {
    try {
      return buffer.toJsonObject();
    } catch (DecodeException | ClassCastException e) {
      return null;
    }
  }

  // Every request is recorded, refused ones too, so a test can see what the hub sent.
  private void answer(HttpServerRequest request, JsonObject body, Future<Long> closed) {
    String partial = body == null ? null : continuedFrom(body);
    requests.add(new Received(body, request.headers(), closed, partial));
    HttpServerResponse response = request.response();
    UpstreamScript.Status rejection = reject(request.headers(), body, partial);
    if (rejection != null) {
      UpstreamScript.reply(response, rejection);
      return;
    }
    UpstreamScript.Behavior current = script.next();
    if (current instanceof UpstreamScript.Status status) {
      UpstreamScript.reply(response, status);
    } else if (current instanceof Answer answer) {
      continueAnswer(response, body, answer, partial);
    } else if (current instanceof Raw raw) {
      response.putHeader("content-type", "text/event-stream").end(raw.body());
    } else if (current instanceof Endless endless) {
      response
          .setStatusCode(endless.status())
          .setChunked(true)
          .putHeader(
              "content-type",
              endless.status() == 200 ? "text/event-stream; charset=utf-8" : "application/json");
      Buffer preamble = Buffer.buffer(endless.preamble());
      endless.written().addAndGet(preamble.length());
      response.write(preamble);
      // Each write waits for the last: what was written is what the socket took.
      pour(
          response,
          endless,
          Buffer.buffer(endless.repeat().repeat(Math.max(1, 16384 / endless.repeat().length()))),
          new long[] {preamble.length()});
    } else if (current instanceof Hang) {
      // say nothing, keep the connection open
    } else {
      answerOwn(response, body, current);
    }
  }

  /**
   * Writes {@code chunk} again each time the last one reached the socket, until closed or at the
   * cap, so {@link Endless#written} is what the socket took, not what waited in memory.
   */
  private void pour(HttpServerResponse response, Endless endless, Buffer chunk, long[] sent) {
    if (response.closed() || sent[0] >= endless.capBytes()) {
      return;
    }
    response
        .write(chunk)
        .onSuccess(
            v -> {
              sent[0] += chunk.length();
              endless.written().addAndGet(chunk.length());
              vertx.runOnContext(next -> pour(response, endless, chunk, sent));
            });
  }

  private void continueAnswer(
      HttpServerResponse response, JsonObject body, Answer answer, String partial) {
    List<String> pieces = answer.remainder(partial);
    if (pieces == null) {
      UpstreamScript.reply(
          response,
          badContinuation(
              getClass().getSimpleName()
                  + ": the continuation does not match "
                  + "the scripted answer. Partial text sent: "
                  + Json.encode(partial)
                  + "; scripted answer: "
                  + Json.encode(answer.text())));
    } else {
      send(response, body, answer, pieces);
    }
  }
}
