package io.tokenbus.generation;

import io.tokenbus.bus.EventType;
import io.tokenbus.bus.GenerationEvent;

/** The lifecycle states clients see in a generation's {@code status}. */
public enum GenerationStatus {
  RUNNING("running"),
  COMPLETED("completed"),
  FAILED("failed"),
  CANCELLED("cancelled");

  private final String wireName;

  GenerationStatus(String wireName) {
    this.wireName = wireName;
  }

  public String wireName() {
    return wireName;
  }

  public static GenerationStatus of(GenerationEvent terminal) {
    if (terminal == null) {
      return RUNNING;
    }
    EventType type = terminal.type();
    return switch (type) {
      case DONE -> COMPLETED;
      case ERROR -> FAILED;
      case CANCELLED -> CANCELLED;
      default ->
          throw new IllegalArgumentException("a " + type.wireName() + " event is not terminal");
    };
  }
}
