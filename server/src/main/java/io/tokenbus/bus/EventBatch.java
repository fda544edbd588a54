package io.tokenbus.bus;

import java.util.List;

/**
 * Events appended to a generation's log in one group commit and published as one event-bus message.
 * Seqs are consecutive; {@code epoch} is the owner's epoch at append time.
 */
public record EventBatch(String generation, long epoch, List<GenerationEvent> events)
    implements StreamBatch<GenerationEvent> {

  public EventBatch {
    events = List.copyOf(events);
    if (events.isEmpty()) {
      throw new IllegalArgumentException("empty batch");
    }
  }

  public long firstSeq() {
    return events.get(0).seq();
  }

  public long lastSeq() {
    return events.get(events.size() - 1).seq();
  }

  public boolean terminal() {
    return events.get(events.size() - 1).terminal();
  }
}
