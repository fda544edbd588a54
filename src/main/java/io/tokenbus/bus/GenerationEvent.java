package io.tokenbus.bus;

import java.util.Objects;

/**
 * One event of a generation. {@code seq} counts 1, 2, 3, … with no gaps within a generation.
 * Which fields are set depends on the type: {@code text} for a delta, {@code finishReason} and
 * {@code usage} for done, {@code failure} (and the usage so far) for error, {@code usage} for
 * cancelled. Immutable, so one instance is shared by every reader on a node.
 */
public record GenerationEvent(long seq, EventType type, String text, String finishReason, Usage usage, Failure failure) implements java.io.Serializable {

  public GenerationEvent {
    Objects.requireNonNull(type, "type");
    if (seq < 1) {
      throw new IllegalArgumentException("seq starts at 1, got " + seq);
    }
  }

  public static GenerationEvent delta(long seq, String text) {
    return new GenerationEvent(seq, EventType.DELTA, Objects.requireNonNull(text), null, null, null);
  }

  public static GenerationEvent done(long seq, String finishReason, Usage usage) {
    return new GenerationEvent(seq, EventType.DONE, null, finishReason, usage, null);
  }

  public static GenerationEvent error(long seq, Failure failure, Usage usage) {
    return new GenerationEvent(seq, EventType.ERROR, null, null, usage, Objects.requireNonNull(failure));
  }

  public static GenerationEvent cancelled(long seq, Usage usage) {
    return new GenerationEvent(seq, EventType.CANCELLED, null, null, usage, null);
  }

  public boolean terminal() {
    return type.terminal();
  }

  /** The same event under another seq: what a merged delta or a snapshot carries. */
  public GenerationEvent withSeq(long newSeq) {
    return new GenerationEvent(newSeq, type, text, finishReason, usage, failure);
  }
}
