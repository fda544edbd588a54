package io.tokenbus.bus;

/**
 * A worker's answer to a {@link GenerationRequest}: the started generation, or why it was refused.
 */
public record StartReply(String generationId, long created, Failure failure) {

  public static StartReply started(String generationId, long created) {
    return new StartReply(generationId, created, null);
  }

  public static StartReply refused(Failure failure) {
    return new StartReply(null, 0, failure);
  }
}
