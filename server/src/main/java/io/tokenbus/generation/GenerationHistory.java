package io.tokenbus.generation;

import io.tokenbus.bus.GenerationEvent;

/**
 * Where finished generations are kept durably: {@link #NONE} by default, PostgreSQL with {@code
 * database.url} ({@code io.tokenbus.history}). Told on the owner's event loop once the terminal
 * event is in the log; it must not block, and what it writes it writes later.
 */
public interface GenerationHistory {

  GenerationHistory NONE = (info, terminal, firstTokenMs, durationMs) -> {};

  /**
   * @param firstTokenMs from the request reaching its node to the first token published, or -1 when
   *     unknown (no token, or taken over from another node)
   * @param durationMs from the request reaching its node (or the generation's start) to its end
   */
  void finished(GenerationInfo info, GenerationEvent terminal, long firstTokenMs, long durationMs);
}
