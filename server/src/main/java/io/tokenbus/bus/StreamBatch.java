package io.tokenbus.bus;

import java.util.List;

/**
 * Consecutive events of one stream, as published on its event-bus address once the store has them.
 */
public interface StreamBatch<E extends StreamEvent> {

  List<E> events();

  /**
   * The publisher's owner epoch; a batch from an older one (an owner paused, then fenced off) is
   * dropped. Streams with one writer at a time by construction say 0.
   */
  default long epoch() {
    return 0;
  }
}
