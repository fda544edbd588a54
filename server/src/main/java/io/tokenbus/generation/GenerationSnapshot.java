package io.tokenbus.generation;

import io.tokenbus.bus.GenerationEvent;

/**
 * A generation folded from its log at one moment (see {@link LogFold}): the text so far, the seq of
 * the last event and of the last event that changed the answer, the terminal event if it has ended,
 * and how often the upstream had to be retried or recovered, with the latest such event.
 */
public record GenerationSnapshot(
    GenerationInfo info,
    String text,
    long lastSeq,
    long lastDeltaSeq,
    GenerationEvent terminal,
    int recoveries,
    GenerationEvent lastRecovery) {

  public GenerationStatus status() {
    return GenerationStatus.of(terminal);
  }
}
