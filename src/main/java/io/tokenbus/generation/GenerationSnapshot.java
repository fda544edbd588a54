package io.tokenbus.generation;

import io.tokenbus.bus.GenerationEvent;

/**
 * A generation folded from its log at one moment: the text so far, the seq of the last event and
 * of the last delta, and the terminal event if it has ended.
 */
public record GenerationSnapshot(GenerationInfo info, String text, long lastSeq, long lastDeltaSeq, GenerationEvent terminal) {

  public GenerationStatus status() {
    return GenerationStatus.of(terminal);
  }
}
