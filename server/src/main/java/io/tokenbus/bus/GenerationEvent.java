package io.tokenbus.bus;

import java.io.Serializable;
import java.util.Objects;

/**
 * One event of a generation. {@code seq} counts 1, 2, 3, … with no gaps within a generation. Which
 * fields are set depends on the type:
 *
 * <ul>
 *   <li>delta: {@code text}, and in {@code data} what else the upstream's chunk carried (JSON, for
 *       faithful pass-through to Chat Completions clients), or null;
 *   <li>tool_call: {@code data}, the upstream's chunk holding the tool-call delta;
 *   <li>done: {@code finishReason} and {@code usage}; error: {@code failure} and the usage so far;
 *       cancelled: {@code usage};
 *   <li>reset: {@code failure}, why the answer restarts;
 *   <li>recovery: {@code text} the kind (retry, continue, restart, fallback), {@code failure} the
 *       cause, {@code data} the details clients see (JSON).
 * </ul>
 *
 * Immutable, so one instance is shared by every reader on a node.
 */
public record GenerationEvent(
    long seq,
    EventType type,
    String text,
    String finishReason,
    Usage usage,
    Failure failure,
    String data)
    implements StreamEvent, Serializable {

  public GenerationEvent {
    Objects.requireNonNull(type, "type");
    if (seq < 1) {
      throw new IllegalArgumentException("seq starts at 1, got " + seq);
    }
  }

  /**
   * What this event holds in memory, roughly, in bytes: about 96 for the object, two a character of
   * its text and data. What the per-generation and per-node byte bounds count.
   */
  public long bytes() {
    return 96 + (text == null ? 0 : 2L * text.length()) + (data == null ? 0 : 2L * data.length());
  }

  public static GenerationEvent delta(long seq, String text) {
    return delta(seq, text, null);
  }

  public static GenerationEvent delta(long seq, String text, String data) {
    return new GenerationEvent(
        seq, EventType.DELTA, Objects.requireNonNull(text), null, null, null, data);
  }

  public static GenerationEvent toolCall(long seq, String data) {
    return new GenerationEvent(
        seq, EventType.TOOL_CALL, null, null, null, null, Objects.requireNonNull(data));
  }

  public static GenerationEvent done(long seq, String finishReason, Usage usage) {
    return new GenerationEvent(seq, EventType.DONE, null, finishReason, usage, null, null);
  }

  public static GenerationEvent error(long seq, Failure failure, Usage usage) {
    return new GenerationEvent(
        seq, EventType.ERROR, null, null, usage, Objects.requireNonNull(failure), null);
  }

  public static GenerationEvent cancelled(long seq, Usage usage) {
    return new GenerationEvent(seq, EventType.CANCELLED, null, null, usage, null, null);
  }

  public static GenerationEvent reset(long seq, Failure cause) {
    return new GenerationEvent(
        seq, EventType.RESET, null, null, null, Objects.requireNonNull(cause), null);
  }

  public static GenerationEvent recovery(long seq, String kind, Failure cause, String details) {
    return new GenerationEvent(
        seq, EventType.RECOVERY, kind, null, null, Objects.requireNonNull(cause), details);
  }

  @Override
  public boolean terminal() {
    return type.terminal();
  }

  /** The same event under another seq: what a merged delta or a snapshot carries. */
  public GenerationEvent withSeq(long newSeq) {
    return new GenerationEvent(newSeq, type, text, finishReason, usage, failure, data);
  }
}
