package io.tokenbus.support;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What a fake upstream ({@link FakeOpenAi}, {@link FakeAnthropic}) answers, request by request:
 * scripted answers with injected faults and continuation support, error statuses, hangs. The wire
 * format is the fake's business; the script, the continuation arithmetic and the fault timing live
 * here so both fakes behave the same way.
 *
 * <p>A script is a queue: with {@code respondInOrder(a, b, c)} the next request gets {@code a}, the
 * one after {@code b}, and every later one {@code c}. Only requests a fake accepts (right path,
 * valid headers and body) take a turn.
 */
public final class UpstreamScript {

  /** How one request is answered. Each fake says which kinds it understands. */
  public interface Behavior {}

  /**
   * What goes wrong once {@link Answer#faultAfter()} tokens of one response have been sent: DROP
   * resets the connection; HANG sends nothing more and keeps it open; GARBAGE sends one SSE data
   * line that is not JSON and keeps it open (the client must notice by itself); NO_FINISH ends the
   * response cleanly with no finish; ERROR_EVENT sends the provider's in-stream error event, then
   * ends.
   */
  public enum Fault {
    NONE,
    DROP,
    HANG,
    GARBAGE,
    NO_FINISH,
    ERROR_EVENT
  }

  /** The function a tool-call answer calls; its arguments are the answer's tokens. */
  public record ToolCall(String id, String name) {}

  /**
   * A streamed answer: {@code tokens} one chunk each, {@code intervalMs} apart, after {@code
   * firstTokenDelayMs}, ending with {@code finishReason} (null: a clean end with no finish at all).
   * {@code fault} strikes after {@code faultAfter} tokens of one response (a response with fewer
   * tokens finishes normally).
   *
   * <p>A request that continues a partial answer P gets the rest of {@link #text()} from {@code
   * P.length() - overlapChars}, cut at the original token boundaries, and a 400 if the text does
   * not start with P. {@code faultAfter} counts the tokens of that response only, so "the first
   * request drops after 3 tokens, the continuation completes" is {@code
   * respondInOrder(a.fault(DROP, 3), a)}.
   *
   * <p>It implements {@link FakeOpenAi.Behavior} too, so it mixes with the older OpenAI-only
   * behaviors in one list.
   */
  public record Answer(
      List<String> tokens,
      long intervalMs,
      String finishReason,
      Fault fault,
      int faultAfter,
      long firstTokenDelayMs,
      int overlapChars,
      boolean logprobs,
      ToolCall toolCall)
      implements FakeOpenAi.Behavior {

    public Answer {
      tokens = List.copyOf(tokens);
      fault = fault == null ? Fault.NONE : fault;
    }

    public Answer(
        List<String> tokens,
        long intervalMs,
        String finishReason,
        Fault fault,
        int faultAfter,
        long firstTokenDelayMs,
        int overlapChars) {
      this(
          tokens,
          intervalMs,
          finishReason,
          fault,
          faultAfter,
          firstTokenDelayMs,
          overlapChars,
          false,
          null);
    }

    /** Text tokens, sent at once, finishing with "stop". */
    public static Answer of(List<String> tokens) {
      return new Answer(tokens, 0, "stop", Fault.NONE, 0, 0, 0);
    }

    /**
     * A call of function {@code name}, its JSON arguments streamed in these pieces, finishing with
     * "tool_calls".
     */
    public static Answer toolCall(String id, String name, List<String> argumentPieces) {
      return new Answer(
          argumentPieces, 0, "tool_calls", Fault.NONE, 0, 0, 0, false, new ToolCall(id, name));
    }

    public Answer interval(long ms) {
      return new Answer(
          tokens,
          ms,
          finishReason,
          fault,
          faultAfter,
          firstTokenDelayMs,
          overlapChars,
          logprobs,
          toolCall);
    }

    public Answer finish(String reason) {
      return new Answer(
          tokens,
          intervalMs,
          reason,
          fault,
          faultAfter,
          firstTokenDelayMs,
          overlapChars,
          logprobs,
          toolCall);
    }

    public Answer fault(Fault f, int afterTokens) {
      return new Answer(
          tokens,
          intervalMs,
          finishReason,
          f,
          afterTokens,
          firstTokenDelayMs,
          overlapChars,
          logprobs,
          toolCall);
    }

    public Answer firstTokenDelay(long ms) {
      return new Answer(
          tokens,
          intervalMs,
          finishReason,
          fault,
          faultAfter,
          ms,
          overlapChars,
          logprobs,
          toolCall);
    }

    /** A continuation re-sends the last {@code chars} characters of the partial answer. */
    public Answer overlap(int chars) {
      return new Answer(
          tokens,
          intervalMs,
          finishReason,
          fault,
          faultAfter,
          firstTokenDelayMs,
          chars,
          logprobs,
          toolCall);
    }

    /** OpenAI only: content chunks carry a logprobs object instead of null. */
    public Answer logprobs(boolean on) {
      return new Answer(
          tokens,
          intervalMs,
          finishReason,
          fault,
          faultAfter,
          firstTokenDelayMs,
          overlapChars,
          on,
          toolCall);
    }

    /** The whole answer (for a tool call: its arguments). */
    public String text() {
      return String.join("", tokens);
    }

    /**
     * The pieces to send to a request continuing from {@code partial} (null: a fresh request gets
     * all tokens), or null when the answer does not start with it.
     */
    List<String> remainder(String partial) {
      if (partial == null) {
        return tokens;
      }
      if (!text().startsWith(partial)) {
        return null;
      }
      int start = Math.max(0, partial.length() - overlapChars);
      List<String> pieces = new ArrayList<>();
      int offset = 0;
      for (String token : tokens) {
        int end = offset + token.length();
        if (end > start) {
          pieces.add(offset >= start ? token : token.substring(start - offset));
        }
        offset = end;
      }
      return pieces;
    }
  }

