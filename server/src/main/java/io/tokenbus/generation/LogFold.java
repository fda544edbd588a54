package io.tokenbus.generation;

import io.tokenbus.bus.GenerationEvent;
import java.util.List;

/**
 * A generation's log folded into what it says now: the text (a {@code reset} voids what came before
 * it), the last seqs, the deltas since the last reset, the terminal event, and the upstream's
 * trouble (recoveries and the latest one). The one place that knows how events add up, used by
 * every store.
 */
public final class LogFold {

  private final StringBuilder text = new StringBuilder();
  private long lastSeq;
  private long lastDeltaSeq;
  private long deltas;
  private boolean toolCalls;
  private boolean otherOutput;
  private int recoveries;
  private GenerationEvent lastRecovery;
  private GenerationEvent terminal;

  public static LogFold of(List<GenerationEvent> events) {
    LogFold fold = new LogFold();
    events.forEach(fold::add);
    return fold;
  }

  public void add(GenerationEvent event) {
    lastSeq = event.seq();
    switch (event.type()) {
      case DELTA -> {
        text.append(event.text());
        otherOutput |= event.text().isEmpty();
        lastDeltaSeq = event.seq();
        deltas++;
      }
      case RESET -> {
        text.setLength(0);
        deltas = 0;
        toolCalls = false;
        otherOutput = false;
        lastDeltaSeq = event.seq();
      }
      case RECOVERY -> {
        recoveries++;
        lastRecovery = event;
      }
      case TOOL_CALL -> {
        toolCalls = true;
        lastDeltaSeq = event.seq();
      }
      default -> {
        if (event.terminal()) {
          terminal = event;
        }
      }
    }
  }

  public String text() {
    return text.toString();
  }

  public long lastSeq() {
    return lastSeq;
  }

  public Progress progress() {
    return new Progress(lastSeq, deltas, text(), toolCalls, otherOutput);
  }

  public GenerationSnapshot snapshot(GenerationInfo info) {
    return new GenerationSnapshot(
        info, text(), lastSeq, lastDeltaSeq, terminal, recoveries, lastRecovery);
  }
}