  /**
   * An HTTP error answer with its headers (such as {@code retry-after}); the body is sent as JSON.
   */
  public record Status(int status, String body, Map<String, String> headers)
      implements FakeOpenAi.Behavior {

    public Status {
      headers = headers == null ? Map.of() : Map.copyOf(headers);
    }

    public Status(int status, String body) {
      this(status, body, Map.of());
    }
  }

  /** Accepts the request and never answers (not even headers). */
  public static Behavior hang() {
    return new FakeUpstream.Hang();
  }

  private final List<Behavior> script = new ArrayList<>();
  private int served;

  UpstreamScript(Behavior first) {
    script.add(first);
  }

  synchronized void respondInOrder(Behavior... behaviors) {
    if (behaviors.length == 0) {
      throw new IllegalArgumentException("respondInOrder needs at least one behavior");
    }
    script.clear();
    script.addAll(List.of(behaviors));
    served = 0;
  }

  /** The behavior for the next accepted request; the last one repeats. */
  synchronized Behavior next() {
    Behavior behavior = script.get(Math.min(served, script.size() - 1));
    served++;
    return behavior;
  }

  static void reply(HttpServerResponse response, Status status) {
    response.setStatusCode(status.status()).putHeader("content-type", "application/json");
    status.headers().forEach(response::putHeader);
    response.end(status.body());
  }

  /** The bytes of one provider's stream. */
  interface Wire {
    /**
     * Sends what comes before the first token (role chunk, message start), before any first-token
     * delay.
     */
    void preamble();

    /** Sends token number {@code index} of this response. */
    void token(int index, String piece);

    /**
     * Sends the finish (reason, usage, terminator) after {@code sent} tokens and ends the response.
     */
    void finish(int sent);

    /** Sends one data line that is not JSON, leaving the connection open. */
    void garbage();

    /** Sends the provider's in-stream error event and ends the response. */
    void errorEvent();
  }

  /** Streams {@code pieces} through {@code wire} with the answer's timing, fault and finish. */
  static void play(
      Vertx vertx, HttpServerResponse response, Answer answer, List<String> pieces, Wire wire) {
    wire.preamble();
    if (answer.firstTokenDelayMs() > 0) {
      vertx.setTimer(
          answer.firstTokenDelayMs(), t -> step(vertx, response, answer, pieces, wire, 0));
    } else {
      step(vertx, response, answer, pieces, wire, 0);
    }
  }

  // A loop rather than recursion when there is no interval, so long answers do not grow the stack.
  private static void step(
      Vertx vertx,
      HttpServerResponse response,
      Answer answer,
      List<String> pieces,
      Wire wire,
      int from) {
    for (int index = from; !response.closed(); index++) {
      if (answer.fault() != Fault.NONE && index == answer.faultAfter()) {
        strike(response, answer.fault(), wire);
        return;
      }
      if (index == pieces.size()) {
        if (answer.finishReason() == null) {
          response.end();
        } else {
          wire.finish(pieces.size());
        }
        return;
      }
      wire.token(index, pieces.get(index));
      if (answer.intervalMs() > 0) {
        int next = index + 1;
        vertx.setTimer(answer.intervalMs(), t -> step(vertx, response, answer, pieces, wire, next));
        return;
      }
    }
  }

  private static void strike(HttpServerResponse response, Fault fault, Wire wire) {
    switch (fault) {
      case DROP -> response.reset();
      case GARBAGE -> wire.garbage();
      case NO_FINISH -> response.end();
      case ERROR_EVENT -> wire.errorEvent();
      default -> {
        // HANG (and NONE): stay silent with the connection open
      }
    }
  }
}
